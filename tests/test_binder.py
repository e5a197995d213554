"""Binder: binder/ builds the workshop environment, and the workshop runs in it offline.

What mybinder.org does is reproduced piece by piece, without Binder or a
container: repo2docker reads binder/ and writes the Dockerfile; a clean
virtualenv is built from binder/requirements.txt and binder/postBuild alone
(in a copy of the repository, as repo2docker copies it); a Jupyter server is
started through binder/start with the participant's nothing (no credentials,
no hub); the server's own extension has jupyter-server-proxy launch the
sandbox; and the runner executes the workshop in kernels of that environment,
which find that sandbox themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from gemhub_sandbox.contract import DISCOVERY_GLOB, ENV_PREFIX, TOKEN_PATH
from support.hub import free_port
from support.kernel import execute
from support.processes import stop_with_children

CHECKOUT = Path(__file__).resolve().parents[1]
BINDER = CHECKOUT / "binder"
USER_LOCK = CHECKOUT / "images" / "user" / "requirements.lock"
STATE = CHECKOUT / ".gemhub"
GEMHUB = Path(sys.executable).parent / "gemhub"
WORKSHOP = sorted((CHECKOUT / "notebooks" / "workshop").glob("*.ipynb"))
REPO2DOCKER = "jupyter-repo2docker==2026.4.0"
PREFIX = "/user/participant/"  # Binder serves each server under a prefix like this
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s+\\)?$")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def test_binder_requirements_pin_exactly_the_user_lock():
    lock, binder = _pins(USER_LOCK), _pins(BINDER / "requirements.txt")
    drift = [f"{name}: binder/requirements.txt has {binder.get(name, 'nothing')}, the user lock {lock.get(name, 'nothing')}"
             for name in sorted(lock.keys() | binder.keys()) if lock.get(name) != binder.get(name)]
    assert not drift, "binder/ drifted from images/user/requirements.lock:\n" + "\n".join(drift)
    assert len(lock) > 100
    lines = [line for line in (BINDER / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert all(PIN.match(line) for line in lines), "only exact pins: repo2docker runs pip install -r on this file"


def test_binder_python_is_the_lock_python():
    locked = re.search(r"--python-version (\d+\.\d+)", USER_LOCK.read_text()).group(1)
    assert (BINDER / "runtime.txt").read_text().strip() == f"python-{locked}"


def test_readme_binder_link_opens_the_first_workshop_notebook():
    readme = (CHECKOUT / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/([\w./-]+)", readme)
    assert links, "README has no mybinder.org link"
    assert set(links) == {"notebooks/workshop/workshop-1-intro.ipynb"}
    assert (CHECKOUT / links[0]).is_file()
    assert "https://mybinder.org/badge_logo.svg" in readme


def test_every_workshop_notebook_has_a_sandbox_banner():
    import nbformat

    assert len(WORKSHOP) == 3
    for path in WORKSHOP:
        cells = nbformat.read(path, as_version=4).cells
        banner = cells[1]
        assert banner.cell_type == "markdown" and "**Sandbox data.**" in banner.source, path.name
        assert 'os.environ["SH_CLIENT_ID"] = getpass.getpass(' in banner.source, path.name
        assert "Credentials" in banner.source, path.name  # the hub's way


def _uv() -> str:
    uv = STATE / "tools" / "bin" / "uv"
    found = str(uv) if uv.exists() else shutil.which("uv")
    if not found:
        pytest.fail("uv not found: `make envs` installs it into .gemhub/tools")
    return found


def _uv_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "UV_NATIVE_TLS": "1", "UV_PYTHON_DOWNLOADS": "never", **extra}


def _python_version() -> str:
    return (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")


@pytest.fixture(scope="module")
def repo2docker() -> Path:
    """repo2docker in a throwaway environment of its own (it is a tool, not part of gemhub)."""
    venv = STATE / "tools" / "repo2docker"
    marker = venv / ".installed"
    if not (marker.exists() and marker.read_text() == REPO2DOCKER):
        subprocess.run([_uv(), "venv", "-q", "--allow-existing", "--python", _python_version(), venv],
                       check=True, env=_uv_env(), timeout=120)
        subprocess.run([_uv(), "pip", "install", "-q", REPO2DOCKER], check=True,
                       env=_uv_env(VIRTUAL_ENV=str(venv)), timeout=600)
        marker.write_text(REPO2DOCKER)
    return venv / "bin" / "repo2docker"


def test_repo2docker_builds_the_workshop_environment_from_binder(repo2docker):
    run = subprocess.run([repo2docker, "--no-build", "--debug", CHECKOUT], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    dockerfile = run.stdout + run.stderr
    assert "ENTRYPOINT" in dockerfile and "FROM " in dockerfile, dockerfile[-2000:]
    # Python from runtime.txt: repo2docker's frozen base environment for that version.
    assert f"environment-2epy-2d{_python_version().replace('.', '-2e')}" in dockerfile
    # Our pins, installed into the environment the server and the kernels share, and nothing else.
    owner = os.getuid()  # repo2docker's --user-id defaults to the caller's: root in CI, anyone in `make test-fast`
    assert f"COPY --chown={owner}:{owner} src/binder/requirements.txt ${{REPO_DIR}}/binder/requirements.txt" in dockerfile
    assert re.search(r'\$\{KERNEL_PYTHON_PREFIX\}/bin/pip install --no-cache-dir -r "binder/requirements.txt"',
                     dockerfile)
    assert re.findall(r"-r \"?([\w./-]+)", dockerfile) == ["binder/requirements.txt"]
    assert "ENV KERNEL_PYTHON_PREFIX=${NB_PYTHON_PREFIX}" in dockerfile
    assert "setup.py" not in dockerfile and "pip install ." not in dockerfile  # the root pyproject is the hub's
    assert "RUN ./binder/postBuild" in dockerfile
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile
    start = (BINDER / "start").read_text()
    assert start.rstrip().endswith('exec "$@"') and "GEMHUB_SANDBOX_IN_SERVER" in start


def _repo_copy(dest: Path) -> Path:
    """What repo2docker copies to REPO_DIR, for the parts postBuild and start use."""
    ignore = shutil.ignore_patterns("*.egg-info", "__pycache__", "build")
    for part in ("binder", "sandbox", "workspace"):
        shutil.copytree(CHECKOUT / part, dest / part, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory) -> tuple[Path, Path]:
    """A virtualenv made only from binder/: requirements.txt (kept between runs while binder/
    is unchanged), then binder/postBuild, run every time in a fresh copy of the repository."""
    key = hashlib.sha256(b"".join((BINDER / name).read_bytes() for name in ("requirements.txt", "runtime.txt")))
    env = STATE / "binder-env" / key.hexdigest()[:16]
    marker = env / ".requirements-installed"
    if not marker.exists():
        if env.parent.exists():
            shutil.rmtree(env.parent)  # environments of older binder/ files
        subprocess.run([_uv(), "venv", "-q", "--seed", "--python", _python_version(), env],
                       check=True, env=_uv_env(), timeout=120)
        subprocess.run([_uv(), "pip", "install", "-q", "-r", BINDER / "requirements.txt"], check=True,
                       env=_uv_env(VIRTUAL_ENV=str(env)), timeout=1200)
        marker.touch()
    repo = _repo_copy(tmp_path_factory.mktemp("repo"))
    # As repo2docker runs it: from the repository root, the environment first on PATH.
    build = subprocess.run(["./binder/postBuild"], cwd=repo, capture_output=True, text=True, timeout=600,
                           env={"PATH": f"{env}/bin:/usr/bin:/bin", "HOME": str(repo)})
    assert build.returncode == 0, build.stdout + build.stderr
    return env, repo


def _children(pid: int) -> list[tuple[int, str]]:
    """The direct children of `pid` that are still running, with their command lines."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            found.append((child.pid, " ".join(child.cmdline())))
        except psutil.NoSuchProcess:  # exited meanwhile (a zombie too)
            continue
    return found


