"""spawner: section → one of three spawners, configured from the same fields.

Only the lines that must differ between targets differ here; limits,
timeouts, environment and default URL are set once on the base Spawner.
"""

from __future__ import annotations

import copy
import os

from gemhub_sandbox.contract import environment as sandbox_environment

from ..config import GemhubConfig
from ..paths import Paths
from ..service_address import http_url
from . import sandbox_client


def sandbox_url(cfg: GemhubConfig) -> str:
    """Where kernels reach the sandbox: one elsewhere, or the hub's own on hub.services_host."""
    sandbox = cfg.sentinelhub.sandbox
    return (sandbox.url or http_url(cfg.hub.services_connect_host, sandbox.port)).rstrip("/")


def user_environment(cfg: GemhubConfig, paths: Paths) -> dict[str, str]:
    """Variables every user server gets, whatever the target."""
    sh = cfg.sentinelhub
    env = {
        "GEMHUB_SH_BASE_URL": sh.base_url,
        "GEMHUB_SH_TOKEN_URL": sh.token_url,
    }
    if sh.sandbox.enabled:
        client_id, secret = sandbox_client.ensure(paths.data_dir)
        env.update(sandbox_environment(sandbox_url(cfg), client_id, secret))
    env.update(cfg.spawner.environment)
    return env


def _common(c, cfg: GemhubConfig, paths: Paths) -> None:
    s = cfg.spawner
    c.Spawner.default_url = s.default_url
    c.Spawner.start_timeout = s.start_timeout
    c.Spawner.http_timeout = s.http_timeout
    c.Spawner.environment = user_environment(cfg, paths)
    if s.cpu_limit is not None:
        c.Spawner.cpu_limit = s.cpu_limit
    if s.mem_limit is not None:
        c.Spawner.mem_limit = s.mem_limit


def _local(c, cfg: GemhubConfig, paths: Paths) -> None:
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{cfg.hub.api_port}"
    c.SimpleLocalProcessSpawner.home_dir_template = str(paths.home_root / "{username}")
    c.Spawner.ip = "127.0.0.1"
    bin_dir = paths.user_env / "bin"
    c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
    if os.geteuid() == 0:
        # Local mode on a root shell (a container, CI); images run as uid 1000 instead.
        c.Spawner.args = ["--allow-root"]
    c.Spawner.environment["PATH"] = f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"
    if paths.notebooks_dir:  # an installed gemhub has no curated notebooks unless the config names them
        c.Spawner.environment["GEMHUB_NOTEBOOKS_DIR"] = str(paths.notebooks_dir)


def _docker(c, cfg: GemhubConfig, paths: Paths) -> None:
    d = cfg.spawner.docker
    # Containers share the host's network (docker_spawner.py), so the hub API, the
    # sandbox (GEMHUB_SANDBOX_URL) and each user server all stay on 127.0.0.1.
    c.JupyterHub.spawner_class = "gemhub.hub.docker_spawner.HostNetworkDockerSpawner"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{cfg.hub.api_port}"
    c.DockerSpawner.image = cfg.spawner.image
    c.DockerSpawner.network_name = d.network_name
    c.DockerSpawner.prefix = "gemhub"
    # Not the image's CMD: whatever an image starts by default, a hub needs the single-user server.
    c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
    c.DockerSpawner.volumes = {d.volume_name_template: d.home_dir}
    c.DockerSpawner.notebook_dir = d.home_dir
    # A stopped server's container goes; its named home volume stays (docker rm -v only
    # removes anonymous volumes), so the next start is a fresh container on the same files.
    c.DockerSpawner.remove = True
    if cfg.spawner.profiles:
        c.DockerSpawner.allowed_images = {
            p.display_name: p.image or cfg.spawner.image for p in cfg.spawner.profiles
        }


def _dump(objects) -> list[dict]:
    """Kubernetes objects from the model as the API spells them, unset keys left out."""
    return [o.model_dump(exclude_none=True) for o in objects]


