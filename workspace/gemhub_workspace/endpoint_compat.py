"""Let a non-default `sh_base_url` reach sentinelhub-py's built-in data collections.

Why this exists
---------------
sentinelhub-py's built-in collections (`DataCollection.SENTINEL2_L1C`, `SENTINEL2_L2A`,
`DEM`, `DEM_COPERNICUS_30`, ...) carry `service_url = "https://services.sentinel-hub.com"`,
and sentinelhub-py lets a collection's service URL win over `SHConfig.sh_base_url`. That
rule was made for Sinergise's own deployments, which share one identity provider, so
sending a request to services.sentinel-hub.com works whatever deployment the config names.
For a deployment with its *own* identity provider -- gemhub's offline sandbox, Copernicus
Data Space -- the rule can only fail: the request leaves for the internet carrying a token
that services.sentinel-hub.com never issued. Their documentation makes every user redefine
each collection with `define_from(..., service_url=...)`, and so code written for Sentinel
Hub (tutorials, papers' notebooks, eo-learn examples, a colleague's script) does not run
"with nothing changed but the base URL and credentials", which is what gemhub promises.

So in gemhub's user environment the rule becomes: when `sh_base_url` names a deployment
other than Sinergise's own (the `sentinelhub.constants.ServiceUrl` values), a collection
whose service URL is exactly the default MAIN URL follows `sh_base_url`. Collections bound
to another deployment (USWEST, CREODIAS, a `define_from(service_url=...)` of the user's) are
left alone, and with the default `sh_base_url` nothing changes at all: the original
functions run.

Where sentinelhub-py 3.12 / eo-learn 1.5.7 decide the URL
----------------------------------------------------------
* `sentinelhub.api.base_request.SentinelHubBaseApiRequest._get_base_url`: the one place the
  Process API (`SentinelHubRequest`, hence eo-learn's `SentinelHubInputTask`,
  `SentinelHubEvalscriptTask`, `SentinelHubDemTask`), `AsyncProcessRequest` and
  `SentinelHubStatistical` pick their deployment.
* `sentinelhub.api.catalog.get_available_timestamps`: replaces `sh_base_url` with the
  collection's service URL before searching the Catalog; eo-learn's input tasks call it
  (eolearn.io has no other use of `service_url`). `SentinelHubCatalog` itself always
  honours `sh_base_url` and needs nothing.
Not covered: OGC (WMS/WCS/WFS) requests and `TileSplitter`, which neither the sandbox nor
Copernicus Data Space's Process-API workflows need.

How it is applied
-----------------
`install_pth()` writes `gemhub-endpoint-compat.pth` into the environment's site-packages
(`python -m gemhub_workspace.endpoint_compat --install`). At interpreter start-up that file
calls `install()`, which only puts a tiny finder on `sys.meta_path`; sentinelhub is *not*
imported. When a process first imports one of the two modules above, the finder lets the
normal loader execute it and then wraps the function, so every `from ... import` that
follows (eo-learn's included) sees the patched one.

What it patches is private to sentinelhub-py and one body is copied from it, so before
patching it checks that the imported sentinelhub-py is the release line it was written
for (`TESTED_WITH`) and that everything it replaces or calls is there with the expected
signature. On any mismatch it warns once, undoes what it already patched in this process
and leaves sentinelhub-py as upstream made it: built-in collections then keep
services.sentinel-hub.com, and `gemhub_workspace.data_collection()` (or the documented
`define_from(service_url=...)`) still works. `import sentinelhub` never fails because of it.

Opt out with `GEMHUB_ENDPOINT_COMPAT=0` (read at start-up and again at every call).
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings

ENV_VAR = "GEMHUB_ENDPOINT_COMPAT"
PTH_NAME = "gemhub-endpoint-compat.pth"
_MARK = "__gemhub_endpoint_compat__"
# The sentinelhub-py release line (major.minor) the patches below were written and tested against.
TESTED_WITH = "3.12"
_refused: list[str] = []  # why the patches were refused in this process, once they were

# One `import` line is all site.py executes from a .pth file. It must never break start-up:
# the opt-out skips even importing this module, and a removed package is ignored. The module
# is then dropped from sys.modules (the installed finder keeps what it needs alive), so that
# `python -m gemhub_workspace.endpoint_compat` does not trip runpy's "found in sys.modules"
# warning; a later import simply loads it again, and install() and the patches are idempotent.
PTH_CONTENT = (
    "# gemhub: built-in sentinelhub-py collections follow a non-default sh_base_url; "
    "see gemhub_workspace.endpoint_compat\n"
    "import os, sys; exec(\"try:\\n from gemhub_workspace.endpoint_compat import install\\n"
    "except ImportError:\\n pass\\nelse:\\n install()\\n"
    " sys.modules.pop('gemhub_workspace.endpoint_compat', None)\") "
    f"if os.environ.get({ENV_VAR!r}, '1') != '0' else None\n"
)


def enabled() -> bool:
    return os.environ.get(ENV_VAR, "1") != "0"


# --- the rule -------------------------------------------------------------------------------

def _foreign_base_url(config) -> str | None:
    """`config.sh_base_url` if it names a deployment outside Sinergise's own, else None."""
    if not enabled():
        return None
    from sentinelhub.constants import ServiceUrl

    base_url = (config.sh_base_url or "").rstrip("/")
    own = {value.rstrip("/") for name, value in vars(ServiceUrl).items()
           if not name.startswith("_") and isinstance(value, str)}
    return base_url if base_url and base_url not in own else None


