"""The chart's hub, run for real, spawning through KubeSpawner against a loopback cluster.

No cluster can run here, so the parts of one the hub talks to are stand-ins on
127.0.0.1 (tests/support/kube_cluster.py: the API server's pods, events,
PersistentVolumeClaims and Secrets with list/watch; tests/support/kubelet.py:
pods become processes). Everything else is real: `helm template` renders the
chart with helm/examples/minimal.yaml; the hub runs `gemhub up` on the gemhub.yaml
of the rendered ConfigMap with the environment of the rendered hub Deployment
(its secretKeyRefs read from the rendered Secret); the proxy is the real
configurable-http-proxy with the rendered proxy Deployment's arguments;
KubeSpawner reads a kubeconfig and speaks HTTP to the stand-in; each user pod
runs jupyterhub-singleuser from the user environment with the pod's env.

Only what cannot hold on one machine is changed (`localise`, each change
commented): names of cluster Services become 127.0.0.1, fixed ports become free
ones, 0.0.0.0 becomes 127.0.0.1, the data volume a temporary folder.

The admin logs in through the real login form, stores alice's Sentinel Hub
credentials through the credentials service's API, as an admin does for a user,
and starts and stops servers through the hub's REST API. The example's auth is
native; the test logs in with demo auth instead (demo_auth says why).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml
from support.hub import GEMHUB, RunningHub, free_port
from support.kube_cluster import KubeClusterStandIn, container_environment
from support.kubelet import LoopbackKubelet
from support.processes import stop_with_children
from test_helm_chart import CHECKOUT, NAMESPACE, RELEASE, find, gemhub_yaml, helm, render  # noqa: F401 (helm: fixture)

from gemhub.paths import proxy_command
from gemhub.waiting import wait_until

MINIMAL = CHECKOUT / "helm" / "examples" / "minimal.yaml"
USER_ENV = CHECKOUT / ".gemhub" / "envs" / "user"
LOOPBACK = "127.0.0.1"
FULLNAME = f"{RELEASE}-gemhub"


def localise(config: dict, data_dir: Path) -> dict:
    """The rendered gemhub.yaml with what only a cluster provides replaced by this machine's equivalent."""
    config = json.loads(json.dumps(config))
    hub = config["hub"]
    hub["ip"] = LOOPBACK  # was 0.0.0.0 (all of the pod's addresses); tests bind loopback only
    hub["port"] = free_port()  # was 8000, the proxy's public port; the real proxy below binds it
    hub["proxy_api_url"] = f"http://{LOOPBACK}:{free_port()}"  # was the proxy-api Service's name
    hub["data_dir"] = str(data_dir)  # was the hub's data volume (/srv/gemhub/data)
    if "services_bind_ip" in hub:
        hub["services_bind_ip"] = LOOPBACK  # was 0.0.0.0
    if "services_host" in hub:
        hub["services_host"] = LOOPBACK  # was the hub Service's name, where pods reach its services
    hub["credentials_port"] = free_port()  # fixed ports may be taken on a shared machine
    config["sentinelhub"]["sandbox"]["port"] = free_port()
    config["marketplace"]["port"] = free_port()
    api = f"http://{LOOPBACK}:{free_port()}"
    hub["extra_config"]["JupyterHub"]["hub_bind_url"] = api  # was http://:8081 (all addresses)
    hub["extra_config"]["JupyterHub"]["hub_connect_url"] = api  # was the hub Service's name
    # Whatever the chart adds later that names the cluster must be localised here too:
    left = [path for path, value in _leaves(config) if isinstance(value, str)
            and ("0.0.0.0" in value or f"{FULLNAME}-" in value or value.startswith("http://:"))]
    assert not left, f"rendered gemhub.yaml keys still naming cluster addresses, localise them: {left}"
    return config


def _leaves(value, path=""):
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _leaves(child, f"{path}[{i}]")
    else:
        yield path, value


