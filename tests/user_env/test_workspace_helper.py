"""gemhub_workspace.sh_config: the user's credentials when set, the sandbox otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from gemhub_sandbox.contract import CLIENT_ID_ENV, CLIENT_SECRET_ENV, TOKEN_PATH, URL_ENV
from sentinelhub import CRS, BBox, DataCollection, MimeType, SentinelHubRequest

import gemhub_workspace
from gemhub_workspace import NoEndpointError, data_collection, sh_config

EVALSCRIPT = """//VERSION=3
function setup() { return {input: ["B04", "dataMask"], output: {bands: 1, sampleType: "FLOAT32"}}; }
function evaluatePixel(s) { return [s.B04]; }"""


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "GEMHUB_SH_BASE_URL", "GEMHUB_SH_TOKEN_URL",
                 URL_ENV, CLIENT_ID_ENV, CLIENT_SECRET_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _red_band(config):
    request = SentinelHubRequest(
        evalscript=EVALSCRIPT,
        input_data=[SentinelHubRequest.input_data(data_collection(DataCollection.SENTINEL2_L2A, config),
                                                  time_interval=("2023-06-01", "2023-06-30"))],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        bbox=BBox((14.56, 46.08, 14.60, 46.10), crs=CRS.WGS84),
        size=(32, 32),
        config=config,
    )
    return request.get_data()[0]


def test_without_credentials_the_sandbox_is_used_with_a_notice(clean_env, sandbox, capsys):
    clean_env.setenv(URL_ENV, sandbox.url)
    clean_env.setenv(CLIENT_ID_ENV, "bob-id")
    clean_env.setenv(CLIENT_SECRET_ENV, "bob-secret")
    config = sh_config()
    assert "using the offline sandbox" in capsys.readouterr().out
    assert gemhub_workspace.using_sandbox()
    assert config.sh_base_url == sandbox.url and config.sh_client_id == "bob-id"
    red = _red_band(config)
    assert red.shape == (32, 32) and red.dtype == np.float32 and 0 < red.mean() < 1


def test_users_own_credentials_win_and_reach_their_endpoint(clean_env, sandbox, capsys):
    clean_env.setenv(URL_ENV, "http://127.0.0.1:9")  # must not be used
    clean_env.setenv("SH_CLIENT_ID", "alice-id")
    clean_env.setenv("SH_CLIENT_SECRET", "alice-secret")
    clean_env.setenv("GEMHUB_SH_BASE_URL", sandbox.url)
    clean_env.setenv("GEMHUB_SH_TOKEN_URL", sandbox.url + TOKEN_PATH)
    config = sh_config()
    assert capsys.readouterr().out == ""
    assert not gemhub_workspace.using_sandbox()
    assert (config.sh_client_id, config.sh_base_url) == ("alice-id", sandbox.url)
    assert _red_band(config).shape == (32, 32)


def test_collections_follow_the_configured_endpoint(clean_env, sandbox):
    clean_env.setenv(URL_ENV, sandbox.url)
    config = sh_config(quiet=True)
    moved = data_collection(DataCollection.SENTINEL2_L2A, config)
    assert moved.service_url == sandbox.url and moved.api_id == "sentinel-2-l2a"
    assert data_collection(DataCollection.SENTINEL2_L2A, config) is moved


def test_neither_credentials_nor_sandbox_is_a_clear_error(clean_env):
    with pytest.raises(NoEndpointError, match="No Sentinel Hub credentials"):
        sh_config()


def test_lab_notice_says_where_the_data_comes_from_and_how_to_change_it(tmp_path):
    from gemhub_workspace.notice import sandbox_notice, update_notice

    hub = {URL_ENV: "http://127.0.0.1:9", "GEMHUB_SH_BASE_URL": "https://sh.example",
           "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api", "JUPYTERHUB_BASE_URL": "/base/"}
    message, link = sandbox_notice(hub)
    assert message.startswith("You are on sandbox data") and link == ("Set credentials", "/base/services/credentials/")
    assert sandbox_notice({**hub, "SH_CLIENT_ID": "mine"}) is None
    assert sandbox_notice({}) is None  # neither credentials nor a sandbox: nothing to claim

    binder = {URL_ENV: "http://127.0.0.1:9", "JUPYTERHUB_API_URL": "https://hub.mybinder.org/hub/api"}
    plain = sandbox_notice(binder)
    assert isinstance(plain, str) and "SH_CLIENT_ID" in plain and "Set credentials" not in plain

    update_notice(tmp_path, on_sandbox=True, environ=binder)
    text = (tmp_path / "README-gemhub.md").read_text()
    assert "getpass" in text and "/services/credentials/" not in text
    update_notice(tmp_path, on_sandbox=True, environ=hub)
    assert "/base/services/credentials/" in (tmp_path / "README-gemhub.md").read_text()


def test_one_decision_credentials_then_the_sandbox_given_then_one_found(tmp_path, monkeypatch):
    from gemhub_sandbox.contract import INSECURE_TRANSPORT_ENV, environment

    from gemhub_workspace.binder import write_discovery
    from gemhub_workspace.endpoint import decide

    mine = {"SH_CLIENT_ID": "mine", "SH_CLIENT_SECRET": "my-secret", URL_ENV: "http://127.0.0.1:9",
            "GEMHUB_SH_BASE_URL": "https://sh.example/", "GEMHUB_SH_TOKEN_URL": "https://sh.example/token"}
    user = decide(mine)
    assert user.kind == "user"
    assert user.profile() == {"sh_base_url": "https://sh.example", "sh_token_url": "https://sh.example/token"}, (
        "the user's id and secret never go into the profile file")
    assert user.environment() == {}, "https needs no leave from oauthlib"
    assert decide({"SH_CLIENT_ID": "mine"}).profile() == {}, "sentinelhub-py's own defaults"

    given = decide({URL_ENV: "http://127.0.0.1:9/", CLIENT_ID_ENV: "box-id", CLIENT_SECRET_ENV: "box-secret"})
    assert given.kind == "sandbox" and not given.in_server
    assert given.profile() == {"sh_base_url": "http://127.0.0.1:9", "sh_token_url": "http://127.0.0.1:9" + TOKEN_PATH,
                               "sh_client_id": "box-id", "sh_client_secret": "box-secret"}
    assert given.environment() == environment("http://127.0.0.1:9", "box-id", "box-secret")
    assert given.environment()[INSECURE_TRANSPORT_ENV] == "1"

    # A kernel its Jupyter server did not start finds that server's sandbox only when it looks.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    write_discovery(tmp_path, environment("http://127.0.0.1:7", "found-id", "found-secret"))
    assert decide({}).kind == "none"
    found = decide({}, discover=True)
    assert (found.kind, found.base_url, found.client_id, found.in_server) == (
        "sandbox", "http://127.0.0.1:7", "found-id", True)
    assert decide({URL_ENV: "http://127.0.0.1:9"}, discover=True).base_url == "http://127.0.0.1:9", "given wins"
    assert decide(mine, discover=True).kind == "user"
