"""spawner.kubernetes reaches the pod KubeSpawner would submit, as written.

A real KubeSpawner, configured by the packaged jupyterhub_config.py from a
gemhub.yaml, renders the pod manifest (`get_pod_manifest`) for a user, with and
without a profile. KubeSpawner builds its API client from a kubeconfig, so the
loopback API stand-in (tests/support/kube_api.py) is there; rendering the
manifest itself sends nothing. No cluster can run here.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from types import SimpleNamespace

import pytest
import yaml
from support.hub_config import hub_config
from support.kube_api import KubeApiStandIn
from test_helm_chart import RELEASE, example, find, helm, image_puller, render  # noqa: F401 (helm: a fixture)

from gemhub.config import ConfigError, validate_data

TEAM_SECRET = {"secretKeyRef": {"name": "team-db", "key": "password"}}
GPU_TAINT = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
CONFIG = {
    "hub": {"ip": "0.0.0.0"},
    "auth": {"type": "native"},
    "spawner": {
        "type": "kubernetes",
        "image": "gemhub/user:2026.11",
        "cpu_limit": 2,
        "mem_limit": "4G",
        "environment": {"PLAIN": "value"},
        "profiles": [
            {"slug": "standard", "display_name": "Standard", "default": True},
            {"slug": "gpu", "display_name": "GPU", "image": "gemhub/user-gpu:2026.11", "mem_limit": "16G",
             "kubernetes": {"cpu_guarantee": 2, "mem_guarantee": "8G", "image_pull_policy": "Always",
                            "node_selector": {"accelerator": "a100"}, "tolerations": [GPU_TAINT],
                            "extra_env": {"CUDA_TOKEN": {"valueFrom": {"secretKeyRef": {"name": "cuda", "key": "t"}}}}}},
        ],
        "kubernetes": {
            "namespace": "eo",
            "cpu_guarantee": 0.5,
            "mem_guarantee": "1G",
            "image_pull_policy": "IfNotPresent",
            "image_pull_secrets": ["registry-eo"],
            "node_selector": {"node-role.example.org/users": "true"},
            "tolerations": [{"key": "users", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
            "node_affinity": {"preferred": [{"weight": 10, "preference": {
                "matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}}]},
            "extra_volumes": [{"name": "eo-data", "persistentVolumeClaim": {"claimName": "eo-archive", "readOnly": True}},
                              {"name": "scratch", "emptyDir": {"sizeLimit": "5Gi"}}],
            "extra_volume_mounts": [{"name": "eo-data", "mountPath": "/data/eo", "readOnly": True},
                                    {"name": "scratch", "mountPath": "/scratch"}],
            "extra_env": {"DB_PASSWORD": {"valueFrom": TEAM_SECRET},
                          "NODE": {"valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}},
        },
    },
}


GiB = 1024**3  # KubeSpawner turns "4G" into bytes (JupyterHub's ByteSpecification)


def pod_for(config, username: str, profile: str | None = None) -> dict:
    from kubespawner import KubeSpawner

    user = SimpleNamespace(name=username, id=3, url=f"/user/{username}/", escaped_name=username,
                           get_auth_state=lambda: asyncio.sleep(0, result=None))

    async def render():  # KubeSpawner's API client belongs to the running event loop
        spawner = KubeSpawner(config=config, user=user, _mock=True, api_token="not-a-real-token",
                              oauth_client_id=f"jupyterhub-user-{username}")
        spawner.user_options = {"profile": profile} if profile else {}
        await spawner.load_user_options()
        pod = spawner.api.api_client.sanitize_for_serialization(await spawner.get_pod_manifest())
        return {**pod, "namespace": spawner.namespace}  # KubeSpawner posts the pod into this namespace

    return asyncio.run(render())


@pytest.fixture(scope="module")
def kube_client_config():
    """KubeSpawner's client set up for the stand-in (it does that while entered), whatever ran before."""
    with KubeApiStandIn(token=secrets.token_hex(16)) as api:
        yield api


@pytest.fixture
def hub(monkeypatch, tmp_path, kube_client_config):
    path = tmp_path / "gemhub.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    config, _ = hub_config(monkeypatch, tmp_path, path)
    return config


