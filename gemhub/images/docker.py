"""The docker CLI, called the way every images command needs it.

The only module of `gemhub.images` that starts `docker`: everything else asks
it, so the environment (classic builder, no hints) and the one-line errors are
the same for every call.

The CLI rather than the Docker SDK that the hub's DockerSpawner uses (and that
`gemhub up --spawner docker` checks images with, in `gemhub.hub.docker_spawner`),
because the image tools are build tools, run where `ci/docker.sh` set the CLI up:
- the build log is the classic builder's own text, the one people compare with
  a `docker build` by hand; the progress bar reads its `Step N/M` lines;
- the base image is a `docker import` of a tarball streamed from disk, and the
  image scan streams `docker export`, neither held in memory;
- the checks start containers and `docker exec` into them with the same
  arguments a person would type to reproduce a failure.
The SDK could do each of these too, but all of them at once or none: moving
only inspect/run would give `gemhub images` two clients instead of one.

BuildKit is switched off explicitly: a newer client without the buildx plugin
would otherwise refuse to build at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import IO

START_HINT = "start it with `ci/docker.sh` (installs docker.io if needed) or `sudo systemctl start docker`"


class DockerError(RuntimeError):
    """A docker call failed; the message is one line fit for the terminal."""


def environment() -> dict[str, str]:
    return dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")


def require_daemon() -> None:
    """Fail early and plainly when there is no docker CLI or no daemon behind it."""
    if not shutil.which("docker"):
        raise DockerError(f"docker CLI not found: install docker.io, then {START_HINT}")
    probe = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True, text=True, env=environment(), timeout=30, check=False,
    )
    if probe.returncode != 0 or not probe.stdout.strip():
        raise DockerError(f"docker daemon not reachable: {START_HINT}")


def run(args: Sequence[str], *, check: bool = True, timeout: float | None = 600, input: bytes | None = None,
        stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess:
    """`docker ARGS`, output captured as text; a failure raises DockerError with docker's own last line.

    `stdin` streams a file in (`docker import -`) where `input` would hold it all in memory.
    """
    done = subprocess.run(["docker", *args], capture_output=True, env=environment(), timeout=timeout, input=input,
                          stdin=stdin, check=False)
    stdout = done.stdout.decode(errors="replace")
    stderr = done.stderr.decode(errors="replace")
    result = subprocess.CompletedProcess(done.args, done.returncode, stdout, stderr)
    if check and done.returncode != 0:
        last = (stderr.strip() or stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise DockerError(f"docker {args[0]} failed: {last[0]}")
    return result


def popen(args: Sequence[str], **kwargs) -> subprocess.Popen:
    """`docker ARGS` running, for output read as it comes (build progress, `docker export`)."""
    return subprocess.Popen(["docker", *args], env=environment(), **kwargs)


def image_inspect(reference: str) -> dict | None:
    """The image's inspect record, or None when there is no such image locally."""
    done = run(["image", "inspect", reference], check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)[0]


def container_inspect(container: str) -> dict:
    return json.loads(run(["container", "inspect", container]).stdout)[0]
