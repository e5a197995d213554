"""What goes into each image: its Dockerfile, the checkout files of its build
context, and the size it must stay under."""

from __future__ import annotations

from dataclasses import dataclass

GB = 1000**3
MB = 1000**2


@dataclass(frozen=True)
class ImageSpec:
    name: str
    description: str
    # (path in the checkout, path in the build context); folders are copied whole.
    inputs: tuple[tuple[str, str], ...]
    size_budget: int  # bytes, uncompressed (what `docker image inspect` calls Size)
    # The image carries the published marketplace catalogue (images/catalogue.py says why).
    carries_catalogue: bool = False

    @property
    def dockerfile(self) -> str:
        return f"images/{self.name}/Dockerfile"


SPECS = {
    "user": ImageSpec(
        name="user",
        description="gemhub user server: JupyterLab, jupyterhub-singleuser, the EO stack, the sandbox "
        "and the curated notebooks",
        inputs=(
            ("images/user/Dockerfile", "Dockerfile"),
            ("images/user/requirements.lock", "requirements.lock"),
            ("images/user/strip-environment.sh", "strip-environment.sh"),
            ("images/user/gemhub-ready", "gemhub-ready"),
            ("sandbox", "sandbox"),
            ("workspace", "workspace"),
            ("notebooks", "notebooks"),
        ),
        size_budget=2 * GB,
    ),
    "hub": ImageSpec(
        name="hub",
        description="gemhub hub: JupyterHub with gemhub's spawners, authenticators, services and culler, "
        "run from a mounted gemhub.yaml",
        inputs=(
            ("images/hub/Dockerfile", "Dockerfile"),
            ("images/hub/requirements.lock", "requirements.lock"),
            ("pyproject.toml", "app/pyproject.toml"),
            ("README.md", "app/README.md"),
            ("gemhub", "app/gemhub"),
            ("sandbox", "app/sandbox"),
            ("examples", "app/examples"),
        ),
        size_budget=800 * MB,
        carries_catalogue=True,
    ),
    "proxy": ImageSpec(
        name="proxy",
        description="configurable-http-proxy from images/proxy/package-lock.json, on Debian's nodejs",
        inputs=(
            ("images/proxy/Dockerfile", "Dockerfile"),
            ("images/proxy/package.json", "package.json"),
            ("images/proxy/package-lock.json", "package-lock.json"),
        ),
        size_budget=300 * MB,
    ),
}
