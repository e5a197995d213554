"""`gemhub images test`: start each image and prove what the images issue promises.

Every check runs the real image: containers on the host network, loopback
ports only, and for the user image a real kernel and a real JupyterHub API.
Each returns a Check with a one-line detail, so a failure says what was seen.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from gemhub_sandbox.contract import URL_ENV

from .. import __version__
from ..paths import CHECKOUT
from . import docker
from .scan import ImageFilesystem, scan
from .servers import (
    Container,
    free_port,
    jupyterhub_api,
    run_in_kernel,
    singleuser_environment,
    wait_http,
)
from .specs import SPECS

NOTEBOOKS_IN_IMAGE = "/opt/gemhub/notebooks"
USER_UID = "1000"
USER_HOME = "/home/jovyan"
EO_IMPORTS = "import eolearn, eogrow, sentinelhub, gemhub_workspace, gemhub_sandbox, jupyter_server_proxy"
START_TIMEOUT = 120


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _exec(reference: str, *argv: str, entrypoint: str | None = None, volumes: tuple[str, ...] = ()) -> tuple[int, str]:
    """Run a one-off command in the image without any network; (exit code, stdout+stderr)."""
    args = ["run", "--rm", "--network", "none"]
    for volume in volumes:
        args += ["-v", volume]
    if entrypoint is not None:
        args += ["--entrypoint", entrypoint]
    done = docker.run([*args, reference, *argv], check=False, timeout=300)
    return done.returncode, (done.stdout + done.stderr).strip()


def _guard(name: str, check: Callable[[], tuple[bool, str]]) -> Check:
    try:
        ok, detail = check()
    except Exception as error:  # noqa: BLE001 (a check that cannot run has failed; say why in one line)
        ok, detail = False, f"{type(error).__name__}: {error}".splitlines()[0][:400]
    return Check(name, ok, detail)


def _lock_version(lock: Path, package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)", lock.read_text(), re.MULTILINE)
    return match.group(1) if match else "?"


# -- checks every image gets ------------------------------------------------

def _size(reference: str, budget: int) -> tuple[bool, str]:
    size = docker.image_inspect(reference)["Size"]
    return size < budget, f"{size / 1e9:.2f} GB uncompressed (budget {budget / 1e9:.2f} GB)"


def _no_secrets(files: ImageFilesystem) -> tuple[bool, str]:
    if files.secret_copies:
        return False, "; ".join(f"/{path} is a copy of the build machine's {host}" for path, host in files.secret_copies)
    return True, f"{files.files} files compared with the build machine's CA bundle and secret files: no copy"


def _no_caches(files: ImageFilesystem) -> tuple[bool, str]:
    if files.caches:
        return False, f"{len(files.caches)} cache/build-tool files, e.g. /{files.caches[0]}"
    return True, "no pip/uv/npm/apt caches, no build-stage installer, empty /tmp"


def _no_compilers(files: ImageFilesystem) -> tuple[bool, str]:
    if files.compilers:
        return False, "compilers present: " + ", ".join("/" + path for path in files.compilers[:5])
    return True, "no gcc/cc/g++/clang/gfortran"


def common_checks(name: str, reference: str) -> Iterator[Check]:
    yield _guard("size within budget", lambda: _size(reference, SPECS[name].size_budget))
    files = scan(reference)
    yield _guard("no CA bundle or secrets from the build machine", lambda: _no_secrets(files))
    yield _guard("no caches left behind", lambda: _no_caches(files))
    yield _guard("no compilers", lambda: _no_compilers(files))


# -- user image ---------------------------------------------------------------

def _user_identity(reference: str) -> tuple[bool, str]:
    code, out = _exec(reference, "sh", "-c", 'id -u; id -un; echo "$HOME"; touch "$HOME/.w" && echo home-writable')
    expected = [USER_UID, "jovyan", USER_HOME, "home-writable"]
    configured = docker.image_inspect(reference)["Config"].get("User")
    ok = code == 0 and out.splitlines() == expected and configured == USER_UID
    return ok, f"USER {configured!r}; in the container: {' '.join(out.splitlines())}"


def _eo_imports(reference: str) -> tuple[bool, str]:
    code, out = _exec(reference, "python", "-c",
                      f"{EO_IMPORTS}; print(eolearn.__version__, eogrow.__version__, sentinelhub.__version__)")
    return code == 0, f"eolearn/eogrow/sentinelhub {out}" if code == 0 else out.splitlines()[-1]


def _notebook_digests(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*.ipynb")) if ".ipynb_checkpoints" not in path.parts}


def _notebooks(reference: str, checkout: Path) -> tuple[bool, str]:
    script = (
        "import hashlib, json, os, pathlib; root = pathlib.Path(os.environ['GEMHUB_NOTEBOOKS_DIR']); "
        "print(json.dumps({'root': str(root), 'writable': os.access(root, os.W_OK) or any("
        "os.access(p, os.W_OK) for p in root.rglob('*')), 'files': {p.relative_to(root).as_posix(): "
        "hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob('*.ipynb'))}}))"
    )
    code, out = _exec(reference, "python", "-c", script)
    if code != 0:
        return False, out.splitlines()[-1]
    seen = json.loads(out.splitlines()[-1])
    expected = _notebook_digests(checkout / "notebooks")
    if seen["root"] != NOTEBOOKS_IN_IMAGE:
        return False, f"GEMHUB_NOTEBOOKS_DIR is {seen['root']}, expected {NOTEBOOKS_IN_IMAGE}"
    if seen["files"] != expected:
        missing = sorted(set(expected) - set(seen["files"]))
        differ = sorted(k for k in expected if k in seen["files"] and seen["files"][k] != expected[k])
        return False, f"notebooks differ from the checkout: missing {missing}, changed {differ}"
    if seen["writable"]:
        return False, f"{NOTEBOOKS_IN_IMAGE} is writable by uid {USER_UID}"
    return True, f"{len(expected)} notebooks at {NOTEBOOKS_IN_IMAGE}, identical to notebooks/, read-only for jovyan"


def _singleuser_ready(reference: str) -> tuple[bool, str]:
    port = free_port()
    with jupyterhub_api() as hub_api:
        env = singleuser_environment(port, hub_api)
        with Container(reference, env=env, name_hint="singleuser") as container:
            seconds = container.wait_healthy(START_TIMEOUT)
            prefix = env["JUPYTERHUB_SERVICE_PREFIX"]
            version = wait_http(f"http://127.0.0.1:{port}{prefix}api", 10).json()["version"]
            # Without the hub's token the server must refuse its real API.
            status = requests.get(f"http://127.0.0.1:{port}{prefix}api/status", timeout=10,
                                  allow_redirects=False).status_code
    ok = status in (302, 403)
    return ok, (f"jupyterhub-singleuser healthy after {seconds:.1f}s (jupyter_server {version}); "
                f"unauthenticated api/status -> {status}")


@contextmanager
def _jupyter_server(reference: str, name_hint: str, env: dict[str, str] | None = None):
    """A plain `jupyter server` of the image with a known token, healthy; yields (URL, token)."""
    port, token = free_port(), secrets.token_hex(16)
    args = ["jupyter", "server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.open_browser=False", f"--IdentityProvider.token={token}"]
    with Container(reference, args, env={**(env or {}), "GEMHUB_SERVER_PORT": str(port)},
                   name_hint=name_hint) as container:
        container.wait_healthy(START_TIMEOUT)
        yield f"http://127.0.0.1:{port}/", token


def _kernel_imports(reference: str) -> tuple[bool, str]:
    with _jupyter_server(reference, "kernel") as (url, token):
        code = (f"{EO_IMPORTS}\nimport os, sys\n"
                "print(os.getuid(), sys.executable, eolearn.__version__, eogrow.__version__, sentinelhub.__version__)")
        out = run_in_kernel(url, token, code).strip()
    uid, executable, *versions = out.split()
    ok = uid == USER_UID and executable.startswith("/opt/gemhub/venv/")
    return ok, (f"python3 kernel (uid {uid}, {executable}) imported eolearn {versions[0]}, "
                f"eogrow {versions[1]}, sentinelhub {versions[2]}")


def _sandbox_proxy_entry(reference: str) -> tuple[bool, str]:
    code, out = _exec(reference, "python", "-c",
                      "from importlib.metadata import entry_points; "
                      "print(sorted(e.name for e in entry_points(group='jupyter_serverproxy_servers')))")
    return code == 0 and "gemhub-sandbox" in out, f"jupyter-server-proxy servers: {out.splitlines()[-1]}"


def _workspace_installed(reference: str) -> tuple[bool, str]:
    code, out = _exec(reference, "python", "-c",
                      "import sys, pathlib; from gemhub_workspace.environment import shipped_files; "
                      "files = shipped_files(); "
                      "print(len(files), [str(f) for f in files if not (pathlib.Path(sys.prefix) / f).is_file()])")
    if code != 0:
        return False, out.splitlines()[-1]
    count, missing = out.splitlines()[-1].split(" ", 1)
    return missing == "[]", f"{count} shipped files in the environment's prefix; missing: {missing}"


def _sandbox_notice(reference: str) -> tuple[bool, str]:
    """A server without the user's credentials tells JupyterLab it is on sandbox data."""
    with _jupyter_server(reference, "notice", env={URL_ENV: "http://127.0.0.1:9"}) as (url, token):
        notification = requests.get(f"{url}lab/api/update", timeout=30,
                                    headers={"Authorization": f"token {token}"}).json()["notification"]
    message = (notification or {}).get("message", "")
    return message.startswith("You are on sandbox data"), f"JupyterLab notification: {message[:60]!r}"


