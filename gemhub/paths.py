"""Where gemhub's files are, for a given config.

Relative paths in gemhub.yaml are relative to the file itself, so a config
means the same thing whichever folder `gemhub up` is started from. Unset paths
fall back to gemhub's state folder: $GEMHUB_HOME, else `.gemhub/` when gemhub
runs from its source checkout (`make envs` installs it editable), else the
user's data folder (an installed wheel).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import platformdirs

from .config import GemhubConfig

# The environment that says which config a process runs with: `gemhub up` sets them for the
# hub, whose jupyterhub_config.py and managed services (the curation) load the same config.
CONFIG_ENV = "GEMHUB_CONFIG"  # the gemhub.yaml (absolute); unset: the built-in defaults
CONFIG_OVERRIDES_ENV = "GEMHUB_CONFIG_OVERRIDES"  # JSON {dotted.key: value} from `gemhub up` options
STATE_HOME_ENV = "GEMHUB_HOME"  # see state_home()


def config_overrides_from_env() -> dict:
    return json.loads(os.environ.get(CONFIG_OVERRIDES_ENV) or "{}")


# The folder holding the gemhub package: the source tree in a checkout, site-packages
# once installed. Build-time tools (`gemhub images`) need it to be a checkout; run-time
# defaults use it only when running_from_checkout().
CHECKOUT = Path(__file__).resolve().parents[1]
# The JupyterHub config file `gemhub up` runs, shipped in the package (like TLJH's);
# hub_config/jupyterhub_config.py in the checkout is a thin entry point that loads it.
HUB_CONFIG_FILE = Path(str(resources.files(__package__) / "hub" / "jupyterhub_config.py"))


def running_from_checkout() -> bool:
    """True for an editable install in a source checkout, False for an installed wheel,
    whose parent folder (site-packages) is not a project."""
    return (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "hub_config").is_dir()


def state_home() -> Path:
    if os.environ.get(STATE_HOME_ENV):
        return Path(os.environ[STATE_HOME_ENV]).resolve()
    if running_from_checkout():
        return CHECKOUT / ".gemhub"
    return Path(platformdirs.user_data_dir("gemhub")).resolve()


def proxy_command() -> str:
    """configurable-http-proxy from a checkout's locked npm install (`make proxy`), else PATH."""
    local = CHECKOUT / "images" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if running_from_checkout() and local.exists():
        return str(local)
    return shutil.which("configurable-http-proxy") or "configurable-http-proxy"


def default_notebooks_dir() -> Path | None:
    """The checkout's curated notebooks; an installed gemhub has none unless the config names a folder."""
    folder = CHECKOUT / "notebooks"
    return folder if running_from_checkout() and folder.is_dir() else None


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    db_url: str
    user_env: Path
    home_root: Path
    notebooks_dir: Path | None
    marketplace_dir: Path
    config_d: Path | None = None

    @classmethod
    def of(cls, cfg: GemhubConfig, config_file: str | Path | None) -> "Paths":
        base = Path(config_file).resolve().parent if config_file else Path.cwd()

        def resolve(value: str | None, default: Path | None) -> Path | None:
            return (base / value).resolve() if value else default

        data_dir = resolve(cfg.hub.data_dir, state_home() / "data")
        return cls(
            data_dir=data_dir,
            db_url=cfg.hub.db_url or f"sqlite:///{data_dir / 'jupyterhub.sqlite'}",
            user_env=resolve(cfg.spawner.local.user_env, state_home() / "envs" / "user"),
            home_root=resolve(cfg.spawner.local.home_root, data_dir / "homes"),
            notebooks_dir=resolve(cfg.marketplace.notebooks_dir, default_notebooks_dir()),
            marketplace_dir=resolve(cfg.marketplace.site_dir, state_home() / "marketplace"),
            config_d=resolve(cfg.hub.config_d, None),
        )
