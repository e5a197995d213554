"""The single-server Docker target, end to end: `gemhub up` with DockerSpawner and the user image.

Real hub, real proxy, real containers of the image `gemhub images build user`
makes, on the host network (every port on 127.0.0.1), and the notebook runner
executing curated notebooks inside that same image. Each test names its
volumes with a random prefix and removes them, with any container using them,
when it ends.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml
from gemhub_sandbox.contract import CLIENT_SECRET_ENV

from gemhub.images.docker import container_inspect, run as docker
from gemhub.sandbox_process import start_sandbox
from support.credentials import set_credentials
from support.hub import GEMHUB, free_port
from support.images import built_image
from support.kernel import execute
from support.notebooks import write_notebook

# A cold build of the user image happens inside the first test that needs it.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(3600)]

CHECKOUT = Path(__file__).resolve().parents[1]
MEMORY, CPUS = "1536M", 1.5

# Runs in a kernel of the user's container, through the hub's proxy.
PROBE = """
import json, os, sys
import eolearn.core, eogrow, requests, sentinelhub
from gemhub_sandbox.contract import CLIENT_ID_ENV, CLIENT_SECRET_ENV, TOKEN_PATH, URL_ENV
from sentinelhub import CRS, BBox, DataCollection, MimeType, SentinelHubRequest
from gemhub_workspace import data_collection, sh_config

config = sh_config()
request = SentinelHubRequest(
    evalscript="//VERSION=3\\nfunction setup() { return {input: ['B04', 'B08'], output: {bands: 2, "
    "sampleType: 'FLOAT32'}}; }\\nfunction evaluatePixel(s) { return [s.B04, s.B08]; }",
    input_data=[SentinelHubRequest.input_data(data_collection(DataCollection.SENTINEL2_L2A, config),
                                              time_interval=("2023-07-01", "2023-07-31"))],
    responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
    bbox=BBox((15.17, 45.78, 15.23, 45.82), CRS.WGS84), size=(24, 16), config=config,
)
data = request.get_data()[0]
sandbox = os.environ[URL_ENV]
token = requests.post(sandbox + TOKEN_PATH, timeout=30, data={
    "grant_type": "client_credentials", "client_id": os.environ[CLIENT_ID_ENV],
    "client_secret": os.environ[CLIENT_SECRET_ENV]})

def first(*paths):
    for path in paths:
        if os.path.exists(path):
            return open(path).read().split()
    return None