def user_checks(reference: str, checkout: Path) -> Iterator[Check]:
    yield _guard("runs as uid 1000 (jovyan), home writable", lambda: _user_identity(reference))
    yield _guard("EO stack imports", lambda: _eo_imports(reference))
    yield _guard("curated notebooks baked in read-only", lambda: _notebooks(reference, checkout))
    yield _guard("sandbox available through jupyter-server-proxy", lambda: _sandbox_proxy_entry(reference))
    yield _guard("jupyterhub-singleuser answers (HEALTHCHECK)", lambda: _singleuser_ready(reference))
    yield _guard("a real kernel imports eolearn, eogrow, sentinelhub", lambda: _kernel_imports(reference))
    yield _guard("gemhub_workspace's server config and Lab settings installed", lambda: _workspace_installed(reference))
    yield _guard("JupyterLab tells a user without credentials they are on sandbox data",
                 lambda: _sandbox_notice(reference))


# -- hub image -----------------------------------------------------------------

def _hub_version(reference: str, checkout: Path) -> tuple[bool, str]:
    expected = _lock_version(checkout / "images/hub/requirements.lock", "jupyterhub")
    code, out = _exec(reference, "--version", entrypoint="jupyterhub")
    return code == 0 and out.splitlines()[-1].strip() == expected, f"jupyterhub --version: {out} (lock: {expected})"


