"""gemhub: a JupyterHub workspace distribution for Earth-observation work."""

__version__ = "0.1.0"
