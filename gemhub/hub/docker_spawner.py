"""DockerSpawner for user containers on the host's network.

On a single server gemhub keeps every port on loopback: the hub API, the
proxy, the sandbox and each user's Jupyter server. A container on the host
network shares those addresses, so it reaches the hub at 127.0.0.1 with no
bridge, no published ports and no address to configure. What DockerSpawner
does not do by itself in that mode (its docstring of `get_ip_and_port` says
so) is pick a distinct port per user and report it: every container would
otherwise listen on 8888 of the one shared network, and the second user's
server would fail to bind.
"""

from __future__ import annotations

import os

from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port
from traitlets import default


class HostNetworkDockerSpawner(DockerSpawner):
    """Each user's server on its own free loopback port of the host network."""

    @default("ip")
    def _loopback(self) -> str:
        # The server is reached through the proxy only; nothing outside this machine needs it.
        return "127.0.0.1"

    @default("network_name")
    def _host_network(self) -> str:
        return "host"

    @default("use_internal_ip")
    def _no_port_publishing(self) -> bool:
        # Publishing maps a container port to the host; on the host network there is nothing to map.
        return True

    async def start(self):
        # A new port at every start: the previous one may have been taken meanwhile.
        self.port = random_port()
        return await super().start()

    async def get_ip_and_port(self) -> tuple[str, int]:
        return self.ip, self.port


def preflight(images: list[str]) -> list[str]:
    """Why the docker target cannot start here, one line per problem (none: it can).

    Asks the daemon through the same client library DockerSpawner uses, so that
    `gemhub up` refuses early what would otherwise fail at each user's spawn,
    with a pull error from a registry the images were never meant to come from."""
    import docker
    from docker.errors import DockerException, ImageNotFound

    try:
        client = docker.from_env(timeout=20)
        client.ping()
    except DockerException:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        return [f"docker daemon not reachable at {where}: start it with `ci/docker.sh` or `systemctl start docker`"]
    problems = []
    for image in dict.fromkeys(images):
        try:
            client.images.get(image)
        except ImageNotFound:
            name = image.split(":")[0].rsplit("/", 1)[-1]
            problems.append(f"image {image} not found: build it with `gemhub images build {name}`")
    client.close()
    return problems
