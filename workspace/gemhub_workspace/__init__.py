"""User-side gemhub: imported by notebooks and by the user's Jupyter server."""

from .sentinelhub import NoEndpointError, data_collection, sh_config, using_sandbox

__all__ = ["NoEndpointError", "data_collection", "sh_config", "using_sandbox"]
