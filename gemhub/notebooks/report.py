"""The runner's JSON report: what ran, how it ended, where its outputs are.

The marketplace builds its index from this file, so it is a typed model with
a published JSON schema (`gemhub notebooks report-schema`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["passed", "failed", "timeout"]


class NotebookResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Notebook path as given to the runner.")
    slug: str = Field(description="File name without .ipynb; the marketplace id.")
    status: Status
    cached: bool = Field(description="Not re-run: unchanged since it last passed.")
    duration_s: float = Field(ge=0, description="Execution time of the run that produced this result.")
    finished_at: datetime
    failing_cell: int | None = Field(None, description="1-based index of the failing cell in the source notebook.")
    error: str | None = Field(None, description="Error excerpt (credentials redacted).")
    output_notebook: str | None = Field(None, description="Executed notebook (papermill output).")
    thumbnail: str | None = Field(None, description="PNG of the first image output, if any.")
    cache_key: str
    parameters: dict = Field(description="Parameters injected by the runner.")
    rerun_reason: str | None = Field(
        None, description="Why this notebook ran a second time (its sandbox died during the first run).")


class Environment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_lock_sha256: str
    kernel: str
    python: str
    image: str | None = Field(None, description="Image the notebooks ran in (`--image`); none: the user environment.")


class Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total: int
    passed: int
    failed: int
    timeout: int
    cached: int
    wall_s: float
    sandbox_restarts: int = Field(0, description="Times the runner's sandbox died and was restarted.")


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    generated_at: datetime
    environment: Environment
    summary: Summary
    notebooks: list[NotebookResult]
    sandbox_deaths: list[str] = Field(default_factory=list, description="How each sandbox death ended (signal).")
    sandbox_log: str | None = Field(None, description="The runner's sandbox's stderr, kept as evidence.")

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n")


def json_schema() -> dict:
    schema = Report.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gemhub notebook run report"
    return schema


def dumps_schema() -> str:
    return json.dumps(json_schema(), indent=2)