print(json.dumps({
    "client_id": config.sh_client_id, "base_url": config.sh_base_url,
    "shape": list(data.shape), "has_signal": bool(abs(data).max() > 0),
    "sandbox_url": sandbox, "sandbox_token": token.status_code,
    "uid": os.getuid(), "home": os.path.expanduser("~"), "in_container": os.path.exists("/.dockerenv"),
    "prefix": sys.prefix, "notebooks_dir": os.environ.get("GEMHUB_NOTEBOOKS_DIR"),
    "eolearn": eolearn.core.EOPatch.__name__, "eogrow": eogrow.__version__,
    "memory": first("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    "cpu": first("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                 "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"),
}))
"""


@pytest.fixture(scope="module")
def user_image() -> str:
    return built_image("user")


@pytest.fixture
def volume_prefix():
    """A name prefix for this test's home volumes; they and their containers go at the end
    (after the hub, which is stopped first because this fixture is set up before it)."""
    prefix = f"gemhub-test-{secrets.token_hex(4)}"
    yield prefix
    volumes = docker(["volume", "ls", "--quiet", "--filter", f"name={prefix}"]).stdout.split()
    for volume in volumes:
        containers = docker(["ps", "--all", "--quiet", "--filter", f"volume={volume}"]).stdout.split()
        if containers:
            docker(["rm", "--force", *containers], check=False)
    if volumes:
        docker(["volume", "rm", *volumes], check=False)


def docker_hub(hub_factory, user: str, image: str, prefix: str, extra: dict | None = None):
    extra = {
        "spawner": {
            "type": "docker", "image": image, "mem_limit": MEMORY, "cpu_limit": CPUS,
            "docker": {"volume_name_template": f"{prefix}-{{username}}"},
        },
        **(extra or {}),
    }
    return hub_factory([user], extra=extra)


def containers_using(volume: str) -> list[str]:
    return docker(["ps", "--all", "--quiet", "--no-trunc", "--filter", f"volume={volume}"]).stdout.split()


def volume_exists(volume: str) -> bool:
    return docker(["volume", "inspect", volume], check=False).returncode == 0


def put_file(session, server: str, token: str, name: str, content: str) -> None:
    session.http.put(
        f"{server}/api/contents/{name}", headers={"Authorization": f"token {token}"},
        json={"type": "file", "format": "text", "content": content}, timeout=30,
    ).raise_for_status()


def get_file(session, server: str, token: str, name: str) -> str:
    response = session.http.get(f"{server}/api/contents/{name}", headers={"Authorization": f"token {token}"},
                                timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["content"]


def test_docker_spawn_stack_credentials_limits_and_home_volume(volume_prefix, hub_factory, user_image):
    user = f"alice{secrets.token_hex(3)}"  # letters and digits: docker names escape the rest
    volume = f"{volume_prefix}-{user}"
    # "The real Sentinel Hub" for this test: a sandbox knowing only alice's own client.
    with start_sandbox() as provider:
        sandbox_port = free_port()
        hub = docker_hub(hub_factory, user, user_image, volume_prefix, extra={"sentinelhub": {
            "base_url": provider.url, "token_url": provider.token_url,
            "sandbox": {"enabled": True, "port": sandbox_port},
        }})
        set_credentials(hub.config_file, user, provider.client_id, provider.client_secret)
        alice = hub.session(user)
        assert alice.login().status_code == 302
        alice.start_server(timeout=180)

        # The container: the configured image and limits, host network, home on the named volume.
        [container_id] = containers_using(volume)
        info = container_inspect(container_id)
        host = info["HostConfig"]
        assert info["Config"]["Image"] == user_image
        assert host["Memory"] == 1536 * 2**20, host["Memory"]
        assert host["CpuQuota"] == int(CPUS * host["CpuPeriod"]) and host["CpuPeriod"] == 100_000, host
        assert host["NetworkMode"] == "host" and host["AutoRemove"] is True
        assert info["Config"]["Cmd"][0] == "jupyterhub-singleuser", info["Config"]["Cmd"]
        home = [m for m in info["Mounts"] if m["Type"] == "volume" and m["Name"] == volume]
        assert home and home[0]["Destination"] == "/home/jovyan", info["Mounts"]
        assert f"SH_CLIENT_ID={provider.client_id}" in info["Config"]["Env"], "credentials reach the container"

        # A kernel in that container: the EO stack, the user's credentials, both sandboxes on loopback.
        server = f"{hub.url}/user/{user}"
        token = alice.token()
        got = json.loads(execute(server, token, PROBE, timeout=300).strip().splitlines()[-1])
        assert got["in_container"] and got["uid"] == 1000 and got["home"] == "/home/jovyan", got
        assert got["eolearn"] == "EOPatch" and got["eogrow"], got
        assert not got["prefix"].startswith(str(CHECKOUT)), got
        assert got["notebooks_dir"] == "/opt/gemhub/notebooks", got
        assert got["client_id"] == provider.client_id and got["base_url"] == provider.url, got
        assert got["shape"] == [16, 24, 2] and got["has_signal"], got
        assert got["sandbox_url"] == f"http://127.0.0.1:{sandbox_port}" and got["sandbox_token"] == 200, got
        assert got["memory"] == ["1610612736"], got  # the limit is in force, not just recorded
        assert got["cpu"] in (["150000"], ["150000", "100000"]), got

        # Files in the home volume outlive the container.
        put_file(alice, server, token, "notes.txt", "ndvi looks good")
        alice.stop_server()
        assert containers_using(volume) == [], "a stopped server's container is removed"
        assert volume_exists(volume), "its home volume is not"

        alice.start_server(timeout=180)
        [second] = containers_using(volume)
        assert second != container_id, "a new container"
        assert get_file(alice, server, alice.token(), "notes.txt") == "ndvi looks good"

        log = hub.log_file.read_text(errors="replace")
        assert provider.client_secret not in log, "the user's secret in the hub log"


def test_culling_stops_the_container_and_keeps_the_volume(volume_prefix, hub_factory, user_image):
    user = f"bob{secrets.token_hex(3)}"
    volume = f"{volume_prefix}-{user}"
    hub = docker_hub(hub_factory, user, user_image, volume_prefix,
                     extra={"culling": {"enabled": True, "timeout": 10, "every": 5}})
    bob = hub.session(user)
    assert bob.login().status_code == 302
    bob.start_server(timeout=180)
    assert len(containers_using(volume)) == 1
    server, token = f"{hub.url}/user/{user}", bob.token()
    put_file(bob, server, token, "kept.txt", "still here")

    bob._wait(lambda status: not status, timeout=120, what="culled")
    assert f"Culling server {user}" in hub.log_file.read_text(), "stopped by the culler, not by anything else"
    assert bob.api("GET", f"/users/{user}").status_code == 200, "culling.users is off: the user stays"
    assert containers_using(volume) == [] and volume_exists(volume)

    bob.start_server(timeout=180)
    assert get_file(bob, server, token, "kept.txt") == "still here"


# -- the notebook runner inside the image -------------------------------------


def run_in_image(image: str, *paths, cwd: Path, extra: tuple = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GEMHUB, "notebooks", "test", *map(str, paths), "--image", image, "--out-dir", "runs",
         "--report", "runs/report.json", *extra],
        capture_output=True, text=True, cwd=cwd, timeout=1200,
    )


def printed_by(executed: str, source_start: str) -> str:
    """What the executed notebook's cell starting with `source_start` printed."""
    cells = nbformat.read(executed, as_version=4).cells
    [cell] = [c for c in cells if c.cell_type == "code" and c.source.startswith(source_start)]
    return "".join(o.get("text", "") for o in cell.outputs)