@pytest.fixture(scope="module")
def binder_server(binder_env, tmp_path_factory):
    """`binder/start jupyter lab`, as Binder starts it: no credentials, no hub, a URL prefix."""
    env_dir, repo = binder_env
    home = tmp_path_factory.mktemp("participant")
    port, token = free_port(), "binder-test-" + os.urandom(8).hex()
    environ = {
        "PATH": f"{env_dir}/bin:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        # Binder itself does not set this; here it lets the Launch test below use the same server.
        "GEMHUB_NOTEBOOKS_DIR": str(CHECKOUT / "notebooks"),
    }
    log = home / "server.log"
    process = subprocess.Popen(
        [repo / "binder" / "start", "jupyter", "lab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.base_url={PREFIX}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}"],
        cwd=home, env=environ, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )
    url = f"http://127.0.0.1:{port}{PREFIX}".rstrip("/")
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{url}/api/status", headers={"Authorization": f"token {token}"}, timeout=2).ok:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the Binder-style server did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.3)
    yield {"url": url, "token": token, "pid": process.pid, "home": home, "log": log,
           "runtime": home / "runtime", "env": env_dir}
    # Two SIGINTs: jupyter asks for confirmation on the first one.
    stop_with_children(process, signals=(signal.SIGINT, signal.SIGINT), wait=30)


