"""The "you are on sandbox data" notice: one decision, one wording, three places.

A user must not mistake the sandbox's synthetic imagery for their Sentinel Hub
account's. Whether to say so is `endpoint.decide()`'s answer, and how to get real
data depends only on where the server runs (a gemhub hub has a credentials page;
Binder or a laptop has environment variables). This module words it for the
three places a user may look, all from that one decision:

- the server's root folder: ``README-gemhub.md`` while the server is on the
  sandbox, removed (only if gemhub wrote it) once the user has credentials
  (``update_notice``, called by ``shprofile`` at server start);
- JupyterLab: an info toast, kept in the notification centre (``SandboxNotice``);
- a kernel's output: one line when ``sh_config()`` hands out the sandbox
  (``kernel_notice``), so an executed notebook records where its data came from.

JupyterLab 4 asks its server, once per page load, whether there is something to
tell the user (``GET /lab/api/update``); what the server answers comes from the
class configured as ``LabApp.check_for_updates_class``. Upstream that class checks
PyPI for a newer JupyterLab, which this offline, pinned workspace has no use for,
so gemhub uses the slot for the notice. The settings that make Lab ask
(``checkForUpdates: true``, news off) are in the shipped lab overrides
(prefix/share/jupyter/lab/settings/overrides.json); the class is set in
prefix/etc/jupyter/jupyter_server_config.json (jupyter_server reads only extension
switches from ``jupyter_server_config.d/``, not other settings).
``gemhub_workspace.environment`` installs both.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from .endpoint import BASE_URL_ENV, SANDBOX, decide

# The toast shows about four lines; the full text is in the notification centre.
ON_HUB = (
    "You are on sandbox data (synthetic imagery): this server has no Sentinel Hub credentials "
    "of yours. Set them, then restart your server."
)
ELSEWHERE = (
    "You are on sandbox data (synthetic imagery): no Sentinel Hub credentials are set. "
    "For real data set SH_CLIENT_ID and SH_CLIENT_SECRET (README-gemhub.md shows how)."
)
KERNEL = (
    "gemhub: no Sentinel Hub credentials found, using the offline sandbox at {url} "
    "(synthetic imagery, not real data). Set SH_CLIENT_ID and SH_CLIENT_SECRET for real data."
)
NOTICE_FILE = "README-gemhub.md"
NOTICE_MARKER = "<!-- gemhub-managed: removed automatically once you have credentials -->"
README = """# You are on sandbox data

This server has no Sentinel Hub credentials of yours, so `SHConfig()` (and
`gemhub_workspace.sh_config()`) use gemhub's **offline sandbox**: synthetic
imagery, not real satellite data.

{how_to}

{marker}
"""
HOW_TO_ON_HUB = """To work with real data, set your Sentinel Hub credentials at
[{credentials_url}]({credentials_url}) and then **restart your server**
(File → Hub Control Panel → Stop My Server, then Start My Server)."""
HOW_TO_ELSEWHERE = """To work with real data (e.g. on Binder), set your own Sentinel Hub OAuth
client in the notebook before using it, without printing it:

```python
import os, getpass
os.environ["SH_CLIENT_ID"] = getpass.getpass("Sentinel Hub client id")
os.environ["SH_CLIENT_SECRET"] = getpass.getpass("Sentinel Hub client secret")
```

`gemhub_workspace.sh_config()` then uses Sentinel Hub instead of the sandbox."""


def started_by_gemhub_hub(environ=None) -> bool:
    """A gemhub hub's server (it has a credentials page), not Binder or a plain Jupyter."""
    env = os.environ if environ is None else environ
    return bool(env.get(BASE_URL_ENV) and env.get("JUPYTERHUB_API_URL"))


def credentials_url(environ=None) -> str:
    env = os.environ if environ is None else environ
    base = env.get("JUPYTERHUB_BASE_URL") or "/"
    return base.rstrip("/") + "/services/credentials/"


def sandbox_notice(environ=None) -> str | tuple[str, tuple[str, str]] | None:
    """The toast's message (and link), or None when the user has their own credentials."""
    env = os.environ if environ is None else environ
    if decide(env).kind != SANDBOX:
        return None
    if started_by_gemhub_hub(env):
        # Its credentials service is the way to real data.
        return ON_HUB, ("Set credentials", credentials_url(env))
    return ELSEWHERE


def kernel_notice(url: str) -> str:
    """The line a kernel prints when it is handed the sandbox at `url`."""
    return KERNEL.format(url=url)


def update_notice(root: Path, on_sandbox: bool, environ=None) -> None:
    """Keep README-gemhub.md in `root` while on the sandbox; remove our own copy otherwise."""
    path = root / NOTICE_FILE
    ours = False
    try:
        ours = path.is_file() and not path.is_symlink() and NOTICE_MARKER in path.read_text(errors="replace")
    except OSError:
        pass
    if on_sandbox:
        if os.path.lexists(path) and not ours:
            return  # the user's own file of that name: never overwritten
        how_to = (HOW_TO_ON_HUB.format(credentials_url=credentials_url(environ))
                  if started_by_gemhub_hub(environ) else HOW_TO_ELSEWHERE)
        tmp = path.with_name(f".{NOTICE_FILE}.tmp")
        tmp.write_text(README.format(marker=NOTICE_MARKER, how_to=how_to), encoding="utf-8")
        os.replace(tmp, path)
    elif ours:
        path.unlink(missing_ok=True)


@functools.cache
def _lab_notice_class():
    from jupyterlab.handlers.announcements import CheckForUpdateABC

    class SandboxNotice(CheckForUpdateABC):
        """`LabApp.check_for_updates_class` telling sandbox users where their data comes from."""

        async def __call__(self):
            return sandbox_notice()

    SandboxNotice.__module__, SandboxNotice.__qualname__ = __name__, "SandboxNotice"
    return SandboxNotice


def __getattr__(name: str):
    # Made on first use: its base class is JupyterLab's, which takes seconds to import, and
    # kernels import this module only for `kernel_notice`.
    if name == "SandboxNotice":
        return _lab_notice_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
