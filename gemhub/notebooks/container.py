"""Running a notebook inside a container of the user image (`gemhub notebooks test --image`).

The local runner proves a notebook works in the user *environment*; this proves
it works in the *image* users actually get. papermill, the kernel and the EO
stack are the image's own; the runner around it (sandbox, report, cache, leak
guard) is unchanged.

Three choices make the container see the run the way a local kernel does:
- host network: the sandbox the runner started on 127.0.0.1 is reachable as is;
- the run folder and the source notebook are mounted at their own paths, so
  papermill's input, output, --cwd and the output_dir parameter need no
  translation and the report names the same files either way;
- the caller's uid:gid, so what the notebook writes belongs to whoever ran the
  runner, who must read (and may redact) it afterwards. HOME is a scratch
  folder: the image's home belongs to its own user, and a run must not depend on it.

Secrets never appear on the docker command line (visible in `ps`): variables
are forwarded by name (`-e NAME`) from the docker client's own environment.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..images.docker import DockerError, environment, image_inspect, require_daemon

KERNEL = "python3"
SCRATCH_HOME = "/tmp/gemhub-home"


def check_image(reference: str) -> str:
    """The image's id, for cache keys; a one-line DockerError when it cannot be used."""
    require_daemon()
    info = image_inspect(reference)
    if info is None:
        name = reference.split(":")[0].rsplit("/", 1)[-1]
        raise DockerError(f"image {reference} not found: build it with `gemhub images build {name}`")
    return info["Id"]


@dataclass
class ContainerLaunch:
    """How each notebook's papermill process is started: `docker run` of `image`."""

    image: str
    variables: dict[str, str]
    uid_gid: str

    @property
    def env(self) -> dict[str, str]:
        """The docker client's environment, carrying the forwarded variables."""
        return {**environment(), **self.variables}

    def argv(self, source: Path, output: Path, run_dir: Path, parameters: dict, run_id: str) -> list[str]:
        source, output, run_dir = source.resolve(), output.resolve(), run_dir.resolve()
        argv = ["docker", "run", "--rm", "--name", run_id, "--network", "host", "--user", self.uid_gid,
                "--volume", f"{source}:{source}:ro", "--volume", f"{run_dir}:{run_dir}",
                "--workdir", str(run_dir), "--tmpfs", f"{SCRATCH_HOME}:mode=1777", "--env", f"HOME={SCRATCH_HOME}"]
        for name in sorted(self.variables):
            argv += ["--env", name]
        argv += [self.image, "papermill", str(source), str(output), "-k", KERNEL,
                 "--cwd", str(run_dir), "--no-progress-bar"]
        for name, value in parameters.items():
            argv += ["-p", name, value]
        return argv

    def run_id(self, slug: str) -> str:
        """A container name that says what it is and cannot clash with a parallel run."""
        return f"gemhub-run-{re.sub(r'[^A-Za-z0-9_.-]', '-', slug)[:40]}-{secrets.token_hex(4)}"

    def stop(self, run_id: str) -> None:
        """Killing the docker client does not stop its container; remove it by name."""
        subprocess.run(["docker", "rm", "--force", run_id], capture_output=True, env=environment(), timeout=60)
