"""The escape hatch: any JupyterHub trait via hub.extra_config, any config code via hub.config_d.

Loaded for real: the packaged jupyterhub_config.py through traitlets'
PyFileConfigLoader (tests/support/hub_config.py), then JupyterHub built from it,
so what is asserted is what the hub would run with.
"""

from __future__ import annotations

import pytest
import yaml
from support.hub_config import hub_config

from gemhub.config import ConfigError, validate_data


def write_config(tmp_path, data: dict):
    path = tmp_path / "gemhub.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_extra_config_sets_any_trait_after_gemhub(monkeypatch, tmp_path):
    path = write_config(tmp_path, {"hub": {"extra_config": {
        "JupyterHub": {"concurrent_spawn_limit": 50, "active_server_limit": 7},
        # gemhub sets Spawner.default_url itself (spawner.default_url): extra_config comes after and wins.
        "Spawner": {"default_url": "/tree", "environment": {"ONLY": "this"}},
    }}})
    c, app = hub_config(monkeypatch, tmp_path, path)
    assert app.concurrent_spawn_limit == 50 and app.active_server_limit == 7
    assert c.Spawner.default_url == "/tree"
    assert c.Spawner.environment == {"ONLY": "this"}  # a value replaces, it does not merge


def test_config_d_files_run_in_sorted_order_after_extra_config(monkeypatch, tmp_path):
    folder = tmp_path / "hub-config.d"
    folder.mkdir()
    # Written in reverse order: the name, not the creation time, decides.
    (folder / "20-second.py").write_text(
        "c.JupyterHub.concurrent_spawn_limit = c.JupyterHub.concurrent_spawn_limit + 1\n"
        "c.JupyterHub.template_vars = {'seen_by': __file__}\n"
    )
    (folder / "10-first.py").write_text("c.JupyterHub.concurrent_spawn_limit *= 10\n")
    (folder / "notes.txt").write_text("c.JupyterHub.concurrent_spawn_limit = 0\n")  # not *.py: not run
    path = write_config(tmp_path, {"hub": {"config_d": "hub-config.d",
                                           "extra_config": {"JupyterHub": {"concurrent_spawn_limit": 4}}}})
    c, app = hub_config(monkeypatch, tmp_path, path)
    assert app.concurrent_spawn_limit == 41  # extra_config 4, then 10-first (x10), then 20-second (+1)
    assert c.JupyterHub.template_vars == {"seen_by": str(folder / "20-second.py")}


def test_missing_config_d_stops_the_hub_naming_the_field(monkeypatch, tmp_path, capsys):
    path = write_config(tmp_path, {"hub": {"config_d": "nowhere"}})
    with pytest.raises(SystemExit) as stopped:
        hub_config(monkeypatch, tmp_path, path)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "the hub will not start" in err and "hub.config_d: folder not found" in err
    assert str(tmp_path / "nowhere") in err


@pytest.mark.parametrize(
    "extra_config, field, message",
    [
        ({"jupyterHub": {"x": 1}}, "hub.extra_config.jupyterHub", "invalid key name"),
        ({"JupyterHub.x": {"y": 1}}, "hub.extra_config.JupyterHub.x", "invalid key name"),
        ({"JupyterHub": {"Bad-trait": 1}}, "hub.extra_config.JupyterHub.Bad-trait", "invalid key name"),
        ({"JupyterHub": ["concurrent_spawn_limit"]}, "hub.extra_config.JupyterHub", "dictionary"),
    ],
)
def test_bad_extra_config_names_the_field(extra_config, field, message):
    with pytest.raises(ConfigError) as raised:
        validate_data({"hub": {"extra_config": extra_config}})
    problems = {p.path: p.message for p in raised.value.problems}
    assert field in problems and message in problems[field], problems


def test_extra_config_values_must_be_json(tmp_path):
    # YAML reads an unquoted date as a date, which is no JSON value: caught at validation, with its line.
    path = tmp_path / "gemhub.yaml"
    path.write_text("hub:\n  extra_config:\n    JupyterHub:\n      last_activity_interval: 2026-01-01\n")
    from gemhub.config import load_config

    with pytest.raises(ConfigError) as raised:
        load_config(path)
    [problem] = raised.value.problems
    assert problem.path.startswith("hub.extra_config.JupyterHub.last_activity_interval")
    assert problem.line == 4
