"""Draw a load.py result: step latency over time, and the hub's processes' CPU and memory.

    .gemhub/envs/user/bin/python benchmarks/plot_load.py benchmarks/results/load-lightweight.json [--out PNG]

matplotlib lives in the user environment only (the hub's stays small), so this
is a separate script: benchmarks/load.py runs it with the user env's Python
after writing the JSON. One column per measured hub (gemhub, stock), same
axes, so the two can be compared by eye; the PNG goes beside the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROLES = {"hub": "hub", "proxy": "proxy", "services": "gemhub services", "user_servers": "user servers + kernels"}
COLOURS = {"hub": "tab:blue", "proxy": "tab:orange", "services": "tab:green", "user_servers": "tab:red"}


def plot(data: dict, out: Path) -> Path:
    runs = data["runs"]
    steps = [s for s in (*data["steps"], *data["derived"]) if s != "token"]
    fig, axes = plt.subplots(3, len(runs), figsize=(7 * len(runs), 11), squeeze=False, sharex="col")
    colours = {step: plt.cm.tab10(i % 10) for i, step in enumerate(steps)}
    latency_max = max([e["seconds"] for r in runs.values() for e in r["events"] if e["ok"]] or [1])
    rss_max = max([s[role]["rss_mb"] for r in runs.values() for s in r["resources"]["samples"]
                   for role in ROLES] or [1])
    cpu_max = max([s[role]["cpu_percent"] for r in runs.values() for s in r["resources"]["samples"]
                   for role in ROLES] or [1])
    for column, (name, run) in enumerate(runs.items()):
        latency, cpu, rss = axes[0][column], axes[1][column], axes[2][column]
        for step in steps:
            done = [(e["start"] + e["seconds"], e["seconds"]) for e in run["events"] if e["step"] == step and e["ok"]]
            if done:
                latency.scatter(*zip(*done), s=12, color=colours[step], label=step)
        failed = [(e["start"] + e["seconds"], e["seconds"]) for e in run["events"] if e["ok"] is False]
        if failed:
            latency.scatter(*zip(*failed), s=40, marker="x", color="red", label=f"failed ({len(failed)})")
        latency.set_ylim(0, latency_max * 1.05)
        latency.set_ylabel("step latency (s)")
        latency.set_title(f"{name}: {run['users']} users, ramp {run['ramp_s']:g} s, {data['mode']} servers\n"
                          f"{len(run['failures'])} failures; login→ready p95 "
                          f"{run['steps']['login_to_ready'].get('p95', '–')} s", fontsize=10)
        latency.legend(fontsize=7, loc="upper left", ncol=2)
        samples = run["resources"]["samples"]
        t = [s["t"] for s in samples]
        for role, label in ROLES.items():
            if name != "gemhub" and role == "services":
                continue
            cpu.plot(t, [s[role]["cpu_percent"] for s in samples], label=label, linewidth=1, color=COLOURS[role])
            rss.plot(t, [s[role]["rss_mb"] for s in samples], label=label, linewidth=1, color=COLOURS[role])
        load = cpu.twinx()
        load.plot(t, [s["load1"] for s in samples], color="grey", linestyle=":", label="load average (1 min)")
        load.set_ylabel("load average", color="grey")
        cpu.set_ylim(0, cpu_max * 1.05)
        cpu.set_ylabel("CPU % (100 = one core)")
        cpu.legend(fontsize=7, loc="upper left")
        rss.set_ylim(0, rss_max * 1.05)
        rss.set_ylabel("RSS (MiB)")
        rss.set_xlabel("seconds since the first user started")
        rss.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"benchmarks/load.py, {data['date']}, {data['machine']['cores']} cores", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path, help="a load.py JSON result")
    parser.add_argument("--out", type=Path, help="PNG (default: the JSON's name with .png)")
    args = parser.parse_args()
    out = plot(json.loads(args.result.read_text()), args.out or args.result.with_suffix(".png"))
    print(f"plot written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
