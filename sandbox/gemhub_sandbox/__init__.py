"""gemhub sandbox: an offline stand-in for the Sentinel Hub APIs (OAuth, Catalog, Process)."""

__version__ = "0.1.0"
