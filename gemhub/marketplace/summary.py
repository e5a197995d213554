"""What a marketplace build tells its caller: what was published, what was left out and why."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

LeftOutStatus = Literal["failed", "timeout", "missing", "invalid", "credentials", "error"]


class BuildError(Exception):
    """The build could not finish."""


class BuildInputError(BuildError):
    """Bad input (report, notebooks folder, output folder): the message is one line per problem."""


class LeftOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str
    path: str
    status: LeftOutStatus
    reason: str


class BuildSummary(BaseModel):
    """Printed by `gemhub marketplace build` and written beside the site as build-summary.json."""

    model_config = ConfigDict(extra="forbid")

    generated_at: datetime
    report: str
    notebooks_dir: str
    published: list[str]
    left_out: list[LeftOut]
    warnings: list[str] = []

    def lines(self) -> list[str]:
        out = [f"published {len(self.published)} notebook(s)" + (f": {', '.join(self.published)}" if self.published else "")]
        if self.left_out:
            out.append(f"left out {len(self.left_out)} notebook(s):")
            out += [f"  {item.path} [{item.status}]: {item.reason}" for item in self.left_out]
        out += [f"warning: {warning}" for warning in self.warnings]
        return out
