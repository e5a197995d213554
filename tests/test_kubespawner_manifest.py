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
def kube_client_config(tmp_path_factory):
    """KubeSpawner's client set up from the stand-in's kubeconfig, whatever ran before.

    kubernetes_asyncio reads $KUBECONFIG once, at import (KUBE_CONFIG_DEFAULT_LOCATION),
    and kubespawner caches the loaded config for the process (`clients.load_config`), so
    setting the variable is not enough once another test module imported kubespawner."""
    import kubernetes_asyncio.config.kube_config as kube_config
    from kubespawner import clients

    with KubeApiStandIn(token=secrets.token_hex(16)) as api, pytest.MonkeyPatch.context() as patch:
        path = str(api.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig"))
        patch.setenv("KUBECONFIG", path)
        patch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", path)
        clients.load_config.cache_clear()
        yield
        clients.load_config.cache_clear()


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
