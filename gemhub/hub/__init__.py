"""Turning a validated GemhubConfig into JupyterHub's traitlets config."""

from .configure import configure

__all__ = ["configure"]
