"""The chart's values: generated from the typed model, and refused by the real helm when wrong.

values.schema.json, values.yaml and the README's values table are generated
(gemhub/config/chart_files.py); these tests fail while a committed one is stale,
check that values.yaml holds exactly the model's defaults, and run a table of bad
values through the real helm v4 (`helm template`, `helm install --dry-run=client`,
`helm lint --strict`): each must fail, name the key, and show no Go stack trace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from gemhub.config import chart_files
from gemhub.config import schema as schemas
from gemhub.config.chart import ChartValues, Values

from test_helm_chart import CHART, NAMESPACE, RELEASE, helm  # noqa: F401  (helm: the session fixture)

GEMHUB = Path(sys.executable).parent / "gemhub"
REFRESH = "run `gemhub config chart --write helm/gemhub`"


@pytest.mark.parametrize("name", [chart_files.SCHEMA, chart_files.VALUES, chart_files.README])
def test_committed_chart_files_are_generated(name):
    path = CHART / name
    assert path.read_text() == chart_files.generated(CHART)[path], f"{path} is stale: {REFRESH}"


def test_values_yaml_holds_exactly_the_model_defaults():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    defaults = ChartValues().model_dump(mode="json")
    assert values == defaults
    assert ChartValues.model_validate(values).model_dump(mode="json") == values  # and round-trips
    Draft202012Validator(schemas.chart_schema()).validate(values)


def test_every_chart_key_has_a_description():
    def missing(model, path=""):
        for name, field in model.model_fields.items():
            if not field.description:
                yield f"{path}{name}"
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, Values):
                yield from missing(kind, f"{path}{name}.")

    assert list(missing(ChartValues)) == []


def test_check_names_stale_files_and_write_refreshes_them(tmp_path):
    chart = tmp_path / "gemhub"
    shutil.copytree(CHART, chart)
    for name in (chart_files.SCHEMA, chart_files.VALUES):  # the committed files may be stale themselves
        (chart / name).write_text(chart_files.generated(CHART)[CHART / name])
    (chart / "values.yaml").write_text("hub: {}\n")
    (chart / "README.md").unlink()  # a chart without a README gets one with just the table
    check = subprocess.run([GEMHUB, "config", "chart", "--check", str(chart)], capture_output=True, text=True)
    assert check.returncode == 1
    assert str(chart / "values.yaml") in check.stderr and str(chart / "README.md") in check.stderr
    assert str(chart / "values.schema.json") not in check.stderr
    assert "gemhub config chart --write" in check.stderr
    write = subprocess.run([GEMHUB, "config", "chart", "--write", str(chart)], capture_output=True, text=True)
    assert write.returncode == 0, write.stderr
    assert f"{chart / 'values.yaml'}: updated" in write.stdout
    assert f"{chart / 'values.schema.json'}: already up to date" in write.stdout
    assert (chart / "values.yaml").read_text() == chart_files.values_yaml()
    assert chart_files.START in (chart / "README.md").read_text()
    again = subprocess.run([GEMHUB, "config", "chart", "--check", str(chart)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr


def test_chart_command_wants_exactly_one_of_write_and_check():
    run = subprocess.run([GEMHUB, "config", "chart"], capture_output=True, text=True)
    assert run.returncode == 2 and "exactly one of --write DIR or --check DIR" in run.stderr


def test_readme_table_lists_every_leaf_value():
    table = (CHART / "README.md").read_text()
    for key in ("hub.image.tag", "singleuser.profileList", "singleuser.profileList[].slug",
                "singleuser.profileList[].kubespawner_override.mem_limit", "prePuller.pause.image.tag",
                "cull.maxAge", "gemhub"):
        assert f"| `{key}` |" in table, key


PROFILE = {"display_name": "Large", "slug": "large"}


def _set(path: str, value) -> dict:
    """{"a": {"b": value}} from "a.b"."""
    data = value
    for key in reversed(path.split(".")):
        data = {key: data}
    return data


# (values, the path Helm names, something else the message must hold). Each is also refused by the model.
BAD = [
    # wrong types
    pytest.param(_set("hub.image.tag", [1]), "/hub/image/tag", "got array", id="tag-list"),
    pytest.param(_set("singleuser.cpu.limit", "lots"), "/singleuser/cpu/limit", "got string", id="cpu-string"),
    pytest.param(_set("cull.timeout", "soon"), "/cull/timeout", "got string, want integer", id="timeout-string"),
    pytest.param(_set("ingress.enabled", "yes"), "/ingress/enabled", "want boolean", id="enabled-string"),
    # unknown keys, at every depth
    pytest.param(_set("singleuser.imagee", {"name": "x"}), "/singleuser", "'imagee'", id="singleuser-imagee"),
    pytest.param(_set("hub.db.typo", 1), "/hub/db", "'typo'", id="hub-db-typo"),
    pytest.param(_set("prePuller.continuous.enabld", True), "/prePuller/continuous", "'enabld'", id="prepuller-enabld"),
    pytest.param(_set("gemhub.hub.portt", 8000), "/gemhub/hub", "'portt'", id="gemhub-portt"),
    pytest.param(_set("singleuser.profileList", [{**PROFILE, "kubespawner_override": {"imagee": "x"}}]),
                 "/singleuser/profileList/0/kubespawner_override", "'imagee'", id="override-imagee"),
    pytest.param(_set("topLevelTypo", 1), "", "'topLevelTypo'", id="top-level"),
    # negative memory
    pytest.param(_set("singleuser.memory.limit", "-1G"), "/singleuser/memory/limit", "does not match pattern",
                 id="memory-negative"),
    pytest.param(_set("singleuser.memory.guarantee", -5), "/singleuser/memory/guarantee", "got number",
                 id="guarantee-negative"),
    pytest.param(_set("hub.resources", {"requests": {"memory": "-512Mi"}}), "/hub/resources/requests/memory",
                 "does not match pattern", id="resources-negative"),
    # bad image tags
    pytest.param(_set("singleuser.image.tag", "bad tag!"), "/singleuser/image/tag", "does not match pattern",
                 id="tag-space"),
    pytest.param(_set("hub.image.tag", "v1:2"), "/hub/image/tag", "does not match pattern", id="tag-colon"),
    # bad enums
    pytest.param(_set("hub.db.type", "mysql"), "/hub/db/type", "'sqlite-pvc', 'postgres'", id="db-type"),
    pytest.param(_set("hub.image.pullPolicy", "Sometimes"), "/hub/image/pullPolicy", "value must be one of",
                 id="pull-policy"),
    # a profile without its slug, and two defaults
    pytest.param(_set("singleuser.profileList", [{"display_name": "Large"}]), "/singleuser/profileList/0",
                 "missing property 'slug'", id="profile-no-slug"),
    pytest.param(_set("singleuser.profileList", [{**PROFILE, "default": True}, {**PROFILE, "slug": "b", "default": True}]),
                 "/singleuser/profileList", "max 1 items", id="two-defaults"),
    # names the templates would turn into broken manifests
    pytest.param(_set("hub.extraConfig", {"bad/name": "x"}), "/hub/extraConfig", "'bad/name'", id="extra-config-name"),
    pytest.param(_set("prePuller.extraImages", {"Big_Key": {"name": "x", "tag": "1"}}), "/prePuller/extraImages",
                 "'Big_Key'", id="extra-image-key"),
]


def _values_file(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _assert_refused(run: subprocess.CompletedProcess, where: str, detail: str) -> None:
    assert run.returncode != 0, "accepted"
    assert f"at '{where}'" in run.stderr and detail in run.stderr, run.stderr
    # A user error, reported as one: no Go panic or stack trace.
    assert "goroutine" not in run.stderr and "panic" not in run.stderr and ".go:" not in run.stderr, run.stderr


@pytest.mark.parametrize("values, where, detail", BAD)
def test_helm_refuses_bad_values_naming_the_key(helm, tmp_path, values, where, detail):
    file = _values_file(tmp_path, values)
    template = subprocess.run([helm, "template", RELEASE, CHART, "--namespace", NAMESPACE, "-f", file],
                              capture_output=True, text=True, timeout=120)
    _assert_refused(template, where, detail)
    install = subprocess.run([helm, "install", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=client",
                              "-f", file], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "KUBECONFIG": str(tmp_path / "no-cluster")})
    _assert_refused(install, where, detail)


@pytest.mark.parametrize("values, where, detail", BAD)
def test_the_model_refuses_what_the_schema_refuses(values, where, detail):
    with pytest.raises(ValidationError):
        ChartValues.model_validate(values)


def test_helm_lint_strict_refuses_a_bad_value(helm, tmp_path):
    file = _values_file(tmp_path, _set("singleuser.image.tag", "bad tag!"))
    run = subprocess.run([helm, "lint", "--strict", CHART, "-f", file], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "at '/singleuser/image/tag'" in run.stdout + run.stderr, run.stdout + run.stderr


def test_helm_accepts_the_good_forms_z2jh_users_write(helm, tmp_path):
    """Numbers where Helm's --set gives numbers (tags, env values), quantities in either form."""
    values = {
        "hub": {"image": {"tag": 20261127}, "extraEnv": {"WORKERS": 4, "DEBUG": True},
                "resources": {"requests": {"cpu": 0.5, "memory": 536870912}, "limits": {"memory": "1Gi"}}},
        "singleuser": {"profileList": [{**PROFILE, "kubespawner_override": {"environment": {"N": 1}}}]},
        "prePuller": {"extraImages": {"qgis": {"name": "registry.example.org:5000/eo/qgis", "tag": "3.40"}}},
    }
    run = subprocess.run([helm, "template", RELEASE, CHART, "--namespace", NAMESPACE, "-f",
                          _values_file(tmp_path, values)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    ChartValues.model_validate(values)
