"""`gemhub images base`: a Debian bookworm base image made here, not pulled.

debootstrap (minbase variant) installs the few packages every gemhub image
needs from the same Debian mirror this machine's apt uses, and `docker import`
turns the tree into an image, so image builds work on machines that can reach
a Debian mirror and PyPI but no container registry (CI is one).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from rich.console import Console

from . import docker

SUITE = "bookworm"
# python3 (3.11) runs everything; python3-venv lets a build stage pip-install uv;
# tini reaps the zombies kernels leave behind when it runs as PID 1.
PACKAGES = ("python3", "python3-venv", "tini")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# Things debootstrap copies from the build machine or leaves behind that no image needs.
HOST_FILES = ("etc/resolv.conf", "etc/hostname", "etc/hosts")
PRUNED_DIRS = ("var/lib/apt/lists", "var/cache/apt", "var/cache/debconf", "var/log", "usr/share/man",
               "usr/share/info", "usr/share/locale", "usr/share/doc", "tmp")
APT_SLIM = 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'


def apt_mirrors(sources: list[Path] | None = None) -> tuple[str, str | None]:
    """(main mirror, security mirror or None) for bookworm, read from this machine's apt sources."""
    if sources is None:
        sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    main, security = None, None
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        entries: list[tuple[str, list[str]]] = []
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
                for uri in fields.get("URIs", "").split():
                    entries.append((uri, fields.get("Suites", "").split()))
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]]))
        for uri, suites in entries:
            if SUITE in suites and main is None:
                main = uri.rstrip("/")
            if f"{SUITE}-security" in suites and security is None:
                security = uri.rstrip("/")
    return main or DEFAULT_MIRROR, security


def _sources_file(main: str, security: str | None) -> str:
    text = f"Types: deb\nURIs: {main}\nSuites: {SUITE} {SUITE}-updates\nComponents: main\n" \
           f"Signed-By: {KEYRING}\n"
    if security:
        text += f"\nTypes: deb\nURIs: {security}\nSuites: {SUITE}-security\nComponents: main\nSigned-By: {KEYRING}\n"
    return text


def _bootstrap(root: Path, mirror: str, log: Path, console: Console) -> None:
    if not shutil.which("debootstrap"):
        raise docker.DockerError("debootstrap not found: install it with `apt-get install debootstrap` (or run ci/docker.sh)")
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", f"--keyring={KEYRING}",
            SUITE, str(root), mirror]
    with log.open("w") as out, console.status(f"debootstrap {SUITE} from {mirror}") as status:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            out.write(line)
            if line.startswith("I: "):
                status.update(f"debootstrap: {line[3:].strip()[:90]}")
        if process.wait() != 0:
            tail = log.read_text().strip().splitlines()[-1:] or [""]
            raise docker.DockerError(f"debootstrap failed ({tail[0]}); full log: {log}")


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _slim(root: Path, main: str, security: str | None) -> None:
    for name in HOST_FILES:
        (root / name).unlink(missing_ok=True)
    for name in PRUNED_DIRS:
        folder = root / name
        if folder.is_dir():
            for child in folder.iterdir():
                keep = name == "usr/share/doc" and (child / "copyright").exists()
                if keep:  # licences stay; everything else in doc/ goes
                    for item in child.iterdir():
                        if item.name != "copyright":
                            _remove(item)
                    continue
                _remove(child)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(_sources_file(main, security))
    (root / "etc/apt/apt.conf.d/90gemhub-slim").write_text(APT_SLIM)


def _import(root: Path, reference: str) -> None:
    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for child in sorted(root.iterdir()):
                tar.add(child, arcname=child.name)
        archive.seek(0)
        changes = ["ENV LANG=C.UTF-8", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   'CMD ["/bin/bash"]',
                   ("LABEL org.opencontainers.image.title=gemhub-base "
                    f"org.opencontainers.image.description=Debian-{SUITE}-minbase-with-python3")]
        docker.run(["import", *[arg for change in changes for arg in ("--change", change)], "-", reference],
                   stdin=archive, timeout=None)


def build_base(reference: str, console: Console | None = None, log_dir: Path | None = None) -> str:
    """debootstrap + docker import; returns the reference. Needs root (debootstrap chroots)."""
    console = console or Console(stderr=True)
    docker.require_daemon()
    main, security = apt_mirrors()
    log_dir = log_dir or Path(tempfile.gettempdir())
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gemhub-base-") as scratch:
        root = Path(scratch) / "rootfs"
        _bootstrap(root, main, log_dir / "base-debootstrap.log", console)
        _slim(root, main, security)
        with console.status(f"docker import {reference}"):
            _import(root, reference)
    return reference


def ensure_base(reference: str, console: Console | None = None) -> str:
    """The base image, built only when it is not there yet."""
    if docker.image_inspect(reference) is None:
        build_base(reference, console)
    return reference