def _is_main(service_url: str | None) -> bool:
    from sentinelhub.constants import ServiceUrl

    return service_url is not None and service_url.rstrip("/") == ServiceUrl.MAIN


# --- the checks -----------------------------------------------------------------------------

# What each patch replaces or calls, and the parameters it passes on.
EXPECTED = {
    "sentinelhub.api.base_request": {
        "SentinelHubBaseApiRequest._get_base_url": ["self"],
        "InputDataDict": None,
    },
    "sentinelhub.api.catalog": {
        "get_available_timestamps": ["bbox", "time_interval", "data_collection", "time_difference", "ignore_tz",
                                     "maxcc", "config"],
        "SentinelHubCatalog": None,
        "SHConfig": None,
        "parse_time": None,
        "filter_times": None,
    },
}


def _mismatch(name: str, module) -> str | None:
    """Why `module` is not what the patch for it was written for, or None if it is."""
    version = getattr(sys.modules.get("sentinelhub"), "__version__", None)
    if not isinstance(version, str) or version.split(".")[:2] != TESTED_WITH.split("."):
        return f"sentinelhub {version} is not the {TESTED_WITH}.x it was written for"
    for attribute, parameters in EXPECTED[name].items():
        owner, _, leaf = attribute.rpartition(".")
        holder = getattr(module, owner, None) if owner else module
        found = vars(holder).get(leaf) if holder is not None else None
        if found is None:
            return f"{name}.{attribute} is missing"
        if parameters is not None:
            try:
                if list(inspect.signature(found).parameters) != parameters:
                    return f"{name}.{attribute} has another signature"
            except (TypeError, ValueError):
                return f"{name}.{attribute} has no signature"
    return None


def _refuse(reason: str) -> None:
    """Warn once, and put back whatever was already patched in this process."""
    if _refused:
        return
    _refused.append(reason)
    base = sys.modules.get("sentinelhub.api.base_request")
    cls = getattr(base, "SentinelHubBaseApiRequest", None)
    patched = vars(cls).get("_get_base_url") if cls is not None else None
    if getattr(patched, _MARK, False):
        cls._get_base_url = patched.__wrapped__
    catalog = sys.modules.get("sentinelhub.api.catalog")
    patched = getattr(catalog, "get_available_timestamps", None)
    if getattr(patched, _MARK, False):
        catalog.get_available_timestamps = patched.__wrapped__
    warnings.warn(
        f"gemhub: sentinelhub-py is left unpatched ({reason}), so its built-in data collections keep "
        "services.sentinel-hub.com whatever sh_base_url says; use gemhub_workspace.data_collection() "
        "or define_from(service_url=...). See gemhub_workspace.endpoint_compat.",
        RuntimeWarning, stacklevel=2,
    )


def _apply(name: str, module) -> None:
    """Patch `module` (just imported) if it is what the patch expects; never raises."""
    if _refused:
        return
    try:
        reason = _mismatch(name, module)
        if reason is None:
            PATCHES[name](module)
            return
    except Exception as error:  # whatever upstream changed, importing sentinelhub must work
        reason = f"patching {name} failed: {type(error).__name__}: {error}"
    _refuse(reason)


# --- the patches ----------------------------------------------------------------------------

def _patch_base_request(module) -> None:
    cls = module.SentinelHubBaseApiRequest
    original = cls.__dict__["_get_base_url"]
    if getattr(original, _MARK, False):
        return
    InputDataDict = module.InputDataDict

    def _get_base_url(self) -> str:
        base_url = _foreign_base_url(self.config)
        inputs = [item for item in self.payload["input"]["data"]
                  if isinstance(item, InputDataDict) and item.service_url is not None]
        if base_url is None or not any(_is_main(item.service_url) for item in inputs):
            return original(self)
        # Upstream's rule with MAIN read as sh_base_url: one URL wins, and sh_base_url
        # breaks a tie between collections bound to different deployments.
        urls = {base_url if _is_main(item.service_url) else item.service_url.rstrip("/") for item in inputs}
        return urls.pop() if len(urls) == 1 else base_url

    _get_base_url.__doc__ = original.__doc__
    _get_base_url.__wrapped__ = original
    setattr(_get_base_url, _MARK, True)
    cls._get_base_url = _get_base_url


