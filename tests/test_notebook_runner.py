"""`gemhub notebooks test`: real papermill runs in user-environment kernels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import nbformat
import psutil
import pytest

from gemhub.waiting import eventually
from support.notebooks import write_notebook

pytestmark = pytest.mark.slow  # every test runs notebooks in real kernels

GEMHUB = Path(sys.executable).parent / "gemhub"


def run_notebooks(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GEMHUB, "notebooks", "test", *map(str, args), "--out-dir", "runs", "--report", "runs/report.json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def report(cwd: Path) -> dict:
    return json.loads((cwd / "runs" / "report.json").read_text())


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """One run over a passing, a failing and a timing-out notebook (shared: it takes a while)."""
    folder = tmp_path_factory.mktemp("suite")
    books = folder / "books"
    books.mkdir()
    write_notebook(
        books / "passing.ipynb",
        "import matplotlib.pyplot as plt, numpy, sentinelhub\nplt.imshow(numpy.eye(8)); plt.show()",
        "print('done')",
    )
    # cell 3 of the source notebook raises (a markdown cell is cell 2)
    write_notebook(books / "failing.ipynb", "{}['missing']", "print('never')", markdown_at=1)
    write_notebook(books / "slow.ipynb", "import time\ntime.sleep(600)")
    run = subprocess.run(
        [GEMHUB, "notebooks", "test", "books", "--timeout", "20", "--out-dir", "runs", "--report", "runs/report.json"],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
    )
    return folder, run


def test_report_says_exactly_what_happened(suite):
    folder, run = suite
    assert run.returncode == 1, run.stderr
    results = {r["slug"]: r for r in report(folder)["notebooks"]}
    assert results["passing"]["status"] == "passed" and results["passing"]["failing_cell"] is None
    assert results["failing"]["status"] == "failed"
    assert results["failing"]["failing_cell"] == 3
    assert results["failing"]["error"] == "KeyError: 'missing'"
    assert results["slow"]["status"] == "timeout"
    assert results["slow"]["failing_cell"] == 2
    assert "FAILED books/failing.ipynb" in run.stderr and "in cell 3: KeyError" in run.stderr
    assert "TIMEOUT books/slow.ipynb" in run.stderr
    assert "notebooks: 1 passed, 1 failed, 1 timed out" in run.stderr


def test_outputs_thumbnail_and_schema(suite):
    folder, _ = suite
    data = report(folder)
    schema = json.loads(subprocess.run([GEMHUB, "notebooks", "report-schema"], capture_output=True, check=True).stdout)
    jsonschema.validate(data, schema)
    passing = next(r for r in data["notebooks"] if r["slug"] == "passing")
    executed = nbformat.read(passing["output_notebook"], as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "done\n"
    assert Path(passing["thumbnail"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert passing["parameters"]["output_dir"].endswith("runs/passing/outputs")


def test_unchanged_passing_notebook_is_not_rerun_until_edited(tmp_path):
    book = write_notebook(tmp_path / "ndvi.ipynb", "print(1 + 1)")
    first = run_notebooks(book, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert report(tmp_path)["notebooks"][0]["cached"] is False

    second = run_notebooks(book, cwd=tmp_path)
    assert second.returncode == 0
    assert "cached, unchanged since it passed" in second.stderr
    assert report(tmp_path)["notebooks"][0]["cached"] is True

    write_notebook(tmp_path / "ndvi.ipynb", "print(1 + 2)")  # a one-character edit
    third = run_notebooks(book, cwd=tmp_path)
    assert third.returncode == 0
    entry = report(tmp_path)["notebooks"][0]
    assert entry["cached"] is False
    assert nbformat.read(entry["output_notebook"], as_version=4).cells[-1].outputs[0]["text"] == "3\n"

    forced = subprocess.run(
        [GEMHUB, "notebooks", "test", book, "--out-dir", "runs", "--report", "runs/report.json", "--force"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert forced.returncode == 0 and report(tmp_path)["notebooks"][0]["cached"] is False


def test_an_output_that_shows_the_sandbox_secret_is_redacted_and_fails(tmp_path):
    book = write_notebook(
        tmp_path / "leaky.ipynb",
        "import os\nprint('secret is', os.environ['GEMHUB_SANDBOX_CLIENT_SECRET'])",
    )
    run = run_notebooks(book, cwd=tmp_path)
    assert run.returncode == 1
    entry = report(tmp_path)["notebooks"][0]
    assert entry["status"] == "failed"
    assert "output contains credentials" in entry["error"]
    executed = nbformat.read(entry["output_notebook"], as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "secret is [secret]\n"


SANDBOX_USER = """
import time
import numpy as np
from sentinelhub import CRS, BBox, DataCollection, MimeType, SentinelHubRequest
from gemhub_workspace import sh_config

