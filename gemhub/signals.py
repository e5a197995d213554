"""Stopping promptly, however a process was started.

A signal that is ignored stays ignored across `exec`. `gemhub up` started from
a script's `&`, from `nohup` or from some supervisors runs with SIGINT
ignored, and so did every service the hub started: each then sat out
JupyterHub's interrupt, terminate and kill timeouts, and a stop took 90 s.
Every long-running process gemhub starts calls `restore_default_signals()`
first, and services serve until SIGINT or SIGTERM with
`serve_until_stopped()`.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def restore_default_signals() -> None:
    """SIGINT raises KeyboardInterrupt and SIGTERM ends the process, as in a Python started from a terminal.

    Children started after this inherit the default dispositions (a handled
    signal is reset to its default by exec; an ignored one would stay ignored)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def serve_until_stopped(listen: Callable[[], None]) -> None:
    """Run a tornado service: `listen()` binds it; returns on SIGINT or SIGTERM, without a traceback."""

    async def main() -> None:
        listen()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()

    restore_default_signals()
    asyncio.run(main())
