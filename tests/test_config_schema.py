"""The JSON schemas generated from the model: gemhub.yaml's and the Helm chart's values.

The chart's values.schema.json is committed (Helm reads it from the chart), so
a test compares it with a fresh generation; jsonschema checks that the schema
accepts what the model accepts and refuses unknown keys, as Helm will.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from gemhub.config import schema as schemas
from gemhub.config import validate_data

GEMHUB = Path(sys.executable).parent / "gemhub"
CHECKOUT = Path(__file__).resolve().parents[1]
CHART_SCHEMA = CHECKOUT / "helm" / "gemhub" / "values.schema.json"
EXAMPLES = sorted((CHECKOUT / "examples").glob("*.yaml"))


def objects(node, path="#"):
    """Every schema node describing an object with named or patterned keys."""
    if isinstance(node, dict):
        if "properties" in node or "patternProperties" in node:
            yield path, node
        for key, value in node.items():
            yield from objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from objects(value, f"{path}/{i}")


def test_committed_chart_schema_is_generated_from_the_model():
    assert CHART_SCHEMA.read_text() == schemas.dumps(schemas.chart_schema()), (
        "run `gemhub config schema --chart --write helm/gemhub/values.schema.json`"
    )


def test_every_object_in_the_model_schema_is_closed():
    schema = schemas.model_schema()
    Draft202012Validator.check_schema(schema)
    open_objects = [path for path, node in objects(schema) if node.get("additionalProperties") is not False]
    assert open_objects == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_schema_accepts_the_examples(example):
    data = yaml.safe_load(example.read_text())
    validate_data(data)  # the model accepts it...
    Draft202012Validator(schemas.chart_schema()).validate({"gemhub": data})  # ...and so does the chart's schema


@pytest.mark.parametrize(
    "gemhub, where",
    [
        ({"hub": {"prot": 8000}}, "/gemhub/hub"),
        ({"hub": {"extra_config": {"jupyterHub": {"x": 1}}}}, "/gemhub/hub/extra_config"),
        ({"spawner": {"environment": {"BAD-NAME": "x"}}}, "/gemhub/spawner/environment"),
        ({"spawner": {"kubernetes": {"tolerations": [{"key": "a", "effect": "Sometimes"}]}}},
         "/gemhub/spawner/kubernetes/tolerations/0/effect"),
        ({"spawner": {"kubernetes": {"extra_volumes": [{"name": "n", "hostPath": {"path": "/"}}]}}},
         "/gemhub/spawner/kubernetes/extra_volumes/0"),
        ({"spawner": {"mem_limit": "-1G"}}, "/gemhub/spawner/mem_limit"),
        # The model's one-source rules, also in the schema:
        ({"spawner": {"kubernetes": {"extra_volumes": [{"name": "n", "emptyDir": {}, "secret": {"secretName": "s"}}]}}},
         "/gemhub/spawner/kubernetes/extra_volumes/0"),
        ({"spawner": {"kubernetes": {"extra_env": {"X": {"valueFrom": {}}}}}},
         "/gemhub/spawner/kubernetes/extra_env/X/valueFrom"),
    ],
)
def test_chart_schema_rejects_bad_values_where_they_are(gemhub, where):
    errors = list(Draft202012Validator(schemas.chart_schema()).iter_errors({"gemhub": gemhub, "ingress": {}}))
    assert errors, "accepted"
    assert any("/" + "/".join(str(p) for p in e.absolute_path) == where for e in errors), [
        (list(e.absolute_path), e.message) for e in errors]


def test_chart_only_keys_stay_open_and_descriptions_are_kept():
    schema = schemas.chart_schema()
    Draft202012Validator(schema).validate({"singleuser": {"image": {"name": "x"}}, "gemhub": {}})
    hub = schema["$defs"]["HubSection"]["properties"]
    assert "concurrent_spawn_limit" in hub["extra_config"]["description"]


def test_schema_command_writes_the_chart_schema(tmp_path):
    target = tmp_path / "values.schema.json"
    for expected in ("updated", "already up to date"):
        run = subprocess.run([GEMHUB, "config", "schema", "--chart", "--write", str(target)],
                             capture_output=True, text=True, check=True)
        assert run.stdout.strip() == f"{target}: {expected}"
    assert json.loads(target.read_text()) == schemas.chart_schema()
