"""`gemhub notebooks lint`: each problem names the notebook and the field or cell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from gemhub.notebooks.lint import lint_notebook
from support.notebooks import META, write_notebook

GEMHUB = Path(sys.executable).parent / "gemhub"
FAKE_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OX0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_clean_notebook_passes(tmp_path):
    assert lint_notebook(write_notebook(tmp_path / "ok.ipynb", "print('hello')")) == []


def test_token_in_an_output_is_flagged(tmp_path):
    path = write_notebook(tmp_path / "leak.ipynb", "print(token)", meta={**META, "nbval": True})
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"token {FAKE_JWT}\n")]
    nbformat.write(nb, path)
    assert lint_notebook(path) == [f"{path}: cell 2 output: looks like a credential (JSON web token)"]


def test_secret_in_source_absolute_path_and_uncleared_outputs(tmp_path):
    path = write_notebook(tmp_path / "bad.ipynb", "client_secret = 'abcd1234efgh5678'", "open('/home/alice/data.tif')")
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x\n")]
    nbformat.write(nb, path)
    problems = lint_notebook(path)
    assert f"{path}: cell 2 source: looks like a credential (credential assignment)" in problems
    assert f"{path}: cell 3 source: absolute local path '/home/alice'" in problems
    assert f"{path}: cell 3: has outputs; clear them (only nbval notebooks keep outputs)" in problems


def test_metadata_and_parameters_problems_name_the_field(tmp_path):
    meta = {k: v for k, v in META.items() if k != "licence"} | {"level": "expert"}
    path = write_notebook(tmp_path / "meta.ipynb", "print(1)", meta=meta)
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].metadata["tags"] = []
    nbformat.write(nb, path)
    problems = lint_notebook(path)
    assert any(p.startswith(f"{path}: metadata.gemhub.level: Input should be 'beginner'") for p in problems)
    assert f"{path}: metadata.gemhub.licence: Field required" in problems
    assert f"{path}: parameters: needs exactly one cell tagged 'parameters' (found 0)" in problems


def test_unreadable_file_and_cli_exit_code(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{not json")
    write_notebook(tmp_path / "fine.ipynb", "print(1)")
    run = subprocess.run([GEMHUB, "notebooks", "lint", tmp_path], capture_output=True, text=True)
    assert run.returncode == 1
    assert f"{tmp_path / 'broken.ipynb'}: file: not a readable notebook" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.strip() == "2 notebook(s) checked, 1 problem(s)"


def test_metadata_problems_name_the_value_and_shorten_a_long_one(tmp_path):
    path = write_notebook(tmp_path / "long.ipynb", "print(1)", meta={**META, "title": "x" * 200})
    [problem] = lint_notebook(path)
    assert problem.startswith(f"{path}: metadata.gemhub.title: String should have at most 80 characters (got 'xxx")
    assert problem.endswith("...)") and len(problem) < len(str(path)) + 160
