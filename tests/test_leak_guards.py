"""The runner and the marketplace refuse outputs that show a user's stored secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from gemhub.config import load_config
from gemhub.credentials.keys import ensure_local_key
from gemhub.credentials.store import CredentialStore
from gemhub.paths import Paths
from support.notebooks import write_notebook

pytestmark = pytest.mark.slow  # runs notebooks in real kernels

GEMHUB = Path(sys.executable).parent / "gemhub"
SECRET = "plain-looking-value-42"  # matches no token pattern: only the store knows it is secret


def test_a_stored_secret_in_an_output_is_refused_by_runner_and_marketplace(tmp_path):
    config = tmp_path / "gemhub.yaml"
    config.write_text(yaml.safe_dump({"hub": {"data_dir": "state"}}))
    paths = Paths.of(load_config(config), config)
    key = ensure_local_key(paths.data_dir)
    with CredentialStore(paths.db_url, keys=key) as store:
        store.set("alice", "sentinelhub", {"client_id": "alice-client", "client_secret": SECRET}, by="test")

    books = tmp_path / "books"
    books.mkdir()
    write_notebook(books / "careless.ipynb", f"print('debug:', {SECRET!r})")
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_CRYPT_KEY"}
    run = subprocess.run(
        [GEMHUB, "notebooks", "test", books, "--config", config, "--out-dir", tmp_path / "runs",
         "--report", tmp_path / "runs" / "report.json"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert run.returncode == 1
    entry = json.loads((tmp_path / "runs" / "report.json").read_text())["notebooks"][0]
    assert entry["status"] == "failed" and "output contains credentials" in entry["error"]
    assert SECRET not in (tmp_path / "runs" / "careless" / "careless.ipynb").read_text()

    # Even if such an output reached the marketplace (an old report, a hand-made one), it is not published.
    executed = tmp_path / "runs" / "careless" / "careless.ipynb"
    nb = nbformat.read(executed, as_version=4)
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"debug: {SECRET}\n")]
    nbformat.write(nb, executed)
    report = json.loads((tmp_path / "runs" / "report.json").read_text())
    report["notebooks"][0].update(status="passed", error=None)
    (tmp_path / "runs" / "report.json").write_text(json.dumps(report))
    build = subprocess.run(
        [GEMHUB, "marketplace", "build", "--report", tmp_path / "runs" / "report.json", "--out", tmp_path / "site",
         "--notebooks", books, "--config", config],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert build.returncode in (0, 1), build.stderr
    index_file = tmp_path / "site" / "index.json"
    published = json.loads(index_file.read_text())["notebooks"] if index_file.exists() else []
    assert published == []
    for path in (tmp_path / "site").rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
