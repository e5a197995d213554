"""Runs the pods of kube_cluster.KubeClusterStandIn as processes on this machine.

What a node would do with a single-user pod, on loopback: give it an address of
its own (127.0.0.N, so several pods can all listen on KubeSpawner's port 8888 as
they would on their own pod IPs), start its container's command from the user
environment (the user image's content, .gemhub/envs/user) with the container's
`env` (secretKeyRefs resolved from the stored Secrets, as the kubelet does),
in a folder standing for its PersistentVolumeClaim; report it Running; and on
deletion stop the process and let the pod go.

It runs as the test's own user, not the pod's runAsUser (the tests check that
field in the manifest): the user environment's interpreter may live where only
that user can read it (a pyenv under /root). As root, the server gets
`--allow-root`, as the local spawner gives it (gemhub.hub.spawners).

The container binds what KubeSpawner tells it (JUPYTERHUB_SERVICE_URL, host
0.0.0.0 = every address of the pod); on this shared machine the kubelet narrows
that to the pod's own loopback address, which is every address a pod has.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .kube_cluster import container_environment, now

SERVICE_URL_ENV = "JUPYTERHUB_SERVICE_URL"


def _bindable(ip: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


@dataclass
class RunningPod:
    uid: str
    ip: str
    process: subprocess.Popen
    env: dict[str, str]
    argv: list[str]
    home: Path
    log: Path


@dataclass
class LoopbackKubelet:
    user_env: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gemhub-kubelet-")))
    pods: dict[tuple[str, str], RunningPod] = field(default_factory=dict)
    exited: dict[tuple[str, str], RunningPod] = field(default_factory=dict)
    _next_ip: int = 2  # 127.0.0.1 is the hub's
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _deleted: set = field(default_factory=set)

    def pod_created(self, cluster, pod: dict) -> None:
        threading.Thread(target=self._run, args=(cluster, pod), daemon=True).start()

    def pod_deleted(self, cluster, pod: dict, grace: int | None) -> None:
        threading.Thread(target=self._stop, args=(cluster, pod, grace), daemon=True).start()

    def _address(self, port: int) -> str:
        while True:
            ip = f"127.0.0.{self._next_ip}"
            self._next_ip += 1
            if _bindable(ip, port):
                return ip

    def _volume_folder(self, pod: dict, container: dict) -> Path:
        """The folder standing for the PVC mounted in the container (its home)."""
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
                  for v in pod["spec"].get("volumes") or [] if "persistentVolumeClaim" in v}
        mounted = [claims[m["name"]] for m in container.get("volumeMounts") or [] if m["name"] in claims]
        folder = self.root / "volumes" / (mounted[0] if mounted else pod["metadata"]["name"])
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _run(self, cluster, pod: dict) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        key = (meta["namespace"], meta["name"])
        container = spec["containers"][0]
        cluster.add_event(pod, "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to loopback")
        try:
            env = container_environment(cluster, meta["namespace"], container)
        except LookupError as error:  # the kubelet's CreateContainerConfigError
            cluster.add_event(pod, "Failed", f"Error: {error}")
            return
        port = urlparse(env.get(SERVICE_URL_ENV, "http://0.0.0.0:8888")).port or 8888
        ip = self._address(port)
        if SERVICE_URL_ENV in env:
            url = urlparse(env[SERVICE_URL_ENV])
            env[SERVICE_URL_ENV] = url._replace(netloc=f"{ip}:{port}").geturl()
        home = self._volume_folder(pod, container)
        process_env = {"PATH": f"{self.user_env / 'bin'}:/usr/bin:/bin", "HOME": str(home), **env}
        command = container.get("command") or ["jupyterhub-singleuser"]  # the user image's CMD
        argv = [str(self.user_env / "bin" / Path(command[0]).name), *command[1:], *(container.get("args") or [])]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        log = self.root / f"{meta['name']}.log"

        with self._lock:
            if meta["uid"] in self._deleted:  # deleted before its container started
                return
            try:
                with log.open("ab") as out:
                    process = subprocess.Popen(argv, env=process_env, cwd=home, stdout=out,
                                               stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as error:  # the kubelet's RunContainerError: the pod stays Pending
                cluster.add_event(pod, "Failed", f"Error: {error}")
                log.write_text(f"could not start {argv}: {error}\n")
                return
            self.pods[key] = RunningPod(meta["uid"], ip, process, process_env, argv, home, log)
        cluster.add_event(pod, "Started", f"Started container {container['name']}")
        # No readiness probe on a KubeSpawner pod: ready once started (the hub then waits for HTTP itself).
        cluster.update_status(meta["namespace"], meta["name"], {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "127.0.0.1", "startTime": now(),
            "containerStatuses": [{"name": container["name"], "ready": True, "started": True, "restartCount": 0,
                                   "image": container["image"], "imageID": "", "state": {"running": {"startedAt": now()}}}],
        })

    def _terminate(self, running: RunningPod, grace: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.process.pid, signal.SIGTERM)
        try:
            running.process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.process.pid, signal.SIGKILL)
            running.process.wait()

    def _stop(self, cluster, pod: dict, grace: int | None) -> None:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        with self._lock:
            self._deleted.add(pod["metadata"]["uid"])
            running = self.pods.pop(key, None)
        if running is not None:
            cluster.add_event(pod, "Killing", f"Stopping container {pod['spec']['containers'][0]['name']}")
            # grace 0 ("now") still gets a moment to exit cleanly, as a real SIGTERM-then-SIGKILL would
            self._terminate(running, max(grace if grace is not None else 30, 5))
            self.exited[key] = running
        cluster.pod_gone(*key)

    def stop_all(self) -> None:
        with self._lock:
            left, self.pods = self.pods, {}
            self._deleted.update(running.uid for running in left.values())
        for key, running in left.items():
            self._terminate(running, 10)
            self.exited[key] = running
