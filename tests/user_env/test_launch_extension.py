"""The marketplace Launch endpoint (`gemhub_workspace.launch`) on a real user Jupyter server.

The server is enabled through the shipped `workspace/jupyter-config` folder (via
JUPYTER_CONFIG_PATH), so the JSON that `gemhub_workspace.environment` installs is what is tested.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
from gemhub.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "workspace" / "gemhub_workspace" / "prefix" / "etc" / "jupyter"
TOKEN = "launch-test-token"
AUTH = {"Authorization": f"token {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(title: str) -> bytes:
    nb = {
        "cells": [{"cell_type": "markdown", "id": "c1", "metadata": {}, "source": [f"# {title}"]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return (json.dumps(nb, indent=1) + "\n").encode()


class Server:
    def __init__(self, url: str, port: int, root: Path, curated: Path, outside: Path, tmp: Path):
        self.url, self.port, self.root, self.curated, self.outside, self.tmp = url, port, root, curated, outside, tmp

    def launch(self, slug: str, fresh: bool = False, **kwargs) -> requests.Response:
        params = {"fresh": "1"} if fresh else None
        kwargs.setdefault("headers", AUTH)
        return requests.get(f"{self.url}/gemhub/launch/{slug}", params=params,
                            allow_redirects=False, timeout=30, **kwargs)

    def raw(self, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        """Send `path` byte-for-byte (requests/urllib3 would normalise `..` segments away)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in {**AUTH, **(headers or {})}.items():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def files_outside_root(self) -> set[str]:
        skip = {"home", "root"}
        out = set()
        for p in self.tmp.rglob("*"):
            rel = p.relative_to(self.tmp)
            if rel.parts[0] in skip or rel.name == "server.log":
                continue
            out.add(str(rel))
        return out


