"""Where gemhub's files are, for a given config.

Relative paths in gemhub.yaml are relative to the file itself, so a config
means the same thing whichever folder `gemhub up` is started from; unset paths
fall back to the checkout's `.gemhub/` state folder (or $GEMHUB_HOME).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .config import GemhubConfig

CHECKOUT = Path(__file__).resolve().parents[1]
HUB_CONFIG_FILE = CHECKOUT / "hub_config" / "jupyterhub_config.py"


def state_home() -> Path:
    return Path(os.environ.get("GEMHUB_HOME") or CHECKOUT / ".gemhub").resolve()


def proxy_command() -> str:
    """configurable-http-proxy from images/proxy's locked npm install, else PATH."""
    local = CHECKOUT / "images" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    return shutil.which("configurable-http-proxy") or "configurable-http-proxy"


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    db_url: str
    user_env: Path
    home_root: Path
    notebooks_dir: Path
    marketplace_dir: Path

    @classmethod
    def of(cls, cfg: GemhubConfig, config_file: str | Path | None) -> "Paths":
        base = Path(config_file).resolve().parent if config_file else Path.cwd()

        def resolve(value: str | None, default: Path) -> Path:
            return (base / value).resolve() if value else default

        data_dir = resolve(cfg.hub.data_dir, state_home() / "data")
        return cls(
            data_dir=data_dir,
            db_url=cfg.hub.db_url or f"sqlite:///{data_dir / 'jupyterhub.sqlite'}",
            user_env=resolve(cfg.spawner.local.user_env, state_home() / "envs" / "user"),
            home_root=resolve(cfg.spawner.local.home_root, data_dir / "homes"),
            notebooks_dir=resolve(cfg.marketplace.notebooks_dir, CHECKOUT / "notebooks"),
            marketplace_dir=resolve(cfg.marketplace.site_dir, state_home() / "marketplace"),
        )
