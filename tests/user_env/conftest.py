"""Fixtures that run the sandbox as a real subprocess and point unchanged sentinelhub-py at it.

The test process is fenced to loopback: any DNS lookup of another host fails, so a
client that ignored `sh_base_url` (e.g. a built-in DataCollection with a hard-coded
service_url) errors out instead of reaching the internet.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sysconfig
import tempfile
from pathlib import Path

import pytest
from gemhub_sandbox.child import SandboxDidNotStart, start
from gemhub_sandbox.contract import CLIENTS_ENV, INSECURE_TRANSPORT_ENV, TOKEN_PATH

REPO = Path(__file__).resolve().parents[2]
SANDBOX_SRC = REPO / "sandbox"
CLIENTS = {"alice-id": "alice-secret", "bob-id": "bob-secret"}

_TMP_HOME = tempfile.mkdtemp(prefix="gemhub-sandbox-tests-")
for _var in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
    os.environ[_var] = _TMP_HOME
for _var in ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SH_PROFILE"):
    os.environ.pop(_var, None)
# oauthlib insists on https token URLs unless this is set; a local http sandbox needs it.
os.environ[INSECURE_TRANSPORT_ENV] = "1"

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_real_getaddrinfo = socket.getaddrinfo


def _loopback_only_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name not in _LOOPBACK:
        raise OSError(f"tests may only talk to 127.0.0.1, refused lookup of {name!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only_getaddrinfo


class Sandbox:
    def __init__(self, proc: subprocess.Popen, url: str, stderr_path: Path):
        self.proc = proc
        self.url = url
        self.stderr_path = stderr_path
        self.port = int(url.rsplit(":", 1)[1])

    def config(self, client_id: str = "alice-id", client_secret: str = "alice-secret"):
        from sentinelhub import SHConfig

        return SHConfig(use_defaults=True, sh_client_id=client_id, sh_client_secret=client_secret,
                        sh_base_url=self.url, sh_token_url=self.url + TOKEN_PATH,
                        max_download_attempts=2, download_sleep_time=0.2)

    def collection(self, base):
        """The built-in collections hard-code services.sentinel-hub.com as service_url, which wins over
        sh_base_url; `define_from(..., service_url=...)` is the documented way to use another deployment.
        sentinelhub-py allows one name per definition: one made earlier in this process (by
        gemhub_workspace.data_collection() in another test) is reused."""
        from sentinelhub import DataCollection

        existing = DataCollection._value2member_map_.get(base.value.derive(service_url=self.url))
        return existing or base.define_from(f"{base.name}_SANDBOX_{self.port}", service_url=self.url)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sandbox_env(home: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SANDBOX_SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["HOME"] = str(home)
    env.pop(CLIENTS_ENV, None)
    return env


def start_sandbox(workdir: Path, *extra: str, clients: dict | None = None, timeout: float = 60.0) -> Sandbox:
    workdir.mkdir(parents=True, exist_ok=True)
    stderr_path = workdir / "sandbox.stderr"
    try:
        child = start(clients or CLIENTS, args=extra, env=sandbox_env(workdir), cwd=workdir,
                      stderr=open(stderr_path, "wb"), timeout=timeout)
    except SandboxDidNotStart as error:
        raise RuntimeError(f"{error}\n{stderr_path.read_text(errors='replace')}") from None
    return Sandbox(child.process, child.url, stderr_path)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    box = start_sandbox(tmp_path_factory.mktemp("sandbox-main"))
    yield box
    box.stop()


@pytest.fixture(scope="session")
def limited_sandbox(tmp_path_factory):
    """A second server with a low request rate and very short-lived tokens."""
    box = start_sandbox(tmp_path_factory.mktemp("sandbox-limited"), "--rate-limit", "2", "--token-lifetime", "2")
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _fresh_sessions():
    from sentinelhub import SentinelHubDownloadClient

    SentinelHubDownloadClient.clear_cache()
    yield
    SentinelHubDownloadClient.clear_cache()


@pytest.fixture(scope="session")
def sh_config(sandbox):
    return sandbox.config()


@pytest.fixture(scope="session")
def l1c(sandbox):
    from sentinelhub import DataCollection

    return sandbox.collection(DataCollection.SENTINEL2_L1C)


@pytest.fixture(scope="session")
def l2a(sandbox):
    from sentinelhub import DataCollection

    return sandbox.collection(DataCollection.SENTINEL2_L2A)


@pytest.fixture(scope="session")
def dem(sandbox):
    from sentinelhub import DataCollection

    return sandbox.collection(DataCollection.DEM_COPERNICUS_30)


@pytest.fixture(scope="session")
def endpoint_compat_pth():
    """What the Makefile does for the user environment; idempotent."""
    from gemhub_workspace.endpoint_compat import install_pth

    path = install_pth(sysconfig.get_path("purelib"))
    assert install_pth(sysconfig.get_path("purelib")) == path
    return path
