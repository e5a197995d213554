"""The curated suite: `gemhub notebooks test --jobs 2` against a plain sequential papermill loop.

    .gemhub/envs/hub/bin/python benchmarks/notebooks.py [--jobs 2] [--out PATH]

Three figures: the runner over every curated notebook from an empty cache,
the same notebooks executed one after another by papermill's Python API (same
kernel, same sandbox), and the runner again with nothing changed (all cached).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
sys.path.insert(0, str(CHECKOUT))

from gemhub.notebooks.kernel import NAME as KERNEL, ensure_kernelspec  # noqa: E402
from gemhub.notebooks.discovery import discover  # noqa: E402
from gemhub.notebooks.runner import kernel_environment  # noqa: E402
from gemhub.paths import state_home  # noqa: E402
from gemhub.sandbox_process import start_sandbox  # noqa: E402

GEMHUB = Path(sys.executable).parent / "gemhub"


def timed(fn) -> float:
    start = time.monotonic()
    fn()
    return round(time.monotonic() - start, 2)


def runner(work: Path, jobs: int, force: bool) -> None:
    argv = [GEMHUB, "notebooks", "test", CHECKOUT / "notebooks", "--jobs", str(jobs),
            "--out-dir", work / "runs", "--report", work / "report.json"]
    subprocess.run([*argv, *(["--force"] if force else [])], check=True, capture_output=True)


def sequential_papermill(work: Path, notebooks: list[Path]) -> None:
    import papermill

    jupyter_path = ensure_kernelspec(state_home() / "envs" / "user")
    with start_sandbox() as sandbox:
        saved, kernel_env = dict(os.environ), kernel_environment(sandbox, jupyter_path, work)
        os.environ.clear()
        os.environ.update(kernel_env)
        try:
            for book in notebooks:
                out = work / "sequential" / book.stem
                out.mkdir(parents=True, exist_ok=True)
                papermill.execute_notebook(str(book), str(out / book.name), kernel_name=KERNEL,
                                           parameters={"output_dir": str(out / "outputs")},
                                           cwd=str(out), progress_bar=False)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "notebooks.json")
    args = parser.parse_args()
    notebooks = discover([CHECKOUT / "notebooks"])
    with tempfile.TemporaryDirectory(prefix="gemhub-bench-nb-") as tmp:
        work = Path(tmp)
        suite = timed(lambda: runner(work, args.jobs, force=True))
        rerun = timed(lambda: runner(work, args.jobs, force=False))
        sequential = timed(lambda: sequential_papermill(work, notebooks))
    result = {
        "benchmark": "curated notebook suite",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "notebooks": len(notebooks),
        "jobs": args.jobs,
        "suite_s": suite,
        "sequential_s": sequential,
        "rerun_s": rerun,
        "targets": {"suite_s": "< 600", "rerun_s": "< 5"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{len(notebooks)} notebooks: runner --jobs {args.jobs} {suite:.1f} s, sequential papermill "
          f"{sequential:.1f} s (x{sequential / suite:.2f}), no-change re-run {rerun:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