config = sh_config()
script = '''//VERSION=3
function setup() { return {input: ["B04"], output: {bands: 1, sampleType: "FLOAT32"}}; }
function evaluatePixel(s) { return [s.B04]; }'''
shapes = []
finish = time.monotonic() + 12
while time.monotonic() < finish:
    request = SentinelHubRequest(
        evalscript=script, bbox=BBox((14.50, 46.05, 14.52, 46.07), CRS.WGS84), size=(32, 32), config=config,
        input_data=[SentinelHubRequest.input_data(DataCollection.SENTINEL2_L2A, time_interval=("2023-05-01", "2023-05-20"))],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)])
    shapes.append(request.get_data()[0].shape)
    time.sleep(0.2)
print(len(shapes), set(shapes))
"""


def test_a_sandbox_killed_mid_suite_is_restarted_and_its_notebooks_rerun(tmp_path):
    """SIGKILL the runner's sandbox while notebooks use it: the suite still ends green, the
    notebooks it was serving are stopped at once (not left in minutes of sentinelhub-py retries)
    and run again, and the report and the sandbox log name the restart."""
    books = tmp_path / "books"
    books.mkdir()
    for name in ("first", "second", "third"):
        write_notebook(books / f"{name}.ipynb", SANDBOX_USER)
    runner = subprocess.Popen(
        [GEMHUB, "notebooks", "test", "books", "--jobs", "2", "--out-dir", "runs", "--report", "runs/report.json"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    started = time.monotonic()

    def the_sandbox() -> psutil.Process | None:
        assert runner.poll() is None, "the runner started no sandbox"
        for child in psutil.Process(runner.pid).children(recursive=True):
            try:
                if "gemhub_sandbox serve" in " ".join(child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        return None

    victim = eventually(the_sandbox, 120)
    assert victim is not None, "the runner started no sandbox"
    log = tmp_path / "runs" / "sandbox.log"

    # wait until notebooks are really talking to it (kernels started, requests served)
    port = eventually(lambda: next((c.laddr.port for c in victim.net_connections("tcp")
                                    if c.status == psutil.CONN_LISTEN), None), 120 - (time.monotonic() - started))

    def served() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sandbox/health", timeout=5) as answer:
            return json.load(answer)["requests"]

    left = 120 - (time.monotonic() - started)
    assert port and eventually(lambda: served() >= 4, left), "the notebooks never reached the sandbox"
    os.kill(victim.pid, signal.SIGKILL)
    output, _ = runner.communicate(timeout=400)

    assert runner.returncode == 0, output
    data = report(tmp_path)
    assert data["summary"]["passed"] == 3 and data["summary"]["sandbox_restarts"] == 1, data["summary"]
    assert data["sandbox_deaths"] == ["SIGKILL"]
    rerun = [r for r in data["notebooks"] if r["rerun_reason"]]
    assert rerun, "no notebook was re-run although the sandbox died under it"
    for entry in rerun:
        assert "the sandbox died during the first run (SIGKILL)" in entry["rerun_reason"]
        assert "stopped: the sandbox died during this run" in entry["rerun_reason"], entry["rerun_reason"]
    assert "sandbox died (SIGKILL)" in output
    assert f"died (SIGKILL); restarting it on http://127.0.0.1:{port}" in log.read_text()