def _discovery(runtime: Path) -> tuple[Path, dict]:
    files = list(runtime.glob(DISCOVERY_GLOB))
    assert len(files) == 1, files
    return files[0], json.loads(files[0].read_text())


def _sandbox_child(server: dict, port: int, timeout: float = 60) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, cmdline in _children(server["pid"]):
            if "gemhub_sandbox serve" in cmdline and f"--port {port}" in cmdline:
                return pid, cmdline
        time.sleep(0.3)
    pytest.fail(f"no sandbox child of the server on port {port}:\n" + server["log"].read_text()[-3000:])


def _wait_for_log(server: dict, text: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server["log"].read_text()
        if text in log:
            return log
        time.sleep(0.3)
    pytest.fail(f"{text!r} not in the server's log:\n" + server["log"].read_text()[-3000:])


@pytest.mark.slow
def test_the_server_has_jupyter_server_proxy_start_the_sandbox(binder_server):
    path, found = _discovery(binder_server["runtime"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert found["pid"] == binder_server["pid"]
    port = int(found["GEMHUB_SANDBOX_URL"].rsplit(":", 1)[1])
    assert found["GEMHUB_SANDBOX_URL"] == f"http://127.0.0.1:{port}"
    # Launched by the server itself (jupyter-server-proxy is in-process), with the server's python.
    _, cmdline = _sandbox_child(binder_server, port)
    assert cmdline.startswith(f"{binder_server['env']}/bin/python")
    # The server asked its own proxy for the sandbox, which jupyter-server-proxy waited for.
    log = _wait_for_log(binder_server, f"gemhub binder: sandbox running at {found['GEMHUB_SANDBOX_URL']}")
    assert found["GEMHUB_SANDBOX_CLIENT_SECRET"] not in log
    assert requests.get(f"{found['GEMHUB_SANDBOX_URL']}/sandbox/health", timeout=30).json()["status"] == "ok"
    auth = {"Authorization": f"token {binder_server['token']}"}
    proxied = requests.get(f"{binder_server['url']}/gemhub-sandbox/sandbox/health", headers=auth, timeout=60)
    assert proxied.status_code == 200
    anonymous = requests.get(f"{binder_server['url']}/gemhub-sandbox/sandbox/health", timeout=30, allow_redirects=False)
    assert anonymous.status_code in (302, 403)
    # The generated client is the one the sandbox accepts, and no other.
    token_url = found["GEMHUB_SANDBOX_URL"] + TOKEN_PATH
    grant = {"grant_type": "client_credentials", "client_id": found["GEMHUB_SANDBOX_CLIENT_ID"]}
    assert requests.post(token_url, data={**grant, "client_secret": found["GEMHUB_SANDBOX_CLIENT_SECRET"]},
                         timeout=30).status_code == 200
    assert requests.post(token_url, data={**grant, "client_secret": "wrong"}, timeout=30).status_code == 401



@pytest.mark.slow
def test_the_servers_sandbox_comes_back_by_itself_after_dying(binder_server):
    """Kernels reach the sandbox directly, never through the proxy that would relaunch it:
    the server's watch must bring it back with no request from anyone."""
    _, found = _discovery(binder_server["runtime"])
    url = found["GEMHUB_SANDBOX_URL"]
    port = int(url.rsplit(":", 1)[1])
    _wait_for_log(binder_server, f"gemhub binder: sandbox running at {url}")
    pid, _ = _sandbox_child(binder_server, port)
    os.kill(pid, signal.SIGKILL)
    log = _wait_for_log(binder_server, f"gemhub binder: sandbox running again at {url}")
    new_pid, _ = _sandbox_child(binder_server, port)
    assert new_pid != pid and f"replaced pid {pid}, which died" in log, log[-2000:]
    assert requests.get(f"{url}/sandbox/health", timeout=30).json()["status"] == "ok"


@pytest.mark.slow
def test_jupyterlab_tells_the_participant_they_are_on_sandbox_data(binder_server):
    auth = {"Authorization": f"token {binder_server['token']}"}
    shown = requests.get(f"{binder_server['url']}/lab/api/update", headers=auth, timeout=30).json()["notification"]
    assert shown["message"].startswith("You are on sandbox data"), shown
    # No hub credentials page on Binder: the notice says how to set the variables instead.
    assert "SH_CLIENT_ID" in shown["message"] and not shown["link"], shown
    readme = (binder_server["home"] / "README-gemhub.md").read_text()
    assert "getpass" in readme and "/services/credentials/" not in readme

KERNEL_CODE = """
import json, os
from sentinelhub import CRS, BBox, DataCollection, SentinelHubCatalog, SHConfig
from gemhub_workspace import data_collection, sh_config

sandbox = sh_config(quiet=True)
bare = SHConfig()  # the [gemhub] profile the server wrote
catalog = SentinelHubCatalog(config=bare)
found = list(catalog.search(data_collection(DataCollection.SENTINEL2_L2A, bare),
                            bbox=BBox((14.88, 45.78, 14.93, 45.815), crs=CRS.WGS84),
                            time=("2023-07-01", "2023-07-31"), fields={"include": ["id"], "exclude": []}))
# What the banner cell tells a participant to do:
os.environ["SH_CLIENT_ID"] = "participant-id"
os.environ["SH_CLIENT_SECRET"] = "participant-secret"
real = sh_config()
print(json.dumps({"env": os.environ.get("GEMHUB_SANDBOX_URL"), "sandbox": sandbox.sh_base_url,
                  "bare": bare.sh_base_url, "scenes": len(found), "real": real.sh_base_url,
                  "real_id": real.sh_client_id}))
"""


@pytest.mark.slow
def test_kernels_of_the_server_use_its_sandbox_and_switch_to_real_credentials(binder_server):
    _, found = _discovery(binder_server["runtime"])
    out = json.loads(execute(binder_server["url"], binder_server["token"], KERNEL_CODE, timeout=180).strip())
    sandbox_url = found["GEMHUB_SANDBOX_URL"]
    assert out["env"] == out["sandbox"] == out["bare"] == sandbox_url
    assert out["scenes"] > 0
    assert out["real"] == "https://services.sentinel-hub.com" and out["real_id"] == "participant-id"


@pytest.mark.slow
def test_the_workshop_runs_in_the_binder_environment_against_the_servers_sandbox(binder_server, tmp_path):
    _, found = _discovery(binder_server["runtime"])
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("SH_", ENV_PREFIX))}
    environ["JUPYTER_RUNTIME_DIR"] = str(binder_server["runtime"])
    run = subprocess.run(
        [GEMHUB, "notebooks", "test", *WORKSHOP, "--user-env", binder_server["env"], "--sandbox-from-server",
         "--force", "--jobs", "2", "--out-dir", tmp_path / "runs", "--report", tmp_path / "report.json"],
        capture_output=True, text=True, env=environ, timeout=1500, cwd=CHECKOUT,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(r["slug"], r["status"]) for r in report["notebooks"]] == [(p.stem, "passed") for p in WORKSHOP]
    for result in report["notebooks"]:
        executed = Path(result["output_notebook"]).read_text()
        # The kernel's own notice names the server's sandbox: no other sandbox was started.
        assert f"using the offline sandbox at {found['GEMHUB_SANDBOX_URL']}" in executed, result["slug"]
        assert found["GEMHUB_SANDBOX_CLIENT_SECRET"] not in executed
    kernels = list((STATE / "jupyter-envs").glob("*/kernels/gemhub-user/kernel.json"))
    assert any(json.loads(k.read_text())["argv"][0] == f"{binder_server['env']}/bin/python" for k in kernels)


@pytest.mark.slow
def test_the_same_workshop_opens_from_the_marketplace_launch(binder_server):
    auth = {"Authorization": f"token {binder_server['token']}"}
    launch = requests.get(f"{binder_server['url']}/gemhub/launch/workshop-1-intro", headers=auth,
                          allow_redirects=False, timeout=30)
    assert launch.status_code == 302
    assert launch.headers["Location"].endswith("lab/tree/marketplace/workshop-1-intro/workshop-1-intro.ipynb")
    copy = binder_server["home"] / "marketplace" / "workshop-1-intro" / "workshop-1-intro.ipynb"
    assert copy.read_bytes() == (CHECKOUT / "notebooks" / "workshop" / "workshop-1-intro.ipynb").read_bytes()


def test_runner_refuses_a_server_sandbox_that_is_not_there(tmp_path):
    environ = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "empty-runtime")}
    run = subprocess.run([GEMHUB, "notebooks", "test", WORKSHOP[0], "--sandbox-from-server", "--out-dir", tmp_path],
                         capture_output=True, text=True, env=environ, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "gemhub notebooks test: --sandbox-from-server: no Jupyter server started with binder/start runs a sandbox "
        f"(no gemhub-sandbox-*.json in {tmp_path / 'empty-runtime'})"
    ]


