"""The container images, built for real on the docker daemon (ci/docker.sh
starts one) from the debootstrap base, then started and checked.

Builds are cached by content hash (tests/support/images.py), so a second run
costs only the checks; the first build of the user image takes minutes, hence
the long timeouts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.images import built_image

from gemhub.images import BASE_REFERENCE
from gemhub.images import docker as gemhub_docker
from gemhub.images.base import apt_mirrors
from gemhub.images.build import build_image
from gemhub.images.context import CA_BUNDLE, content_hash, copy_inputs, stage
from gemhub.images.scan import scan
from gemhub.images.specs import SPECS
from gemhub.images.tags import release_reference

CHECKOUT = Path(__file__).resolve().parents[1]
GEMHUB = Path(sys.executable).parent / "gemhub"
BUILD_TIMEOUT = pytest.mark.timeout(3600)


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                          env=gemhub_docker.environment(), timeout=600)


def images_test(name: str, reference: str) -> tuple[int, str]:
    """`gemhub images test NAME --image REF`: (exit code, output)."""
    done = subprocess.run([GEMHUB, "images", "test", name, "--image", reference], capture_output=True, text=True,
                          timeout=900, check=False)
    return done.returncode, done.stdout + done.stderr


def check_lines(output: str) -> dict[str, str]:
    """{check name: 'ok' or 'FAIL'} from the CLI's report."""
    lines = {}
    for line in output.splitlines():
        status, _, rest = line.strip().partition(" ")
        if status in ("ok", "FAIL"):
            lines[rest.strip().split(":")[0]] = status
    return lines


def steps_not_from_cache(log: str) -> list[str]:
    """Instructions of a classic-builder log that ran instead of coming from the layer cache."""
    ran = []
    for block in log.split("\nStep ")[1:]:
        instruction = block.splitlines()[0].split(" : ", 1)[1]
        if not instruction.startswith(("FROM ", "ARG ")) and "Using cache" not in block:
            ran.append(instruction)
    return ran


def test_apt_mirror_is_read_from_both_source_formats(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
                      "Components: main\n\nTypes: deb\nURIs: http://mirror.example/security/\n"
                      "Suites: bookworm-security\nComponents: main\n")
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://other.example/debian/ bookworm main\n")
    assert apt_mirrors([deb822]) == ("http://mirror.example/debian", "http://mirror.example/security")
    assert apt_mirrors([one_line]) == ("http://other.example/debian", None)
    assert apt_mirrors([tmp_path / "missing.list"]) == ("http://deb.debian.org/debian", None)


@pytest.mark.docker  # the docker CLI, though no daemon
def test_unreachable_daemon_is_one_clear_line(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "PATH": "/usr/local/bin:/usr/bin:/bin"}
    done = subprocess.run([GEMHUB, "images", "build", "proxy"], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        ("gemhub images build: docker daemon not reachable: start it with `ci/docker.sh` "
         "(installs docker.io if needed) or `sudo systemctl start docker`")
    ]


@pytest.mark.docker
@pytest.mark.slow
@BUILD_TIMEOUT
def test_base_image_is_debian_bookworm_with_python_from_this_machines_mirror():
    built_image("proxy")  # makes sure the base exists (built with debootstrap when missing)
    done = docker("run", "--rm", "--network", "none", BASE_REFERENCE, "sh", "-c",
                  "python3 --version; command -v tini; cat /etc/debian_version; cat /etc/apt/sources.list.d/*.sources")
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Python 3.11.")
    assert lines[1] == "/usr/bin/tini"
    assert lines[2].startswith("12.")
    assert f"URIs: {apt_mirrors()[0]}" in done.stdout
    files = scan(BASE_REFERENCE)
    assert "usr/bin/python3.11" in files.paths
    assert not files.secret_copies and not files.compilers and not files.caches


