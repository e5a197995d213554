"""Supervised render worker processes: no evalscript can take the sandbox down.

Evalscripts are untrusted code running in V8 inside the process that runs
them. A fatal V8 error (a failed CHECK, an out-of-memory abort, a segfault)
ends that whole process, and on a hub the sandbox is one service shared by all
users. So the HTTP server never runs V8 itself: each Process API request goes
to one of a few long-lived worker processes (worker.py), one request per
worker at a time. When a worker dies, only the request it was running fails,
with a Sentinel Hub-shaped 400 naming the signal; the death goes to the log
and a replacement starts at once. A worker that does not answer within the
hard deadline (an evalscript that V8's own timeout could not stop) is killed
and replaced the same way.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from .errors import ApiError, EvalscriptError
from .worker import READY

LOG = logging.getLogger("gemhub_sandbox")
START_TIMEOUT = 60.0


class WorkerDidNotStart(RuntimeError):
    pass


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class RenderWorker:
    """One worker process and the two pipes to it."""

    def __init__(self, evalscript_timeout: float, spill_dir: str):
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gemhub_sandbox.worker", str(to_child_r), str(from_child_w),
                 str(evalscript_timeout), spill_dir],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                # its own session: a Ctrl-C meant for the server's terminal does not hit workers mid-request;
                # they stop when the server closes their pipe or kills them.
                start_new_session=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.outbox = Connection(to_child_w, readable=False)
        self.inbox = Connection(from_child_r, writable=False)
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        if not self.inbox.poll(timeout):
            self.kill()
            raise WorkerDidNotStart(f"render worker {self.pid} did not start within {timeout:.0f} s")
        try:
            message = self.inbox.recv()
        except (EOFError, OSError):
            message = None
        if not (isinstance(message, tuple) and message[0] == READY):
            self.kill()
            raise WorkerDidNotStart(f"render worker {self.pid} did not start ({describe_exit(self.process.poll())})")

    def kill(self) -> str:
        """Make sure the process is gone; say how it ended."""
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for connection in (self.inbox, self.outbox):
            connection.close()
        return describe_exit(self.process.returncode)


class RenderPool:
    """`size` workers; `render()` blocks the calling thread until a worker has answered."""

    def __init__(self, size: int, evalscript_timeout: float, hard_timeout: float | None = None):
        self.size = max(1, size)
        self.evalscript_timeout = evalscript_timeout
        # V8's timeout applies to each call into JS; a request makes a few, plus the numpy work around them
        self.hard_timeout = hard_timeout or 2 * evalscript_timeout + 60
        self.replaced = 0
        self.deaths: list[dict] = []
        self._idle: queue.Queue[RenderWorker] = queue.Queue()
        self._all: set[RenderWorker] = set()
        self._lock = threading.Lock()
        self._closing = False
        shm = Path("/dev/shm")
        self.spill_dir = tempfile.mkdtemp(prefix="gemhub-sandbox-", dir=shm if shm.is_dir() else None)
        workers = [RenderWorker(evalscript_timeout, self.spill_dir) for _ in range(self.size)]
        for worker in workers:
            worker.wait_ready()
            self._adopt(worker)

    def _adopt(self, worker: RenderWorker) -> None:
        with self._lock:
            self._all.add(worker)
        self._idle.put(worker)

    def pids(self) -> list[int]:
        with self._lock:
            return sorted(w.pid for w in self._all)

    def render(self, request, accept: str | None):
        worker = self._take()
        try:
            worker.outbox.send((request, accept))
            if not worker.inbox.poll(self.hard_timeout):
                self._retire(worker, "did not answer within %.0f s" % self.hard_timeout)
                raise EvalscriptError("Evalscript execution timed out.")
            kind, value = worker.inbox.recv()
        except (EOFError, OSError):
            how = self._retire(worker, "died")
            raise EvalscriptError(f"The render worker running this request died ({how}); the sandbox replaced it "
                                  "and other requests were not affected. If this evalscript works on Sentinel Hub, "
                                  "report it as a sandbox bug.") from None
        self._idle.put(worker)
        if kind == "ok":
            return value
        if kind == "ok-file":
            rendered, path = value
            with open(path, "rb") as spilled:
                rendered.body = spilled.read()
            os.unlink(path)
            return rendered
        if kind == "api-error":
            raise value
        raise ApiError(500, f"Internal sandbox error ({value}); see the sandbox log.", code="COMMON_EXCEPTION")

    def _take(self) -> RenderWorker:
        """An idle worker that is still alive (one may have died while idle)."""
        while True:
            worker = self._idle.get()
            if worker.process.poll() is None:
                return worker
            self._retire(worker, "died while idle")

    def _retire(self, worker: RenderWorker, what: str) -> str:
        how = worker.kill()
        with self._lock:
            self._all.discard(worker)
            self.deaths.append({"pid": worker.pid, "how": how, "at": time.time()})
            closing = self._closing
        if not closing:
            LOG.error("render worker %d %s (%s); starting a replacement", worker.pid, what, how)
            threading.Thread(target=self._replace, name="sandbox-render-replace", daemon=True).start()
        return how

    def _replace(self) -> None:
        while not self._closing:
            try:
                worker = RenderWorker(self.evalscript_timeout, self.spill_dir)
                worker.wait_ready()
            except (OSError, WorkerDidNotStart) as error:
                LOG.error("could not start a render worker: %s; retrying", error)
                time.sleep(1)
                continue
            with self._lock:
                self.replaced += 1
            self._adopt(worker)
            return

    def stats(self) -> dict:
        with self._lock:
            return {"size": self.size, "alive": len(self._all), "replaced": self.replaced,
                    "deaths": [{"pid": d["pid"], "how": d["how"]} for d in self.deaths[-10:]]}

    def close(self) -> None:
        with self._lock:
            self._closing = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()
        shutil.rmtree(self.spill_dir, ignore_errors=True)