def _patch_catalog(module) -> None:
    original = module.get_available_timestamps
    if getattr(original, _MARK, False):
        return

    def get_available_timestamps(bbox, time_interval, data_collection, *, time_difference=None,
                                 ignore_tz=True, maxcc=None, config=None):
        if _is_main(data_collection.service_url):
            config = config or module.SHConfig()
            if _foreign_base_url(config) is not None:
                # Upstream's body without its `config.sh_base_url = data_collection.service_url`.
                return _timestamps_from(module, bbox, time_interval, data_collection, time_difference,
                                        ignore_tz, maxcc, config)
        return original(bbox, time_interval, data_collection, time_difference=time_difference,
                        ignore_tz=ignore_tz, maxcc=maxcc, config=config)

    get_available_timestamps.__doc__ = original.__doc__
    get_available_timestamps.__module__ = original.__module__
    get_available_timestamps.__wrapped__ = original
    setattr(get_available_timestamps, _MARK, True)
    module.get_available_timestamps = get_available_timestamps


def _timestamps_from(module, bbox, time_interval, data_collection, time_difference, ignore_tz, maxcc, config):
    import datetime as dt

    query_filter = None
    time_difference = time_difference if time_difference is not None else dt.timedelta(seconds=-1)
    fields = {"include": ["properties.datetime"], "exclude": []}
    if maxcc is not None and data_collection.has_cloud_coverage:
        if isinstance(maxcc, (int, float)) and (maxcc < 0 or maxcc > 1):
            raise ValueError('Maximum cloud coverage "maxcc" parameter should be a float on an interval [0, 1]')
        query_filter = f"eo:cloud_cover < {int(maxcc * 100)}"
    catalog = module.SentinelHubCatalog(config=config)
    search_iterator = catalog.search(
        collection=data_collection, bbox=bbox, time=time_interval, filter=query_filter, fields=fields
    )
    timestamps = [module.parse_time(ts, force_datetime=True, ignoretz=ignore_tz)
                  for ts in search_iterator.get_timestamps()]
    return module.filter_times(timestamps, time_difference)


PATCHES = {
    "sentinelhub.api.base_request": _patch_base_request,
    "sentinelhub.api.catalog": _patch_catalog,
}


# --- the post-import hook -------------------------------------------------------------------

class _PostImportFinder:
    """A `sys.meta_path` finder that never loads anything itself: it finds the spec with the
    other finders and makes its loader apply a patch right after the module has executed."""

    def __init__(self, names):
        self.names = frozenset(names)
        setattr(self, _MARK, True)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if getattr(finder, _MARK, False) or find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_patch(module):
            exec_module(module)
            _apply(fullname, module)

        loader.exec_module = exec_then_patch  # this loader instance serves this one import
        return spec

    def invalidate_caches(self):
        pass


def install() -> bool:
    """Arrange for the patches to be applied; cheap, idempotent, imports nothing heavy."""
    if not enabled():
        return False
    for name in PATCHES:
        if name in sys.modules:
            _apply(name, sys.modules[name])
    if not any(getattr(finder, _MARK, False) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder(PATCHES))
    return True


def install_pth(site_packages: str | os.PathLike | None = None) -> str:
    """Write (or refresh) the start-up `.pth` into `site_packages` (default: this interpreter's)."""
    if site_packages is None:
        import sysconfig

        site_packages = sysconfig.get_path("purelib")
    path = os.path.join(os.fspath(site_packages), PTH_NAME)
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == PTH_CONTENT:
                return path
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(PTH_CONTENT)
    os.replace(tmp, path)
    return path


def uninstall_pth(site_packages: str | os.PathLike | None = None) -> str:
    if site_packages is None:
        import sysconfig

        site_packages = sysconfig.get_path("purelib")
    path = os.path.join(os.fspath(site_packages), PTH_NAME)
    if os.path.exists(path):
        os.remove(path)
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gemhub_workspace.endpoint_compat",
                                     description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--install", action="store_true", help=f"write {PTH_NAME} into site-packages")
    action.add_argument("--uninstall", action="store_true", help=f"remove {PTH_NAME}")
    parser.add_argument("--site-packages", help="target directory (default: this interpreter's site-packages)")
    args = parser.parse_args(argv)
    path = (install_pth if args.install else uninstall_pth)(args.site_packages)
    print(("installed " if args.install else "removed ") + path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
