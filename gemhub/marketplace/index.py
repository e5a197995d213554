"""The marketplace index: what `gemhub marketplace build` publishes as index.json.

This pydantic model is the single source of the index format: the build
writes it, the static site and the hub service read it, and its JSON schema
is published with `gemhub marketplace index-schema`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..notebooks.metadata import CatalogueMeta
from ..notebooks.report import Environment
from ..validation_errors import ItemNamer, Location, describe

SCHEMA_VERSION = 1
SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class IndexEnvironment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_lock_sha256: str = Field(description="sha256 of the user environment lock the notebooks were tested in.")
    short: str = Field(description="First 12 hex digits of user_lock_sha256, for display.")
    kernel: str | None = None
    python: str | None = None

    @classmethod
    def of(cls, tested: Environment) -> IndexEnvironment:
        """The environment the runner's report says the notebooks were tested in."""
        lock = tested.user_lock_sha256
        return cls(user_lock_sha256=lock, short=lock[:12], kernel=tested.kernel, python=tested.python)


class IndexEntry(CatalogueMeta):
    """One published (tested and passing) notebook: its metadata plus the facts of its test run."""

    id: str = Field(pattern=SLUG_PATTERN, description="Stable id; the same as slug.")
    slug: str = Field(pattern=SLUG_PATTERN, description="File name without .ipynb.")
    path: str = Field(description="Notebook path relative to the notebooks folder, e.g. workshop/workshop-1-intro.ipynb.")
    thumbnail: str | None = Field(None, description="PNG path relative to the site folder, e.g. thumbnails/<slug>.png.")
    preview: str = Field(description="Rendered executed notebook, relative to the site folder: previews/<slug>.html.")
    page: str = Field(description="Detail page relative to the site folder: notebooks/<slug>.html.")
    status: Literal["passed"] = Field(description="Only passing notebooks are published.")
    last_tested: datetime = Field(description="When the test run that produced this result finished.")
    duration_s: float = Field(ge=0, description="Execution time of that run.")
    environment: str = Field(description="Short user lock sha256 the notebook was tested against.")
    content_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="sha256 of json.dumps([[cell_type, source], ...]) of the source notebook (as the runner computes it).",
    )


class Index(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    generated_at: datetime
    report_generated_at: datetime | None = None
    environment: IndexEnvironment
    notebooks: list[IndexEntry]

    def by_slug(self, slug: str) -> IndexEntry | None:
        return next((entry for entry in self.notebooks if entry.slug == slug), None)

    def tag_counts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for entry in self.notebooks:
            for tag in entry.tags:
                counts[tag] = counts.get(tag, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def to_json(self) -> str:
        """index.json as the build publishes it."""
        return self.model_dump_json(indent=2) + "\n"


class IndexValidationError(ValueError):
    """index.json is missing or does not match the schema; the message names notebook and field."""


def name_notebooks(data: object) -> ItemNamer:
    """Name a problem inside `notebooks[i]` by that notebook's slug when the raw data has one,
    so a person knows which notebook to fix (for the index and the runner's report alike)."""

    def name(loc: Location) -> tuple[str, Location]:
        if len(loc) < 2 or loc[0] != "notebooks" or not isinstance(loc[1], int):
            return "", loc
        try:
            slug = data["notebooks"][loc[1]].get("slug")
        except (KeyError, IndexError, TypeError, AttributeError):
            slug = None
        return (f"notebook {slug!r}" if slug else f"notebooks[{loc[1]}]"), loc[2:]

    return name


def validate_index(data: dict, *, where: str = "index.json") -> Index:
    """Validate parsed index.json data; raise IndexValidationError whose lines name notebook and field."""
    try:
        return Index.model_validate(data)
    except ValidationError as error:
        raise IndexValidationError("\n".join(describe(error, where=where, name_item=name_notebooks(data)))) from None


def load_index(path: Path) -> Index:
    """Read and validate index.json (for the hub service)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise IndexValidationError(f"{path}: file not found") from None
    except ValueError as error:
        raise IndexValidationError(f"{path}: not valid JSON: {error}") from None
    return validate_index(data, where=str(path))


def json_schema() -> dict:
    schema = Index.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gemhub marketplace index"
    return schema


def dumps_schema() -> str:
    return json.dumps(json_schema(), indent=2)
