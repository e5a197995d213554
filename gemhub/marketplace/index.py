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

SCHEMA_VERSION = 1
Level = Literal["beginner", "intermediate", "advanced"]


class IndexEnvironment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_lock_sha256: str = Field(description="sha256 of the user environment lock the notebooks were tested in.")
    short: str = Field(description="First 12 hex digits of user_lock_sha256, for display.")
    kernel: str | None = None
    python: str | None = None


class IndexEntry(BaseModel):
    """One published (tested and passing) notebook."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Stable id; the same as slug.")
    slug: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="File name without .ipynb.")
    title: str = Field(min_length=3, max_length=80)
    description: str = Field(min_length=1)
    tags: list[str] = Field(min_length=1)
    level: Level
    collections: list[str]
    needs_credentials: bool
    authors: list[str] = Field(min_length=1)
    licence: str
    series: str | None = None
    order: int | None = Field(None, ge=1)
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

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n")


class IndexValidationError(ValueError):
    """index.json is missing or does not match the schema; the message names notebook and field."""


def describe_errors(error: ValidationError, data: object = None, *, where: str = "") -> list[str]:
    """One line per problem: `<where>: <notebook>: <field>: <message>`.

    Locations inside `notebooks[i]` are named by that notebook's slug when the
    raw data has one, so a person knows which notebook to fix.
    """
    lines = []
    for problem in error.errors():
        loc = list(problem["loc"])
        who = ""
        if len(loc) >= 2 and loc[0] == "notebooks" and isinstance(loc[1], int):
            slug = None
            if isinstance(data, dict):
                try:
                    slug = data["notebooks"][loc[1]].get("slug")
                except (KeyError, IndexError, TypeError, AttributeError):
                    slug = None
            who = f"notebook {slug!r}" if slug else f"notebooks[{loc[1]}]"
            loc = loc[2:]
        field = ".".join(str(part) for part in loc) or "(top level)"
        parts = [p for p in (where, who, field) if p]
        lines.append(f"{': '.join(parts)}: {problem['msg']}")
    return lines


def validate_index(data: dict, *, where: str = "index.json") -> Index:
    """Validate parsed index.json data; raise IndexValidationError whose lines name notebook and field."""
    try:
        return Index.model_validate(data)
    except ValidationError as error:
        raise IndexValidationError("\n".join(describe_errors(error, data, where=where))) from None


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
