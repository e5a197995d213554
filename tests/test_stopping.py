"""A hub stops promptly and completely however it was started: from a terminal,
in the background with SIGINT ignored (nohup, a script's `&`), or with SIGTERM
(what Kubernetes and Docker send). Real `gemhub up`, real services, a real
user server with a kernel running.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import requests
import yaml

from conftest import ARTIFACTS
from gemhub.waiting import eventually
from support.hub import RunningHub, processes_in, write_config
from support.kernel import execute

pytestmark = pytest.mark.slow

STOP_BOUND = 30  # generous: a prompt stop takes a few seconds; the bug took 90


def _sig_ignored(pid: int, sig: int) -> bool:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    return False


def _record_stop_time(case: str, seconds: float) -> None:
    """For the people reading the run, not an assertion: test-artifacts/stop-times.json."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "stop-times.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[case] = round(seconds, 2)
    path.write_text(json.dumps(times, indent=1) + "\n")


def _use_everything(hub: RunningHub) -> None:
    """What a person does before the stop: log in, a running kernel, marketplace, credentials, sandbox."""
    alice = hub.session("alice")
    assert alice.login().status_code == 302
    alice.start_server()
    token = alice.token()
    server = f"{hub.url}/user/alice"
    headers = {"Authorization": f"token {token}"}
    saved = alice.http.put(f"{server}/api/contents/keep.txt", headers=headers, timeout=30,
                           json={"type": "file", "format": "text", "content": "still here"})
    assert saved.status_code in (200, 201), saved.text
    execute(server, token, "print(1)")
    kernel = requests.post(f"{server}/api/kernels", headers=headers, json={}, timeout=60)
    assert kernel.status_code == 201, kernel.text  # left running on purpose
    assert alice.http.get(f"{hub.url}/services/marketplace/", timeout=30).status_code == 200
    assert alice.http.get(f"{hub.url}/services/credentials/", timeout=30).status_code == 200
    port = yaml.safe_load(hub.config_file.read_text())["sentinelhub"]["sandbox"]["port"]
    assert requests.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=30).json()["status"] == "ok"


@pytest.mark.parametrize("start, stop", [
    ("terminal", signal.SIGINT),
    ("sigint-ignored", signal.SIGINT),
    ("terminal", signal.SIGTERM),
], ids=["terminal-sigint", "nohup-sigint", "sigterm"])
def test_the_hub_and_everything_it_started_stop_promptly(tmp_path, marketplace_site, start, stop):
    config = write_config(tmp_path, ["alice"], {"marketplace": {"site_dir": str(marketplace_site)}})
    hub = RunningHub(config, tmp_path / "gemhub-up.log",
                     ignored_signals=(signal.SIGINT,) if start == "sigint-ignored" else ())
    hub.start()
    try:
        _use_everything(hub)
        running = processes_in(tmp_path)
        for pid, cmd in running.items():
            if "ipykernel_launcher" in cmd:
                continue  # kernels ignore SIGINT by design (it interrupts a cell); their server shuts them down
            assert not _sig_ignored(pid, signal.SIGINT), f"started with SIGINT ignored: {cmd}"

        began = time.monotonic()
        hub.process.send_signal(stop)
        hub.process.wait(STOP_BOUND + 30)
        took = time.monotonic() - began
        eventually(lambda: not processes_in(tmp_path), began + STOP_BOUND - time.monotonic())
        left = processes_in(tmp_path)
        assert not left, f"still running {time.monotonic() - began:.0f} s after {stop.name}: {left}"
        assert took < STOP_BOUND, f"the hub took {took:.0f} s to stop"
        log = hub.log_file.read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
        _record_stop_time(f"{start} start, {stop.name}", took)

        hub.ignored_signals = ()
        hub.start()
        alice = hub.session("alice")
        assert alice.login().status_code == 302
        alice.start_server()
        token = alice.token()
        content = alice.http.get(f"{hub.url}/user/alice/api/contents/keep.txt",
                                 headers={"Authorization": f"token {token}"}, timeout=30)
        assert content.json()["content"] == "still here"
    finally:
        hub.stop()


def test_a_second_sigint_exits_at_once_and_says_what_it_left(tmp_path):
    hub = RunningHub(write_config(tmp_path, ["alice"]), tmp_path / "gemhub-up.log")
    hub.start()
    alice = hub.session("alice")
    assert alice.login().status_code == 302
    alice.start_server()
    try:
        hub.process.send_signal(signal.SIGINT)
        time.sleep(0.05)
        hub.process.send_signal(signal.SIGINT)
        assert hub.process.wait(15) == 128 + signal.SIGINT
        log = hub.log_file.read_text(errors="replace")
        assert "Received SIGINT again: exiting now, without finishing the cleanup. Left running:" in log, log[-2000:]
    finally:
        for pid in processes_in(tmp_path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_stop_while_the_hub_starts_leaves_nothing_behind(tmp_path):
    """Ctrl-C while the proxy and services are starting: the hub finishes starting, then stops
    everything (JupyterHub alone would die at once and orphan them)."""
    hub = RunningHub(write_config(tmp_path, ["alice"]), tmp_path / "gemhub-up.log")
    hub.launch()
    # Checked often: the signal must arrive while the hub is still starting its services.
    eventually(lambda: any("gemhub_sandbox serve" in cmd for cmd in processes_in(tmp_path).values()), 60,
               max_wait=0.05)
    hub.process.send_signal(signal.SIGINT)
    hub.process.wait(STOP_BOUND + 30)
    eventually(lambda: not processes_in(tmp_path), STOP_BOUND)
    assert not processes_in(tmp_path), processes_in(tmp_path)
    log = hub.log_file.read_text(errors="replace")
    assert "Received SIGINT while starting: stopping everything as soon as it has started" in log, log[-3000:]
