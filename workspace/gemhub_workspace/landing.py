"""What JupyterLab's gemhub Launcher section points at, decided by the user server.

The Lab extension (workspace/labextension, built into
prefix/share/jupyter/labextensions/@gemhub/workspace) shows a Launcher section
"gemhub": Marketplace, Credentials and "Start here". Which of them make sense
depends on where the server runs, which only the server knows: the hub's pages
exist only under a gemhub hub (`notice.started_by_gemhub_hub`, the same
decision as the sandbox notice's wording), and "Start here" only when the
curated folder holds the start notebook. So this extension puts the answers
into JupyterLab's page config and the Lab extension shows a card per answer.

"Start here" copies its notebook through the Launch endpoint when clicked:
the home folder is not filled up front.
"""

from __future__ import annotations

import os

from gemhub_sandbox.contract import LAUNCH_PATH

from .launch import GemhubLaunch, find_curated
from .notice import credentials_url, started_by_gemhub_hub

# The curated notebook behind the "Start here" card (a slug of the Launch endpoint).
START_HERE = "workshop-1-intro"
# The page config keys the Lab extension reads (src/index.js).
MARKETPLACE_URL, CREDENTIALS_URL, START_HERE_KEY, LAUNCH_PATH_KEY = (
    "gemhubMarketplaceUrl", "gemhubCredentialsUrl", "gemhubStartHere", "gemhubLaunchPath")


def marketplace_url(environ=None) -> str:
    env = os.environ if environ is None else environ
    base = env.get("JUPYTERHUB_BASE_URL") or "/"
    return base.rstrip("/") + "/services/marketplace/"


def page_config(launch: GemhubLaunch, environ=None) -> dict[str, str]:
    """The page config entries for the Lab extension; a card whose key is missing is not shown."""
    config = {LAUNCH_PATH_KEY: LAUNCH_PATH}
    if started_by_gemhub_hub(environ):
        config[MARKETPLACE_URL] = marketplace_url(environ)
        config[CREDENTIALS_URL] = credentials_url(environ)
    curated = launch.curated_root()
    if curated is not None and find_curated(curated, START_HERE) is not None:
        config[START_HERE_KEY] = START_HERE
    return config


def _load_jupyter_server_extension(serverapp) -> None:
    # JupyterLab fills the same dict (setdefault) when it loads, before or after this.
    settings = serverapp.web_app.settings
    settings.setdefault("page_config_data", {}).update(page_config(GemhubLaunch(parent=serverapp)))


def _jupyter_server_extension_points():
    return [{"module": "gemhub_workspace.landing"}]
