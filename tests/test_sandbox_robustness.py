"""The sandbox under concurrent and hostile evalscripts: it stays up, answers
every bad script with a Sentinel Hub-shaped 400 and every good one with the
same bytes as when it is alone.

The sandbox is a shared hub service: one user's broken script must not take it
down for everyone. Before the render workers, a freshly started sandbox died
with SIGSEGV/SIGTRAP inside libmini_racer within a few concurrent requests.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import defaultdict

import psutil
import pytest
import requests
from gemhub.waiting import eventually
from gemhub_sandbox.child import start

from support import sandbox_http as sh

CLIENTS = {"stress-id": "stress-secret"}
GOOD = {
    "simple-tiff": (sh.GOOD_SIMPLE, "image/tiff"),
    "orbit-tiff": (sh.GOOD_ORBIT, "image/tiff"),
    "simple-png": (sh.GOOD_PNG, "image/png"),
    "simple-jpeg": (sh.GOOD_PNG, "image/jpeg"),
}
BAD = {
    "throws": sh.THROWS,
    "wrong-band-count": sh.WRONG_BANDS,
    "infinite-loop": sh.INFINITE_LOOP,
    "huge-allocation": sh.HUGE_ALLOCATION,
    "deep-recursion": sh.DEEP_RECURSION,
    "syntax-error": sh.SYNTAX_ERROR,
}
CLIENT_THREADS = 6
ROUNDS = 4  # each client sends every good and every bad script this many times, in its own order


@pytest.fixture()
def fresh_sandbox(tmp_path):
    """A sandbox that has served nothing yet: the first concurrent requests are the riskiest."""
    log = tmp_path / "sandbox.log"
    box = start(CLIENTS, args=("--evalscript-timeout", "2", "--workers", "2"), stderr=log.open("wb"))
    box.log = log
    yield box
    box.stop()


def _post(url: str, headers: dict, payload) -> requests.Response:
    return requests.post(url + "/api/v1/process", json=payload, headers=headers, timeout=120)


@pytest.mark.slow
def test_concurrent_good_and_hostile_scripts(fresh_sandbox):
    url = fresh_sandbox.url
    headers = {"Authorization": "Bearer " + sh.token(url, *next(iter(CLIENTS.items())))}
    jobs = [("good", name) for name in GOOD] + [("bad", name) for name in BAD]
    answers: dict[tuple[str, str], list] = defaultdict(list)
    lock = threading.Lock()
    start_line = threading.Barrier(CLIENT_THREADS)

    def client(index: int) -> None:
        order = jobs[index % len(jobs):] + jobs[:index % len(jobs)]
        start_line.wait()
        for _ in range(ROUNDS):
            for kind, name in order:
                if kind == "good":
                    script, fmt = GOOD[name]
                    payload = sh.process_payload(script, fmt)
                else:
                    payload = sh.process_payload(BAD[name])
                try:
                    answer = _post(url, headers, payload)
                    outcome = (answer.status_code, answer.headers.get("Content-Type"), answer.content)
                except requests.RequestException as error:
                    outcome = (None, None, repr(error).encode())
                with lock:
                    answers[(kind, name)].append(outcome)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "stress clients did not finish within 10 minutes"

    log = fresh_sandbox.log.read_text(errors="replace")
    assert fresh_sandbox.process.poll() is None, f"sandbox died: exit {fresh_sandbox.process.returncode}\n{log[-3000:]}"
    assert requests.get(url + "/sandbox/health", timeout=10).json()["status"] == "ok"

    for name in BAD:
        for status, content_type, body in answers[("bad", name)]:
            assert status == 400, (name, status, body[:300])
            error = requests.models.complexjson.loads(body)["error"]
            assert error["status"] == 400 and error["code"] == "RENDERER_EXCEPTION", (name, error)
            assert "Traceback" not in error["message"], error
        assert len(answers[("bad", name)]) == CLIENT_THREADS * ROUNDS

    # the same good requests, one at a time, must give exactly the bytes the concurrent ones got
    for name, (script, fmt) in GOOD.items():
        alone = _post(url, headers, sh.process_payload(script, fmt))
        assert alone.status_code == 200, alone.text[:300]
        got = answers[("good", name)]
        assert len(got) == CLIENT_THREADS * ROUNDS
        for status, content_type, body in got:
            assert status == 200, (name, status, body[:300])
            assert content_type == fmt
            assert body == alone.content, f"{name}: a concurrent answer differs from the sequential one"
    assert "Traceback" not in log, log[-3000:]


def _render_workers(sandbox) -> list[psutil.Process]:
    return [p for p in psutil.Process(sandbox.process.pid).children() if "gemhub_sandbox.worker" in " ".join(p.cmdline())]


def test_a_dead_render_worker_is_replaced_and_named_in_the_log(fresh_sandbox):
    """Whatever kills a worker (a V8 crash, the OOM killer), only its own request fails, cleanly."""
    url = fresh_sandbox.url
    headers = {"Authorization": "Bearer " + sh.token(url, *next(iter(CLIENTS.items())))}
    workers = _render_workers(fresh_sandbox)
    assert len(workers) == 2, [w.cmdline() for w in workers]
    slow = sh.process_payload(sh.evalscript(
        "function evaluatePixel(s) { var t = 0; for (var i = 0; i < 200000; i++) { t += i; } return [t, 1]; }"))
    result = {}
    request = threading.Thread(target=lambda: result.setdefault("answer", _post(url, headers, slow)))
    request.start()
    # cpu_percent(0.1) measures for 0.1 s: sampled back to back, no pause needed in between.
    busy = eventually(lambda: next((w for w in workers if w.cpu_percent(0.1) > 50), None), 30, max_wait=0)
    assert busy is not None, "no worker got busy with the slow request"
    os.kill(busy.pid, signal.SIGKILL)
    request.join(60)
    answer = result["answer"]
    assert answer.status_code == 400, answer.text
    assert "render worker" in answer.json()["error"]["message"] and "SIGKILL" in answer.json()["error"]["message"]
    good = _post(url, headers, sh.process_payload(sh.GOOD_SIMPLE))
    assert good.status_code == 200, good.text

    def render_workers() -> dict:
        return requests.get(url + "/sandbox/health", timeout=10).json()["render_workers"]

    def replaced() -> bool:
        health = render_workers()
        return health["replaced"] == 1 and health["alive"] == 2

    eventually(replaced, 30)
    health = render_workers()
    assert health["replaced"] == 1 and health["alive"] == 2, health
    assert health["deaths"] == [{"pid": busy.pid, "how": "SIGKILL"}], health
    assert len(_render_workers(fresh_sandbox)) == 2
    log = fresh_sandbox.log.read_text(errors="replace")
    assert f"render worker {busy.pid} died (SIGKILL)" in log, log[-2000:]