def _hub_validates(reference: str) -> tuple[bool, str]:
    code, out = _exec(reference, "config", "validate", "/opt/gemhub/app/examples/docker.yaml")
    return code == 0, f"gemhub config validate examples/docker.yaml: exit {code} {out[:200]}"


def _hub_rejects(reference: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as folder:
        bad = Path(folder) / "gemhub.yaml"
        bad.write_text("hub:\n  port: 80000\n")
        bad.chmod(0o644)
        Path(folder).chmod(0o755)
        code, out = _exec(reference, "config", "validate", "/etc/gemhub/gemhub.yaml",
                          volumes=(f"{bad}:/etc/gemhub/gemhub.yaml:ro",))
    ok = code == 1 and "hub.port" in out and "Traceback" not in out
    return ok, f"a mounted gemhub.yaml with hub.port 80000: exit {code}, {out.splitlines()[0] if out else ''}"


def _hub_packages(reference: str) -> tuple[bool, str]:
    code, out = _exec(reference, "-c",
                      "import dockerspawner, kubespawner, oauthenticator, nativeauthenticator, "
                      "jupyterhub_idle_culler, gemhub, gemhub_sandbox; from gemhub.paths import HUB_CONFIG_FILE; "
                      "print(gemhub.__version__, HUB_CONFIG_FILE.exists())", entrypoint="python")
    return code == 0 and out.splitlines()[-1] == f"{__version__} True", \
        f"spawners, authenticators, culler, gemhub {out.splitlines()[-1] if out else ''}"


def hub_checks(reference: str, checkout: Path) -> Iterator[Check]:
    yield _guard("jupyterhub version from the lock", lambda: _hub_version(reference, checkout))
    yield _guard("gemhub config validate accepts an example", lambda: _hub_validates(reference))
    yield _guard("gemhub config validate rejects a bad mounted config", lambda: _hub_rejects(reference))
    yield _guard("spawners, authenticators, culler, gemhub importable", lambda: _hub_packages(reference))


# -- proxy image ---------------------------------------------------------------

class _Marker(BaseHTTPRequestHandler):
    body = b"gemhub proxy check"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


def _proxy_routes(reference: str) -> tuple[bool, str]:
    port, api_port, token = free_port(), free_port(), secrets.token_hex(16)
    target = ThreadingHTTPServer(("127.0.0.1", 0), _Marker)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    args = ["--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1", "--api-port", str(api_port)]
    try:
        with Container(reference, args, env={"CONFIGPROXY_AUTH_TOKEN": token}, name_hint="proxy") as container:
            api = f"http://127.0.0.1:{api_port}/api/routes"
            auth = {"Authorization": f"token {token}"}
            started = time.monotonic()
            wait_http(api, START_TIMEOUT, headers=auth, container=container)
            ready = time.monotonic() - started
            anonymous = requests.get(api, timeout=5).status_code
            requests.post(f"{api}/check", headers=auth, timeout=5,
                          json={"target": f"http://127.0.0.1:{target.server_port}"}).raise_for_status()
            routed = requests.get(f"http://127.0.0.1:{port}/check/", timeout=5)
    finally:
        target.shutdown()
    ok = anonymous == 403 and routed.status_code == 200 and routed.content == _Marker.body
    return ok, (f"API answered after {ready:.1f}s; without token {anonymous}; "
                f"added route /check -> {routed.status_code} {routed.content[:40]!r}")


def _proxy_user(reference: str) -> tuple[bool, str]:
    user = docker.image_inspect(reference)["Config"].get("User")
    code, out = _exec(reference, "--version")
    return user not in ("", "0", "root") and code == 0, f"USER {user}; configurable-http-proxy {out}"


def proxy_checks(reference: str, checkout: Path) -> Iterator[Check]:
    yield _guard("configurable-http-proxy runs, not as root", lambda: _proxy_user(reference))
    yield _guard("CHP API answers and routes", lambda: _proxy_routes(reference))


IMAGE_CHECKS = {"user": user_checks, "hub": hub_checks, "proxy": proxy_checks}


def check_image(name: str, reference: str, checkout: Path = CHECKOUT) -> Iterator[Check]:
    """All checks of one image, yielded as they finish (the CLI prints them live)."""
    if docker.image_inspect(reference) is None:
        raise docker.DockerError(f"image {reference} not found: build it with `gemhub images build {name}`")
    yield from IMAGE_CHECKS[name](reference, checkout)
    yield from common_checks(name, reference)
