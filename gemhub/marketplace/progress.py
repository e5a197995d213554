"""What the background curation is doing: one JSON file the marketplace page reads.

The hub starts the curation (`gemhub marketplace curate`, gemhub/marketplace/curation.py)
and the marketplace service (service.py) as separate processes; this file is
their only contract. It lives beside the published site, not in it: a publish
swaps the whole site folder (publish.py), and progress changes far more often
than the catalogue does. It is replaced atomically, so a reader sees either the
previous state or the next one.

Failures carry the failing cell and the runner's error excerpt (credentials
already redacted by the runner); the marketplace shows those to admins only.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

PROGRESS_SUFFIX = ".progress.json"

NotebookState = Literal["queued", "testing", "passed", "failed", "timeout"]
FINISHED: frozenset[str] = frozenset({"passed", "failed", "timeout"})


def progress_path(site_dir: Path) -> Path:
    """`<site>.progress.json`, a sibling of the served folder."""
    site_dir = Path(site_dir)
    return site_dir.with_name(site_dir.name + PROGRESS_SUFFIX)


class NotebookProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str
    path: str = Field(description="Relative to the curated notebooks folder.")
    title: str = Field(description="The notebook's catalogue title, or its file name when its metadata is invalid.")
    state: NotebookState
    cached: bool = Field(False, description="Passed before and unchanged since: not run again.")
    failing_cell: int | None = None
    error: str | None = Field(None, description="The runner's error excerpt, credentials redacted.")
    published: bool = Field(False, description="In the catalogue now.")
    left_out: str | None = Field(None, description="Why a notebook that passed is still not published.")


class CurationProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started_at: datetime
    finished_at: datetime | None = None
    notebooks: list[NotebookProgress] = Field(default_factory=list)
    problem: str | None = Field(None, description="Why the curation could not run at all (shown to admins).")

    @property
    def total(self) -> int:
        return len(self.notebooks)

    @property
    def done(self) -> int:
        return sum(n.state in FINISHED for n in self.notebooks)

    @property
    def running(self) -> bool:
        return self.finished_at is None and self.problem is None

    @classmethod
    def begin(cls) -> "CurationProgress":
        return cls(started_at=datetime.now(timezone.utc))

    def write(self, path: Path) -> None:
        """Atomically: a temporary file in the same folder, renamed over the old one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(self.model_dump_json(indent=1) + "\n")
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def read_progress(path: Path) -> CurationProgress | None:
    """The curation's last state; None when none runs or ran (no file) or the file is unusable."""
    try:
        return CurationProgress.model_validate_json(Path(path).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as error:
        log.warning("curation progress unreadable (%s): %s", path, error)
        return None
