"""Fuzzing the Process and Catalog payloads: whatever a client sends, the
sandbox answers with a Sentinel Hub-shaped 4xx, never a 500, a traceback or a
crash.

Hypothesis builds payloads three ways: arbitrary JSON, a valid payload with
one field swapped for something else (wrong type, huge number, odd CRS, NaN),
and bytes that are not JSON at all. Examples are derandomised so CI sees the
same cases every run; bounded in count, loopback only.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import requests
from gemhub_sandbox.child import start
from gemhub_sandbox.contract import CATALOG_PREFIX, PROCESS_PATH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import sandbox_http as sh

CLIENTS = {"fuzz-id": "fuzz-secret"}
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ODD_NUMBERS = st.sampled_from([0, -1, 1e308, -1e308, 10 ** 30, -(10 ** 30), 2 ** 63, 1e-320, math.nan,
                               math.inf, -math.inf, 0.5, True, False])
ODD_STRINGS = st.sampled_from([
    "", " ", "EPSG:4326", "EPSG:999999", "EPSG:-1", "EPSG:", "http://www.opengis.net/def/crs/EPSG/0/32633",
    "http://www.opengis.net/def/crs/EPSG/0/", "http://www.opengis.net/def/crs/EPSG/0/nope", "CRS84",
    "urn:ogc:def:crs:EPSG::3857", "2023-13-45T99:99:99Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "../../etc/passwd", "\u0000", "x" * 5000, "image/tiff", "sentinel-2-l2a", "dem", "ORBIT",
])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40) | ODD_NUMBERS | ODD_STRINGS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12) | ODD_STRINGS, inner, max_size=5),
    max_leaves=20,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


def _replaced(document, path, new):
    if not path:
        return new
    copied = copy.deepcopy(document)
    node = copied
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return copied


def mutations_of(valid: dict):
    paths = list(_paths(valid))
    return st.builds(_replaced, st.just(valid), st.sampled_from(paths), JSON_VALUES)


VALID_PROCESS = sh.process_payload(sh.GOOD_SIMPLE, size=16)
VALID_PROCESS["input"]["data"][0]["dataFilter"]["mosaickingOrder"] = "leastCC"
VALID_PROCESS["output"]["responses"].append({"identifier": "userdata", "format": {"type": "application/json"}})
VALID_SEARCH = {
    "collections": ["sentinel-2-l2a"], "bbox": sh.BBOX,
    "datetime": "2023-05-01T00:00:00Z/2023-05-31T23:59:59Z", "limit": 5,
    "filter": "eo:cloud_cover < 50", "filter-lang": "cql2-text",
    "fields": {"include": ["id", "properties.datetime"], "exclude": []},
}
NOT_JSON = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.just(b'{"input": '),
    st.just(b"\xff\xfe{}"),
    st.just(b"[" * 5000 + b"]" * 5000),
    st.just(b'{"a": ' * 3000 + b"1" + b"}" * 3000),
)


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    log = tmp_path_factory.mktemp("fuzz") / "sandbox.log"
    box = start(CLIENTS, args=("--evalscript-timeout", "5"), stderr=log.open("wb"))
    headers = {"Authorization": "Bearer " + sh.token(box.url, *next(iter(CLIENTS.items()))),
               "Content-Type": "application/json"}
    yield box, headers, log
    alive = box.process.poll() is None
    box.stop()
    text = log.read_text(errors="replace")
    assert alive, f"the sandbox died during fuzzing:\n{text[-3000:]}"
    assert "Traceback" not in text, text[-3000:]


def _send(target, path: str, body: bytes) -> requests.Response:
    box, headers, _ = target
    return requests.post(box.url + path, data=body, headers=headers, timeout=120)


def _check(answer: requests.Response, body: bytes) -> None:
    shown = body[:300]
    assert answer.status_code < 500, (answer.status_code, answer.text[:500], shown)
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert error["status"] == answer.status_code and error["message"], (error, shown)
        assert "Traceback" not in answer.text, answer.text


def _encode(value) -> bytes:
    return json.dumps(value).encode()  # NaN and Infinity included, as Python clients send them


@FUZZ
@given(payload=st.one_of(mutations_of(VALID_PROCESS), JSON_VALUES))
def test_process_payloads(fuzz_target, payload):
    body = _encode(payload)
    _check(_send(fuzz_target, PROCESS_PATH, body), body)


@FUZZ
@given(payload=st.one_of(mutations_of(VALID_SEARCH), JSON_VALUES))
def test_catalog_search_payloads(fuzz_target, payload):
    body = _encode(payload)
    _check(_send(fuzz_target, CATALOG_PREFIX + "/search", body), body)


@settings(FUZZ, max_examples=60)
@given(body=NOT_JSON)
def test_bodies_that_are_not_json(fuzz_target, body):
    for path in (PROCESS_PATH, CATALOG_PREFIX + "/search"):
        answer = _send(fuzz_target, path, body)
        _check(answer, body)
        assert answer.status_code == 400, answer.text[:300]


def test_the_valid_payloads_used_as_seeds_do_work(fuzz_target):
    """The mutations start from payloads the sandbox accepts, so one changed field is what is tested."""
    assert _send(fuzz_target, PROCESS_PATH, _encode(VALID_PROCESS)).status_code == 200
    assert _send(fuzz_target, CATALOG_PREFIX + "/search", _encode(VALID_SEARCH)).status_code == 200
