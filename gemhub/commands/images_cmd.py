"""`gemhub images`: build the base, build the images, and test them."""

from __future__ import annotations

from pathlib import Path

import click

from ..images import BASE_REFERENCE, IMAGE_NAMES
from .errors import CHECK_FAILED, CommandError

# rich, requests and the image modules are imported inside each command: listing
# the commands (`gemhub --help`) should not pay for them.

NAMES = click.Choice([*IMAGE_NAMES, "all"])


def _selected(name: str) -> list[str]:
    return list(IMAGE_NAMES) if name == "all" else [name]


def _problem(command: str, error: Exception | str) -> CommandError:
    return CommandError(f"gemhub images {command}: {error}")


def _require_base(base: str) -> None:
    from ..images import docker

    if base == BASE_REFERENCE and docker.image_inspect(base) is None:
        raise docker.DockerError(f"base image {base} not found: build it with `gemhub images base`")


base_option = click.option(
    "--base", "base_image", default=BASE_REFERENCE, show_default=True,
    help="Base image (BASE_IMAGE build argument); the default is made by `gemhub images base`, no registry needed.",
)


@click.group()
def images() -> None:
    """Container images: the Debian base, the user, hub and proxy images."""


@images.command("base")
@click.option("--tag", default=BASE_REFERENCE, show_default=True, help="Reference of the imported image.")
@click.option("--force", is_flag=True, help="Rebuild even if the image exists.")
def base_cmd(tag: str, force: bool) -> None:
    """Make the base image with debootstrap from this machine's Debian mirror (needs root)."""
    from rich.console import Console

    from ..images import docker
    from ..images.base import build_base
    from ..paths import state_home

    console = Console(stderr=True)
    try:
        docker.require_daemon()
        if not force and docker.image_inspect(tag) is not None:
            console.print(f"{tag} exists (use --force to rebuild)")
            return
        build_base(tag, console, state_home() / "images")
    except (docker.DockerError, OSError) as error:
        raise _problem("base", error) from None
    size = docker.image_inspect(tag)["Size"]
    console.print(f"imported [green]{tag}[/] ({size / 1e6:.0f} MB)")


@images.command("build")
@click.argument("name", type=NAMES, default="all")
@base_option
@click.option("--no-cache", is_flag=True, help="Build every layer again (always builds, even if the tag exists).")
@click.option("--catalogue", "catalogue_site", type=click.Path(file_okay=False, path_type=Path),
              help="Published marketplace site the hub image carries (default: where `gemhub marketplace build` "
              "publishes).")
def build_cmd(name: str, base_image: str, no_cache: bool, catalogue_site: Path | None) -> None:
    """Build NAME (user, hub, proxy or all), tagged with its content hash, :latest and gemhub's version."""
    from rich.console import Console

    from ..images import docker
    from ..images.build import build_image
    from ..marketplace.index import IndexValidationError

    console = Console(stderr=True)
    try:
        docker.require_daemon()
        _require_base(base_image)
        for image in _selected(name):
            result = build_image(image, base_image, no_cache=no_cache, console=console,
                                 catalogue_site=catalogue_site)
            click.echo(result.reference)
    except (docker.DockerError, OSError, IndexValidationError) as error:
        raise _problem("build", error) from None


def _reference_of(name: str, base_image: str) -> str:
    """The content-hash reference the current checkout builds to."""
    from ..images.context import content_hash, stage
    from ..images.specs import SPECS
    from ..images.tags import references
    from ..paths import state_home

    folder = stage(SPECS[name], state_home() / "images" / "context" / name)
    return references(name, content_hash(folder, base_image))[0]


@images.command("test")
@click.argument("name", type=NAMES, default="all")
@base_option
@click.option("--image", "reference", help="Test this reference instead of the one the checkout builds to.")
def test_cmd(name: str, base_image: str, reference: str | None) -> None:
    """Start NAME's image and check it (uid, imports, kernel, notebooks, size, no build secrets)."""
    from rich.console import Console

    from ..images import docker
    from ..images.checks import check_image

    if reference and name == "all":
        raise _problem("test", "--image needs one image name (user, hub or proxy)")
    console = Console()
    failed = 0
    try:
        docker.require_daemon()
        for image in _selected(name):
            target = reference or _reference_of(image, base_image)
            console.print(f"[bold]{target}[/]")
            for check in check_image(image, target):
                mark = "[green]ok  [/]" if check.ok else "[red]FAIL[/]"
                console.print(f"  {mark} {check.name}: {check.detail}", highlight=False, soft_wrap=True)
                failed += not check.ok
    except (docker.DockerError, OSError) as error:
        raise _problem("test", error) from None
    if failed:
        raise CommandError(f"gemhub images test: {failed} check(s) failed", CHECK_FAILED)