def test_default_profile_pod(hub):
    pod = pod_for(hub, "alice")
    spec = pod["spec"]
    [container] = spec["containers"]
    assert pod["namespace"] == "eo"
    assert container["image"] == "gemhub/user:2026.11"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert spec["imagePullSecrets"] == [{"name": "registry-eo"}]
    assert container["resources"] == {"limits": {"cpu": 2, "memory": 4 * GiB},
                                      "requests": {"cpu": 0.5, "memory": 1 * GiB}}
    assert spec["nodeSelector"] == {"node-role.example.org/users": "true"}
    assert spec["securityContext"] == {"fsGroup": 1000}
    assert container["securityContext"] == {
        "runAsUser": 1000, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    assert {"key": "users", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in spec["tolerations"]
    [preferred] = spec["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["weight"] == 10
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"]["claimName"] == "claim-alice"
    assert volumes["eo-data"] == {"name": "eo-data",
                                  "persistentVolumeClaim": {"claimName": "eo-archive", "readOnly": True}}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {"sizeLimit": "5Gi"}}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/home/jovyan"]["name"] == "home"
    assert mounts["/data/eo"] == {"name": "eo-data", "mountPath": "/data/eo", "readOnly": True}
    env = {e["name"]: e for e in container["env"]}
    assert env["DB_PASSWORD"] == {"name": "DB_PASSWORD", "valueFrom": TEAM_SECRET}  # a reference, no value
    assert "value" not in env["DB_PASSWORD"]
    assert env["NODE"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["PLAIN"] == {"name": "PLAIN", "value": "value"}
    assert "CUDA_TOKEN" not in env  # the gpu profile's, not this one's


def test_profile_overrides(hub):
    pod = pod_for(hub, "bob", profile="gpu")
    spec = pod["spec"]
    [container] = spec["containers"]
    assert container["image"] == "gemhub/user-gpu:2026.11"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == {"limits": {"cpu": 2, "memory": 16 * GiB},
                                      "requests": {"cpu": 2, "memory": 8 * GiB}}
    # node_selector adds to the spawner's; tolerations replace them.
    assert spec["nodeSelector"] == {"node-role.example.org/users": "true", "accelerator": "a100"}
    assert GPU_TAINT in spec["tolerations"]
    assert not any(t.get("key") == "users" for t in spec["tolerations"])
    env = {e["name"]: e for e in container["env"]}
    assert env["CUDA_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "cuda", "key": "t"}}
    assert env["DB_PASSWORD"]["valueFrom"] == TEAM_SECRET  # the spawner's entries stay
    assert "volumes" in spec and {v["name"] for v in spec["volumes"]} >= {"home", "eo-data", "scratch"}
    # The profile's override did not leak into the next user's default pod.
    assert "CUDA_TOKEN" not in json.dumps(pod_for(hub, "carol"))


def spawner_with(**kubernetes) -> dict:
    return {"spawner": {"type": "kubernetes", "image": "gemhub/user:1", "kubernetes": kubernetes}}


@pytest.mark.parametrize(
    "data, field, message",
    [
        (spawner_with(extra_volumes=[{"name": "node", "hostPath": {"path": "/"}}]),
         "spawner.kubernetes.extra_volumes.0.hostPath", "unknown key"),
        (spawner_with(extra_volumes=[{"name": "two", "emptyDir": {}, "nfs": {"server": "x", "path": "/"}}]),
         "spawner.kubernetes.extra_volumes.0", "exactly one volume source"),
        (spawner_with(extra_volumes=[{"name": "home", "emptyDir": {}}]),
         "spawner.kubernetes.extra_volumes.0.name", "already used"),
        (spawner_with(extra_volume_mounts=[{"name": "missing", "mountPath": "/x"}]),
         "spawner.kubernetes.extra_volume_mounts.0.name", "no volume named 'missing'"),
        (spawner_with(extra_volume_mounts=[{"name": "home", "mountPath": "relative"}]),
         "spawner.kubernetes.extra_volume_mounts.0.mountPath", "pattern"),
        (spawner_with(tolerations=[{"key": "gpu", "operator": "Sometimes"}]),
         "spawner.kubernetes.tolerations.0.operator", "'Exists' or 'Equal'"),
        (spawner_with(image_pull_policy="Sometimes"), "spawner.kubernetes.image_pull_policy", "'Always'"),
        (spawner_with(image_pull_secrets=["Not_A_Name"]), "spawner.kubernetes.image_pull_secrets.0", "pattern"),
        (spawner_with(node_selector={"bad key": "x"}), "spawner.kubernetes.node_selector.bad key", "invalid key"),
        (spawner_with(extra_env={"X": {"value": "secret-in-yaml"}}), "spawner.kubernetes.extra_env.X.value",
         "unknown key"),
        (spawner_with(extra_env={"X": {"valueFrom": {}}}), "spawner.kubernetes.extra_env.X.valueFrom",
         "exactly one of"),
        (spawner_with(mem_guarantee="-1G"), "spawner.kubernetes.mem_guarantee", "pattern"),
        ({"spawner": {"type": "docker", "image": "u", "profiles": [
            {"slug": "a", "display_name": "A", "kubernetes": {"image_pull_policy": "Always"}}]}},
         "spawner.profiles.0.kubernetes", "needs spawner.type kubernetes"),
    ],
)
def test_bad_kubernetes_values_name_the_field(data, field, message):
    with pytest.raises(ConfigError) as raised:
        validate_data(data)
    problems = {p.path: p.message for p in raised.value.problems}
    assert field in problems and message in problems[field], problems


# The chart's profiles example, through the chart: the gemhub.yaml its ConfigMap holds, loaded by the
# hub's jupyterhub_config.py, and the pod KubeSpawner makes for each profile.

TEAM_DB = {"secretKeyRef": {"name": "eo-team-db", "key": "password"}}
TEAM_TAINT = {"key": "node.example.org/dedicated", "operator": "Equal", "value": "eo-team", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def profiles_chart(helm) -> list[dict]:
    return render(helm, *example("profiles"))


@pytest.fixture
def chart_hub(monkeypatch, tmp_path, kube_client_config, profiles_chart):
    """The hub's config from exactly the ConfigMap's gemhub.yaml, but for hub.data_dir: that names the
    hub pod's volume, which a test cannot write; it moves into tmp_path."""
    text = find(profiles_chart, "ConfigMap", f"{RELEASE}-gemhub-hub")["data"]["gemhub.yaml"]
    data = yaml.safe_load(text)
    data["hub"]["data_dir"] = str(tmp_path / "data")
    path = tmp_path / "gemhub.yaml"
    path.write_text(yaml.safe_dump(data))
    config, _ = hub_config(monkeypatch, tmp_path, path)
    return config


def resources(pod: dict) -> dict:
    [container] = pod["spec"]["containers"]
    return container["resources"]


@pytest.mark.parametrize("profile", [None, "standard"])
def test_chart_profile_without_overrides_gets_the_chart_defaults(chart_hub, profile):
    pod = pod_for(chart_hub, "alice", profile)
    [container] = pod["spec"]["containers"]
    assert container["image"] == "gemhub/user:latest"
    assert container["resources"] == {"limits": {"cpu": 1, "memory": 2 * GiB}, "requests": {"cpu": 0.5, "memory": 1 * GiB}}
    assert "nodeSelector" not in pod["spec"] or not pod["spec"]["nodeSelector"]
    assert TEAM_TAINT not in pod["spec"].get("tolerations", [])
    assert not [e for e in container["env"] if e["name"].startswith("EO_TEAM_")]
    assert pod["namespace"] == "gemhub"


def test_chart_profiles_change_only_what_they_override(chart_hub):
    large = pod_for(chart_hub, "bob", "large")
    assert large["spec"]["containers"][0]["image"] == "gemhub/user:latest"
    assert resources(large) == {"limits": {"cpu": 4, "memory": 16 * GiB}, "requests": {"cpu": 0.5, "memory": 1 * GiB}}
    pinned = pod_for(chart_hub, "bob", "pinned")
    assert pinned["spec"]["containers"][0]["image"] == "gemhub/user:3f2a9c41d0b7"
    assert resources(pinned) == {"limits": {"cpu": 1, "memory": 2 * GiB}, "requests": {"cpu": 0.5, "memory": 1 * GiB}}


def test_chart_team_profile_pod(chart_hub):
    pod = pod_for(chart_hub, "carol", "team")
    spec = pod["spec"]
    [container] = spec["containers"]
    assert container["image"] == "registry.example.org/eo-team/user:2026.11"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == {"limits": {"cpu": 8, "memory": 32 * GiB}, "requests": {"cpu": 4, "memory": 16 * GiB}}
    assert spec["nodeSelector"] == {"node.example.org/pool": "eo-team"}
    assert TEAM_TAINT in spec["tolerations"]
    env = {e["name"]: e for e in container["env"]}
    assert env["EO_TEAM_DB_PASSWORD"] == {"name": "EO_TEAM_DB_PASSWORD", "valueFrom": TEAM_DB}  # never a value
    assert env["EO_TEAM_DB_HOST"] == {"name": "EO_TEAM_DB_HOST", "value": "eo-team-db.eo-team.svc"}
    # The profile's variables and node pool stay with the profile: the next default pod has none.
    assert "EO_TEAM" not in json.dumps(pod_for(chart_hub, "dave"))


def test_the_prepuller_pulls_every_image_a_profile_pod_runs(chart_hub, profiles_chart):
    """The chart's DaemonSet and KubeSpawner agree on the user images, whichever profile is chosen."""
    slugs = [p["slug"] for p in yaml.safe_load(
        find(profiles_chart, "ConfigMap", f"{RELEASE}-gemhub-hub")["data"]["gemhub.yaml"])["spawner"]["profiles"]]
    run = {pod_for(chart_hub, "erin", slug)["spec"]["containers"][0]["image"] for slug in slugs}
    pulled = [c["image"] for c in image_puller(profiles_chart)["initContainers"]]
    assert sorted(pulled) == sorted(run)


def test_profile_environment_and_extra_env_may_not_name_one_variable_twice():
    data = {"spawner": {"type": "kubernetes", "image": "gemhub/user:1", "profiles": [
        {"slug": "a", "display_name": "A", "kubernetes": {
            "environment": {"TOKEN": "plain"}, "extra_env": {"TOKEN": {"valueFrom": TEAM_DB}}}}]}}
    with pytest.raises(ConfigError) as raised:
        validate_data(data)
    problems = {p.path: p.message for p in raised.value.problems}
    assert "TOKEN also in environment" in problems.get("spawner.profiles.0.kubernetes.extra_env", ""), problems
