"""Stopping a process together with everything it started.

A child gets its own SIGTERM rather than being left to its parent: a parent waiting for its
children to stop on their own (the sandbox closing its render workers) held a restart up for
seconds, and a kernel in a session of its own outlives a signal to its parent's group.
Used for the services a killed hub left running (hub/service_pids.py) and for the runs of
the background curation when the hub stops it (marketplace/curation.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import psutil

GRACE = 5  # seconds a process gets to stop after SIGTERM before SIGKILL


def stop_family(processes: Iterable[psutil.Process], grace: float = GRACE) -> None:
    """SIGTERM every process and every descendant of theirs at once, then SIGKILL whatever is left."""
    family = []
    for process in processes:
        try:
            family += [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for member in family:
        try:
            member.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=grace)
    for survivor in alive:
        try:
            survivor.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)