SAVE_RECORDER = """
import os

def record(model, path, contents_manager, **kwargs):
    with open(os.environ["LAUNCH_TEST_SAVES"], "a") as saves:
        saves.write(f"{model['type']} {path}\\n")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("launch")
    home, root, curated, outside = (tmp / n for n in ("home", "root", "curated", "outside"))
    for d in (home, root, curated, outside):
        d.mkdir()
    (curated / "intro.ipynb").write_bytes(_notebook("Intro"))
    (curated / "workshop").mkdir()
    (curated / "workshop" / "workshop-1-intro.ipynb").write_bytes(_notebook("Workshop 1"))
    ro = curated / "readonly-demo.ipynb"
    ro.write_bytes(_notebook("Read-only"))
    ro.chmod(0o444)
    (curated / ".ipynb_checkpoints").mkdir()
    (curated / ".ipynb_checkpoints" / "ghost.ipynb").write_bytes(_notebook("checkpoint"))
    (outside / "secret.ipynb").write_bytes(_notebook("secret"))
    (curated / "escape.ipynb").symlink_to(outside / "secret.ipynb")
    (curated / "README.md").write_text("not a notebook\n")

    # A pre-save hook, as a deployment would configure one (e.g. to strip outputs): it records every save.
    (home / "hooks").mkdir()
    (home / "hooks" / "launch_hooks.py").write_text(SAVE_RECORDER)

    port = _free_port()
    env = {
        "PATH": f"{sys.prefix}/bin:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_CONFIG_PATH": str(SHIPPED_CONFIG),
        "GEMHUB_NOTEBOOKS_DIR": str(curated),
        "PYTHONPATH": str(home / "hooks"),
        "LAUNCH_TEST_SAVES": str(home / "saves.txt"),
    }
    log = tmp / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
         "--ContentsManager.pre_save_hook=launch_hooks.record"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"),
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            return requests.get(f"{url}/api/status", headers=AUTH, timeout=2).ok
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, 60, "the Jupyter server")
    except TimeoutError:
        process.kill()
        raise RuntimeError(log.read_text()) from None
    srv = Server(url, port, root, curated, outside, tmp)
    srv.log = log
    yield srv
    process.terminate()
    process.wait(20)


def _location_path(resp) -> str:
    assert resp.status_code == 302, (resp.status_code, resp.text[:500])
    return urlsplit(resp.headers["Location"]).path


def test_shipped_config_enables_the_extension():
    cfg = json.loads((SHIPPED_CONFIG / "jupyter_server_config.d" / "gemhub_workspace.json").read_text())
    assert cfg == {"ServerApp": {"jpserver_extensions": {"gemhub_workspace": True}}}


def test_launch_copies_and_redirects_to_lab(server):
    resp = server.launch("intro")
    assert _location_path(resp) == "/lab/tree/marketplace/intro/intro.ipynb"
    copy = server.root / "marketplace" / "intro" / "intro.ipynb"
    assert copy.read_bytes() == (server.curated / "intro.ipynb").read_bytes()
    # The redirect target is a real JupyterLab page.
    lab = requests.get(server.url + resp.headers["Location"], headers=AUTH, timeout=30)
    assert lab.status_code == 200


def test_notebook_in_a_subfolder(server):
    resp = server.launch("workshop-1-intro")
    assert _location_path(resp) == "/lab/tree/marketplace/workshop-1-intro/workshop-1-intro.ipynb"
    copy = server.root / "marketplace" / "workshop-1-intro" / "workshop-1-intro.ipynb"
    assert copy.read_bytes() == (server.curated / "workshop" / "workshop-1-intro.ipynb").read_bytes()


def test_relaunch_keeps_edits_and_fresh_copies_never_overwrite(server):
    first = _location_path(server.launch("workshop-1-intro"))
    api = f"{server.url}/api/contents/marketplace/workshop-1-intro/workshop-1-intro.ipynb"
    model = requests.get(api, headers=AUTH, timeout=30).json()
    model["content"]["cells"][0]["source"] = "# My edits"
    put = requests.put(api, headers=AUTH, timeout=30,
                       json={"type": "notebook", "format": "json", "content": model["content"]})
    assert put.status_code == 200, put.text
    copy = server.root / "marketplace" / "workshop-1-intro" / "workshop-1-intro.ipynb"
    edited = copy.read_bytes()
    assert b"My edits" in edited

    assert _location_path(server.launch("workshop-1-intro")) == first
    assert copy.read_bytes() == edited

    fresh = server.launch("workshop-1-intro", fresh=True)
    assert _location_path(fresh) == "/lab/tree/marketplace/workshop-1-intro/workshop-1-intro-fresh.ipynb"
    fresh_file = copy.with_name("workshop-1-intro-fresh.ipynb")
    assert fresh_file.read_bytes() == (server.curated / "workshop" / "workshop-1-intro.ipynb").read_bytes()
    assert copy.read_bytes() == edited

    again = server.launch("workshop-1-intro", fresh=True)
    assert _location_path(again) == "/lab/tree/marketplace/workshop-1-intro/workshop-1-intro-fresh-2.ipynb"
    assert copy.with_name("workshop-1-intro-fresh-2.ipynb").is_file()
    assert copy.read_bytes() == edited
    # A plain launch still opens the user's (edited) copy.
    assert _location_path(server.launch("workshop-1-intro")) == first


def test_read_only_source_gives_a_writable_copy(server):
    assert not os.stat(server.curated / "readonly-demo.ipynb").st_mode & 0o222
    _location_path(server.launch("readonly-demo"))
    copy = server.root / "marketplace" / "readonly-demo" / "readonly-demo.ipynb"
    assert copy.stat().st_mode & stat.S_IWUSR
    api = f"{server.url}/api/contents/marketplace/readonly-demo/readonly-demo.ipynb"
    model = requests.get(api, headers=AUTH, timeout=30).json()
    put = requests.put(api, headers=AUTH, timeout=30,
                       json={"type": "notebook", "format": "json", "content": model["content"]})
    assert put.status_code == 200, put.text
    fresh = server.launch("readonly-demo", fresh=True)
    assert _location_path(fresh).endswith("/readonly-demo-fresh.ipynb")
    assert copy.with_name("readonly-demo-fresh.ipynb").stat().st_mode & stat.S_IWUSR


def test_unknown_slug_is_404_with_a_clear_message(server):
    html = server.launch("no-such-notebook")
    assert html.status_code == 404
    assert "No curated notebook called &#39;no-such-notebook&#39;" in html.text or \
        "No curated notebook called 'no-such-notebook'" in html.text
    as_json = server.launch("no-such-notebook", headers={**AUTH, "Accept": "application/json"})
    assert as_json.status_code == 404
    assert as_json.json()["message"] == "No curated notebook called 'no-such-notebook'"
    # Checkpoints, non-notebooks and symlinks leading out of the curated folder are not notebooks.
    for slug in ("ghost", "README", "escape"):
        assert server.launch(slug).status_code == 404, slug
    assert not (server.root / "marketplace" / "escape").exists()


@pytest.mark.parametrize("tail", [
    "..%2F..%2Fetc%2Fpasswd",
    "..%2f..%2f..%2foutside%2fsecret",
    "%2e%2e%2f%2e%2e%2foutside%2fsecret",
    "%2e%2e",
    "..",
    "../../outside/secret",
    "..%2F",
    "%252e%252e%252f%252e%252e%252foutside%252fsecret",
    "%25252e%25252e%25252f",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "..\\x",
    "..%5Cx",
    "intro%5C..%5Cintro",
    "intro/../intro",
    "intro%00",
    ".hidden",
    "-intro",
    "",
])
def test_traversal_and_malformed_names_are_rejected(server, tail):
    before = server.files_outside_root()
    before_root = {str(p.relative_to(server.root)) for p in server.root.rglob("*")}
    status, _, _ = server.raw("GET", f"/gemhub/launch/{tail}")
    assert status in (400, 404), (tail, status)
    if not unquote(tail).startswith("/"):
        # Everything reaching the handler as a non-slug is a 400.
        assert status == 400, (tail, status)
    assert server.files_outside_root() == before
    after_root = {str(p.relative_to(server.root)) for p in server.root.rglob("*")}
    assert after_root == before_root
    assert not (server.tmp / "etc").exists()


def test_destination_symlinked_out_of_root_is_refused(server):
    (server.root / "marketplace").mkdir(exist_ok=True)
    target = server.outside / "planted"
    target.mkdir()
    # Make the slug's folder itself a link out of the root.
    link = server.root / "marketplace" / "readonly-demo-2"
    link.symlink_to(target)
    (server.curated / "readonly-demo-2.ipynb").write_bytes(_notebook("second"))
    try:
        resp = server.launch("readonly-demo-2")
        assert resp.status_code == 403
        assert list(target.iterdir()) == []
    finally:
        (server.curated / "readonly-demo-2.ipynb").unlink()


def test_head_writes_nothing(server):
    status, headers, _ = server.raw("HEAD", "/gemhub/launch/intro?fresh=1")
    assert status == 302
    assert urlsplit(headers["Location"]).path.endswith("/marketplace/intro/intro-fresh.ipynb")
    assert not (server.root / "marketplace" / "intro" / "intro-fresh.ipynb").exists()
    status, _, _ = server.raw("HEAD", "/gemhub/launch/nope")
    assert status == 404


def test_other_methods_are_not_allowed(server):
    status, _, _ = server.raw("POST", "/gemhub/launch/intro")
    assert status in (403, 405)
    resp = requests.delete(f"{server.url}/gemhub/launch/intro", headers=AUTH, timeout=30)
    assert resp.status_code == 405


def test_bad_fresh_value_is_400(server):
    resp = requests.get(f"{server.url}/gemhub/launch/intro", params={"fresh": "maybe"}, headers=AUTH,
                        allow_redirects=False, timeout=30)
    assert resp.status_code == 400


@pytest.mark.parametrize("headers", [{}, {"Authorization": "token wrong-token"}])
def test_launch_needs_the_users_login(server, headers):
    before = {str(p) for p in server.root.rglob("*")}
    resp = requests.get(f"{server.url}/gemhub/launch/water-launch-probe", headers=headers,
                        allow_redirects=False, timeout=30)
    assert resp.status_code in (302, 403)
    if resp.status_code == 302:
        assert "/login" in resp.headers["Location"]
    resp = requests.get(f"{server.url}/gemhub/launch/intro?fresh=1", headers=headers,
                        allow_redirects=False, timeout=30)
    assert resp.status_code in (302, 403)
    if resp.status_code == 302:
        assert "/login" in resp.headers["Location"]
    assert {str(p) for p in server.root.rglob("*")} == before


def test_launches_are_logged_without_env_values(server):
    server.launch("intro")
    time.sleep(0.5)
    log = server.log.read_text()
    assert "gemhub launch: slug=intro action=copy" in log
    assert "gemhub launch: slug=intro action=reuse" in log
    assert "slug=workshop-1-intro action=fresh" in log
    assert str(server.curated) not in log


def test_copies_are_saved_through_the_servers_contents_manager(server):
    """The copy is a save like any in Jupyter: the server's pre-save hook sees it, and the
    ContentsManager keeps its first checkpoint."""
    (server.curated / "hooked.ipynb").write_bytes(_notebook("Hooked"))
    saves = server.root.parent / "home" / "saves.txt"
    try:
        assert _location_path(server.launch("hooked")) == "/lab/tree/marketplace/hooked/hooked.ipynb"
        assert _location_path(server.launch("hooked", fresh=True)).endswith("/hooked-fresh.ipynb")
        assert _location_path(server.launch("hooked")) == "/lab/tree/marketplace/hooked/hooked.ipynb"
    finally:
        (server.curated / "hooked.ipynb").unlink()
    recorded = [line for line in saves.read_text().splitlines() if "hooked" in line]
    # The folder, the copy, the fresh copy; reopening the copy saves nothing.
    assert recorded == ["directory marketplace/hooked", "notebook marketplace/hooked/hooked.ipynb",
                        "notebook marketplace/hooked/hooked-fresh.ipynb"]
    folder = server.root / "marketplace" / "hooked"
    assert (folder / ".ipynb_checkpoints" / "hooked-checkpoint.ipynb").is_file()
    assert (folder / "hooked.ipynb").read_bytes() == _notebook("Hooked")


def test_a_planted_link_where_the_copy_would_go_is_never_written_through(server):
    """Jupyter's atomic save follows a symlink at the destination; the handler must not save there."""
    (server.curated / "linked.ipynb").write_bytes(_notebook("Linked"))
    folder = server.root / "marketplace" / "linked"
    folder.mkdir(parents=True)
    target = server.outside / "written-through.ipynb"
    (folder / "linked.ipynb").symlink_to(target)  # dangling: nothing there yet
    try:
        assert server.launch("linked").status_code == 409
    finally:
        (server.curated / "linked.ipynb").unlink()
    assert not target.exists()
