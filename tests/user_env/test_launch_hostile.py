"""The Launch endpoint against hostile input, on a real Jupyter server (issue #16, hostile input).

Whatever the path, the curated folder or the timing, Launch answers a clear 4xx
(never a 5xx or a traceback), writes nothing into the user's root dir unless it
copies a real curated notebook, never writes outside it, never overwrites, and
sends gemhub's security headers. The server is the one test_launch_extension
starts (its `server` fixture, imported: one definition of how a user server is run).

The user environment has no hypothesis, so the odd paths are a fixed, seeded
corpus: the same cases every run, bounded in number.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from urllib.parse import quote, urlsplit

import pytest
import requests
from gemhub.waiting import wait_until
from gemhub_sandbox.contract import SECURITY_HEADERS

from test_launch_extension import AUTH, SHIPPED_CONFIG, TOKEN, _free_port, _notebook, server  # noqa: F401

# A ContentsManager whose lookups really await, as a remote store's do (jupyter-fs, S3, a
# database): the window in which two Launches could pick the same free name and both save.
AWAITING_MANAGER = """
import asyncio
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

class AwaitingContentsManager(AsyncLargeFileManager):
    async def file_exists(self, path=""):
        await asyncio.sleep(0.05)
        return await super().file_exists(path)

    async def dir_exists(self, path):
        await asyncio.sleep(0.05)
        return await super().dir_exists(path)
"""

ODD_SEGMENTS = ["..", ".", "%2e%2e", "%2E%2e%2F", "%252e%252e", "%00", "intro%00.ipynb", "\\", "%5C", "..%5C..",
                "%2Fetc%2Fpasswd", "~", "~root", "intro", "intro.ipynb", "a" * 300, "%C0%AE%C0%AE", "%FF%FE",
                "%E2%80%AE", "%0D%0ASet-Cookie:%20x=1", "<script>", "%3Cscript%3E", "'", "\"", "%22", "%20",
                "intro;x", "intro?fresh=1", "CON", "nul", "-", "_", "é", "%C3%A9", "%F0%9F%98%80"]


def odd_paths(count: int = 250, seed: int = 16) -> list[str]:
    rng = random.Random(seed)
    paths = []
    for _ in range(count):
        parts = [rng.choice(ODD_SEGMENTS) for _ in range(rng.randint(1, 4))]
        parts = [quote(p, safe="%/\\.~") if rng.random() < 0.5 else quote(p, safe="%") for p in parts]
        sep = rng.choice(["/", "%2F", "%2f", "\\", "%5C"])
        query = rng.choice(["", "?fresh=1", "?fresh=%00", "?fresh=" + "9" * 50, "?x=%FF", "?fresh=1&fresh=0"])
        paths.append("/gemhub/launch/" + sep.join(parts) + query)
    return paths


def tree(root) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(root.rglob("*"))}


def assert_plain_4xx(status: int, body: bytes, what) -> None:
    assert 400 <= status < 500, (what, status, body[:300])
    text = body.decode(errors="replace")
    assert "Traceback" not in text and "object at 0x" not in text, (what, text[:500])


def test_launch_responses_carry_the_security_headers(server):
    from gemhub_sandbox.contract import content_security_policy

    responses = [server.launch("intro"), server.launch("no-such-notebook"), server.launch("a%5Cb"),
                 requests.get(f"{server.url}/gemhub/launch/intro", allow_redirects=False, timeout=30)]
    assert [r.status_code for r in responses[:3]] == [302, 404, 400]
    for response in responses:
        headers = response.headers
        for name, value in SECURITY_HEADERS.items():
            assert headers.get(name) == value, (response.url, name, headers)
        csp = headers["Content-Security-Policy"]
        assert csp == content_security_policy("/api/security/csp-report"), csp


@pytest.mark.parametrize("tail", [
    "intro%00", "%00intro", "intro%00.ipynb", "a" * 201, "a" * 5000, "%2F" * 50 + "etc%2Fpasswd",
    "\\\\server\\share", "C:%5Cwindows", "..%5C..%5Coutside%5Csecret", "%C0%AE%C0%AE%2F", "~%2F.bashrc",
    "%E2%80%AEbonkni", "intro%0D%0ASet-Cookie:%20x=1",
])
def test_hostile_names_are_a_clear_400_and_write_nothing(server, tail):
    before_root, before_out = tree(server.root), server.files_outside_root()
    status, _, body = server.raw("GET", f"/gemhub/launch/{tail}", headers={"Accept": "application/json"})
    assert status == 400, (tail, status, body[:300])
    assert json.loads(body)["message"].startswith("Not a notebook name")
    assert tree(server.root) == before_root and server.files_outside_root() == before_out


def test_odd_paths_never_fail_or_write(server):
    """A seeded corpus of odd paths: a 4xx (or the login's 302 for a real slug), nothing written
    except a real curated notebook's copy under marketplace/<slug>/."""
    before_out = server.files_outside_root()
    before_root = tree(server.root)
    for path in odd_paths():
        status, headers, body = server.raw("GET", path)
        if status == 302:
            assert urlsplit(headers["Location"]).path.startswith("/lab/tree/marketplace/"), path
            continue
        assert_plain_4xx(status, body, path)
    added = set(tree(server.root)) - set(before_root)
    assert all(p.startswith("marketplace") for p in added), added
    assert server.files_outside_root() == before_out


def test_a_linked_folder_in_the_curated_folder_leads_nowhere(server):
    """A symlink to a folder outside the curated folder: its notebooks are not curated."""
    (server.outside / "elsewhere").mkdir()
    (server.outside / "elsewhere" / "smuggled.ipynb").write_bytes(_notebook("smuggled"))
    (server.curated / "linked-folder").symlink_to(server.outside / "elsewhere")
    try:
        before = tree(server.root)
        assert server.launch("smuggled").status_code == 404
        assert tree(server.root) == before
    finally:
        (server.curated / "linked-folder").unlink()


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("not-json", b"{this is not json", "not a valid notebook"),
    ("empty-file", b"", "not a valid notebook"),
    ("a-list", b"[1, 2, 3]", "not a valid notebook"),
    ("nbformat-99", json.dumps({"nbformat": 99, "nbformat_minor": 0, "cells": [], "metadata": {}}).encode(),
     "not a valid notebook"),
    ("no-nbformat", json.dumps({"cells": [], "metadata": {}}).encode(), "not a valid notebook"),
    ("bad-cells", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                              "cells": [{"cell_type": "rocket", "source": 1}]}).encode(), "not a valid notebook"),
    ("latin-1", b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [], "x": "\xe9"}',
     "not a valid notebook"),
])
def test_a_malformed_curated_notebook_is_a_clear_4xx_and_nothing_is_written(server, name, content, problem):
    source = server.curated / f"{name}.ipynb"
    source.write_bytes(content)
    before = tree(server.root)
    try:
        for fresh in (False, True):
            response = server.launch(name, fresh=fresh, headers={**AUTH, "Accept": "application/json"})
            assert_plain_4xx(response.status_code, response.content, name)
            message = response.json()["message"]
            assert problem in message and f"'{name}'" in message, message
    finally:
        source.unlink()
    assert tree(server.root) == before


