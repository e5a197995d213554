"""Stopping a server a test started, and everything it started in turn."""

from __future__ import annotations

import contextlib
import signal
import subprocess

import psutil


def stop_with_children(process: subprocess.Popen, signals: tuple[int, ...] = (signal.SIGTERM,),
                       wait: float = 60) -> None:
    """Send `signals`, then SIGKILL after `wait` s; then SIGKILL what it had started.

    A teardown, not what a test checks: a stuck stop (once in CI a Jupyter server was still
    stopping 20 s after SIGTERM) must neither fail the test nor leave a sandbox behind. The
    children are listed before the stop, while they still have their parent."""
    children = psutil.Process(process.pid).children(recursive=True)
    for sig in signals:
        process.send_signal(sig)
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
