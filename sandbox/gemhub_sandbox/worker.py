"""One render worker: `python -m gemhub_sandbox.worker IN_FD OUT_FD TIMEOUT SPILL_DIR`.

Runs Process API requests one after another, all V8 work on this process's
main thread, and answers each with ("ok", Rendered), ("api-error", ApiError)
or ("internal", message). Exits when the server closes the pipe. The pool in
workers.py starts, watches and replaces these processes.

Large responses (an eo-learn time series asks for 50 MB per date) do not go
through the pipe: pickling and piping 56 MB took 0.28 s, writing it to a file
in SPILL_DIR (tmpfs where there is one) and reading it back a tenth of that.
They are answered as ("ok-file", (Rendered without body, path)).
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from multiprocessing.connection import Connection

from .process_defaults import one_blas_thread, stop_when_told

one_blas_thread()

READY = "ready"
SPILL_BYTES = 1 << 20


def main(argv: list[str]) -> int:
    stop_when_told(interrupt_raises=False)
    inbox = Connection(int(argv[0]), writable=False)
    outbox = Connection(int(argv[1]), readable=False)
    evalscript_timeout = float(argv[2])
    spill_dir = argv[3]

    from . import render
    from .errors import ApiError
    from .evalscript import initialise_v8

    initialise_v8()
    outbox.send((READY, os.getpid()))
    while True:
        try:
            request, accept = inbox.recv()
        except (EOFError, OSError):
            return 0
        try:
            reply = _spilled(render.execute(request, accept, evalscript_timeout), spill_dir)
        except ApiError as error:
            reply = ("api-error", error)
        except MemoryError:
            reply = ("api-error", ApiError(400, "Request too large for the sandbox: out of memory while rendering. "
                                           "Reduce the area, resolution or time range.",
                                           code="RENDERER_EXCEPTION"))
        except Exception as error:  # a sandbox bug: keep the evidence, answer cleanly
            traceback.print_exc(file=sys.stderr)
            reply = ("internal", f"{type(error).__name__} in the sandbox renderer")
        del request
        outbox.send(reply)


def _spilled(rendered, spill_dir: str) -> tuple:
    if len(rendered.body) < SPILL_BYTES:
        return "ok", rendered
    fd, path = tempfile.mkstemp(prefix="response-", dir=spill_dir)
    with os.fdopen(fd, "wb") as out:
        out.write(rendered.body)
    rendered.body = b""
    return "ok-file", (rendered, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
