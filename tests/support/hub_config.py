"""Load an example gemhub.yaml through hub_config/jupyterhub_config.py, as the images and chart do."""

from __future__ import annotations

from pathlib import Path

from jupyterhub.app import JupyterHub
from traitlets.config.loader import PyFileConfigLoader

CHECKOUT = Path(__file__).resolve().parents[2]


def hub_config(monkeypatch, tmp_path, example: str | Path, env: dict | None = None):
    """(traitlets config, JupyterHub app) for `example` (a name in examples/, or a path)."""
    monkeypatch.setenv("GEMHUB_HOME", str(tmp_path))
    monkeypatch.setenv("GEMHUB_CONFIG", str(CHECKOUT / "examples" / example))
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    loader = PyFileConfigLoader("jupyterhub_config.py", path=str(CHECKOUT / "hub_config"))
    config = loader.load_config()
    return config, JupyterHub(config=config)