def test_a_huge_curated_notebook_is_refused_before_it_is_read(server):
    source = server.curated / "huge.ipynb"
    with source.open("wb") as f:  # 60 MB, sparse: the size is refused, the content never read
        f.truncate(60 * 1024 * 1024)
    before = tree(server.root)
    try:
        response = server.launch("huge", headers={**AUTH, "Accept": "application/json"})
        assert_plain_4xx(response.status_code, response.content, "huge")
        message = response.json()["message"]
        assert "'huge'" in message and "too large" in message and "60" in message, message
    finally:
        source.unlink()
    assert tree(server.root) == before


def _concurrently(count: int, call) -> list:
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_concurrent_fresh_launches_each_get_their_own_copy(server):
    """Eight Launch clicks with ?fresh=1 at the same moment: eight different files, none overwritten."""
    (server.curated / "racer.ipynb").write_bytes(_notebook("Racer"))
    try:
        results = _concurrently(8, lambda: server.launch("racer", fresh=True))
    finally:
        (server.curated / "racer.ipynb").unlink()
    assert [r.status_code for r in results] == [302] * 8
    targets = [urlsplit(r.headers["Location"]).path.rsplit("/", 1)[1] for r in results]
    assert len(set(targets)) == 8, sorted(targets)
    folder = server.root / "marketplace" / "racer"
    assert sorted(p.name for p in folder.glob("*.ipynb")) == sorted(targets)


def test_concurrent_first_launches_save_the_copy_once(server):
    """The first Launch of a notebook clicked eight times at once: one copy, saved once, and
    every click opens it (the pre-save hook of the fixture records each save)."""
    (server.curated / "stampede.ipynb").write_bytes(_notebook("Stampede"))
    try:
        results = _concurrently(8, lambda: server.launch("stampede"))
    finally:
        (server.curated / "stampede.ipynb").unlink()
    assert {urlsplit(r.headers["Location"]).path for r in results} == {
        "/lab/tree/marketplace/stampede/stampede.ipynb"}
    saves = (server.root.parent / "home" / "saves.txt").read_text().splitlines()
    assert saves.count("notebook marketplace/stampede/stampede.ipynb") == 1, saves


@pytest.fixture(scope="module")
def awaiting_server(tmp_path_factory):
    """A user server like the `server` fixture's, with the awaiting ContentsManager."""
    tmp = tmp_path_factory.mktemp("launch-awaiting")
    home, root, curated = (tmp / n for n in ("home", "root", "curated"))
    for d in (home, root, curated):
        d.mkdir()
    (home / "awaiting_manager.py").write_text(AWAITING_MANAGER)
    (curated / "racer.ipynb").write_bytes(_notebook("Racer"))
    port = _free_port()
    env = {"PATH": f"{sys.prefix}/bin:/usr/bin:/bin", "HOME": str(home), "JUPYTER_CONFIG_PATH": str(SHIPPED_CONFIG),
           "GEMHUB_NOTEBOOKS_DIR": str(curated), "PYTHONPATH": str(home)}
    log = tmp / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
         "--ServerApp.contents_manager_class=awaiting_manager.AwaitingContentsManager"],
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
        yield url, root
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow  # a second server of its own
def test_concurrent_fresh_launches_never_share_a_name_even_when_lookups_await(awaiting_server):
    url, root = awaiting_server

    def launch():
        return requests.get(f"{url}/gemhub/launch/racer", params={"fresh": "1"}, headers=AUTH,
                            allow_redirects=False, timeout=60)

    results = _concurrently(6, launch)
    assert [r.status_code for r in results] == [302] * 6, [r.text[:200] for r in results]
    targets = [urlsplit(r.headers["Location"]).path.rsplit("/", 1)[1] for r in results]
    assert len(set(targets)) == 6, sorted(targets)
    assert sorted(p.name for p in (root / "marketplace" / "racer").glob("*.ipynb")) == sorted(targets)
