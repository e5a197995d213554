"""Waiting for something to come up, from synchronous code.

JupyterHub already has the waiting it uses for spawners and services:
`exponential_backoff` (short first waits, growing, with jitter, a deadline).
These wrappers run it to completion for synchronous callers (`gemhub images
test`, the tests), so there is no hand-written "sleep and try again" loop to
get wrong. (Its `wait_for_http_server` fits none of them: each needs its own
headers or a 2xx rather than any answer below 500, or to give up as soon as
the process that should answer has exited, which a check here does by raising.)

Only the standard library and `jupyterhub.utils`, which both environments
have (JupyterHub 6 in the hub's, an older one in the user's), are imported:
the user-environment tests use it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from jupyterhub.utils import exponential_backoff

T = TypeVar("T")

# A check is cheap (a request on loopback, a look at /proc): try again soon, at most every second.
START_WAIT = 0.05
MAX_WAIT = 1.0


def wait_until(check: Callable[[], T], timeout: float, what: str = "the condition",
               max_wait: float = MAX_WAIT) -> T:
    """`check()`'s first truthy value; TimeoutError ("WHAT: not after N s") if none within `timeout` s.

    `check` may raise to give up early (the process that should answer has exited).
    `max_wait` caps the pause between tries (lower it to time a start-up closely).
    """
    return asyncio.run(exponential_backoff(
        check, f"{what}: not after {timeout:g}s", timeout=timeout,
        start_wait=min(START_WAIT, max_wait), max_wait=max_wait, timeout_tolerance=0,
    ))


def eventually(check: Callable[[], T], timeout: float, max_wait: float = MAX_WAIT) -> T:
    """`check()`'s first truthy value within `timeout` s, else its last (falsy) value.

    For callers that assert on the outcome themselves, with their own message.
    """
    try:
        return wait_until(check, timeout, max_wait=max_wait)
    except TimeoutError:
        return check()