def proxy_argv(docs: list[dict], config: dict) -> list[str]:
    """The rendered proxy Deployment's arguments, each address localised like the hub's."""
    container = find(docs, "Deployment", f"{FULLNAME}-proxy")["spec"]["template"]["spec"]["containers"][0]
    hub_api = config["hub"]["extra_config"]["JupyterHub"]["hub_connect_url"]
    api_port = int(config["hub"]["proxy_api_url"].rsplit(":", 1)[1])
    local = {"--ip": LOOPBACK, "--api-ip": LOOPBACK, "--port": str(config["hub"]["port"]),
             "--api-port": str(api_port), "--default-target": hub_api, "--error-target": f"{hub_api}/hub/error"}
    argv = []
    for arg in container["args"]:
        name, _, _ = arg.partition("=")
        assert name in local, f"proxy argument {arg} is new: say how it maps to this machine"
        argv.append(f"{name}={local[name]}")
    return [proxy_command(), *argv]


@dataclass
class HubWithEnvironment(RunningHub):
    """`gemhub up` as the hub Deployment runs it: its container's environment, plus the kubeconfig."""

    environment: dict[str, str] = field(default_factory=dict)

    def launch(self) -> None:
        log = self.log_file.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
        self.process = subprocess.Popen(
            [str(GEMHUB), "up", "--config", str(self.config_file)], stdout=log, stderr=subprocess.STDOUT,
            cwd=self.config_file.parent, env={**env, **self.environment},
        )


@dataclass
class Deployment:
    docs: list[dict]
    cluster: KubeClusterStandIn
    kubelet: LoopbackKubelet
    hub: HubWithEnvironment
    config: dict
    proxy_log: Path
    admin_token: str = ""

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.hub.url}/hub/api{path}", timeout=30,
                                headers={"Authorization": f"token {self.admin_token}"}, **kwargs)

    def server(self, user: str) -> dict | None:
        return self.api("GET", f"/users/{user}").json().get("servers", {}).get("")


def demo_auth(config: dict) -> dict:
    """auth.type demo instead of the example's native, so the test has passwords for the admin,
    alice and bob without native's sign-up and authorise steps (`gemhub up` prints them).
    Native login itself is tested on a real hub in test_native_auth.py."""
    return {**config, "auth": {"type": "demo", "demo": {"users": ["alice", "bob"]},
                               "admin_users": config["auth"]["admin_users"]}}


@pytest.fixture
def deployment(helm, tmp_path):
    yield from deploy(helm, tmp_path, demo_auth)


def deploy(helm, tmp_path, adapt):
    docs = render(helm, "-f", str(MINIMAL))
    config = adapt(localise(gemhub_yaml(docs), tmp_path / "data"))
    config_file = tmp_path / "gemhub.yaml"
    config_file.write_text(yaml.safe_dump(config))
    kubelet = LoopbackKubelet(USER_ENV)
    with KubeClusterStandIn(token=secrets.token_hex(16), namespaces=[NAMESPACE], kubelet=kubelet) as cluster:
        for doc in docs:
            if doc["kind"] == "Secret":
                cluster.apply(doc)  # as `helm install` would; the hub's environment reads it
        kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
        hub_container = find(docs, "Deployment", f"{FULLNAME}-hub")["spec"]["template"]["spec"]["containers"][0]
        environment = {**container_environment(cluster, NAMESPACE, hub_container), "KUBECONFIG": str(kubeconfig)}
        proxy_container = find(docs, "Deployment", f"{FULLNAME}-proxy")["spec"]["template"]["spec"]["containers"][0]
        proxy_log, proxy_env = tmp_path / "proxy.log", container_environment(cluster, NAMESPACE, proxy_container)
        with proxy_log.open("ab") as out:
            proxy = subprocess.Popen(proxy_argv(docs, config), stdout=out, stderr=subprocess.STDOUT,
                                     env={"PATH": os.environ["PATH"], **proxy_env})
        hub = HubWithEnvironment(config_file, tmp_path / "hub.log", environment=environment)
        try:
            hub.start()
            # The hub answers through an external proxy before it has added its services' routes.
            routes = f"{config['hub']['proxy_api_url']}/api/routes"
            wait_until(lambda: "/services/credentials" in {route.rstrip("/") for route in requests.get(
                routes, timeout=10, headers={"Authorization": f"token {proxy_env['CONFIGPROXY_AUTH_TOKEN']}"}).json()},
                120, "the credentials service's route in the proxy")
            yield Deployment(docs, cluster, kubelet, hub, config, proxy_log)
        finally:
            try:
                hub.stop()
            finally:
                stop_with_children(proxy, wait=10)
                kubelet.stop_all()
                shutil.rmtree(kubelet.root, ignore_errors=True)


