"""The one function the hub's jupyterhub_config.py (next to this module) calls."""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, GemhubConfig, Problem
from ..paths import Paths, proxy_command
from . import auth, credentials_hook, log_redaction, services, spawners


def public_url(cfg: GemhubConfig) -> str:
    host = f"[{cfg.hub.ip}]" if ":" in cfg.hub.ip else cfg.hub.ip
    return f"http://{host}:{cfg.hub.port}{cfg.hub.base_url}"


def proxy_api_url(cfg: GemhubConfig) -> str:
    return (cfg.hub.proxy_api_url or f"http://127.0.0.1:{cfg.hub.proxy_api_port}").rstrip("/")


def configure(c, cfg: GemhubConfig, config_file: str | Path | None) -> Paths:
    paths = Paths.of(cfg, config_file)
    paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_redaction.install()
    c.JupyterHub.bind_url = public_url(cfg)
    c.JupyterHub.db_url = paths.db_url
    c.JupyterHub.cookie_secret_file = str(paths.data_dir / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.api_url = proxy_api_url(cfg)
    if cfg.hub.external_proxy:
        # Started separately (gemhub/proxy image, a proxy pod); the token comes from
        # $CONFIGPROXY_AUTH_TOKEN, which JupyterHub reads itself.
        c.ConfigurableHTTPProxy.should_start = False
    else:
        c.ConfigurableHTTPProxy.pid_file = str(paths.data_dir / "proxy.pid")
        c.ConfigurableHTTPProxy.command = [proxy_command()]
    auth.apply(c, cfg, paths)
    spawners.apply(c, cfg, paths)
    credentials_hook.apply(c, cfg, paths)
    services.apply(c, cfg, paths)
    apply_extra_config(c, cfg)
    run_config_d(c, paths.config_d, str(config_file or "<defaults>"))
    return paths


def apply_extra_config(c, cfg: GemhubConfig) -> None:
    """hub.extra_config: set each trait as written, replacing what gemhub set."""
    for class_name, traits in cfg.hub.extra_config.items():
        section = c[class_name]
        for trait, value in traits.items():
            section[trait] = value


def run_config_d(c, folder: Path | None, source: str) -> None:
    """hub.config_d: run each `*.py` in sorted name order with `c` in scope, as JupyterHub
    runs jupyterhub_config.py (and TLJH its jupyterhub_config.d), so they may set anything."""
    if folder is None:
        return
    if not folder.is_dir():
        raise ConfigError(source, [Problem("hub.config_d", f"folder not found: {folder}")])
    for file in sorted(folder.glob("*.py")):
        code = compile(file.read_text(), str(file), "exec")
        exec(code, {"c": c, "get_config": lambda: c, "__file__": str(file), "__name__": "__config__"})
