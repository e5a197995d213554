"""The marketplace metadata every curated notebook carries under `metadata.gemhub`.

The marketplace index entry of a notebook is this metadata plus the facts of
its test run (gemhub.marketplace.index.IndexEntry derives from CatalogueMeta),
so the two can never disagree about what a valid title or description is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..validation_errors import describe

# Where the metadata lives in a notebook file, for messages that name the field.
METADATA_KEY = ("metadata", "gemhub")


class CatalogueMeta(BaseModel):
    """What the catalogue shows about a notebook: written by its author, published as is."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=80, description="Title in the catalogue.")
    description: str = Field(min_length=40, max_length=800, description="One paragraph: what it shows, why.")
    tags: list[str] = Field(min_length=1, description="Facets for filtering, lower-case words.")
    level: Literal["beginner", "intermediate", "advanced"]
    collections: list[str] = Field(description="Data collections used, e.g. sentinel-2-l2a; may be empty.")
    needs_credentials: bool = Field(description="Whether it calls Sentinel Hub (credentials or sandbox).")
    authors: list[str] = Field(min_length=1)
    licence: str = Field(description="SPDX identifier, e.g. MIT or CC-BY-4.0.")
    series: str | None = Field(None, description="A series the notebook belongs to, e.g. workshop.")
    order: int | None = Field(None, ge=1, description="Position within its series.")


class NotebookMeta(CatalogueMeta):
    """`metadata.gemhub`: the catalogue fields, plus how the source keeps its outputs
    (which only matters in the repository, so the index does not carry it)."""

    nbval: bool = Field(False, description="Outputs are committed and checked with pytest --nbval.")

    def catalogue_fields(self) -> dict:
        return self.model_dump(include=set(CatalogueMeta.model_fields))


def read_meta(notebook: dict) -> NotebookMeta:
    """The notebook's metadata; pydantic's ValidationError when it is missing or invalid."""
    return NotebookMeta.model_validate(notebook.get("metadata", {}).get("gemhub", {}))


def describe_meta_errors(error: ValidationError, where: str) -> list[str]:
    """`<where>: metadata.gemhub.<field>: <message>`, one per problem."""
    return describe(error, where=where, field_prefix=METADATA_KEY)
