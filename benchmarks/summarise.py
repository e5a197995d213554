"""Write the README's benchmark table from benchmarks/results/*.json.

    .gemhub/envs/hub/bin/python benchmarks/summarise.py [--check]

The README never carries hand-copied figures: this script reads each result
file and rewrites the block between the benchmark markers. `--check` exits 1
when the README is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def _spawn(data: dict) -> list[tuple[str, str, str]]:
    target = " (DockerSpawner, user image)" if data.get("spawner") == "docker" else ""
    return [
        (f"login → JupyterLab 200, server stopped (cold){target}", f"{data['cold']['median']:.2f} s",
         f"median of {len(data['cold']['samples'])}"),
        (f"login → JupyterLab 200, server running (warm){target}", f"{data['warm']['median']:.2f} s",
         f"median of {len(data['warm']['samples'])}"),
    ]


def _sandbox(data: dict) -> list[tuple[str, str, str]]:
    names = {
        "process_512x512x13_simple_1date": "sandbox Process API, 512×512, 13 bands, 1 date",
        "process_512x512x13_orbit_20dates": "sandbox Process API, 512×512, 13 bands, 20 dates (ORBIT)",
        "eolearn_input_task_1000x1000x13_1year": "eo-learn SentinelHubInputTask, 1000×1000 px, 1 year",
    }
    rows = []
    for key, label in names.items():
        if key in data["results"]:
            result = data["results"][key]
            note = f"median of {len(result['runs'])}"
            if key in data.get("target", {}):
                note += f"; target {data['target'][key]}"
            if "dates" in result:
                note += f"; {result['dates']} dates"
            rows.append((label, f"{result['median_s']:.2f} s", note))
        if key == "process_512x512x13_simple_1date":
            rows += _sandbox_concurrency(data["results"])
    return rows


def _sandbox_concurrency(results: dict) -> list[tuple[str, str, str]]:
    """The same request from 4 clients at once, beside one client alone in the same run."""
    together = results.get("process_512x512x13_simple_1date_concurrent")
    alone = results.get("process_512x512x13_simple_1date_sequential_p")
    local = results.get("render_in_process_512x512x13_simple_1date")
    if not (together and alone):
        return []
    peer = []
    if local:
        peer = [("same request rendered in-process (no HTTP, no worker)", f"{local['median_s']:.2f} s",
                 f"median of {len(local['runs'])}; the peer, same run: what serving adds")]
    return peer + [
        (f"same, {together['clients']} concurrent clients", f"p50 {together['p50_s']:.2f} s / p95 {together['p95_s']:.2f} s",
         f"{together['requests']} requests, {together['requests_per_s']:.1f} req/s; one client alone in the same run: "
         f"p50 {alone['p50_s']:.2f} s / p95 {alone['p95_s']:.2f} s, {alone['requests_per_s']:.1f} req/s"),
    ]


def _notebooks(data: dict) -> list[tuple[str, str, str]]:
    rows = [
        (f"curated notebook suite, `--jobs {data['jobs']}`", f"{data['suite_s']:.0f} s",
         f"{data['notebooks']} notebooks; target < 600 s"),
        ("same notebooks, sequential plain papermill loop", f"{data['sequential_s']:.0f} s",
         f"runner speed-up ×{data['sequential_s'] / data['suite_s']:.2f}"),
        ("no-change re-run (all cached)", f"{data['rerun_s']:.2f} s", "target < 5 s"),
    ]
    return rows


def _launch(data: dict) -> list[tuple[str, str, str]]:
    return [
        ("marketplace Launch → first cell visible, server running", f"{data['running']['median']:.2f} s",
         f"median of {len(data['running']['samples'])}; target < {data['targets']['running_s']} s"),
        ("marketplace Launch → first cell visible, server stopped", f"{data['stopped']['median']:.2f} s",
         f"median of {len(data['stopped']['samples'])}; target < {data['targets']['stopped_s']} s"),
    ]


def _images(data: dict) -> list[tuple[str, str, str]]:
    rows = []
    for name, facts in data["images"].items():
        note = "uncompressed / gzip'd `docker save`"
        if name == "user":
            note += f"; target < {data['targets']['user_size_bytes'] / 1e9:.1f} GB uncompressed"
        rows.append((f"`gemhub/{name}` image size", f"{facts['uncompressed_bytes'] / 1e9:.2f} / "
                     f"{facts['compressed_bytes'] / 1e9:.2f} GB", note))
    for name, seconds in data.get("cold_build_s", {}).items():
        rows.append((f"`gemhub/{name}` cold build (`--no-cache`)", f"{seconds:.0f} s", "downloads included"))
    if "rebuild" in data:
        rows.append(("`gemhub/user` rebuild after a notebook-only change", f"{data['rebuild']['median']:.1f} s",
                     f"median of {len(data['rebuild']['samples'])}; target < {data['targets']['rebuild_s']:.0f} s"))
    if "ready" in data:
        rows.append(("`gemhub/user` container start → singleuser ready", f"{data['ready']['median']:.2f} s",
                     f"median of {len(data['ready']['samples'])}; target < {data['targets']['ready_s']:.0f} s"))
    return rows


def _load(data: dict, sustained: bool = False) -> list[tuple[str, str, str]]:
    """benchmarks/load.py: the journey's headline for gemhub, and stock JupyterHub's beside it
    (`sustained`: a run at the arrival rate this machine can serve, not the target's)."""
    rows = []
    mode = {"lightweight": "lightweight servers", "full": "JupyterLab servers"}.get(data["mode"], data["mode"])
    for name, run in data["runs"].items():
        ready, failures = run["steps"]["login_to_ready"], len(run["failures"])
        label = "stock JupyterHub 6, same spawner" if name == "stock" else name
        if "p95" in ready:
            result = f"p50 {ready['p50']:.2f} s / p95 {ready['p95']:.2f} s"
        else:
            result = "no server became ready"
        note = (f"{failures} failures, {run['journeys_without_failure']}/{run['users']} whole journeys; "
                f"load avg ≤ {run['resources']['summary']['load1_max']:.1f}; "
                f"user servers ≈ {_server_cpu_per_user(run):.1f} CPU-s per user")
        target = "the rate this machine sustains" if sustained else f"target {data['targets'].get(data['mode'], '–')}"
        note += "; same run" if name == "stock" else f"; {target}; `{data['command']}`"
        rows.append((f"{run['users']} users ramped over {run['ramp_s']:g} s, {mode} ({label}): login → server ready",
                     result, note))
    ratio = data.get("ratios_gemhub_over_stock") or {}
    failed = {name: run["steps"]["spawn"]["failed"] for name, run in data["runs"].items()}
    if "spawn_p95" in ratio and any(failed.values()):
        rows.append((f"gemhub / stock spawn latency, {mode}", "not comparable",
                     f"spawns failed (gemhub {failed.get('gemhub')}, stock {failed.get('stock')}): the ratio of the "
                     f"successful ones (p95 ×{ratio['spawn_p95']:.2f}) would compare survivors; target p95 < ×1.05"))
    elif "spawn_p95" in ratio:
        rows.append((f"gemhub / stock spawn latency, {mode}", f"p95 ×{ratio['spawn_p95']:.2f} / "
                     f"p50 ×{ratio.get('spawn_p50', float('nan')):.2f}",
                     "target p95 < ×1.05; same run, same users, one after the other (compare their load averages)"))
    return rows


def _server_cpu_per_user(run: dict) -> float:
    """CPU seconds the user servers and kernels used per user (sampled, so a lower bound): what a
    machine must supply per user at whatever hub, and why 2 cores cannot spawn 100 in 60 s."""
    mean = run["resources"]["summary"]["user_servers"]["cpu_percent_mean"]
    return mean / 100 * run["wall_s"] / run["users"]


def _restart(data: dict) -> list[tuple[str, str, str]]:
    """benchmarks/restart.py: hub SIGKILL and restart with users at work, per hub database."""
    rows = []
    for kind, label in (("sqlite", "sqlite"), ("postgresql", "PostgreSQL")):
        if kind in data:
            run = data[kind]
            rows.append((f"hub SIGKILL + restart, {data['users']} JupyterLab servers running ({label}): "
                         "every user answering through the proxy again", f"{run['median']:.2f} s",
                         f"median of {len(run['samples'])}; lost servers {sum(run['servers_lost'])}, files "
                         f"{sum(run['files_lost'])}, kernels {sum(run['kernels_lost'])}; target < "
                         f"{data['targets']['reconnected_s']} s, 0 lost"))
    return rows


SOURCES = {
    "spawn.json": _spawn,
    "spawn-docker.json": _spawn,
    "launch.json": _launch,
    "sandbox.json": _sandbox,
    "notebooks.json": _notebooks,
    "images.json": _images,
    "restart.json": _restart,
    "load-lightweight.json": _load,
    "load-lightweight-capacity.json": lambda data: _load(data, sustained=True),
    "load-full.json": _load,
}


def table() -> str:
    lines = ["| measure | result | notes |", "| --- | --- | --- |"]
    for name, rows_of in SOURCES.items():
        path = HERE / "results" / name
        if path.exists():
            for measure, result, note in rows_of(json.loads(path.read_text())):
                lines.append(f"| {measure} | {result} | {note} |")
    machine = "2 cores, 24 GiB, Python 3.11 (the CI machine)"
    return "\n".join([f"Measured on {machine}; raw figures in `benchmarks/results/`.", "", *lines])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is out of date")
    args = parser.parse_args()
    text = README.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    new = text[:start] + "\n" + table() + "\n" + text[end:]
    if args.check:
        return 0 if new == text else 1
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
