"""The curated notebooks: lint-clean, all passing headless, nbval-stable, no credentials out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import nbformat
import pytest

from gemhub.notebooks.kernel import NAME as KERNEL, ensure_kernelspec
from gemhub.notebooks.metadata import read_meta
from gemhub.notebooks.report import json_schema
from gemhub.notebooks.runner import kernel_environment
from gemhub.paths import state_home
from gemhub.sandbox_process import start_sandbox
from gemhub.secrets_scan import find_secrets

CHECKOUT = Path(__file__).resolve().parents[1]
NOTEBOOKS = CHECKOUT / "notebooks"
GEMHUB = Path(sys.executable).parent / "gemhub"


def curated() -> list[Path]:
    return sorted(NOTEBOOKS.rglob("*.ipynb"))


def nbval_notebooks() -> list[Path]:
    return [p for p in curated() if read_meta(nbformat.read(p, as_version=4)).nbval]


def test_there_are_enough_curated_notebooks_and_a_workshop_series():
    metas = [read_meta(nbformat.read(p, as_version=4)) for p in curated()]
    assert len(metas) >= 8
    workshop = sorted(m.order for m in metas if m.series == "workshop")
    assert workshop == [1, 2, 3]


def test_lint_passes_for_every_curated_notebook():
    run = subprocess.run([GEMHUB, "notebooks", "lint", NOTEBOOKS], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.slow
def test_every_curated_notebook_passes_headless(curated_run):
    report_path, run = curated_run
    assert run.returncode == 0, run.stderr
    report = json.loads(report_path.read_text())
    jsonschema.validate(report, json_schema())
    assert {r["status"] for r in report["notebooks"]} == {"passed"}
    assert len(report["notebooks"]) == len(curated())
    for result in report["notebooks"]:
        assert result["thumbnail"], f"{result['path']} shows no figure"
        executed = Path(result["output_notebook"]).read_text()
        assert find_secrets(executed) == [], result["path"]
    assert find_secrets(report_path.read_text()) == []


@pytest.mark.slow
def test_nbval_notebooks_reproduce_their_committed_outputs(tmp_path):
    books = nbval_notebooks()
    assert books, "at least one notebook keeps its outputs and is checked by nbval"
    for book in books:
        shutil.copy(book, tmp_path / book.name)
    shutil.copy(NOTEBOOKS / "nbval-sanitize.cfg", tmp_path)
    assert nbval(tmp_path, [b.name for b in books]).returncode == 0

    # A changed number in a committed output must fail, not only an exception.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    nb = nbformat.read(books[0], as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and any("text" in o for o in c.outputs))
    output = next(o for o in cell.outputs if "text" in o)
    output["text"] = output["text"].replace("1", "7", 1) if "1" in output["text"] else output["text"] + "7"
    nbformat.write(nb, tampered / books[0].name)
    shutil.copy(NOTEBOOKS / "nbval-sanitize.cfg", tampered)
    assert nbval(tampered, [books[0].name]).returncode == 1


def nbval(folder: Path, names: list[str]) -> subprocess.CompletedProcess:
    jupyter_path = ensure_kernelspec(state_home() / "envs" / "user")
    with start_sandbox() as sandbox:
        env = kernel_environment(sandbox, jupyter_path, folder)
        (folder / "pytest.ini").write_text("[pytest]\n")
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
             f"--nbval-kernel-name={KERNEL}", "--nbval-sanitize-with=nbval-sanitize.cfg", *names],
            cwd=folder, env=env, capture_output=True, text=True, timeout=600,
        )
