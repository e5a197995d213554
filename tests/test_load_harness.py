"""benchmarks/load.py against a real `gemhub up`: it measures every step, and a failing step is data.

The harness's figures are only worth something if a clean run really walks every
step (login form, spawn, OAuth to the server, a kernel cell over the websocket,
the marketplace, stop) and if a broken step shows up as a failure with its
reason instead of a crash or a silently shorter journey. Small runs (1–2
lightweight users, no stock peer) keep this cheap; nothing here is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
LOAD = CHECKOUT / "benchmarks" / "load.py"
GUARD = 900  # seconds: against a hang, not a speed check (spawns take ~45 s on a loaded 2-core machine)


def run_harness(out: Path, *extra: str) -> dict:
    run = subprocess.run([sys.executable, LOAD, "--lightweight-servers", "--peer", "none", "--out", out, *extra],
                         capture_output=True, text=True, timeout=GUARD, cwd=CHECKOUT)
    assert run.returncode == 0, f"load.py exited {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return json.loads(out.read_text())


@pytest.mark.slow
def test_two_lightweight_users_walk_every_step_without_failure(tmp_path):
    data = run_harness(tmp_path / "load.json", "--users", "2", "--ramp", "2")

    assert data["mode"] == "lightweight"
    run = data["runs"]["gemhub"]
    assert run["failures"] == [] and run["journeys_without_failure"] == 2
    assert run["auth"] == "login form"
    for step in ("login", "token", "spawn", "server_auth", "kernel_start", "execute", "marketplace", "stop",
                 "login_to_ready"):
        row = run["steps"][step]
        assert row["ok"] == 2 and row["failed"] == 0, (step, row)
        assert 0 < row["p50"] <= row["p95"] <= row["max"], (step, row)
    assert run["steps"]["launch"] == {"ok": 0, "failed": 0, "skipped": ["skipped: lightweight"]}

    samples = run["resources"]["samples"]
    assert len(samples) >= 3
    assert all(s["hub"]["processes"] == 1 and s["hub"]["rss_mb"] > 0 for s in samples)
    assert any(s["proxy"]["processes"] == 1 for s in samples)
    assert any(s["user_servers"]["processes"] >= 1 for s in samples), "no user server was ever sampled"
    assert (tmp_path / "load.png").stat().st_size > 10_000, "the plot (plot_load.py in the user env) is missing"


@pytest.mark.slow
def test_a_failing_step_is_reported_with_its_reason_and_the_server_is_still_stopped(tmp_path):
    data = run_harness(tmp_path / "load.json", "--users", "1", "--ramp", "0", "--no-plot",
                       "--config-extra", json.dumps({"marketplace": {"enabled": False}}))

    run = data["runs"]["gemhub"]
    assert [(f["user"], f["step"]) for f in run["failures"]] == [("load001", "marketplace")]
    reason = run["failures"][0]["reason"]
    assert reason.startswith("HTTP 404 at ") and "/services/marketplace/" in reason, reason
    assert "Traceback" not in reason
    assert run["steps"]["execute"]["ok"] == 1, "the steps before the failure still ran"
    assert run["steps"]["launch"] == {"ok": 0, "failed": 0}, "the journey ends at its first failure"
    assert run["steps"]["stop"]["ok"] == 1, "the server is stopped even after a failure"
    assert run["journeys_without_failure"] == 0


def test_the_sampler_survives_processes_ending_while_it_looks():
    """Under load, servers and kernels end between the sampler listing them and reading their
    CPU; the sampler thread died on that (the 30-user run's stock half lost its resource
    figures). A shell starting thousands of short-lived children makes the race frequent."""
    import time

    sys.path.insert(0, str(CHECKOUT / "benchmarks"))
    from load_sampler import Sampler

    churn = subprocess.Popen(["/bin/sh", "-c", "while :; do /bin/true; done"])
    try:
        sampler = Sampler(churn.pid, interval=0.001).start(time.monotonic())
        time.sleep(4)
        alive = sampler._thread.is_alive()
        samples = sampler.stop()
    finally:
        churn.kill()
        churn.wait()
    assert alive, "the sampler thread died"
    assert len(samples) > 100
