"""endpoint_compat patches sentinelhub-py's private code: when upstream changes, `import sentinelhub`
must still work, with one warning and sentinelhub-py left exactly as it is.

Each case runs a fresh interpreter of the user environment (so the start-up `.pth` installs the
hook, as in every kernel) with a stand-in `sentinelhub` package first on the path: the real one's
shape, changed the way an upstream release could change it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

INIT = """
__version__ = {version!r}
from .api import base_request, catalog
"""
BASE_REQUEST = """
class InputDataDict(dict):
    service_url = None


class SentinelHubBaseApiRequest:
    def {method}(self):
        return "upstream"
"""
CATALOG = """
class SHConfig: ...
class SentinelHubCatalog: ...
def parse_time(*args, **kwargs): ...
def filter_times(*args, **kwargs): ...


def get_available_timestamps(bbox, time_interval, data_collection, *, {parameters}):
    return "upstream"
"""
UPSTREAM_PARAMETERS = "time_difference=None, ignore_tz=True, maxcc=None, config=None"

PROBE = """
import json, sys, warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import sentinelhub
    from sentinelhub.api import base_request, catalog
    import sentinelhub.api.catalog  # a second import: still no second warning

cls = base_request.SentinelHubBaseApiRequest
patched = [getattr(f, "__gemhub_endpoint_compat__", False)
           for f in (vars(cls).get("_get_base_url"), catalog.get_available_timestamps)]
print(json.dumps({
    "imported_from": sentinelhub.__file__,
    "hook": any(getattr(f, "__gemhub_endpoint_compat__", False) for f in sys.meta_path),
    "warnings": [str(w.message) for w in caught if "gemhub" in str(w.message)],
    "methods": sorted(name for name in vars(cls) if not name.startswith("__")),
    "patched": patched,
    "upstream_answers": None if any(patched) else (
        [getattr(cls(), m)() for m in vars(cls) if not m.startswith("__")]
        + [catalog.get_available_timestamps(None, None, None)]),
}))
"""


def fake_sentinelhub(root, version="3.12.0", method="_get_base_url", parameters=UPSTREAM_PARAMETERS):
    package = root / "sentinelhub"
    (package / "api").mkdir(parents=True)
    (package / "__init__.py").write_text(INIT.format(version=version))
    (package / "api" / "__init__.py").write_text("")
    (package / "api" / "base_request.py").write_text(BASE_REQUEST.format(method=method))
    (package / "api" / "catalog.py").write_text(CATALOG.format(parameters=parameters))
    return root


def probe(tmp_path, fake) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMHUB_", "PYTHON"))}
    env["PYTHONPATH"] = str(fake)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(PROBE)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"import sentinelhub failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("change, reason", [
    ({"method": "_get_service_url"}, "SentinelHubBaseApiRequest._get_base_url is missing"),
    ({"version": "3.13.0"}, "sentinelhub 3.13.0 is not the 3.12.x it was written for"),
    # base_request matches and is patched first; the catalog's change must undo that too.
    ({"parameters": "time_difference=None, ignore_tz=True, maxcc=None, config=None, limit=None"},
     "get_available_timestamps has another signature"),
], ids=["renamed-private-method", "other-release", "changed-signature"])
def test_import_survives_an_upstream_change_and_leaves_sentinelhub_untouched(
        endpoint_compat_pth, tmp_path, change, reason):
    fake = fake_sentinelhub(tmp_path / "site", **change)
    result = probe(tmp_path, fake)
    assert result["imported_from"] == str(fake / "sentinelhub" / "__init__.py"), "the stand-in was imported"
    assert result["hook"] is True, "the start-up hook was installed and ran"
    assert len(result["warnings"]) == 1 and reason in result["warnings"][0], result["warnings"]
    assert "left unpatched" in result["warnings"][0]
    assert result["methods"] == [change.get("method", "_get_base_url")]
    assert result["patched"] == [False, False]
    assert result["upstream_answers"] == ["upstream", "upstream"]


def test_a_matching_release_is_patched_without_a_warning(endpoint_compat_pth, tmp_path):
    """The same stand-in, unchanged: proof that the cases above fail for the change, not the stand-in."""
    result = probe(tmp_path, fake_sentinelhub(tmp_path / "site"))
    assert result["warnings"] == [] and result["patched"] == [True, True]