def start(d: Deployment, user: str) -> dict:
    response = d.api("POST", f"/users/{user}/server")
    assert response.status_code in (201, 202), response.text
    try:
        return wait_until(lambda: (s := d.server(user)) and s.get("ready") and s, 120, f"{user}'s server ready")
    except TimeoutError as error:
        logs = {path.name: path.read_text(errors="replace")[-3000:] for path in d.kubelet.root.glob("*.log")}
        raise AssertionError(f"{error}\npod logs: {logs}\nhub log:\n{d.hub.log_tail()}") from None


def stop(d: Deployment, user: str) -> None:
    response = d.api("DELETE", f"/users/{user}/server")
    assert response.status_code in (202, 204), response.text
    wait_until(lambda: d.server(user) is None, 120, f"{user}'s server stopped")


def only(items: list[dict], name: str) -> dict:
    found = [i for i in items if i["metadata"]["name"] == name]
    assert len(found) == 1, [i["metadata"]["name"] for i in items]
    return found[0]


@pytest.mark.slow
def test_rendered_hub_spawns_and_stops_pods_through_kubespawner(deployment):
    d = deployment
    admin = d.hub.session(d.config["auth"]["admin_users"][0])
    assert admin.login().status_code == 302
    d.admin_token = admin.token()

    client_id, secret = "alice-id-" + secrets.token_hex(4), "alice-secret-" + secrets.token_hex(16)
    stored = requests.put(f"{d.hub.url}/services/credentials/api/users/alice/sentinelhub", timeout=30,
                          headers={"Authorization": f"token {d.admin_token}"},
                          json={"client_id": client_id, "client_secret": secret})
    assert stored.status_code == 201, stored.text

    start(d, "alice")
    spawner = d.config["spawner"]
    kube = spawner["kubernetes"]
    pod = only(d.cluster.posted("pods"), "jupyter-alice")
    pvc = only(d.cluster.posted("persistentvolumeclaims"), "claim-alice")
    secret_object = only(d.cluster.posted("secrets"), "gemhub-credentials-alice")

    # The Secret holds the values; the pod only names them.
    values = {k: base64.b64decode(v).decode() for k, v in secret_object["data"].items()}
    assert values == {"SH_CLIENT_ID": client_id, "SH_CLIENT_SECRET": secret}
    assert secret not in json.dumps(pod) and client_id not in json.dumps(pod)
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    for variable in ("SH_CLIENT_ID", "SH_CLIENT_SECRET"):
        assert env[variable]["valueFrom"] == {"secretKeyRef": {"name": "gemhub-credentials-alice", "key": variable}}
    config = d.config
    assert env["GEMHUB_SANDBOX_URL"]["value"] == f"http://{LOOPBACK}:{config['sentinelhub']['sandbox']['port']}"
    assert env["JUPYTERHUB_API_URL"]["value"] == config["hub"]["extra_config"]["JupyterHub"]["hub_connect_url"] + "/hub/api"

    # Where and what: the release's namespace and image, labels every user-pod NetworkPolicy selects.
    posted_to = [p for m, p, b in d.cluster.requests if m == "POST" and b is pod]
    assert posted_to and posted_to[0].startswith(f"/api/v1/namespaces/{kube['namespace']}/pods")
    assert container["image"] == spawner["image"] == "gemhub/user:latest"
    labels = pod["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == RELEASE
    user_policies = [doc for doc in d.docs if doc["kind"] == "NetworkPolicy"
                     and doc["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "singleuser-server"]
    assert user_policies
    for policy in user_policies:
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items(), policy["metadata"]["name"]

    # Limits, hardening and the home volume, as gemhub.yaml says.
    assert spawner["mem_limit"] == "2G"
    assert container["resources"]["limits"]["memory"] == 2 * 1024**3  # JupyterHub's ByteSpecification: G is GiB
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]} and security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["runAsUser"] == kube["uid"]
    assert pod["spec"]["securityContext"]["fsGroup"] == kube["fs_gid"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"]["claimName"] == "claim-alice"
    assert {"name": "home", "mountPath": kube["home_dir"]} in container["volumeMounts"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == kube["storage_capacity"]

    # The pod runs: its process got the values from the Secret, as a kubelet resolves secretKeyRef,
    # and answers through the real proxy at the user's URL.
    running = d.kubelet.pods[(NAMESPACE, "jupyter-alice")]
    assert running.env["SH_CLIENT_SECRET"] == secret and running.env["SH_CLIENT_ID"] == client_id
    status = requests.get(f"{d.hub.url}/user/alice/api/status", timeout=30,
                          headers={"Authorization": f"token {d.admin_token}"})
    assert status.status_code == 200, status.text[-500:]

    # bob has no credentials: no Secret, no references, the sandbox only.
    start(d, "bob")
    bob = only(d.cluster.posted("pods"), "jupyter-bob")
    assert "secretKeyRef" not in json.dumps(bob)
    assert not [s for s in d.cluster.posted("secrets") if s["metadata"]["name"] == "gemhub-credentials-bob"]
    assert (NAMESPACE, "gemhub-credentials-bob") not in d.cluster.secrets
    assert "SH_CLIENT_SECRET" not in d.kubelet.pods[(NAMESPACE, "jupyter-bob")].env

    # Stopping deletes the pods (the home PVC stays) and ends their processes.
    for user in ("alice", "bob"):
        stop(d, user)
        deleted = [p for m, p, _ in d.cluster.requests
                   if m == "DELETE" and p.split("?")[0] == f"/api/v1/namespaces/{NAMESPACE}/pods/jupyter-{user}"]
        assert deleted
        assert (NAMESPACE, f"jupyter-{user}") not in d.cluster.objects["pods"]
        assert (NAMESPACE, f"claim-{user}") in d.cluster.objects["persistentvolumeclaims"]
        assert d.kubelet.exited[(NAMESPACE, f"jupyter-{user}")].process.poll() is not None

    # The value went through the hub's memory, and to the API server only in the Secret;
    # never into the hub's log or the proxy's.
    elsewhere = [(m, p) for m, p, body in d.cluster.requests if "/secrets" not in p and secret in json.dumps(body)]
    assert not elsewhere
    assert secret not in d.hub.log_file.read_text(errors="replace")
    assert secret not in d.proxy_log.read_text(errors="replace")


def test_the_stand_in_answers_list_watch_create_delete_as_the_api_server(tmp_path):
    """What the spawn test relies on, through the same kubernetes_asyncio client KubeSpawner uses:
    a watch from a list's resourceVersion streams the later changes only; names conflict (409);
    what is gone is a 404 Status; a foreign namespace does not exist."""
    import asyncio

    from kubernetes_asyncio import client, config, watch
    from kubernetes_asyncio.client.rest import ApiException

    pod = {"metadata": {"name": "p", "labels": {"component": "singleuser-server"}},
           "spec": {"containers": [{"name": "c", "image": "i"}]}}

    async def talk(kubeconfig):
        await config.load_kube_config(config_file=str(kubeconfig))
        async with client.ApiClient() as api_client:
            api = client.CoreV1Api(api_client)
            await api.create_namespaced_pod(NAMESPACE, {**pod, "metadata": {"name": "before"}})
            version = (await api.list_namespaced_pod(NAMESPACE)).metadata.resource_version
            await api.create_namespaced_pod(NAMESPACE, pod)
            statuses = []
            for call in (lambda: api.create_namespaced_pod(NAMESPACE, pod),
                         lambda: api.create_namespaced_pod("elsewhere", pod)):
                with pytest.raises(ApiException) as refused:
                    await call()
                statuses.append(refused.value.status)
            await api.delete_namespaced_pod("p", NAMESPACE)
            with pytest.raises(ApiException) as gone:
                await api.read_namespaced_pod("p", NAMESPACE)
            seen = []
            async with watch.Watch().stream(api.list_namespaced_pod, NAMESPACE, resource_version=version,
                                            label_selector="component=singleuser-server", timeout_seconds=1) as stream:
                async for event in stream:
                    seen.append((event["type"], event["raw_object"]["metadata"]["name"]))
            return statuses, gone.value.status, seen

    with KubeClusterStandIn(token=secrets.token_hex(16), namespaces=[NAMESPACE]) as cluster:
        statuses, gone, seen = asyncio.run(talk(cluster.write_kubeconfig(tmp_path / "kubeconfig")))
    assert statuses == [409, 404] and gone == 404
    assert seen == [("ADDED", "p"), ("DELETED", "p")]  # not "before": it predates the list
