"""`gemhub notebooks test` when the Sentinel Hub a notebook talks to is down or failing: the
progress line and the report say which endpoint and what happened, in one line, not the first
line of a traceback ("DownloadFailedException: Failed to download from:").

Tiny notebooks made in tmp point sentinelhub-py at an external URL: a loopback port where
nothing listens, and tests/support/faulty_http.py answering 500 to everything. (How
sentinelhub-py itself retries is tests/user_env/test_sandbox_faults.py; a sandbox that dies
under the runner is restarted, test_notebook_runner.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gemhub_sandbox.contract import TOKEN_PATH

from gemhub.notebooks.failures import download_failure, explain
from support.faulty_http import FaultyHttp
from support.hub import free_port
from support.notebooks import write_notebook

GEMHUB = Path(sys.executable).parent / "gemhub"
SEARCH = """
from sentinelhub import CRS, BBox, DataCollection, SentinelHubCatalog, SHConfig
config = SHConfig()
config.sh_client_id, config.sh_client_secret = "faults-test-id", "faults-test-secret"
config.sh_base_url = URL
config.sh_token_url = URL + {token!r}
config.max_download_attempts, config.download_sleep_time = 2, 0.1
items = list(SentinelHubCatalog(config=config).search(
    DataCollection.SENTINEL2_L2A, bbox=BBox((15.17, 45.78, 15.23, 45.82), CRS.WGS84), time=("2023-07-01", "2023-07-31")))
""".format(token=TOKEN_PATH)


def run_against(tmp_path: Path, url: str) -> tuple[subprocess.CompletedProcess, dict]:
    books = tmp_path / "books"
    books.mkdir()
    write_notebook(books / "search.ipynb", f"URL = {url!r}", SEARCH, "print('never')")
    run = subprocess.run([GEMHUB, "notebooks", "test", "books", "--jobs", "1", "--timeout", "240",
                          "--out-dir", "runs", "--report", "runs/report.json"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    [result] = json.loads((tmp_path / "runs" / "report.json").read_text())["notebooks"]
    return run, result


def progress_line(run: subprocess.CompletedProcess) -> str:
    [line] = [line for line in run.stderr.splitlines() if "search.ipynb" in line]
    return line


@pytest.mark.slow  # a notebook in a real kernel
def test_an_unreachable_endpoint_is_named_in_the_report_and_the_progress_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run, result = run_against(tmp_path, url)
    said = f"Sentinel Hub endpoint unreachable: {url} (connection refused)"
    assert run.returncode == 1 and result["status"] == "failed" and result["failing_cell"] == 3, run.stderr
    assert result["error"].splitlines()[0] == f"DownloadFailedException: {said}", result["error"]
    assert progress_line(run).endswith(f"in cell 3: DownloadFailedException: {said}"), run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow  # a notebook in a real kernel
def test_a_failing_endpoint_is_named_with_its_status(tmp_path):
    with FaultyHttp(f"http://127.0.0.1:{free_port()}", then=("500",)) as failing:
        run, result = run_against(tmp_path, failing.url)
        asked = len(failing.seen)
    said = f"Sentinel Hub endpoint failing: {failing.url}{TOKEN_PATH} answered 500 Internal Server Error"
    assert run.returncode == 1 and result["status"] == "failed" and result["failing_cell"] == 3, run.stderr
    assert result["error"].splitlines()[0] == f"DownloadFailedException: {said}", result["error"]
    assert progress_line(run).endswith(f"in cell 3: DownloadFailedException: {said}"), run.stderr
    assert asked == 2, "the notebook's max_download_attempts"


URL = "http://127.0.0.1:9/api/v1/process"


@pytest.mark.parametrize(("kind", "detail", "said"), [
    ("ConnectionError", "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded (Caused by "
     "NewConnectionError('...: Failed to establish a new connection: [Errno 111] Connection refused'))",
     "Sentinel Hub endpoint unreachable: http://127.0.0.1:9 (connection refused)"),
    ("ConnectionError", "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))",
     "Sentinel Hub endpoint unreachable: http://127.0.0.1:9 (connection closed without an answer)"),
    ("ConnectionError", "HTTPSConnectionPool(host='services.example', port=443): Max retries exceeded (Caused by "
     "NameResolutionError(\"...: Failed to resolve 'services.example' ([Errno -2] Name or service not known)\"))",
     "Sentinel Hub endpoint unreachable: http://127.0.0.1:9 (host name not found)"),
    ("ReadTimeout", "HTTPConnectionPool(host='127.0.0.1', port=9): Read timed out. (read timeout=120)",
     "Sentinel Hub endpoint unreachable: http://127.0.0.1:9 (timed out)"),
    ("HTTPError", f"503 Server Error: Service Unavailable for url: {URL}",
     f"Sentinel Hub endpoint failing: {URL} answered 503 Service Unavailable"),
])
def test_download_failures_get_a_one_line_summary(kind, detail, said):
    evalue = f"Failed to download from:\n{URL}\nwith {kind}:\n{detail}\nPlease check your internet connection."
    assert download_failure(evalue) == said
    assert explain("DownloadFailedException", evalue) == f"DownloadFailedException: {said}\n{evalue}"


def test_other_errors_are_left_as_they_are():
    assert explain("KeyError", "'missing'") == "KeyError: 'missing'"
    assert explain("DownloadFailedException", "File in location x is missing") == \
        "DownloadFailedException: File in location x is missing"
