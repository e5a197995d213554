"""gemhub.yaml validation: every mistake is named by field path and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gemhub.config import ConfigError, load_config, reference

GEMHUB = Path(sys.executable).parent / "gemhub"
CHECKOUT = Path(__file__).resolve().parents[1]

BAD_CONFIGS = [
    # (yaml text, field path expected in the message, words expected in the message)
    ("hub:\n  port: eighty\n", "hub.port", "valid integer"),
    ("hub:\n  port: 70000\n", "hub.port", "less than or equal to 65535"),
    ("hub:\n  port: 0\n", "hub.port", "greater than or equal to 1"),
    ("hub:\n  ip: localhost.example\n", "hub.ip", "IP address"),
    ("hub:\n  base_url: /hub\n", "hub.base_url", "start and end with '/'"),
    ("hub:\n  db_url: oracle://x\n", "hub.db_url", "postgresql://"),
    ("hub:\n  prot: 8000\n", "hub.prot", "unknown key"),
    ("hubb: {}\n", "hubb", "unknown key"),
    ("spawner:\n  type: docker\n", "spawner.image", "required when spawner.type is 'docker'"),
    ("spawner:\n  type: kubernetes\n", "spawner.image", "required when spawner.type is 'kubernetes'"),
    ("spawner:\n  type: podman\n", "spawner.type", "'local', 'docker' or 'kubernetes'"),
    ("spawner:\n  mem_limit: lots\n", "spawner.mem_limit", "should match pattern"),
    ("spawner:\n  cpu_limit: -1\n", "spawner.cpu_limit", "greater than 0"),
    ("spawner:\n  environment:\n    9BAD: x\n", "spawner.environment.9BAD", "should match pattern"),
    (
        "spawner:\n  type: docker\n  image: u:1\n  profiles:\n  - {slug: big, display_name: Big, mem_limit: 8G}\n",
        "spawner.profiles.0.mem_limit",
        "only an image per profile",
    ),
    ("spawner:\n  profiles:\n  - {slug: a, display_name: A}\n", "spawner.profiles", "docker or kubernetes"),
    ("spawner:\n  type: docker\n  image: u:1\n  docker:\n    network_name: bridge\n",
     "spawner.docker.network_name", "only 'host' is supported: user containers reach the hub and the sandbox on 127.0.0.1 (got 'bridge')"),
    ("auth:\n  type: oauth\n", "auth.oauth", "required when auth.type is 'oauth'"),
    ("auth:\n  demo:\n    users: [Alice Smith]\n", "auth.demo.users.0", "should match pattern"),
    ("auth:\n  type: oauth\n  oauth:\n    client_id: g\n    authorize_url: https://i/a\n    token_url: https://i/t\n    userdata_url: https://i/u\n    credentials_from_auth_state:\n      sentinelhb: {client_id: a.b}\n", "auth.oauth.credentials_from_auth_state",
     "unknown provider 'sentinelhb'"),
    ("auth:\n  type: oauth\n  oauth:\n    client_id: g\n    authorize_url: https://i/a\n    token_url: https://i/t\n    userdata_url: https://i/u\n    credentials_from_auth_state:\n      sentinelhub: {client_id: a.b}\n", "auth.oauth.credentials_from_auth_state",
     "sentinelhub needs a path for client_secret"),
    ("auth:\n  type: oauth\n  oauth:\n    client_id: g\n    authorize_url: https://i/a\n    token_url: https://i/t\n    userdata_url: https://i/u\n    credentials_from_auth_state:\n      sentinelhub: {client_id: a.b, client_secret: 'a b'}\n",
     "auth.oauth.credentials_from_auth_state", "is not a dotted path"),
    ("hub:\n  ip: 0.0.0.0\n", "auth.type", "only served on a loopback address"),
    ("culling:\n  timeout: 5\n", "culling.timeout", "greater than or equal to 10"),
    ("sentinelhub:\n  base_url: services.sentinel-hub.com\n", "sentinelhub.base_url", "http(s) URL"),
    ("- just\n- a list\n", "", "top level must be a mapping"),
    ("hub: [unclosed\n", "", "not valid YAML"),
]


@pytest.mark.parametrize("text, field, words", BAD_CONFIGS, ids=[c[1] or c[2] for c in BAD_CONFIGS])
def test_bad_config_names_the_field(tmp_path, text, field, words):
    path = tmp_path / "gemhub.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    if field:
        assert f" {field}: " in message, message
    assert words in message, message


def test_messages_carry_the_line_of_the_offending_key(tmp_path):
    path = tmp_path / "gemhub.yaml"
    path.write_text("# comment\nhub:\n  ip: 127.0.0.1\n  port: -5\nspawner:\n  type: docker\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert lines == [
        f"{path}:4: hub.port: Input should be greater than or equal to 1 (got -5)",
        f"{path}:5: spawner.image: required when spawner.type is 'docker'",
    ], "a missing key is located at its section; cross-field rules are checked despite other errors"


def test_all_problems_are_reported_at_once(tmp_path):
    path = tmp_path / "gemhub.yaml"
    path.write_text("hub:\n  port: x\n  typo: 1\nculling:\n  every: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [p.path for p in caught.value.problems] == ["hub.port", "hub.typo", "culling.every"]


def test_good_configs_pass(tmp_path):
    examples = sorted((CHECKOUT / "examples").glob("*.yaml"))
    assert len(examples) >= 3, "one example per deployment target"
    for example in examples:
        cfg = load_config(example)
        assert cfg.spawner.type in ("local", "docker", "kubernetes")
    assert load_config(None).hub.ip == "127.0.0.1"


def test_validate_command_exit_codes_and_output(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("spawner:\n  type: docker\n  cpu_limit: 0\n")
    run = subprocess.run([GEMHUB, "config", "validate", bad], capture_output=True, text=True)
    assert run.returncode == 1
    assert f"{bad}:3: spawner.cpu_limit: Input should be greater than 0 (got 0)" in run.stderr
    assert f"{bad}:1: spawner.image: required when spawner.type is 'docker'" in run.stderr
    assert "Traceback" not in run.stderr

    good = tmp_path / "good.yaml"
    good.write_text("spawner:\n  type: docker\n  image: gemhub/user:1\n")
    run = subprocess.run([GEMHUB, "config", "validate", good], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == f"{good}: valid"

    missing = subprocess.run([GEMHUB, "config", "validate", tmp_path / "nope.yaml"], capture_output=True, text=True)
    assert missing.returncode == 1 and "nope.yaml: file not found" in missing.stderr


def test_hub_refuses_to_start_on_an_invalid_config(tmp_path):
    bad = tmp_path / "gemhub.yaml"
    bad.write_text("hub:\n  port: 8000\n  data_dir: state\nspawner:\n  mem_limit: lots\n")
    up = subprocess.run([GEMHUB, "up", "--config", bad], capture_output=True, text=True, timeout=60)
    assert up.returncode == 2
    assert f"{bad}:5: spawner.mem_limit:" in up.stderr
    assert "Traceback" not in up.stderr
    assert not (tmp_path / "state").exists(), "nothing is created for a config that is refused"

    # The hub itself (not just the CLI) checks, for when it is started by an image or the chart.
    hub = subprocess.run(
        [sys.executable, "-m", "jupyterhub", "-f", CHECKOUT / "hub_config" / "jupyterhub_config.py"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"GEMHUB_CONFIG": str(bad), "PATH": "/usr/bin:/bin"},
    )
    assert hub.returncode == 2
    assert "invalid configuration, the hub will not start" in hub.stderr
    assert f"{bad}:5: spawner.mem_limit:" in hub.stderr


def test_every_model_field_is_documented():
    schema = reference.json_schema()
    undocumented = [
        f"{name}.{field}"
        for name, model in [("root", schema), *schema["$defs"].items()]
        for field, node in model.get("properties", {}).items()
        if not node.get("description")
    ]
    assert undocumented == []


def test_schema_command_prints_json_schema():
    run = subprocess.run([GEMHUB, "config", "schema"], capture_output=True, text=True, check=True)
    schema = yaml.safe_load(run.stdout)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"hub", "auth", "spawner", "culling", "sentinelhub", "marketplace"}
