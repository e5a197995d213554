"""The marketplace as a hub service, and Launch into the user's own server, over HTTP."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def hub(hub_factory, marketplace_site):
    return hub_factory(["alice"], extra={"marketplace": {"site_dir": str(marketplace_site)}})


def launch(session, slug: str, **params):
    return session.http.get(f"{session.url}/hub/user-redirect/gemhub/launch/{slug}", params=params, timeout=120)


def test_catalogue_needs_a_hub_login_and_greets_the_user(hub, marketplace_site):
    stranger = hub.session("alice")
    page = stranger.http.get(f"{hub.url}/services/marketplace/", timeout=30)
    assert "/hub/login" in page.url

    alice = hub.session("alice")
    assert alice.login().status_code == 302
    page = alice.http.get(f"{hub.url}/services/marketplace/", timeout=30)
    assert page.status_code == 200 and page.url == f"{hub.url}/services/marketplace/"
    assert "alice" in page.text
    index = json.loads((marketplace_site / "index.json").read_text())
    for entry in index["notebooks"]:
        assert entry["title"] in page.text
    detail = alice.http.get(f"{hub.url}/services/marketplace/notebooks/water-monitor.html", timeout=30)
    assert detail.status_code == 200
    assert 'href="/hub/user-redirect/gemhub/launch/water-monitor" data-gemhub-launch="water-monitor"' in detail.text
    assert ('href="/hub/user-redirect/gemhub/launch/water-monitor?fresh=1" data-gemhub-launch="water-monitor" '
            'data-gemhub-fresh="1"') in detail.text
    missing = alice.http.get(f"{hub.url}/services/marketplace/notebooks/no-such-notebook.html", timeout=30)
    assert missing.status_code == 404 and "no-such-notebook" in missing.text


def test_marketplace_is_listed_among_the_hubs_services(hub):
    alice = hub.session("alice")
    alice.login()
    home = alice.http.get(f"{hub.url}/hub/home", timeout=30)
    assert "/services/marketplace/" in home.text


def test_launch_copies_once_keeps_edits_and_refuses_bad_slugs(hub):
    alice = hub.session("alice")
    assert alice.login().status_code == 302
    alice.start_server()
    first = launch(alice, "water-monitor")
    target = "/user/alice/lab/tree/marketplace/water-monitor/water-monitor.ipynb"
    assert first.status_code == 200 and first.url.endswith(target), first.url

    token = alice.token()
    contents = f"{hub.url}/user/alice/api/contents/marketplace/water-monitor/water-monitor.ipynb"
    headers = {"Authorization": f"token {token}"}
    notebook = alice.http.get(contents, headers=headers, timeout=30).json()["content"]
    notebook["cells"][0]["source"] = "# My own notes on this reservoir"
    saved = alice.http.put(contents, headers=headers, json={"type": "notebook", "content": notebook}, timeout=30)
    assert saved.status_code == 200

    again = launch(alice, "water-monitor")
    assert again.url.endswith(target)
    kept = alice.http.get(contents, headers=headers, timeout=30).json()["content"]
    assert kept["cells"][0]["source"] == "# My own notes on this reservoir"

    fresh = launch(alice, "water-monitor", fresh="1")
    assert fresh.url.endswith("/marketplace/water-monitor/water-monitor-fresh.ipynb")

    assert launch(alice, "no-such-notebook").status_code == 404
    for bad in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..%252F..%252Fetc"):
        refused = alice.http.get(f"{hub.url}/user/alice/gemhub/launch/{bad}", timeout=30)
        assert refused.status_code in (400, 404), bad
