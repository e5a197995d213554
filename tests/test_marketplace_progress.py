"""The marketplace shows the background curation: who sees what, on the page and in the status API.

The curation process (gemhub/marketplace/curation.py) writes a progress file beside
the site (progress.py); these tests write that file with the same models and
check what the marketplace makes of it. Users learn which notebooks are being
tested or not available; only admins see a failing cell and its error. The
tests without a hub check the rendering; the others ask a real hub.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
import requests

from gemhub.marketplace.progress import CurationProgress, NotebookProgress, progress_path
from gemhub.marketplace import site as site_module
from gemhub.marketplace.site import LAUNCH_SCRIPT, curation_status, render_catalogue
from support.hub import RunningHub, write_config
from test_marketplace_build import Project, meta

MARKETPLACE = "/services/marketplace/"
ERROR = 'ValueError: the reservoir mask is empty <b id="raw">'
FAILED_PATH = "water/reservoir-check.ipynb"


def progress(*notebooks: NotebookProgress, finished: bool = False, problem: str | None = None) -> CurationProgress:
    started = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    return CurationProgress(started_at=started, finished_at=started if finished else None,
                            notebooks=list(notebooks), problem=problem)


def book(slug: str, title: str, state: str, **extra) -> NotebookProgress:
    return NotebookProgress(slug=slug, path=extra.pop("path", f"{slug}.ipynb"), title=title, state=state, **extra)


def failing() -> NotebookProgress:
    return book("reservoir-check", "Reservoir check", "failed", path=FAILED_PATH, failing_cell=7, error=ERROR)


# -- without a hub: what the status and the page carry ---------------------------------------------


def test_a_user_is_told_only_being_tested_or_not_available():
    running = progress(book("alpha", "Alpha notebook", "passed", published=True),
                       book("beta", "Beta notebook", "testing"), failing())
    status = curation_status(running, admin=False, published={"alpha"}, generation="g1")
    text = json.dumps(status)
    assert "ValueError" not in text and "failing_cell" not in text and "error" not in text
    assert FAILED_PATH not in text and "problem" not in text
    assert status["running"] and (status["total"], status["done"], status["published"]) == (3, 2, 1)
    assert [(n["slug"], n["availability"]) for n in status["notebooks"]] == [
        ("alpha", "available"), ("beta", "testing"), ("reservoir-check", "unavailable")]

    page = render_catalogue(None, user="alice", curation=status, status_url="/s/api/status")
    assert "Testing 2 of 3 notebooks" in page
    assert 'data-pending-slug="beta"' in page and "Being tested" in page and "Not available" in page
    assert "ValueError" not in page and "cell 7" not in page and 'id="failures"' not in page


def test_an_admin_sees_the_failing_cell_and_the_error_escaped():
    running = progress(book("beta", "Beta notebook", "testing"), failing())
    status = curation_status(running, admin=True, published=set(), generation=None)
    failed = next(n for n in status["notebooks"] if n["slug"] == "reservoir-check")
    assert failed["failing_cell"] == 7 and failed["error"] == ERROR and failed["path"] == FAILED_PATH
    assert status["problem"] is None

    page = render_catalogue(None, user="admin", curation=status, admin=True, status_url="/s/api/status")
    assert 'id="failures"' in page and FAILED_PATH in page and "cell 7" in page
    assert "<pre" in page and "&lt;b id=&#34;raw&#34;&gt;" in page and '<b id="raw">' not in page


def test_a_curation_that_could_not_run_says_so_and_only_admins_read_why():
    stopped = progress(problem="the user environment is missing: run make envs")
    user = render_catalogue(None, curation=curation_status(stopped, admin=False, published=set(), generation=None))
    admin = render_catalogue(None, curation=curation_status(stopped, admin=True, published=set(), generation=None),
                             admin=True)
    assert "could not be tested" in user and "make envs" not in user
    assert "make envs" in admin


def test_the_version_changes_with_what_the_page_shows():
    first = curation_status(progress(book("beta", "Beta", "testing")), admin=False, published=set(), generation="1")
    same = curation_status(progress(book("beta", "Beta", "testing")), admin=False, published=set(), generation="1")
    passed = curation_status(progress(book("beta", "Beta", "passed", published=True)), admin=False,
                             published={"beta"}, generation="2")
    assert first["version"] == same["version"] != passed["version"]


def test_launch_links_are_marked_for_launch_into_lab_and_its_script_loads_only_when_shipped(
        tmp_path, monkeypatch):
    project = Project(tmp_path)
    project.add("alpha.ipynb", meta("Alpha notebook"))
    project.build()
    detail = (tmp_path / "site" / "notebooks" / "alpha.html").read_text()
    assert re.search(r'<a [^>]*href="[^"]*/alpha" data-gemhub-launch="alpha">', detail)
    assert re.search(r'<a [^>]*href="[^"]*/alpha\?fresh=1" data-gemhub-launch="alpha" data-gemhub-fresh="1">', detail)

    shipped = tmp_path / "static"
    shipped.mkdir()
    monkeypatch.setattr(site_module, "STATIC_DIR", shipped)
    assert LAUNCH_SCRIPT not in render_catalogue(None)
    (shipped / LAUNCH_SCRIPT).write_text("/* launch */\n")
    assert f'<script src="./static/{LAUNCH_SCRIPT}" defer></script>' in render_catalogue(None)


# -- with a real hub ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-hub")
    config = write_config(folder, ["alice", "admin"], {"marketplace": {"site_dir": str(folder / "site")},
                                                       "auth": {"admin_users": ["admin"]}})
    running = RunningHub(config, folder / "gemhub-up.log")
    running.project = Project(folder)
    running.site = folder / "site"
    try:
        running.start(timeout=400)  # a guard against a hub that never comes up, not a speed check
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def alice(hub):
    session = hub.session("alice")
    assert session.login().status_code == 302
    return session


@pytest.fixture(scope="module")
def admin(hub):
    session = hub.session("admin")
    assert session.login().status_code == 302
    return session


def get(session, path: str = "") -> requests.Response:
    return session.http.get(f"{session.url}{MARKETPLACE}{path}", timeout=30)


@pytest.mark.slow
def test_before_anything_is_published_the_page_shows_the_testing(hub, alice):
    progress_path(hub.site).unlink(missing_ok=True)
    nothing = get(alice)
    assert nothing.status_code == 503 and "background curation" in nothing.text
    assert "Traceback" not in nothing.text

    progress(*(book(slug, slug.title(), "queued") for slug in ("one", "two", "three"))).write(
        progress_path(hub.site))
    page = get(alice)
    assert page.status_code == 200, page.text
    assert "Testing 0 of 3 notebooks" in page.text and 'data-pending-slug="two"' in page.text
    status = get(alice, "api/status")
    assert status.status_code == 200 and status.headers["Content-Type"].startswith("application/json")
    assert "Content-Security-Policy" in status.headers and status.headers["Cache-Control"] == "no-store"
    body = status.json()
    assert (body["running"], body["total"], body["done"], body["published"]) == (True, 3, 0, 0)
    assert body["generation"] is None


@pytest.mark.slow
def test_only_admins_see_why_a_notebook_failed(hub, alice, admin):
    hub.project.add("alpha.ipynb", meta("Alpha notebook"))
    hub.project.build()
    progress(book("alpha", "Alpha notebook", "passed", published=True), book("beta", "Beta notebook", "testing"),
             failing()).write(progress_path(hub.site))

    status = get(alice, "api/status")
    assert status.status_code == 200
    assert "ValueError" not in status.text and "failing_cell" not in status.text and FAILED_PATH not in status.text
    assert {n["slug"]: n["availability"] for n in status.json()["notebooks"]} == {
        "alpha": "available", "beta": "testing", "reservoir-check": "unavailable"}
    page = get(alice)
    assert page.status_code == 200 and "Testing 2 of 3 notebooks" in page.text
    assert 'data-slug="alpha"' in page.text and "Not available" in page.text
    assert "ValueError" not in page.text and "cell 7" not in page.text

    page = get(admin)  # the page first, as a browser does (it signs the admin in to the service)
    status = get(admin, "api/status").json()
    failed = next(n for n in status["notebooks"] if n["slug"] == "reservoir-check")
    assert failed["failing_cell"] == 7 and failed["error"] == ERROR
    assert 'id="failures"' in page.text and FAILED_PATH in page.text and "cell 7" in page.text
    assert "&lt;b id=&#34;raw&#34;&gt;" in page.text and '<b id="raw">' not in page.text


@pytest.mark.slow
def test_the_generation_follows_each_publish(hub, alice):
    hub.project.add("gamma.ipynb", meta("Gamma notebook"))
    hub.project.build()
    before = get(alice, "api/status").json()["generation"]
    hub.project.build()
    after = get(alice, "api/status").json()
    assert before and after["generation"] and after["generation"] != before
    assert after["published"] == len(json.loads((hub.site / "index.json").read_text())["notebooks"])


@pytest.mark.slow
def test_an_unreadable_progress_file_leaves_the_page_working(hub, alice):
    hub.project.build()
    progress_path(hub.site).write_text('{"started_at": "not a date", "notebooks": [')
    page = get(alice)
    assert page.status_code == 200 and "Testing" not in page.text
    status = get(alice, "api/status")
    assert status.status_code == 200 and status.json()["running"] is False
    progress_path(hub.site).unlink()
    progress_path(hub.site).mkdir()  # not even a file
    try:
        assert get(alice).status_code == 200 and get(alice, "api/status").status_code == 200
    finally:
        progress_path(hub.site).rmdir()


@pytest.mark.slow
def test_the_status_needs_a_login_and_only_answers_get(hub, alice):
    stranger = requests.get(f"{hub.url}{MARKETPLACE}api/status", timeout=30, allow_redirects=False)
    assert stranger.status_code in (302, 403) and "notebooks" not in stranger.text
    for method in ("POST", "PUT", "DELETE"):
        refused = alice.http.request(method, f"{hub.url}{MARKETPLACE}api/status", timeout=30)
        assert 400 <= refused.status_code < 500 and "Traceback" not in refused.text
