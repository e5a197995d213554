"""Auth, rate limiting, determinism and the command line."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import requests
from gemhub_sandbox.contract import CLIENTS_ENV, TOKEN_PATH
from oauthlib.oauth2.rfc6749.errors import InvalidClientError
from sentinelhub import (CRS, BBox, DataCollection, MimeType, SentinelHubDownloadClient, SentinelHubRequest,
                         SentinelHubSession)
from sentinelhub.exceptions import DownloadFailedException, SHRateLimitWarning

from conftest import sandbox_env, start_sandbox

BBOX = BBox((14.56, 46.08, 14.64, 46.12), CRS.WGS84)
EVALSCRIPT = """//VERSION=3
function setup() {
  return {input: ["B02", "B03", "B04", "B08", "CLP", "SCL"], output: {bands: 6, sampleType: "UINT16"},
          mosaicking: "ORBIT"};
}
function evaluatePixel(samples) {
  var s = samples[0];
  return [s.B02 * 10000, s.B03 * 10000, s.B04 * 10000, s.B08 * 10000, s.CLP, s.SCL];
}
"""


def _request(config, collection, size=(64, 48)):
    return SentinelHubRequest(
        evalscript=EVALSCRIPT,
        input_data=[SentinelHubRequest.input_data(collection, time_interval=("2023-05-01", "2023-05-20"))],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        bbox=BBOX, size=size, config=config)


def test_wrong_credentials_rejected(sandbox):
    config = sandbox.config(client_secret="not-the-secret")
    # Like Keycloak, the token endpoint answers 401 + OAuth2 error JSON; sentinelhub-py surfaces oauthlib's error.
    with pytest.raises(InvalidClientError):
        SentinelHubSession(config=config)
    response = requests.post(sandbox.url + TOKEN_PATH, timeout=10, data={
        "grant_type": "client_credentials", "client_id": "alice-id", "client_secret": "nope"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_is_a_jwt_and_bearer_is_required(sandbox, sh_config, l2a):
    session = SentinelHubSession(config=sh_config)
    info = session.info()
    assert info["azp"] == "alice-id" and info["exp"] > info["iat"]
    response = requests.post(sandbox.url + "/api/v1/process", json={}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "COMMON_UNAUTHORIZED"
    forged = SentinelHubSession.from_token({"access_token": session.token["access_token"][:-4] + "AAAA",
                                            "expires_at": session.token["expires_at"]})
    request = _request(sh_config, l2a)
    client = SentinelHubDownloadClient(config=sh_config, session=forged)
    with pytest.raises(DownloadFailedException, match="401"):
        client.download(request.download_list)


def test_expired_token_refused(limited_sandbox):
    import time

    token = requests.post(limited_sandbox.url + TOKEN_PATH, timeout=10, data={
        "grant_type": "client_credentials", "client_id": "bob-id", "client_secret": "bob-secret"}).json()
    assert token["expires_in"] == 2
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(limited_sandbox.url + "/api/v1/catalog/1.0.0/collections", headers=headers,
                        timeout=10).status_code == 200
    time.sleep(2.5)
    expired = requests.get(limited_sandbox.url + "/api/v1/catalog/1.0.0/collections", headers=headers, timeout=10)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]


def test_rate_limit_429_and_client_retries(limited_sandbox):
    config = limited_sandbox.config("alice-id", "alice-secret")
    collection = limited_sandbox.collection(DataCollection.SENTINEL2_L2A)
    download_list = [_request(config, collection, size=(16 + i, 16)).download_list[0] for i in range(6)]
    before = requests.get(limited_sandbox.url + "/sandbox/health", timeout=10).json()["rate_limited"]
    client = SentinelHubDownloadClient(config=config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = client.download(download_list, max_threads=3)
    assert [r.shape for r in results] == [(16, 16 + i, 6) for i in range(6)]
    assert any(issubclass(w.category, SHRateLimitWarning) for w in caught)
    after = requests.get(limited_sandbox.url + "/sandbox/health", timeout=10).json()["rate_limited"]
    assert after > before

    token = SentinelHubSession(config=config).token["access_token"]
    statuses = [requests.get(limited_sandbox.url + "/api/v1/catalog/1.0.0/collections", timeout=10,
                             headers={"Authorization": f"Bearer {token}"}) for _ in range(5)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, "5 back-to-back requests exceed 2 requests/second"
    assert int(limited[0].headers["Retry-After"]) > 0
    assert limited[0].json()["error"]["status"] == 429


def test_same_request_same_bytes_across_processes(sandbox, tmp_path, l2a):
    other = start_sandbox(tmp_path / "second")
    try:
        blobs = []
        for box, collection in ((sandbox, l2a), (other, other.collection(DataCollection.SENTINEL2_L2A))):
            request = _request(box.config(), collection, size=(96, 64))
            blobs.append(request.get_data(decode_data=False)[0].content)
    finally:
        other.stop()
    assert blobs[0] == blobs[1]
    assert len(blobs[0]) > 96 * 64 * 6 * 2


def test_adjacent_requests_tile_together(sh_config, l2a):
    def fetch(bbox):
        return SentinelHubRequest(
            evalscript=EVALSCRIPT,
            input_data=[SentinelHubRequest.input_data(l2a, time_interval=("2023-05-01", "2023-05-20"))],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=bbox, size=(40, 40), config=sh_config).get_data()[0].astype(float)

    whole = fetch(BBox((14.56, 46.08, 14.60, 46.12), CRS.WGS84))
    left = fetch(BBox((14.56, 46.08, 14.58, 46.12), CRS.WGS84))
    # same ground, different request extent: most pixels must agree closely
    left_half_of_whole = whole[:, :20, :4]
    left_subsampled = left[:, ::2, :4]
    assert np.median(np.abs(left_half_of_whole - left_subsampled)) < 300


def _run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gemhub_sandbox", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_cli_rejects_bad_clients_file(tmp_path):
    env = sandbox_env(tmp_path)
    bad = tmp_path / "clients.json"
    bad.write_text("{not json")
    result = _run_cli("serve", "--port", "0", "--clients", str(bad), env=env)
    assert result.returncode == 2
    assert str(bad) in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = tmp_path / "missing.json"
    result = _run_cli("serve", "--port", "0", "--clients", str(missing), env=env)
    assert result.returncode == 2 and str(missing) in result.stderr and "Traceback" not in result.stderr
    wrong_shape = tmp_path / "list.json"
    wrong_shape.write_text(json.dumps(["alice"]))
    result = _run_cli("serve", "--port", "0", "--clients", str(wrong_shape), env=env)
    assert result.returncode == 2 and str(wrong_shape) in result.stderr


def test_clients_from_environment(tmp_path):
    import os

    env = sandbox_env(tmp_path)
    env[CLIENTS_ENV] = json.dumps({"env-id": "env-secret"})
    proc = subprocess.Popen([sys.executable, "-m", "gemhub_sandbox", "serve", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("gemhub sandbox listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert not url.endswith(":0")
        ok = requests.post(url + TOKEN_PATH, timeout=10, data={
            "grant_type": "client_credentials", "client_id": "env-id", "client_secret": "env-secret"})
        assert ok.status_code == 200 and ok.json()["token_type"] == "Bearer"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert os.environ.get(CLIENTS_ENV) is None
