"""The marketplace metadata every curated notebook carries under `metadata.gemhub`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class NotebookMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=80, description="Title in the catalogue.")
    description: str = Field(min_length=40, max_length=800, description="One paragraph: what it shows, why.")
    tags: list[str] = Field(min_length=1, description="Facets for filtering, lower-case words.")
    level: Literal["beginner", "intermediate", "advanced"]
    collections: list[str] = Field(description="Data collections used, e.g. sentinel-2-l2a; may be empty.")
    needs_credentials: bool = Field(description="Whether it calls Sentinel Hub (credentials or sandbox).")
    authors: list[str] = Field(min_length=1)
    licence: str = Field(description="SPDX identifier, e.g. MIT or CC-BY-4.0.")
    nbval: bool = Field(False, description="Outputs are committed and checked with pytest --nbval.")
    series: str | None = Field(None, description="A series the notebook belongs to, e.g. workshop.")
    order: int | None = Field(None, ge=1, description="Position within its series.")


def read_meta(notebook: dict) -> NotebookMeta:
    return NotebookMeta.model_validate(notebook.get("metadata", {}).get("gemhub", {}))
