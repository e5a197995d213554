"""Run the test suite: hub-environment tests, then user-environment tests.

Two pytest runs because the two environments cannot share one interpreter
(eo-grow needs pydantic 1, JupyterHub 6 pydantic 2). Arguments go to both runs,
so one marker expression selects in both (`make test-fast` passes
`-m "not docker and not browser and not slow"`). Prints one closing line with
the combined counts, and exits non-zero if anything failed.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
STATE = CHECKOUT / ".gemhub"
SUITES = [
    ("hub", STATE / "envs" / "hub" / "bin" / "python", CHECKOUT / "tests"),
    ("user", STATE / "envs" / "user" / "bin" / "python", CHECKOUT / "tests" / "user_env"),
]


def counts(junit: Path) -> dict[str, int]:
    if not junit.exists():
        return {"passed": 0, "failed": 1, "skipped": 0}
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in total:
            total[key] += int(suite.get(key, 0))
    failed = total["failures"] + total["errors"]
    return {"passed": total["tests"] - failed - total["skipped"], "failed": failed, "skipped": total["skipped"]}


def main(argv: list[str]) -> int:
    reports = STATE / "test-reports"
    reports.mkdir(parents=True, exist_ok=True)
    summary = {"passed": 0, "failed": 0, "skipped": 0}
    for name, python, folder in SUITES:
        if not any(folder.glob("test_*.py")):
            continue
        junit = reports / f"{name}.xml"
        junit.unlink(missing_ok=True)
        print(f"\n=== {name}-environment tests ({folder.relative_to(CHECKOUT)}) ===", flush=True)
        code = subprocess.call(
            [str(python), "-m", "pytest", str(folder), f"--junitxml={junit}", "-p", "no:cacheprovider", *argv],
            cwd=CHECKOUT,
        )
        result = counts(junit)
        all_deselected = code == 5 and bool(argv)  # pytest's "no tests collected", here because of the selection
        if code not in (0, 1) and not all_deselected and result["failed"] == 0:
            result["failed"] = 1  # pytest itself failed (usage error, crash, no tests collected)
        for key in summary:
            summary[key] += result[key]
    if argv:
        print(f"\nselection: {shlex.join(argv)} (tests it deselects are not counted)")
    print(f"\ntests: {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped")
    return 1 if summary["failed"] or not summary["passed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
