"""User-side gemhub: imported by notebooks and by the user's Jupyter server."""

__all__ = ["NoEndpointError", "data_collection", "sh_config", "using_sandbox"]


def __getattr__(name):
    # Lazy, so that gemhub_workspace.endpoint_compat (imported at every interpreter start-up
    # by its .pth) does not pull in sentinelhub.
    if name in __all__:
        from . import sentinelhub

        return getattr(sentinelhub, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_server_extension_points():
    """jupyter_server extensions: the marketplace Launch endpoint (see `launch.py`), what the
    Lab extension's gemhub Launcher section points at (see `landing.py`) and the
    gemhub Sentinel Hub profile that makes a bare `SHConfig()` work (see `shprofile.py`)."""
    # binder (the in-server sandbox for Binder, see `binder.py`) first: shprofile reads what it exports.
    return [
        {"module": "gemhub_workspace.binder"},
        {"module": "gemhub_workspace.launch"},
        {"module": "gemhub_workspace.landing"},
        {"module": "gemhub_workspace.shprofile"},
    ]
