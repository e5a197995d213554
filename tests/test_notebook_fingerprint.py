"""The runner's cache: a passing result is reused only while the environment it ran on is unchanged.

The environment is read from what is installed (dist-info folders, as pip and uv
write them), not from a source checkout, so these tests build small virtualenv
layouts by hand: one package from an index, one installed editable from a
source folder (as `make envs` installs the sandbox and the workspace), one
installed from a wheel file (as an installed gemhub would have them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gemhub.notebooks import fingerprint
from gemhub.notebooks.runner import RunOptions, environment_hash

CHECKOUT = Path(__file__).resolve().parents[1]
REAL_USER_ENV = CHECKOUT / ".gemhub" / "envs" / "user"


def dist_info(site: Path, name: str, version: str, *, direct_url: dict | None = None, record: str = "",
              top_level: str | None = None) -> Path:
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (folder / "RECORD").write_text(record)
    if direct_url is not None:
        (folder / "direct_url.json").write_text(json.dumps(direct_url))
    if top_level is not None:
        (folder / "top_level.txt").write_text(top_level + "\n")
    return folder


@pytest.fixture
def env(tmp_path) -> dict:
    """A user environment with numpy from an index and the real sandbox package, editable from a copy."""
    source = tmp_path / "src" / "sandbox"
    shutil.copytree(CHECKOUT / "sandbox" / "gemhub_sandbox", source / "gemhub_sandbox",
                    ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    dist_info(site, "numpy", "2.0.0", record="numpy/__init__.py,sha256=abc,10\n")
    dist_info(site, "gemhub-sandbox", "0.1.0", direct_url={"url": source.as_uri(), "dir_info": {"editable": True}},
              top_level="gemhub_sandbox")
    return {"venv": tmp_path / "venv", "site": site, "source": source}


def options(venv: Path, **extra) -> RunOptions:
    return RunOptions(out_dir=venv.parent / "runs", report_path=venv.parent / "report.json", user_env=venv, **extra)


def test_an_unchanged_environment_keeps_its_hash(env):
    assert environment_hash(options(env["venv"])) == environment_hash(options(env["venv"]))


def test_an_edit_to_editable_sandbox_code_changes_the_hash(env):
    before = environment_hash(options(env["venv"]))
    server = env["source"] / "gemhub_sandbox" / "server.py"
    server.write_text(server.read_text() + "\n# one more line\n")
    assert environment_hash(options(env["venv"])) != before


def test_files_beside_the_package_in_its_source_folder_do_not_count(env):
    before = environment_hash(options(env["venv"]))
    (env["source"] / "notes.txt").write_text("not installed")
    (env["source"] / "gemhub_sandbox" / "__pycache__").mkdir(exist_ok=True)
    (env["source"] / "gemhub_sandbox" / "__pycache__" / "server.cpython-311.pyc").write_bytes(b"\0")
    assert environment_hash(options(env["venv"])) == before


def test_another_package_version_changes_the_hash(env):
    before = environment_hash(options(env["venv"]))
    shutil.rmtree(env["site"] / "numpy-2.0.0.dist-info")
    dist_info(env["site"], "numpy", "2.0.1")
    assert environment_hash(options(env["venv"])) != before


def test_a_package_from_a_wheel_file_is_known_by_its_files(env):
    """An installed gemhub's sandbox stays at one version while its code changes: RECORD has each file's hash."""
    wheel = {"url": "file:///tmp/gemhub_workspace-0.1.0-py3-none-any.whl", "archive_info": {}}
    folder = dist_info(env["site"], "gemhub-workspace", "0.1.0", direct_url=wheel,
                       record="gemhub_workspace/__init__.py,sha256=one,10\n")
    before = environment_hash(options(env["venv"]))
    (folder / "RECORD").write_text("gemhub_workspace/__init__.py,sha256=two,10\n")
    assert environment_hash(options(env["venv"])) != before


def test_a_package_from_an_index_is_known_by_its_version(env):
    """A release never changes under its version, so its files are not read."""
    before = environment_hash(options(env["venv"]))
    (env["site"] / "numpy-2.0.0.dist-info" / "RECORD").write_text("numpy/__init__.py,sha256=other,10\n")
    assert environment_hash(options(env["venv"])) == before


def test_the_sandbox_the_runner_starts_counts_unless_kernels_use_their_servers(env, tmp_path):
    """Without --sandbox-from-server the runner's own sandbox (this environment's) serves the kernels."""
    own = environment_hash(options(env["venv"]))
    server = environment_hash(options(env["venv"], sandbox_from_server=True))
    assert own != server
    assert fingerprint.sandbox_fingerprint() != "-", "the hub environment has the sandbox package"


def test_the_image_alone_decides_for_image_runs(env):
    assert environment_hash(options(env["venv"]), "sha256:1") == environment_hash(options(REAL_USER_ENV), "sha256:1")
    assert environment_hash(options(env["venv"]), "sha256:1") != environment_hash(options(env["venv"]), "sha256:2")


def test_the_real_user_environment_is_fingerprinted_by_what_it_has_installed():
    assert fingerprint.site_packages(REAL_USER_ENV), "make envs has made the user environment"
    first = fingerprint.environment_fingerprint(REAL_USER_ENV)
    assert first == fingerprint.environment_fingerprint(REAL_USER_ENV)
    assert first != fingerprint.environment_fingerprint(REAL_USER_ENV.parent / "no-such-env")


def test_the_package_list_stands_for_the_lock_where_there_is_no_lock_file(env):
    """An installed gemhub has no lock file to name in the report: what the lock pinned is the package list."""
    before = fingerprint.package_list_sha256(env["venv"])
    server = env["source"] / "gemhub_sandbox" / "server.py"
    server.write_text(server.read_text() + "\n# code, not a pin\n")
    assert fingerprint.package_list_sha256(env["venv"]) == before
    dist_info(env["site"], "pandas", "2.2.0")
    assert fingerprint.package_list_sha256(env["venv"]) != before
