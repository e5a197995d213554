"""A loopback stand-in for the parts of a Kubernetes cluster a hub's KubeSpawner uses.

kube_api.KubeApiStandIn answers for Secrets only, which is all a pre-spawn hook
needs. A real hub spawning through KubeSpawner (7.x) also lists and watches pods
and events (its reflectors: a list, then `watch=true` streams of JSON lines from
that list's resourceVersion, reconnecting after `timeoutSeconds`), creates and
reads PersistentVolumeClaims, and creates and deletes pods; this serves those,
the way the API server answers them (201, 409 AlreadyExists, 404 NotFound as a
Status object), over real HTTP on 127.0.0.1.

A pod that is created does not stay Pending: `kubelet.LoopbackKubelet` runs its
container as a process and reports it Running, so the spawn can finish. The
requests stay on record for tests to check what the hub sent.
"""

from __future__ import annotations

import base64
import copy
import datetime
import itertools
import json
import re
import threading
import time
import uuid
from urllib.parse import parse_qs, urlparse

from .kube_api import KubeApiStandIn
from .loopback_http import JsonHandler, LoopbackServer

# /api/v1/namespaces/<ns>/<plural>[/<name>] : the core-group resources KubeSpawner touches.
NAMESPACED = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?/?$")
KINDS = {"pods": "Pod", "persistentvolumeclaims": "PersistentVolumeClaim", "secrets": "Secret", "events": "Event"}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _selected(obj: dict, labels: str, fields: str) -> bool:
    """Equality label and field selectors (`a=b,c=d`), the only kind KubeSpawner sends."""
    for term in filter(None, labels.split(",")):
        key, _, value = term.partition("=")
        if obj["metadata"].get("labels", {}).get(key) != value:
            return False
    for term in filter(None, fields.split(",")):
        path, _, value = term.partition("=")
        found = obj
        for part in path.split("."):
            found = found.get(part, {}) if isinstance(found, dict) else {}
        if found != value:
            return False
    return True


def secret_value(cluster: "KubeClusterStandIn", namespace: str, name: str, key: str) -> str:
    """What a kubelet reads for `valueFrom.secretKeyRef` (data is base64, stringData plain)."""
    secret = cluster.get("secrets", namespace, name)
    if secret is None:
        raise LookupError(f'secret "{name}" not found in namespace {namespace}')
    if key in (secret.get("stringData") or {}):
        return secret["stringData"][key]
    if key not in (secret.get("data") or {}):
        raise LookupError(f'couldn\'t find key {key} in Secret {namespace}/{name}')
    return base64.b64decode(secret["data"][key]).decode()


def container_environment(cluster: "KubeClusterStandIn", namespace: str, container: dict) -> dict[str, str]:
    """A container's `env` as its process sees it: values as written, secretKeyRefs resolved
    from the Secrets in the cluster, as the kubelet does (other valueFrom kinds are refused)."""
    env = {}
    for entry in container.get("env") or []:
        if "valueFrom" not in entry:
            env[entry["name"]] = entry.get("value", "")
            continue
        ref = entry["valueFrom"].get("secretKeyRef")
        if ref is None:
            raise NotImplementedError(f"env {entry['name']}: only secretKeyRef is resolved here, got {entry['valueFrom']}")
        env[entry["name"]] = secret_value(cluster, namespace, ref["name"], ref["key"])
    return env