@pytest.mark.docker
@pytest.mark.slow
@BUILD_TIMEOUT
def test_user_image_passes_its_checks():
    reference = built_image("user")
    code, output = images_test("user", reference)
    assert code == 0, output
    assert set(check_lines(output).values()) == {"ok"}
    assert len(check_lines(output)) == 12, output
    # The properties themselves, not only the checker's word for them.
    info = json.loads(docker("image", "inspect", reference).stdout)[0]
    assert info["Config"]["User"] == "1000"
    assert info["Size"] < SPECS["user"].size_budget
    assert "GEMHUB_NOTEBOOKS_DIR=/opt/gemhub/notebooks" in info["Config"]["Env"]
    assert info["Config"]["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/gemhub-ready"]
    assert info["Config"]["Cmd"] == ["jupyterhub-singleuser"]
    listing = docker("run", "--rm", "--network", "none", reference, "sh", "-c",
                     "id -u; cd /opt/gemhub/notebooks && find . -name '*.ipynb' | sort").stdout.split()
    expected = sorted("./" + p.relative_to(CHECKOUT / "notebooks").as_posix()
                      for p in (CHECKOUT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    assert listing[0] == "1000" and listing[1:] == expected


@pytest.mark.docker
@pytest.mark.slow
@BUILD_TIMEOUT
def test_user_image_is_tagged_by_content_and_labelled():
    reference = built_image("user")
    folder = stage(SPECS["user"], CHECKOUT / ".gemhub" / "images" / "context" / "user")
    assert reference == f"gemhub/user:{content_hash(folder, BASE_REFERENCE)[:12]}"
    labels = json.loads(docker("image", "inspect", reference).stdout)[0]["Config"]["Labels"]
    # The commit it was built from: this one, or an earlier one with identical inputs (the tag
    # is the content hash, so an identical image is reused, not rebuilt, and keeps its label).
    revision = labels["org.opencontainers.image.revision"]
    assert re.fullmatch(r"[0-9a-f]{40}", revision), revision
    ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", revision, "HEAD"], cwd=CHECKOUT,
                              capture_output=True, text=True)
    assert ancestor.returncode == 0, f"{revision} is not HEAD or one of its ancestors"
    assert labels["org.opencontainers.image.title"] == "gemhub-user"
    assert labels["org.opencontainers.image.version"].endswith(reference.rsplit(":", 1)[1])
    for key in ("created", "source", "description"):
        assert labels[f"org.opencontainers.image.{key}"]
    # The moving tags (what examples/docker.yaml and the Helm chart's defaults name) point at it too.
    image_id = docker("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()
    for moving in ("gemhub/user:latest", release_reference("user")):
        assert docker("image", "inspect", "--format", "{{.Id}}", moving).stdout.strip() == image_id, moving


@pytest.mark.docker
@pytest.mark.slow
@BUILD_TIMEOUT
def test_notebook_only_change_rebuilds_only_the_notebook_layer(tmp_path):
    original = built_image("user")
    checkout = tmp_path / "checkout"
    copy_inputs(SPECS["user"], checkout)
    notebook = checkout / "notebooks" / "water-monitor.ipynb"
    data = json.loads(notebook.read_text())
    data["cells"][0]["source"] = ["# edited for the layer-cache test\n", *data["cells"][0]["source"]]
    notebook.write_text(json.dumps(data, indent=1))
    result = build_image("user", BASE_REFERENCE, checkout=checkout, work_dir=tmp_path / "work", tag_latest=False)
    try:
        assert result.built and result.reference != original
        rebuilt = steps_not_from_cache(result.log.read_text())
        # Every step but the final COPY of notebooks (and the labels after it) came from the cache.
        assert rebuilt[0] == "COPY notebooks /opt/gemhub/notebooks", rebuilt
        assert all(step.startswith("LABEL ") for step in rebuilt[1:]), rebuilt
        before = json.loads(docker("image", "inspect", original).stdout)[0]["RootFS"]["Layers"]
        after = json.loads(docker("image", "inspect", result.reference).stdout)[0]["RootFS"]["Layers"]
        assert after[:-1] == before[:-1] and after[-1] != before[-1]
    finally:
        docker("rmi", result.reference, check=False)


@pytest.mark.docker
@pytest.mark.slow
@BUILD_TIMEOUT
def test_hub_image_passes_its_checks():
    reference = built_image("hub")
    code, output = images_test("hub", reference)
    assert code == 0, output
    assert set(check_lines(output).values()) == {"ok"} and len(check_lines(output)) == 8, output
    version = docker("run", "--rm", "--network", "none", "--entrypoint", "jupyterhub", reference, "--version")
    assert version.stdout.strip() == "6.1.1"


@pytest.mark.docker
@pytest.mark.slow
@BUILD_TIMEOUT
def test_proxy_image_passes_its_checks():
    reference = built_image("proxy")
    code, output = images_test("proxy", reference)
    assert code == 0, output
    assert set(check_lines(output).values()) == {"ok"} and len(check_lines(output)) == 6, output


@pytest.mark.docker
@pytest.mark.slow
@BUILD_TIMEOUT
def test_checks_catch_a_planted_ca_bundle_cache_and_compiler(tmp_path):
    """The leak checks can fail: an image that copies the machine's CA bundle under
    another name, leaves a pip cache and carries a compiler is reported on all three."""
    built_image("proxy")  # the base
    shutil.copyfile(CA_BUNDLE, tmp_path / "innocent.pem")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE_REFERENCE}\nCOPY innocent.pem /usr/share/misc/innocent.pem\n"
        "RUN mkdir -p /root/.cache/pip/http && echo wheel > /root/.cache/pip/http/x && ln -s /bin/true /usr/bin/gcc\n"
    )
    reference = "gemhub/leak-check:test"
    docker("build", "--network", "none", "-t", reference, str(tmp_path))
    try:
        files = scan(reference)
        assert ("usr/share/misc/innocent.pem", str(CA_BUNDLE)) in files.secret_copies
        assert "root/.cache/pip/http/x" in files.caches
        assert "usr/bin/gcc" in files.compilers
    finally:
        docker("rmi", reference, check=False)