UNDER_A_HUB = """
import json
from sentinelhub import CRS, BBox, DataCollection, SentinelHubCatalog
from gemhub_workspace import data_collection, sh_config
config = sh_config(quiet=True)
found = list(SentinelHubCatalog(config=config).search(
    data_collection(DataCollection.SENTINEL2_L2A, config), bbox=BBox((14.88, 45.78, 14.93, 45.815), crs=CRS.WGS84),
    time=("2023-07-01", "2023-07-31")))
print(json.dumps({"base_url": config.sh_base_url, "scenes": len(found)}))
"""


@pytest.mark.slow
def test_under_jupyterhub_the_server_starts_its_own_sandbox_as_on_mybinder(hub_factory):
    """mybinder.org runs the image's server as jupyterhub-singleuser behind a JupyterHub that
    knows nothing of gemhub: no sandbox service, only binder/start's opt-in. The server's own
    hub token (the default `server` role may access its own server) must get the sandbox going."""
    hub = hub_factory(["participant"], extra={
        "sentinelhub": {"sandbox": {"enabled": False}},
        "spawner": {"environment": {"GEMHUB_SANDBOX_IN_SERVER": "1"}},
    })
    participant = hub.session("participant")
    assert participant.login().status_code == 302
    participant.start_server()
    got = json.loads(execute(f"{hub.url}/user/participant", participant.token(), UNDER_A_HUB,
                             timeout=180).strip().splitlines()[-1])
    assert got["base_url"].startswith("http://127.0.0.1:") and got["scenes"] > 0, got
    home = hub.config_file.parent / "state" / "homes" / "participant"
    assert "sandbox data" in (home / "README-gemhub.md").read_text()
