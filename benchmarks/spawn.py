"""Time from the login POST to a JupyterLab page answering 200, cold and warm.

    .gemhub/envs/hub/bin/python benchmarks/spawn.py [--runs 5] [--out PATH]
    .gemhub/envs/hub/bin/python benchmarks/spawn.py --spawner docker [--image REF]

One real `gemhub up` (the same helper the tests use) on free loopback ports in a
temporary folder, one demo user. Every sample uses a new HTTP session, so each
includes the whole cookie dance a browser does: login form, login POST, the
hub's redirects, the user server's OAuth round trip with the hub, the Lab page.

cold: the user's server is stopped before the sample, so the login leads through
      /hub/spawn (and the spawn-pending page, whose progress event stream we
      follow as the page's JavaScript does) before Lab answers.
warm: the server is already running; login → redirects → Lab 200.

--spawner docker: the same with DockerSpawner and the user image (default: the
one `gemhub images build user` makes for this checkout), so "cold" includes
creating and starting the container; results go to results/spawn-docker.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support.hub import RunningHub, UserSession, write_config  # noqa: E402

from common import machine, started, summary, versions, write_result  # noqa: E402

USER = "bench"
RESULTS = HERE / "results"


def wait_for_progress(session: UserSession, timeout: float) -> str:
    """Follow the spawn-pending page's event stream until the server is ready; return its URL."""
    response = session.http.get(
        f"{session.url}/hub/api/users/{session.user}/server/progress",
        headers={"X-XSRFToken": session.http.cookies.get("_xsrf", path="/hub/") or ""},
        stream=True,
        timeout=timeout,
    )
    response.raise_for_status()
    deadline = time.monotonic() + timeout
    with response:
        for line in response.iter_lines(decode_unicode=True):
            if time.monotonic() > deadline:
                break
            if not line or not line.startswith("data:"):
                continue
            event = json.loads(line[len("data:"):])
            if event.get("failed"):
                raise RuntimeError(f"spawn failed: {event.get('message')}")
            if event.get("ready"):
                return urljoin(session.url, event.get("url") or f"/user/{session.user}/")
    raise TimeoutError(f"{session.user}'s server not ready after {timeout}s")


def login_to_lab(hub: RunningHub, timeout: float = 180) -> dict:
    """One sample: a fresh session logs in and ends on /user/NAME/lab with a 200."""
    session = hub.session(USER)
    lab_url = f"{hub.url}/user/{USER}/lab"
    session.http.get(f"{hub.url}/hub/login", timeout=10)  # the form page: not timed, as a person reads it

    started = time.perf_counter()
    login = _login_post(session)
    if login.status_code != 302:
        raise RuntimeError(f"login POST answered {login.status_code}: {login.text[:500]}")
    logged_in = time.perf_counter()

    # Follow where the hub sends a freshly logged-in person (/hub/ → spawn or server).
    page = session.http.get(urljoin(hub.url, login.headers["Location"]), timeout=timeout)
    spawned_via_pending = "/spawn-pending/" in page.url
    if spawned_via_pending:
        wait_for_progress(session, timeout)
    if not (page.status_code == 200 and page.url == lab_url):
        page = session.http.get(lab_url, timeout=timeout)
    if page.status_code != 200 or page.url != lab_url or "JupyterLab" not in page.text:
        raise RuntimeError(f"expected JupyterLab at {lab_url}, got {page.status_code} at {page.url}")
    done = time.perf_counter()
    return {
        "seconds": round(done - started, 3),
        "login_post_seconds": round(logged_in - started, 3),
        "via_spawn_pending": spawned_via_pending,
        "redirects": len(page.history),
        "session": session,
    }


def _login_post(session: UserSession):
    """The login POST alone (the GET of the form already gave us the _xsrf cookie)."""
    return session.http.post(
        f"{session.url}/hub/login",
        data={
            "username": session.user,
            "password": session.password,
            "_xsrf": session.http.cookies.get("_xsrf", path="/hub/"),
        },
        allow_redirects=False,
        timeout=30,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="samples of each kind (default 5)")
    parser.add_argument("--spawner", choices=["local", "docker"], default="local")
    parser.add_argument("--image", help="user image for --spawner docker (default: built from this checkout)")
    parser.add_argument("--out", type=Path, help="JSON result file (default results/spawn.json, "
                        "results/spawn-docker.json with --spawner docker)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    out = args.out or RESULTS / ("spawn.json" if args.spawner == "local" else "spawn-docker.json")
    extra = None
    if args.spawner == "docker":
        from support.images import built_image

        extra = {"spawner": {"type": "docker", "image": args.image or built_image("user"),
                             "docker": {"volume_name_template": "gemhub-bench-{username}"}}}

    from gemhub.paths import state_home

    with tempfile.TemporaryDirectory(prefix="gemhub-bench-") as tmp:
        folder = Path(tmp)
        hub = RunningHub(write_config(folder, [USER], extra), folder / "gemhub-up.log")
        cold: list[dict] = []
        warm: list[dict] = []
        with started(hub):
            for i in range(args.runs):
                sample = login_to_lab(hub)
                sample.pop("session").stop_server()
                cold.append(sample)
                print(f"cold {i + 1}/{args.runs}: {sample['seconds']:.2f}s", flush=True)
            keeper = hub.session(USER)
            keeper.login()
            keeper.start_server()
            for i in range(args.runs):
                sample = login_to_lab(hub)
                sample.pop("session")
                warm.append(sample)
                print(f"warm {i + 1}/{args.runs}: {sample['seconds']:.2f}s", flush=True)
            keeper.stop_server()

    result = {
        "benchmark": "login POST → JupyterLab page 200",
        "spawner": args.spawner,
        "image": (extra or {}).get("spawner", {}).get("image"),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(state_home() / "envs" / "user"),
        "runs": args.runs,
        "cold": {**summary([s["seconds"] for s in cold]), "details": cold},
        "warm": {**summary([s["seconds"] for s in warm]), "details": warm},
        "median_seconds": {
            "cold": round(statistics.median(s["seconds"] for s in cold), 3),
            "warm": round(statistics.median(s["seconds"] for s in warm), 3),
        },
    }
    write_result(out, result, ("cold", "warm"))
    if args.spawner == "docker":
        from gemhub.images.docker import run as docker

        docker(["volume", "rm", "--force", f"gemhub-bench-{USER}"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
