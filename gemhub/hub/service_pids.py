"""Managed services a killed hub left running: found through pid files, stopped at the next start.

JupyterHub starts each managed service in a session of its own, so a hub that dies without
cleaning up (SIGKILL, the OOM killer, a crash) leaves them running. Its proxy is handled:
JupyterHub writes the proxy's pid to a file and, at the next start, stops a proxy it finds
there. Its services are not: a restarted hub started new ones beside them, which could not
bind their ports (the old sandbox, marketplace and credentials kept answering, with the dead
hub's tokens: the marketplace's and credentials' OAuth logins failed, as the restarted hub had
given them new secrets), and a second idle culler ran; every hub crash added one more set, and
a clean stop did not end them.

So gemhub does for its services what JupyterHub does for its proxy: one pid file per service
(the pid and the process's start time, so a pid the system has since given to another process
is never touched), and at start-up whatever a file names that still runs is stopped, with its
children (the sandbox's render workers), before the new services start.

Why not have services die with their hub (prctl PR_SET_PDEATHSIG)? Because, like the proxy,
they should outlive a hub crash: kernels keep reading the sandbox directly and users keep
their marketplace and credentials pages while the hub is down, until the next hub replaces
them. It would also need a wrapper around every service command (the culler is a third
party's module) and is Linux-only.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psutil

from ..process_family import stop_family

log = logging.getLogger(__name__)


def record(folder: Path, name: str, pid: int) -> None:
    """Note that service `name` runs as `pid` (called each time it is started)."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return  # already gone: nothing to stop later
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{name}.pid"
    partial = path.with_suffix(".pid.partial")
    partial.write_text(json.dumps({"pid": pid, "started": started}))
    partial.replace(path)


def _process(path: Path) -> psutil.Process | None:
    """The process `path` names, if it still runs and is the same one (same start time)."""
    try:
        noted = json.loads(path.read_text())
        process = psutil.Process(int(noted["pid"]))
        if abs(process.create_time() - float(noted["started"])) > 0.01:
            return None
        return process
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return None


def stop_leftovers(folder: Path, logger: logging.Logger = log) -> list[str]:
    """Stop every service a previous hub recorded in `folder` that still runs (all at once,
    with their children); what was stopped."""
    leftovers = {}
    for path in sorted(folder.glob("*.pid")) if folder.is_dir() else []:
        process = _process(path)
        if process is not None:
            leftovers[f"{path.stem} (pid {process.pid})"] = process
        path.unlink(missing_ok=True)
    if leftovers:
        logger.warning("Stopping services left running by a previous hub: %s", ", ".join(leftovers))
        stop_family(leftovers.values())
    return list(leftovers)


def forget_stopped(folder: Path) -> None:
    """After a clean stop: drop the files of services that have ended (a survivor's file stays,
    so the next start still stops it)."""
    for path in sorted(folder.glob("*.pid")) if folder.is_dir() else []:
        if _process(path) is None:
            path.unlink(missing_ok=True)