def _env_from(extra_env) -> dict[str, dict]:
    """KubeSpawner environment entries with `valueFrom` (full EnvVar dicts): the pod names
    the Secret and key, the value never passes through the hub."""
    return {name: {"name": name, **entry.model_dump(exclude_none=True)} for name, entry in extra_env.items()}


def _profile_override(p) -> dict:
    """A profile's kubespawner_override: only what the profile sets. KubeSpawner merges dict
    values (node_selector, environment) into the spawner's and replaces the others."""
    override = {
        key: value
        for key, value in (("image", p.image), ("cpu_limit", p.cpu_limit), ("mem_limit", p.mem_limit))
        if value is not None
    }
    pk = p.kubernetes
    if pk is None:
        return override
    for key in ("cpu_guarantee", "mem_guarantee", "image_pull_policy"):
        if getattr(pk, key) is not None:
            override[key] = getattr(pk, key)
    if pk.node_selector:
        override["node_selector"] = dict(pk.node_selector)
    if pk.tolerations is not None:
        override["tolerations"] = _dump(pk.tolerations)
    if pk.node_affinity is not None:
        override["node_affinity_required"] = _dump(pk.node_affinity.required)
        override["node_affinity_preferred"] = _dump(pk.node_affinity.preferred)
    if pk.environment or pk.extra_env:
        # One dict, as KubeSpawner's `environment` trait holds both kinds (a str or an EnvVar dict).
        override["environment"] = {**pk.environment, **_env_from(pk.extra_env)}
    return override


USER_CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _kubernetes(c, cfg: GemhubConfig, paths: Paths) -> None:
    k = cfg.spawner.kubernetes
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.KubeSpawner.image = cfg.spawner.image
    c.KubeSpawner.namespace = k.namespace
    c.KubeSpawner.uid = k.uid
    c.KubeSpawner.fs_gid = k.fs_gid
    # Hardened as the chart's own containers; KubeSpawner already sets allowPrivilegeEscalation false.
    c.KubeSpawner.container_security_context = copy.deepcopy(USER_CONTAINER_SECURITY)
    volumes, mounts = [], []
    if k.storage_capacity:
        c.KubeSpawner.storage_pvc_ensure = True
        c.KubeSpawner.storage_capacity = k.storage_capacity
        if k.storage_class:
            c.KubeSpawner.storage_class = k.storage_class
        volumes.append({"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}})
        mounts.append({"name": "home", "mountPath": k.home_dir})
    c.KubeSpawner.volumes = volumes + _dump(k.extra_volumes)
    c.KubeSpawner.volume_mounts = mounts + _dump(k.extra_volume_mounts)
    if k.cpu_guarantee is not None:
        c.KubeSpawner.cpu_guarantee = k.cpu_guarantee
    if k.mem_guarantee is not None:
        c.KubeSpawner.mem_guarantee = k.mem_guarantee
    if k.image_pull_policy is not None:
        c.KubeSpawner.image_pull_policy = k.image_pull_policy
    c.KubeSpawner.image_pull_secrets = list(k.image_pull_secrets)
    c.KubeSpawner.node_selector = dict(k.node_selector)
    c.KubeSpawner.tolerations = _dump(k.tolerations)
    c.KubeSpawner.node_affinity_required = _dump(k.node_affinity.required)
    c.KubeSpawner.node_affinity_preferred = _dump(k.node_affinity.preferred)
    c.Spawner.environment.update(_env_from(k.extra_env))
    if cfg.spawner.profiles:
        c.KubeSpawner.profile_list = [
            {
                "display_name": p.display_name,
                "slug": p.slug,
                "description": p.description,
                "default": p.default,
                "kubespawner_override": _profile_override(p),
            }
            for p in cfg.spawner.profiles
        ]


TARGETS = {"local": _local, "docker": _docker, "kubernetes": _kubernetes}


def apply(c, cfg: GemhubConfig, paths: Paths) -> None:
    _common(c, cfg, paths)
    TARGETS[cfg.spawner.type](c, cfg, paths)
