"""The gemhub Lab extension's server side: Launch's JSON answer, the page config behind
the Launcher section, and the prebuilt extension as the user environment installs it.

The browser side (cards, Launch into the open tab) is tests/test_landing_browser.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import requests
from gemhub_workspace import landing
from gemhub_workspace.launch import GemhubLaunch

from test_launch_extension import AUTH, server  # noqa: F401  (the module's real server fixture)

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "workspace" / "gemhub_workspace" / "prefix" / "share" / "jupyter" / "labextensions" / "@gemhub" / "workspace"
JSON = {**AUTH, "Accept": "application/json"}


def test_launch_answers_json_with_the_copys_path(server):  # noqa: F811
    first = server.launch("intro", fresh=True, headers=JSON)
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"].startswith("application/json")
    body = first.json()
    assert body["action"] == "fresh"
    assert re.fullmatch(r"marketplace/intro/intro-fresh(-\d+)?\.ipynb", body["path"])
    assert body["url"] == "/lab/tree/" + body["path"]
    assert (server.root / body["path"]).read_bytes() == (server.curated / "intro.ipynb").read_bytes()

    again = server.launch("intro", headers=JSON).json()
    assert again["path"] == "marketplace/intro/intro.ipynb"
    assert again["action"] in ("copy", "reuse")
    assert server.launch("intro", headers=JSON).json()["action"] == "reuse"


def test_a_browser_following_the_link_still_gets_the_redirect(server):  # noqa: F811
    browser = {**AUTH, "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"}
    resp = server.launch("intro", headers=browser)
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/lab/tree/marketplace/intro/intro.ipynb")


def test_json_launch_needs_the_users_login_too(server):  # noqa: F811
    before = {str(p) for p in server.root.rglob("*")}
    resp = requests.get(f"{server.url}/gemhub/launch/intro?fresh=1", headers={"Accept": "application/json"},
                        allow_redirects=False, timeout=30)
    assert resp.status_code in (302, 403)
    assert {str(p) for p in server.root.rglob("*")} == before


def _page_config(server) -> dict:  # noqa: F811
    html = requests.get(f"{server.url}/lab", headers=AUTH, timeout=30).text
    raw = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(raw.group(1))


def test_lab_page_config_has_the_start_here_card_but_no_hub_pages_outside_a_hub(server):  # noqa: F811
    config = _page_config(server)
    assert config[landing.LAUNCH_PATH_KEY] == "gemhub/launch/"
    assert config[landing.START_HERE_KEY] == landing.START_HERE
    assert landing.MARKETPLACE_URL not in config and landing.CREDENTIALS_URL not in config


def test_under_a_gemhub_hub_the_cards_point_at_the_hubs_services(tmp_path):
    hub = {"JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api", "JUPYTERHUB_BASE_URL": "/eo/",
           "GEMHUB_SH_BASE_URL": "http://127.0.0.1:9000", "GEMHUB_NOTEBOOKS_DIR": str(tmp_path)}
    config = landing.page_config(GemhubLaunch(notebooks_dir=str(tmp_path)), hub)
    assert config[landing.MARKETPLACE_URL] == "/eo/services/marketplace/"
    assert config[landing.CREDENTIALS_URL] == "/eo/services/credentials/"
    assert landing.START_HERE_KEY not in config  # no start notebook in that curated folder


def test_the_start_here_notebook_is_curated():
    assert any(p.stem == landing.START_HERE for p in (REPO / "notebooks").rglob("*.ipynb"))


def test_the_built_extension_is_shipped_and_installed_in_this_environment():
    meta = json.loads((BUILT / "package.json").read_text())
    assert (BUILT / meta["jupyterlab"]["_build"]["load"]).is_file()
    source = json.loads((REPO / "workspace" / "labextension" / "package.json").read_text())
    assert meta["name"] == source["name"] and meta["version"] == source["version"]
    listed = subprocess.run([Path(sys.prefix) / "bin" / "jupyter", "labextension", "list"],
                            capture_output=True, text=True, timeout=120)
    line = next((x for x in (listed.stdout + listed.stderr).splitlines() if meta["name"] in x), "")
    assert "enabled" in line and "OK" in line, listed.stdout + listed.stderr


def test_the_built_extension_is_up_to_date_with_its_source():
    """`make labextension` after editing workspace/labextension/src: the bundle carries the source's
    labels and constants, so a stale build (edited source, old bundle) fails here."""
    bundle = "".join(p.read_text() for p in (BUILT / "static").glob("*.js"))
    for src in (REPO / "workspace" / "labextension" / "src").glob("*.js"):
        for literal in re.findall(r"(?:label:|caption:|const [A-Z_]+ =) '([^'\n]+)'", src.read_text()):
            assert literal in bundle, (src.name, literal)


def test_marketplace_and_lab_use_the_same_channel():
    lab = (REPO / "workspace" / "labextension" / "src" / "channel.js").read_text()
    page = (REPO / "gemhub" / "marketplace" / "static" / "launch-into-lab.js").read_text()
    channel = re.search(r"export const CHANNEL = '([^']+)'", lab).group(1)
    assert re.search(rf"(?:var|const) CHANNEL = ['\"]{re.escape(channel)}['\"]", page)
    for kind in ("ping", "here", "gone", "launch", "accepted", "launched", "failed"):
        assert f"'{kind}'" in page or f'"{kind}"' in page, kind


def test_the_extension_reads_the_page_config_keys_the_server_writes():
    source = (REPO / "workspace" / "labextension" / "src" / "index.js").read_text()
    for key in (landing.MARKETPLACE_URL, landing.CREDENTIALS_URL, landing.START_HERE_KEY, landing.LAUNCH_PATH_KEY):
        assert f"getOption('{key}')" in source, key
