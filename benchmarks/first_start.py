"""`make up` on a fresh clone: how soon the hub answers, and how soon the catalogue is complete.

    .gemhub/envs/hub/bin/python benchmarks/first_start.py [--out PATH]

One fresh `git clone` of this checkout (the package caches of uv and npm are warm, as
on a second checkout of the same machine), then, timed from the same clock:

- envs: `make envs proxy` in the clone (what `make up` does before the hub);
- before (the peer, measured in the same run): what `make up` did until issue #17, the
  curated notebooks run and published first (`gemhub notebooks test notebooks --jobs 2`,
  then `gemhub marketplace build`), then the hub: seconds to the hub answering;
- now: `gemhub up` with the background curation (marketplace.curate): seconds to the hub
  answering, and to the curation's progress file saying it finished, with how many
  notebooks were published;
- restart: the same `gemhub up` again: hub answering, and catalogue complete (from the
  runner's cache, nothing re-run).

Each hub runs on free loopback ports with its state in a temporary folder; the clone's
own environments and notebooks are used, as `make up` in that clone would.
Target (issue #17; reported, never asserted): the hub answers within about a minute of the
environments being ready, and the catalogue completes without anyone reloading anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support.hub import hub_answers, write_config  # noqa: E402

from gemhub.marketplace.progress import progress_path, read_progress  # noqa: E402

from common import machine  # noqa: E402

RESULTS = HERE / "results"
GUARD = 1800  # seconds; a stuck run is a failure to report, not to wait for forever


def timed(command: list, cwd: Path, log: Path) -> float:
    began = time.monotonic()
    with log.open("ab") as out:
        subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=GUARD)
    return round(time.monotonic() - began, 2)


def hub_run(clone: Path, config: Path, log: Path, *, wait_for_catalogue: bool) -> dict:
    """Start the clone's `gemhub up`; seconds to the hub answering and (optionally) to the curation finishing."""
    url = f"http://127.0.0.1:{yaml.safe_load(config.read_text())['hub']['port']}"
    site = clone / ".gemhub" / "marketplace"
    previous = read_progress(progress_path(site))
    began = time.monotonic()
    with log.open("ab") as out:
        hub = subprocess.Popen([clone / ".gemhub/envs/hub/bin/gemhub", "up", "--config", config], cwd=config.parent,
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        if not hub_answers(url, GUARD, still_running=lambda: hub.poll() is None):
            raise RuntimeError(f"hub not answering; see {log}")
        result = {"hub_answering_s": round(time.monotonic() - began, 2)}
        if wait_for_catalogue:
            while True:
                progress = read_progress(progress_path(site))
                fresh = progress is not None and (previous is None or progress.started_at > previous.started_at)
                if fresh and (progress.finished_at or progress.problem):
                    break
                if time.monotonic() - began > GUARD or hub.poll() is not None:
                    raise RuntimeError(f"curation did not finish; see {log}")
                time.sleep(0.5)
            result.update(catalogue_complete_s=round(time.monotonic() - began, 2), total=progress.total,
                          published=sum(n.published for n in progress.notebooks),
                          cached=sum(n.cached for n in progress.notebooks), problem=progress.problem)
        return result
    finally:
        hub.send_signal(signal.SIGINT)
        try:
            hub.wait(120)
        except subprocess.TimeoutExpired:
            hub.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "first-start.json")
    args = parser.parse_args()
    checkout = HERE.parent
    with tempfile.TemporaryDirectory(prefix="gemhub-first-start-") as tmp:
        tmp = Path(tmp)
        clone, log = tmp / "clone", tmp / "log.txt"
        subprocess.run(["git", "clone", "-q", checkout, clone], check=True)
        envs_s = timed(["make", "envs", "proxy"], clone, log)
        gemhub = clone / ".gemhub/envs/hub/bin/gemhub"

        before_dir = tmp / "before"
        before_dir.mkdir()
        before_config = write_config(before_dir, ["demo"])  # curation off: the old `make up`
        began = time.monotonic()
        subprocess.run([gemhub, "notebooks", "test", "notebooks", "--jobs", "2"], cwd=clone, stdout=log.open("ab"),
                       stderr=subprocess.STDOUT, timeout=GUARD)  # exit 1 when a notebook fails: the old Makefile went on
        timed([gemhub, "marketplace", "build", "--report", ".gemhub/notebook-runs/report.json",
               "--out", tmp / "before-site"], clone, log)
        notebooks_s = round(time.monotonic() - began, 2)
        before = hub_run(clone, before_config, log, wait_for_catalogue=False)
        before["hub_answering_s"] = round(before["hub_answering_s"] + notebooks_s, 2)
        before["notebooks_then_build_s"] = notebooks_s

        now_dir = tmp / "now"
        now_dir.mkdir()
        now_config = write_config(now_dir, ["demo"], {"marketplace": {"curate": True}})
        now = hub_run(clone, now_config, log, wait_for_catalogue=True)
        restart = hub_run(clone, now_config, log, wait_for_catalogue=True)

    result = {
        "benchmark": "first_start",
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "envs_s": envs_s,
        "before": before,
        "now": now,
        "restart": restart,
        "ratio_hub_answering_now_vs_before": round(now["hub_answering_s"] / before["hub_answering_s"], 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
