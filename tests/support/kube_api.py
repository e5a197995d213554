"""A Kubernetes API server stand-in for the one resource gemhub writes: Secrets.

No cluster can run here, but the hub's side of the conversation is real:
KubeSpawner's own kubernetes_asyncio client, configured from a kubeconfig
file, sends real HTTP requests to this loopback server, which answers the way
the API server does (201 on create, 409 AlreadyExists, 404 NotFound as a
Status object) and keeps what it was given so tests can look at it.

While a stand-in is entered, KubeSpawner's client is configured for it, whatever
ran before in the process: kubernetes_asyncio reads $KUBECONFIG once, at import
(KUBE_CONFIG_DEFAULT_LOCATION), and kubespawner caches the loaded configuration
(`clients.load_config`), so setting the variable alone only works for the first
test module that imports them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import yaml

from .loopback_http import JsonHandler, LoopbackServer

SECRETS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/secrets(?:/(?P<name>[^/?]+))?/?(?:\?.*)?$")


class KubeApiStandIn(LoopbackServer):
    def __init__(self, token: str):
        self.token = token
        self.secrets: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
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
                match = SECRETS.match(self.path)
                if not match:
                    return self._status(404, "NotFound", f"no route {self.path}")
                ns, name = match["ns"], match["name"]
                key = (ns, name or (body or {}).get("metadata", {}).get("name"))
                if method == "POST" and not name:
                    if key in stand_in.secrets:
                        return self._status(409, "AlreadyExists", f'secrets "{key[1]}" already exists')
                    stand_in.secrets[key] = body
                    return self.reply_json(201, body)
                if key not in stand_in.secrets:
                    return self._status(404, "NotFound", f'secrets "{key[1]}" not found')
                if method == "GET":
                    return self.reply_json(200, stand_in.secrets[key])
                if method == "PUT":
                    stand_in.secrets[key] = body
                    return self.reply_json(200, body)
                if method == "DELETE":
                    del stand_in.secrets[key]
                    return self.reply_json(200, {"kind": "Status", "status": "Success"})
                return self._status(405, "MethodNotAllowed", method)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

            def do_DELETE(self):
                self._handle("DELETE")

        super().__init__(Handler)
        self._saved: tuple[str | None, str] | None = None
        self._folder: tempfile.TemporaryDirectory | None = None

    def __enter__(self):
        import kubernetes_asyncio.config.kube_config as kube_config
        from kubespawner import clients

        super().__enter__()
        self._folder = tempfile.TemporaryDirectory(prefix="kube-standin-")
        path = str(self.write_kubeconfig(Path(self._folder.name) / "kubeconfig"))
        self._saved = (os.environ.get("KUBECONFIG"), kube_config.KUBE_CONFIG_DEFAULT_LOCATION)
        os.environ["KUBECONFIG"] = path
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = path
        clients.load_config.cache_clear()
        return self

    def __exit__(self, *exc) -> None:
        import kubernetes_asyncio.config.kube_config as kube_config
        from kubespawner import clients

        env, location = self._saved
        if env is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = env
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = location
        clients.load_config.cache_clear()
        self._folder.cleanup()
        super().__exit__(*exc)

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "hub", "user": {"token": self.token}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "hub", "namespace": "gemhub"}}],
        }))
        return path
