"""gemhub installs as a normal wheel, not only as an editable checkout.

The wheels of gemhub and gemhub-sandbox are built from this checkout (sdist,
then the wheel from the sdist, as a package index would), installed into a
fresh virtualenv outside the checkout with the hub lock's pins, and used from a
folder that is not the checkout: nothing may reach back into the source tree.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

CHECKOUT = Path(__file__).resolve().parents[1]
UV = CHECKOUT / ".gemhub" / "tools" / "bin" / "uv"
HUB_LOCK = CHECKOUT / "images" / "hub" / "requirements.lock"
PROJECT = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]


def declared() -> set[str]:
    return {canonicalize_name(Requirement(spec).name) for spec in PROJECT["dependencies"]}


def imported_distributions() -> dict[str, set[str]]:
    """Distribution name -> gemhub modules importing it, for every import anywhere in gemhub/."""
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in sorted((CHECKOUT / "gemhub").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top in sys.stdlib_module_names or top == "gemhub":
                    continue
                assert top in owners, f"{path.relative_to(CHECKOUT)} imports {top}, which no installed package provides"
                for distribution in owners[top]:
                    found.setdefault(canonicalize_name(distribution), set()).add(str(path.relative_to(CHECKOUT)))
    return found


def test_every_import_is_a_declared_dependency():
    missing = {name: sorted(where) for name, where in imported_distributions().items() if name not in declared()}
    assert not missing, f"imported by gemhub but not in pyproject.toml [project] dependencies: {missing}"


def test_every_dependency_is_pinned_by_the_hub_lock():
    locked = {canonicalize_name(line.split("==")[0]) for line in HUB_LOCK.read_text().splitlines()
              if "==" in line and not line.startswith((" ", "#"))}
    # gemhub-sandbox is this repository's own package, installed next to gemhub (Makefile, hub image).
    assert declared() - {"gemhub-sandbox"} <= locked, declared() - {"gemhub-sandbox"} - locked


def test_a_checkout_keeps_its_files_in_the_checkout(monkeypatch, tmp_path):
    """What `make up` and the tests rely on: run from the checkout, gemhub's defaults stay in it."""
    from gemhub import paths

    monkeypatch.delenv("GEMHUB_HOME", raising=False)
    assert paths.running_from_checkout()
    assert paths.state_home() == CHECKOUT / ".gemhub"
    assert paths.default_notebooks_dir() == CHECKOUT / "notebooks"
    assert paths.HUB_CONFIG_FILE == CHECKOUT / "gemhub" / "hub" / "jupyterhub_config.py"
    local_proxy = CHECKOUT / "images" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if local_proxy.exists():
        assert paths.proxy_command() == str(local_proxy)
    monkeypatch.setenv("GEMHUB_HOME", str(tmp_path))
    assert paths.state_home() == tmp_path


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    if not UV.exists():
        pytest.fail("uv not found: `make envs` installs it into .gemhub/tools")
    dist = tmp_path_factory.mktemp("dist")
    for source in (CHECKOUT, CHECKOUT / "sandbox"):
        _run([UV, "build", "--quiet", "--out-dir", dist, source], env=dict(os.environ, UV_NATIVE_TLS="1"))
    return {wheel.name.split("-")[0]: wheel for wheel in dist.glob("*.whl")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheels) -> tuple[Path, dict]:
    """(the venv, the environment to run it with): the hub lock's pins, then both wheels, no editable link."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    uv_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    uv_env.update(UV_NATIVE_TLS="1", VIRTUAL_ENV=str(venv))
    _run([UV, "venv", "--quiet", "--python", sys.executable, venv], env=uv_env)
    _run([UV, "pip", "sync", "--quiet", HUB_LOCK], env=uv_env)
    _run([UV, "pip", "install", "--quiet", "--no-deps", wheels["gemhub"], wheels["gemhub_sandbox"]], env=uv_env)
    # What an installed gemhub sees: no checkout, no $GEMHUB_HOME, a home of its own.
    run_env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GEMHUB_", "VIRTUAL_ENV", "PYTHONPATH", "XDG_"))}
    run_env.update(HOME=str(root / "home"), PATH=f"{venv / 'bin'}:/usr/bin:/bin")
    (root / "home").mkdir()
    (root / "elsewhere").mkdir()
    return venv, run_env


@pytest.mark.slow
def test_wheel_holds_every_file_gemhub_reads(wheels):
    names = set(zipfile.ZipFile(wheels["gemhub"]).namelist())
    data = [p.relative_to(CHECKOUT).as_posix() for p in (CHECKOUT / "gemhub").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts]
    assert "gemhub/hub/jupyterhub_config.py" in data
    assert sorted(set(data) - names) == []
    assert not any(name.startswith(("hub_config/", "tests/", "examples/")) for name in names), sorted(names)[:20]


@pytest.mark.slow
def test_installed_wheel_is_consistent(installed):
    venv, _ = installed
    check = subprocess.run([UV, "pip", "check", "--python", venv / "bin" / "python"],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    for name in ("gemhub", "gemhub_sandbox"):
        direct_url = next((venv / "lib").glob(f"python3*/site-packages/{name}-*.dist-info/direct_url.json"))
        assert not json.loads(direct_url.read_text()).get("dir_info", {}).get("editable"), f"{name} is editable"


@pytest.mark.slow
def test_installed_gemhub_runs_outside_the_checkout(installed, tmp_path):
    venv, env = installed
    elsewhere = venv.parent / "elsewhere"
    gemhub = venv / "bin" / "gemhub"

    where = _run([venv / "bin" / "python", "-c",
                  "import json, gemhub, gemhub.paths as p; print(json.dumps({'module': gemhub.__file__, "
                  "'hub_config': str(p.HUB_CONFIG_FILE), 'exists': p.HUB_CONFIG_FILE.is_file(), "
                  "'checkout': p.running_from_checkout(), 'state': str(p.state_home()), "
                  "'notebooks': str(p.default_notebooks_dir())}))"], cwd=elsewhere, env=env)
    seen = json.loads(where.stdout)
    site = str(next((venv / "lib").glob("python3*/site-packages")))
    assert seen["module"].startswith(site + "/gemhub/"), seen
    assert seen["hub_config"] == f"{site}/gemhub/hub/jupyterhub_config.py" and seen["exists"], seen
    assert seen["checkout"] is False
    assert seen["state"] == f"{env['HOME']}/.local/share/gemhub"
    assert seen["notebooks"] == "None"

    example = tmp_path / "gemhub.yaml"
    example.write_text((CHECKOUT / "examples" / "local.yaml").read_text())
    valid = _run([gemhub, "config", "validate", example], cwd=elsewhere, env=env)
    assert valid.stdout.strip() == f"{example}: valid"
    assert "--spawner" in _run([gemhub, "up", "--help"], cwd=elsewhere, env=env).stdout

    # The packaged jupyterhub_config.py turns the config into the hub's, with no path into the checkout.
    hub_config = _run([venv / "bin" / "python", "-c",
                       "import json; from traitlets.config.loader import PyFileConfigLoader; "
                       "from gemhub.paths import HUB_CONFIG_FILE as f; "
                       "c = PyFileConfigLoader(f.name, path=str(f.parent)).load_config(); "
                       "print(json.dumps({'db_url': c.JupyterHub.db_url, 'proxy': c.ConfigurableHTTPProxy.command, "
                       "'environment': c.Spawner.environment, 'cmd': c.Spawner.cmd}))"],
                      cwd=elsewhere, env=dict(env, GEMHUB_CONFIG=str(example))).stdout
    c = json.loads(hub_config)
    assert c["db_url"] == f"sqlite:///{seen['state']}/data/jupyterhub.sqlite"
    assert c["cmd"] == [f"{seen['state']}/envs/user/bin/jupyterhub-singleuser"]
    assert "GEMHUB_NOTEBOOKS_DIR" not in c["environment"], "an installed gemhub has no curated notebooks by default"
    assert str(CHECKOUT) not in hub_config, hub_config

    # The packaged jupyterhub_config.py is what a hub runs: given a broken gemhub.yaml it
    # refuses to start with the loader's message, as the checkout's entry point does.
    bad = tmp_path / "bad.yaml"
    bad.write_text("hub:\n  port: 8000\nspawner:\n  mem_limit: lots\n")
    hub = subprocess.run([venv / "bin" / "python", "-m", "gemhub.hub.app", "-f", seen["hub_config"]],
                         capture_output=True, text=True, timeout=120, cwd=elsewhere,
                         env=dict(env, GEMHUB_CONFIG=str(bad)))
    assert hub.returncode == 2, hub.stderr
    assert "invalid configuration, the hub will not start" in hub.stderr
    assert f"{bad}:4: spawner.mem_limit:" in hub.stderr
    assert str(CHECKOUT) not in hub.stderr
