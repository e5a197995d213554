"""What every sandbox process sets before it does any work.

Both the server (`python -m gemhub_sandbox`) and each render worker
(`python -m gemhub_sandbox.worker`) start here, so the two cannot drift.
"""

from __future__ import annotations

import os
import signal

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """Parallelism comes from several render workers; BLAS thread pools on top of that only
    oversubscribe the cores (and their start-up cost shows in latency). Must run before numpy
    is imported; an operator's own setting wins."""
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")


def stop_when_told(interrupt_raises: bool) -> None:
    """An ignored SIGINT/SIGTERM is inherited across exec (nohup, a script's `&`); a sandbox
    process must stop when it is told to. The server turns SIGINT into KeyboardInterrupt to shut
    down cleanly; a worker, which holds nothing to clean up, just ends."""
    signal.signal(signal.SIGINT, signal.default_int_handler if interrupt_raises else signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