def test_curated_notebook_runs_inside_the_user_image(tmp_path, user_image):
    curated = CHECKOUT / "notebooks" / "sentinelhub-process-api.ipynb"
    books = tmp_path / "books"
    books.mkdir()
    write_notebook(
        books / "broken.ipynb",
        "import os\nprint(os.path.exists('/.dockerenv'), os.getuid(), os.environ['GEMHUB_NOTEBOOKS_DIR'])",
        "{}['missing']",
    )
    write_notebook(books / "leaky.ipynb", f"import os\nprint('secret is', os.environ[{CLIENT_SECRET_ENV!r}])")
    run = run_in_image(user_image, curated, "books", cwd=tmp_path, extra=("--jobs", "2"))
    assert run.returncode == 1, run.stderr

    report = json.loads((tmp_path / "runs" / "report.json").read_text())
    assert report["environment"]["image"] == user_image
    results = {r["slug"]: r for r in report["notebooks"]}
    passed = results["sentinelhub-process-api"]
    assert passed["status"] == "passed", passed
    executed = nbformat.read(passed["output_notebook"], as_version=4)
    pictures = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert pictures and "image: (" in printed, "real outputs: figures and the printed image shape"
    assert Path(passed["thumbnail"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    broken = results["broken"]
    assert broken["status"] == "failed" and broken["failing_cell"] == 3 and broken["error"] == "KeyError: 'missing'"
    assert "FAILED books/broken.ipynb" in run.stderr and "in cell 3: KeyError" in run.stderr
    where = printed_by(broken["output_notebook"], "import os")
    assert where == f"True {os.getuid()} /opt/gemhub/notebooks\n", "ran in the image, as the caller's uid"

    leaky = results["leaky"]
    assert leaky["status"] == "failed" and "output contains credentials" in leaky["error"]
    assert printed_by(leaky["output_notebook"], "import os") == "secret is [secret]\n"

    again = run_in_image(user_image, curated, cwd=tmp_path)
    assert again.returncode == 0 and "cached, unchanged since it passed" in again.stderr, again.stderr


def test_a_notebook_over_its_time_limit_leaves_no_container(tmp_path, user_image):
    write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(600)")
    run = run_in_image(user_image, tmp_path / "slow.ipynb", cwd=tmp_path, extra=("--timeout", "30"))
    assert run.returncode == 1 and "TIMEOUT" in run.stderr, run.stderr
    assert json.loads((tmp_path / "runs" / "report.json").read_text())["notebooks"][0]["status"] == "timeout"
    left = docker(["ps", "--all", "--quiet", "--filter", "name=gemhub-run-slow-"]).stdout.split()
    assert left == [], "the timed-out notebook's container was removed"


def test_a_missing_image_is_a_one_line_error(tmp_path):
    missing = f"gemhub/user:missing-{secrets.token_hex(3)}"
    write_notebook(tmp_path / "any.ipynb", "print(1)")
    run = run_in_image(missing, tmp_path / "any.ipynb", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"gemhub notebooks test: image {missing} not found: build it with `gemhub images build user`")

    config = tmp_path / "gemhub.yaml"
    config.write_text(yaml.safe_dump({"spawner": {"image": missing}, "hub": {"data_dir": "state"}}))
    up = subprocess.run([GEMHUB, "up", "--spawner", "docker", "--config", config], capture_output=True, text=True,
                        timeout=60)
    assert up.returncode == 2 and "Traceback" not in up.stderr
    assert f"image {missing} not found: build it with `gemhub images build user`" in up.stderr, up.stderr
