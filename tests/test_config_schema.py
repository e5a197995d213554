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
from gemhub.config.chart import ChartValues

GEMHUB = Path(sys.executable).parent / "gemhub"
CHECKOUT = Path(__file__).resolve().parents[1]
CHART_SCHEMA = CHECKOUT / "helm" / "gemhub" / "values.schema.json"
CHART_VALUES = CHECKOUT / "helm" / "gemhub" / "values.yaml"
EXAMPLES = sorted((CHECKOUT / "examples").glob("*.yaml"))
CHART_EXAMPLES = sorted((CHECKOUT / "helm" / "examples").glob("*.yaml"))


def objects(node, path="#"):
    """Every schema node describing an object with named or patterned keys (not the predicates of
    `contains`, which match items rather than describe them)."""
    if isinstance(node, dict):
        if "properties" in node or "patternProperties" in node:
            yield path, node
        for key, value in node.items():
            if key != "contains":
                yield from objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from objects(value, f"{path}/{i}")


def test_committed_chart_schema_is_generated_from_the_model():
    assert CHART_SCHEMA.read_text() == schemas.dumps(schemas.chart_schema()), (
        "run `gemhub config chart --write helm/gemhub`"
    )


@pytest.mark.parametrize("which", ["model", "chart"])
def test_every_object_in_the_schemas_is_closed(which):
    schema = schemas.model_schema() if which == "model" else schemas.chart_schema()
    Draft202012Validator.check_schema(schema)
    open_objects = [path for path, node in objects(schema) if node.get("additionalProperties") is not False]
    assert open_objects == []


def merged(defaults: dict, values: dict) -> dict:
    """What Helm validates: the chart's values.yaml with the given values on top (maps merged, the rest replaced)."""
    out = dict(defaults)
    for key, value in values.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize("example", CHART_EXAMPLES, ids=lambda p: p.name)
def test_chart_schema_accepts_the_chart_examples(example):
    values = yaml.safe_load(example.read_text())
    validator = Draft202012Validator(schemas.chart_schema())
    validator.validate(values)
    validator.validate(merged(yaml.safe_load(CHART_VALUES.read_text()), values))
    ChartValues.model_validate(values)  # the model agrees


def test_chart_defaults_validate_and_are_the_model_defaults():
    defaults = yaml.safe_load(CHART_VALUES.read_text())
    Draft202012Validator(schemas.chart_schema()).validate(defaults)
    assert defaults == ChartValues().model_dump(mode="json")


def test_chart_and_model_share_defs_without_clashes():
    """One `$defs` at the root serves both models: a class of either is there once, by its own name."""
    chart = schemas.chart_schema()
    model = schemas.model_schema()
    for name, node in model["$defs"].items():
        assert chart["$defs"][name] == node, name
    assert {"Hub", "ProfileListEntry", "KubespawnerOverride", "PrePuller", "Toleration"} <= set(chart["$defs"])
    assert chart["properties"]["gemhub"]["properties"] == model["properties"]


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


def test_chart_keys_are_closed_and_descriptions_are_kept():
    schema = schemas.chart_schema()
    validator = Draft202012Validator(schema)
    validator.validate({"singleuser": {"image": {"name": "x"}}, "gemhub": {}})
    assert not validator.is_valid({"singleuser": {"image": {"nmae": "x"}}})
    assert not validator.is_valid({"unknownTopLevel": 1})
    hub = schema["$defs"]["HubSection"]["properties"]
    assert "concurrent_spawn_limit" in hub["extra_config"]["description"]
    assert "appVersion" in schema["$defs"]["HubImage"]["properties"]["tag"]["description"]
    assert schema["properties"]["gemhub"]["default"] == {"auth": {"type": "native", "admin_users": ["admin"]}}


def test_schema_command_writes_the_chart_schema(tmp_path):
    target = tmp_path / "values.schema.json"
    for expected in ("updated", "already up to date"):
        run = subprocess.run([GEMHUB, "config", "schema", "--chart", "--write", str(target)],
                             capture_output=True, text=True, check=True)
        assert run.stdout.strip() == f"{target}: {expected}"
    assert json.loads(target.read_text()) == schemas.chart_schema()