class KubeClusterStandIn(KubeApiStandIn):
    """The API server half: objects in memory, a resourceVersion counter, watch streams.

    A KubeApiStandIn to its users: the same `write_kubeconfig`, and `token`, `requests` and
    `secrets` ({(namespace, name): body}) mean the same. Its own handler serves the other
    resources too, so KubeApiStandIn.__init__ (the Secrets-only handler) is not run. A
    `kubelet` (see kubelet.py) is told about every pod created and deleted."""

    def __init__(self, token: str, namespaces=("gemhub",), kubelet=None):
        self.token = token
        self.namespaces = set(namespaces)
        self.kubelet = kubelet
        self.requests: list[tuple[str, str, dict | None]] = []
        self.objects: dict[str, dict[tuple[str, str], dict]] = {plural: {} for plural in KINDS}
        self.secrets = self.objects["secrets"]
        self.history: list[tuple[int, str, str, dict]] = []  # (resourceVersion, plural, type, object)
        self.changed = threading.Condition()
        self.stopping = False
        self._versions = itertools.count(1)
        self._version = 0
        stand_in = self

        class Handler(JsonHandler):
            def _status(self, code: int, reason: str, message: str) -> None:
                self.reply_json(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                       "reason": reason, "message": message, "code": code})

            def _handle(self, method: str) -> None:
                raw = self.read_body()
                body = json.loads(raw) if raw else None
                stand_in.requests.append((method, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {stand_in.token}":
                    return self._status(401, "Unauthorized", "Unauthorized")
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                match = NAMESPACED.match(url.path)
                if not match or match["plural"] not in KINDS:
                    return self._status(404, "NotFound", f"the server could not find the requested resource ({url.path})")
                ns, plural, name = match["ns"], match["plural"], match["name"]
                if ns not in stand_in.namespaces:
                    return self._status(404, "NotFound", f'namespaces "{ns}" not found')
                if name is None and method == "GET":
                    if str(query.get("watch", "")).lower() in ("true", "1"):
                        return self._watch(plural, ns, query)
                    return self.reply_json(200, stand_in.list(plural, ns, query))
                if name is None and method == "POST":
                    code, reply = stand_in.create(plural, ns, body)
                elif name is not None and method in ("GET", "PUT", "DELETE"):
                    operation = {"GET": stand_in.read, "PUT": stand_in.put, "DELETE": stand_in.delete}[method]
                    code, reply = operation(plural, ns, name, body)
                else:
                    code, reply = 405, None
                if reply is None:
                    what = f'{plural} "{name or (body or {}).get("metadata", {}).get("name")}"'
                    reason = {404: ("NotFound", f"{what} not found"), 409: ("AlreadyExists", f"{what} already exists"),
                              405: ("MethodNotAllowed", method)}[code]
                    return self._status(code, *reason)
                return self.reply_json(code, reply)

            def _watch(self, plural: str, ns: str, query: dict) -> None:
                """Events after `resourceVersion`, one JSON line each, until `timeoutSeconds` pass."""
                deadline = time.monotonic() + float(query.get("timeoutSeconds") or 300)
                after = int(query.get("resourceVersion") or 0)
                labels, fields = query.get("labelSelector", ""), query.get("fieldSelector", "")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()  # HTTP/1.0 and no length: the body ends when the connection closes
                seen = 0
                while True:
                    with stand_in.changed:
                        stand_in.changed.wait_for(lambda: len(stand_in.history) > seen or stand_in.stopping
                                                  or time.monotonic() >= deadline, timeout=1)
                        new, seen = stand_in.history[seen:], len(stand_in.history)
                    if stand_in.stopping or time.monotonic() >= deadline:
                        return
                    for version, kind, kind_event, obj in new:
                        if (version > after and kind == plural and obj["metadata"]["namespace"] == ns
                                and _selected(obj, labels, fields)):
                            self.wfile.write(json.dumps({"type": kind_event, "object": obj}).encode() + b"\n")
                            self.wfile.flush()

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

            def do_DELETE(self):
                self._handle("DELETE")

        LoopbackServer.__init__(self, Handler)

    # -- the store (every change goes through _record, under the lock) --------------------

    def _record(self, plural: str, event: str, obj: dict) -> dict:
        """Give `obj` the next resourceVersion and tell the watchers; the caller holds the lock."""
        self._version = next(self._versions)
        obj["metadata"]["resourceVersion"] = str(self._version)
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event == "DELETED":
            self.objects[plural].pop(key, None)
        else:
            self.objects[plural][key] = obj
        self.history.append((self._version, plural, event, copy.deepcopy(obj)))
        self.changed.notify_all()
        return copy.deepcopy(obj)

    def get(self, plural: str, ns: str, name: str) -> dict | None:
        with self.changed:
            obj = self.objects[plural].get((ns, name))
            return copy.deepcopy(obj) if obj is not None else None

    def read(self, plural: str, ns: str, name: str, body=None):
        obj = self.get(plural, ns, name)
        return (200, obj) if obj is not None else (404, None)

    def list(self, plural: str, ns: str, query: dict) -> dict:
        labels, fields = query.get("labelSelector", ""), query.get("fieldSelector", "")
        with self.changed:
            items = [copy.deepcopy(o) for (o_ns, _), o in self.objects[plural].items()
                     if o_ns == ns and _selected(o, labels, fields)]
            version = self._version
        return {"kind": KINDS[plural] + "List", "apiVersion": "v1",
                "metadata": {"resourceVersion": str(version)}, "items": items}

    def create(self, plural: str, ns: str, body: dict):
        obj = copy.deepcopy(body)
        obj.setdefault("kind", KINDS[plural])
        obj.setdefault("apiVersion", "v1")
        meta = obj["metadata"]
        meta.update(namespace=ns, uid=str(uuid.uuid4()), creationTimestamp=now())
        if plural == "pods":
            obj["status"] = {"phase": "Pending"}
        if plural == "persistentvolumeclaims":
            obj["status"] = {"phase": "Bound"}
        with self.changed:
            if (ns, meta["name"]) in self.objects[plural]:
                return 409, None
            created = self._record(plural, "ADDED", obj)
        if plural == "pods" and self.kubelet is not None:
            self.kubelet.pod_created(self, created)
        return 201, created

    def put(self, plural: str, ns: str, name: str, body: dict):
        with self.changed:
            old = self.objects[plural].get((ns, name))
            if old is None:
                return 404, None
            obj = copy.deepcopy(body)
            obj["metadata"].update(namespace=ns, uid=old["metadata"]["uid"],
                                   creationTimestamp=old["metadata"]["creationTimestamp"])
            return 200, self._record(plural, "MODIFIED", obj)

    def delete(self, plural: str, ns: str, name: str, body=None):
        """Secrets and PVCs go at once; a pod is marked for deletion and goes when the kubelet
        has stopped its container (`pod_gone`), as on a node."""
        with self.changed:
            obj = self.objects[plural].get((ns, name))
            if obj is None:
                return 404, None
            if plural != "pods" or self.kubelet is None:
                self._record(plural, "DELETED", copy.deepcopy(obj))
                return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
            obj = copy.deepcopy(obj)
            obj["metadata"].setdefault("deletionTimestamp", now())
            marked = self._record(plural, "MODIFIED", obj)
        grace = (body or {}).get("gracePeriodSeconds")
        self.kubelet.pod_deleted(self, marked, grace)
        return 200, marked

    def update_status(self, ns: str, name: str, status: dict) -> None:
        """The kubelet's status report for a pod (ignored once the pod is gone)."""
        with self.changed:
            pod = self.objects["pods"].get((ns, name))
            if pod is not None:
                pod = copy.deepcopy(pod)
                pod["status"] = status
                self._record("pods", "MODIFIED", pod)

    def pod_gone(self, ns: str, name: str) -> None:
        with self.changed:
            pod = self.objects["pods"].get((ns, name))
            if pod is not None:
                self._record("pods", "DELETED", copy.deepcopy(pod))

    def add_event(self, pod: dict, reason: str, message: str) -> None:
        """An Event about `pod`, as the scheduler and kubelet post them (KubeSpawner shows them as progress)."""
        meta = pod["metadata"]
        event = {
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"],
                         "uid": str(uuid.uuid4())},
            "involvedObject": {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
                               "uid": meta["uid"], "apiVersion": "v1"},
            "reason": reason, "message": message, "type": "Normal",
            "firstTimestamp": now(), "lastTimestamp": now(), "count": 1,
        }
        with self.changed:
            self._record("events", "ADDED", event)

    def apply(self, document: dict) -> None:
        """Store a rendered manifest as `helm install` would have (Secrets only: nothing else is read back)."""
        assert document["kind"] == "Secret", document["kind"]
        ns = document["metadata"].get("namespace") or next(iter(self.namespaces))
        status, _ = self.create("secrets", ns, document)
        assert status == 201, status

    def posted(self, plural: str) -> list[dict]:
        """The bodies the hub POSTed to create `plural`, in order."""
        return [body for method, path, body in self.requests
                if method == "POST" and urlparse(path).path.rstrip("/").endswith(f"/{plural}")]

    def __exit__(self, *exc) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        if self.kubelet is not None:
            self.kubelet.stop_all()
        super().__exit__(*exc)
