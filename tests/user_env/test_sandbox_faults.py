"""Unchanged sentinelhub-py against a Sentinel Hub that rate-limits, fails or is down.

A real sandbox behind tests/support/faulty_http.py, which answers the Process API from a
script (429 with Retry-After, 500/503, a dropped connection) before forwarding. What notebooks
rely on: a 429 makes the client wait as told and try again, a few server errors or dropped
connections are retried (SHConfig.max_download_attempts, download_sleep_time), and a
service that keeps failing or is unreachable ends in a DownloadFailedException naming the URL
after a bounded number of attempts, not a hang.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gemhub_sandbox.contract import TOKEN_PATH
from sentinelhub import (CRS, BBox, DataCollection, MimeType, SentinelHubDownloadClient, SentinelHubRequest,
                         SHConfig)
from sentinelhub.exceptions import DownloadFailedException, SHRateLimitWarning

from support.faulty_http import FaultyHttp
from support.hub import free_port

PROCESS = "/api/v1/process"
ATTEMPTS = 3
EVALSCRIPT = """//VERSION=3
function setup() { return {input: ["B04", "B08"], output: {bands: 1, sampleType: "FLOAT32"}}; }
function evaluatePixel(s) { return [(s.B08 - s.B04) / (s.B08 + s.B04)]; }
"""


def config(url: str) -> SHConfig:
    return SHConfig(use_defaults=True, sh_client_id="alice-id", sh_client_secret="alice-secret",
                    sh_base_url=url, sh_token_url=url + TOKEN_PATH,
                    max_download_attempts=ATTEMPTS, download_sleep_time=0.1, download_timeout_seconds=30)


def ndvi(url: str):
    """One small NDVI tile through the Process API at `url`, as a notebook asks for it."""
    port = url.rsplit(":", 1)[1]
    name = f"SENTINEL2_L2A_FAULTY_{port}"
    collection = DataCollection.__members__.get(name) or DataCollection.SENTINEL2_L2A.define_from(
        name, service_url=url)
    request = SentinelHubRequest(
        evalscript=EVALSCRIPT,
        input_data=[SentinelHubRequest.input_data(collection, time_interval=("2023-06-01", "2023-06-30"))],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        bbox=BBox((14.50, 46.05, 14.56, 46.09), CRS.WGS84), size=(32, 32), config=config(url))
    return request.get_data()[0]


def processed(faulty: FaultyHttp) -> list[str]:
    return [action for path, action, _ in faulty.seen if path.startswith(PROCESS)]


def test_a_429_makes_the_client_wait_as_told_and_retry(sandbox):
    with FaultyHttp(sandbox.url, [("429", 700), ("429", 700)], only=PROCESS) as faulty:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = ndvi(faulty.url)
    assert data.shape == (32, 32) and np.isfinite(data).any()
    assert processed(faulty) == ["429", "429", "forward"]
    assert sum(issubclass(w.category, SHRateLimitWarning) for w in caught) == 2
    times = [when for path, _, when in faulty.seen if path.startswith(PROCESS)]
    # Retry-After is in milliseconds (Sentinel Hub's unit): each retry came no sooner than asked.
    assert times[1] - times[0] >= 0.7 and times[2] - times[1] >= 0.7, times


@pytest.mark.parametrize("faults", [[("500",), ("503",)], [("drop",), ("500",)]], ids=["5xx", "dropped"])
def test_a_few_server_errors_are_retried(sandbox, faults):
    with FaultyHttp(sandbox.url, faults, only=PROCESS) as faulty:
        data = ndvi(faulty.url)
    assert data.shape == (32, 32)
    assert processed(faulty) == [kind for kind, *_ in faults] + ["forward"]


def test_persistent_server_errors_fail_after_the_configured_attempts(sandbox):
    with FaultyHttp(sandbox.url, only=PROCESS, then=("500",)) as faulty:
        with pytest.raises(DownloadFailedException) as failed:
            ndvi(faulty.url)
        tokens = [path for path, _, _ in faulty.seen if path == TOKEN_PATH]
    message = str(failed.value)
    assert f"{faulty.url}{PROCESS}" in message and "500 Server Error" in message, message
    assert processed(faulty) == ["500"] * ATTEMPTS and tokens, faulty.seen


def test_an_unreachable_service_fails_with_a_clear_error(sandbox):
    SentinelHubDownloadClient.clear_cache()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    with pytest.raises(DownloadFailedException) as failed:
        ndvi(url)
    message = str(failed.value)
    assert url in message and "ConnectionError" in message, message
    assert "Connection refused" in message or "check your internet connection" in message, message
