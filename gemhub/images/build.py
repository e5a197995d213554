"""`gemhub images build`: stage the context, run the classic builder, tag, label.

A build is skipped when an image with the content-hash tag already exists and
was built on the current base image (its `org.gemhub.base.id` label): the tag
already says that nothing else changed. `no_cache=True` always builds, without
the layer cache (the benchmark's cold build).
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .. import __version__
from ..paths import CHECKOUT, state_home
from . import DEFAULT_BASE_IMAGE, docker
from .context import content_hash, stage
from .specs import SPECS
from . import catalogue
from .tags import content_tag, references, release_reference

BASE_ID_LABEL = "org.gemhub.base.id"
STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


@dataclass(frozen=True)
class BuildResult:
    name: str
    reference: str  # gemhub/<name>:<content hash>
    moving_reference: str  # gemhub/<name>:latest
    release_reference: str  # gemhub/<name>:<gemhub version>, the chart's default tag
    built: bool  # False: an identical image was already there
    seconds: float
    log: Path | None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=CHECKOUT, capture_output=True, text=True, timeout=30,
                              check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def labels(name: str, digest: str) -> dict[str, str]:
    """The OCI annotations every gemhub image carries."""
    spec = SPECS[name]
    return {
        "org.opencontainers.image.title": f"gemhub-{name}",
        "org.opencontainers.image.description": spec.description,
        "org.opencontainers.image.version": f"{__version__}-{content_tag(digest)}",
        "org.opencontainers.image.revision": _git("rev-parse", "HEAD") or "unknown",
        "org.opencontainers.image.created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.source": _git("config", "--get", "remote.origin.url") or CHECKOUT.as_uri(),
        "org.opencontainers.image.licenses": "MIT",
    }


def _base_id(base_image: str) -> str:
    record = docker.image_inspect(base_image)
    return record["Id"] if record else ""


def _up_to_date(reference: str, base_id: str) -> bool:
    record = docker.image_inspect(reference)
    if record is None:
        return False
    return bool(base_id) and (record["Config"].get("Labels") or {}).get(BASE_ID_LABEL) == base_id


def _run_build(argv: list[str], name: str, log: Path, console: Console) -> None:
    """docker build with a progress bar over its `Step N/M` lines; the full output goes to `log`."""
    columns = (TextColumn("[bold]{task.fields[image]}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TextColumn("{task.description}"))
    with log.open("w") as out, Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("sending context", total=None, image=name)
        process = docker.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        for line in process.stdout:
            out.write(line)
            out.flush()
            step = STEP_LINE.match(line.strip())
            if step:
                number, total, instruction = step.groups()
                progress.update(task, completed=int(number) - 1, total=int(total),
                                description=instruction[:70])
        code = process.wait()
        if code == 0:
            progress.update(task, completed=progress.tasks[0].total or 1, description="done")
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-15:])
        raise docker.DockerError(f"building gemhub/{name} failed (docker build exit {code}); last lines:\n{tail}\n"
                                 f"full log: {log}")


def _say_catalogue(console: Console, site: Path) -> None:
    count = catalogue.published(site)
    if count is None:
        console.print(f"[yellow]no marketplace catalogue at {site}[/]: the hub image's marketplace will be empty "
                      "(publish one first: `gemhub marketplace build`, or pass --catalogue DIR)")
    else:
        console.print(f"hub image carries the marketplace catalogue of {site} ({count} notebook(s))")


def build_image(name: str, base_image: str = DEFAULT_BASE_IMAGE, *, no_cache: bool = False,
                console: Console | None = None, checkout: Path = CHECKOUT, work_dir: Path | None = None,
                tag_latest: bool = True, catalogue_site: Path | None = None) -> BuildResult:
    """Build gemhub/<name> from `checkout` (or reuse an identical one).

    The content-hash tag always points at the result; `tag_latest=False` leaves
    :latest alone (builds of scratch copies: tests, benchmarks). The hub image
    carries the catalogue published at `catalogue_site` (images/catalogue.py).
    """
    spec = SPECS[name]
    console = console or Console(stderr=True)
    work_dir = work_dir or state_home() / "images"
    started = time.monotonic()
    folder = stage(spec, work_dir / "context" / name, checkout, catalogue_site)
    if spec.carries_catalogue:
        _say_catalogue(console, catalogue_site or catalogue.default_site())
    digest = content_hash(folder, base_image)
    reference, moving = references(name, digest)
    release = release_reference(name)
    base_id = _base_id(base_image)
    if not no_cache and _up_to_date(reference, base_id):
        if tag_latest:
            docker.run(["tag", reference, moving])
            docker.run(["tag", reference, release])
        console.print(f"[green]{reference}[/] is up to date (same inputs, same base)")
        return BuildResult(name, reference, moving, release, False, time.monotonic() - started, None)
    argv = ["build", "--network", "host", "--force-rm", "--build-arg", f"BASE_IMAGE={base_image}",
            "-t", reference, *(["-t", moving, "-t", release] if tag_latest else []), "--label", f"{BASE_ID_LABEL}={base_id}"]
    for key, value in labels(name, digest).items():
        argv += ["--label", f"{key}={value}"]
    if no_cache:
        argv.append("--no-cache")
    argv.append(str(folder))
    log = work_dir / f"{name}-build.log"
    _run_build(argv, name, log, console)
    seconds = time.monotonic() - started
    also = f" (also {moving}, {release})" if tag_latest else ""
    console.print(f"built [green]{reference}[/]{also} in {seconds:.0f}s; log: {log}")
    return BuildResult(name, reference, moving, release, True, seconds, log)
