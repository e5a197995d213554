"""The "you are on sandbox data" notice, as a JupyterLab notification.

JupyterLab 4 asks its server, once per page load, whether there is something
to tell the user (`GET /lab/api/update`, shown as an info toast and kept in
the notification centre); what the server answers comes from the class
configured as `LabApp.check_for_updates_class`. Upstream that class checks
PyPI for a newer JupyterLab, which this offline, pinned workspace has no use
for, so gemhub uses the slot for the one thing a user must not miss: their
kernels work against synthetic sandbox imagery, not their Sentinel Hub
account. With credentials of their own there is nothing to say.

The settings that make Lab ask (`checkForUpdates: true`, news off) are in
the shipped lab overrides (prefix/share/jupyter/lab/settings/overrides.json);
the class is set in prefix/etc/jupyter/jupyter_server_config.json (jupyter_server
reads only extension switches from `jupyter_server_config.d/`, not other
settings). `gemhub_workspace.environment` installs both.
"""

from __future__ import annotations

import os

from jupyterlab.handlers.announcements import CheckForUpdateABC

from .shprofile import choose_profile, credentials_url, started_by_gemhub_hub

# Short: the toast shows about four lines; the full text is in the notification centre.
ON_HUB = (
    "You are on sandbox data (synthetic imagery): this server has no Sentinel Hub credentials "
    "of yours. Set them, then restart your server."
)
ELSEWHERE = (
    "You are on sandbox data (synthetic imagery): no Sentinel Hub credentials are set. "
    "For real data set SH_CLIENT_ID and SH_CLIENT_SECRET (README-gemhub.md shows how)."
)


def sandbox_notice(environ=None) -> str | tuple[str, tuple[str, str]] | None:
    """The message (and link) to show, or None when the user has their own credentials."""
    env = os.environ if environ is None else environ
    endpoint, _ = choose_profile(env)
    if endpoint != "sandbox":
        return None
    if started_by_gemhub_hub(env):
        # Its credentials service is the way to real data.
        return ON_HUB, ("Set credentials", credentials_url(env))
    return ELSEWHERE


class SandboxNotice(CheckForUpdateABC):
    """`LabApp.check_for_updates_class` telling sandbox users where their data comes from."""

    async def __call__(self):
        return sandbox_notice()
