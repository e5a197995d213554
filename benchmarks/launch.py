"""Time from clicking Launch in the marketplace to the notebook's first cell in JupyterLab.

    .gemhub/envs/hub/bin/python benchmarks/launch.py [--runs 5] [--out PATH] [--report REPORT]

One real `gemhub up` (the helper the tests use) on free loopback ports in a
temporary folder, serving a marketplace site built once from a runner report
(`gemhub notebooks test notebooks/ --jobs 2`, then `gemhub marketplace build`;
`--report` reuses a report instead, and `.gemhub/notebook-runs/report.json` is
reused when present and all passed). One demo user logs in once in headless
Chromium (the distribution's, via tests/support/browser.py); every sample then
opens the `water-monitor` detail page (not timed), and the clock runs from
`click()` on its Launch button to `expect(first cell).to_be_visible()`.

Before each sample the previous copy is deleted through the contents API (its
kernel session shut down first), so Launch really copies the curated notebook
and opens it: the path is the same every time, so JupyterLab's saved layout
never accumulates tabs.

running: the server is up, and JupyterLab was loaded once in the same browser
         context before the first sample (its assets are in the HTTP cache, as
         for someone who has Lab open in another tab).
stopped: the server is stopped through the hub API (and waited for) before each
         sample, so Launch goes through the hub: /hub/user-redirect/ spawns and
         shows spawn-pending, which sends the browser back to the Launch URL on
         the new server. (Should the hub ever show its "server not running" page
         instead, its Launch Server button is clicked at once, inside the timed
         window, and the sample says so.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
sys.path.insert(0, str(CHECKOUT / "tests"))
sys.path.insert(0, str(HERE))

from support.browser import CHROMIUM, launch_chromium, log_in  # noqa: E402
from support.hub import RunningHub, UserSession, write_config  # noqa: E402

from common import machine, started, summary, versions, write_result  # noqa: E402

USER = "bench"
SLUG = "water-monitor"
COPY_PATH = f"marketplace/{SLUG}/{SLUG}.ipynb"
GEMHUB = Path(sys.executable).parent / "gemhub"
DEFAULT_OUT = HERE / "results" / "launch.json"
EXISTING_REPORT = CHECKOUT / ".gemhub" / "notebook-runs" / "report.json"
TIMEOUT_MS = 180_000
TARGETS = {"running_s": 1.5, "stopped_s": 8.0}
LAUNCH_LOG = re.compile(rf"gemhub launch: slug={SLUG} action=(\w+) path=(\S+)")


# -- setup -----------------------------------------------------------------

def all_passed(report: Path) -> bool:
    try:
        s = json.loads(report.read_text())["summary"]
    except (OSError, ValueError, KeyError):
        return False
    return s.get("total", 0) > 0 and s.get("passed", 0) + s.get("cached", 0) >= s["total"] and not s.get("failed")


def build_site(work: Path, report: Path | None) -> tuple[Path, dict]:
    """The marketplace site, from a given/existing report or from a new runner pass."""
    how: dict = {}
    if report is None and all_passed(EXISTING_REPORT):
        report = EXISTING_REPORT
    if report is None:
        report = work / "report.json"
        print("running the curated notebooks (gemhub notebooks test --jobs 2) ...", flush=True)
        started = time.monotonic()
        run = subprocess.run(
            [GEMHUB, "notebooks", "test", CHECKOUT / "notebooks", "--jobs", "2",
             "--out-dir", work / "runs", "--report", report],
            capture_output=True, text=True, timeout=1800,
        )
        how["runner_seconds"] = round(time.monotonic() - started, 1)
        if run.returncode != 0 or not all_passed(report):
            raise RuntimeError(f"notebook runner failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        how["report"] = "new runner pass into a temporary out-dir"
    else:
        how["report"] = f"reused {report}"
    how["report_summary"] = json.loads(report.read_text())["summary"]
    site = work / "site"
    subprocess.run([GEMHUB, "marketplace", "build", "--report", report, "--out", site,
                    "--notebooks", CHECKOUT / "notebooks"], check=True, capture_output=True, timeout=300, cwd=CHECKOUT)
    return site, how


# -- the user server, through the APIs ---------------------------------------

class Server:
    """The bench user's server via the hub API (start/stop) and its Jupyter API (sessions, contents)."""

    def __init__(self, hub: RunningHub):
        self.session: UserSession = hub.session(USER)
        self.session.login()
        self.auth = {"Authorization": f"token {self.session.token('launch benchmark')}"}
        self.base = f"{hub.url}/user/{USER}/api"

    def running(self) -> bool:
        status = self.session.server_status()
        return bool(status and status.get("ready"))

    def ensure_running(self) -> None:
        if not self.running():
            self.session.start_server()

    def stop(self) -> None:
        if self.session.server_status():
            self.session.stop_server()

    def remove_copy(self) -> bool:
        """Shut down kernel sessions of the copy, delete it; True if there was one."""
        http = self.session.http
        sessions = http.get(f"{self.base}/sessions", headers=self.auth, timeout=30)
        sessions.raise_for_status()
        for s in sessions.json():
            if s.get("path", "").startswith(f"marketplace/{SLUG}/"):
                http.delete(f"{self.base}/sessions/{s['id']}", headers=self.auth, timeout=30).raise_for_status()
        gone = http.delete(f"{self.base}/contents/{COPY_PATH}", headers=self.auth, timeout=30)
        if gone.status_code not in (204, 404):
            raise RuntimeError(f"could not delete {COPY_PATH}: {gone.status_code} {gone.text[:300]}")
        return gone.status_code == 204

    def exists(self) -> bool:
        return self.session.http.get(f"{self.base}/contents/{COPY_PATH}?content=0", headers=self.auth,
                                     timeout=30).status_code == 200


# -- one sample --------------------------------------------------------------

def launch_once(page, hub: RunningHub, expect, log_offset: int) -> dict:
    """Detail page (untimed), then click Launch → first cell visible (timed)."""
    page.goto(f"{hub.url}/services/marketplace/notebooks/{SLUG}.html")
    launch = page.get_by_role("link", name=re.compile(r"^\s*Launch"))
    expect(launch).to_be_visible()
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first
    start_button = page.locator("a#start")

    navigations: list[tuple[float, str]] = []
    started = 0.0

    def on_navigated(frame):
        if frame == page.main_frame:
            navigations.append((round(time.perf_counter() - started, 3), frame.url))

    page.on("framenavigated", on_navigated)
    try:
        started = time.perf_counter()
        launch.click()
        expect(cell.or_(start_button)).to_be_visible()
        start_clicked = None
        if start_button.is_visible():
            start_clicked = round(time.perf_counter() - started, 3)
            start_button.click()
        expect(cell).to_be_visible()
        seconds = time.perf_counter() - started
    finally:
        page.remove_listener("framenavigated", on_navigated)

    lab_document_s = page.evaluate("performance.now() / 1000")
    expected = f"/user/{USER}/lab/tree/{COPY_PATH}"
    if not page.url.split("?")[0].endswith(expected):
        raise RuntimeError(f"Launch ended at {page.url}, expected …{expected}")
    actions = LAUNCH_LOG.findall(hub.log_file.read_bytes()[log_offset:].decode(errors="replace"))
    return {
        "seconds": round(seconds, 3),
        "launch_action": actions[-1][0] if actions else None,
        "not_running_page_s": start_clicked,
        "lab_document_s": round(lab_document_s, 3),
        "navigations": [{"t": t, "url": url.replace(hub.url, "")} for t, url in navigations],
    }


def run_case(kind: str, runs: int, page, hub: RunningHub, server: Server, expect) -> list[dict]:
    samples = []
    for i in range(runs):
        # The browser leaves Lab first, so its last layout save is done before we touch anything.
        page.goto(f"{hub.url}/services/marketplace/")
        server.ensure_running()
        server.remove_copy()
        if server.exists():
            raise RuntimeError(f"{COPY_PATH} still there after delete")
        if kind == "stopped":
            server.stop()
        load = os.getloadavg()[0]
        offset = hub.log_file.stat().st_size
        sample = launch_once(page, hub, expect, offset)
        sample["load1_before"] = round(load, 2)
        if sample["launch_action"] != "copy":
            raise RuntimeError(f"expected a new copy, the launch handler logged {sample['launch_action']!r}")
        samples.append(sample)
        extra = f"  (not-running page at {sample['not_running_page_s']:.2f}s)" if sample["not_running_page_s"] else ""
        print(f"{kind} {i + 1}/{runs}: {sample['seconds']:.2f}s  load {load:.1f}{extra}", flush=True)
    return samples


# -- main --------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="samples of each kind (default 5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON result file (default {DEFAULT_OUT})")
    parser.add_argument("--report", type=Path, help="reuse this runner report.json instead of running the notebooks")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    from playwright.sync_api import expect, sync_playwright

    from gemhub.paths import state_home

    expect.set_options(timeout=TIMEOUT_MS)
    with tempfile.TemporaryDirectory(prefix="gemhub-bench-launch-") as tmp:
        work = Path(tmp)
        site, setup = build_site(work, args.report)
        folder = work / "hub"
        folder.mkdir()
        hub = RunningHub(write_config(folder, [USER], extra={"marketplace": {"site_dir": str(site)}}),
                         folder / "gemhub-up.log")
        browser = None
        with started(hub), sync_playwright() as playwright:
            try:
                browser = launch_chromium(playwright)
                browser_version = browser.version
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.set_default_timeout(TIMEOUT_MS)
                log_in(page, hub.url, USER, hub.passwords[USER])
                # The hub spawns on login and lands in Lab: that is the "loaded once before".
                page.wait_for_url(re.compile(rf".*/user/{USER}/lab.*"), timeout=TIMEOUT_MS)
                expect(page.locator("#jp-main-dock-panel")).to_be_visible()
                server = Server(hub)

                load_before = {"running": os.getloadavg()}
                running = run_case("running", args.runs, page, hub, server, expect)
                load_before["stopped"] = os.getloadavg()
                stopped = run_case("stopped", args.runs, page, hub, server, expect)
                load_after = os.getloadavg()
            finally:
                if browser is not None:
                    browser.close()

    result = {
        "benchmark": "marketplace Launch click → launched notebook's first cell visible in JupyterLab",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine(), "load_average_1_5_15": {
            "before_running": [round(x, 2) for x in load_before["running"]],
            "before_stopped": [round(x, 2) for x in load_before["stopped"]],
            "after": [round(x, 2) for x in load_after]}},
        "versions": {**versions(state_home() / "envs" / "user"),
                     "playwright": _version("playwright"), "chromium": browser_version, "chromium_path": str(CHROMIUM)},
        "runs": args.runs,
        "notebook": SLUG,
        "running": {**summary([s["seconds"] for s in running]), "details": running},
        "stopped": {**summary([s["seconds"] for s in stopped]), "details": stopped},
        "targets": TARGETS,
        "setup": setup,
        "method": (
            f"One `gemhub up` (tests/support/hub.py) on free 127.0.0.1 ports in a temporary folder, its marketplace "
            f"serving a site built by `gemhub marketplace build` from a passing `gemhub notebooks test notebooks/ "
            f"--jobs 2` report; one demo user logged in once in headless Chromium ({CHROMIUM}, Playwright sync API), "
            f"one browser context for all samples. Each sample: open /services/marketplace/notebooks/{SLUG}.html "
            f"(untimed), delete the previous copy {COPY_PATH} through the user server's contents API after shutting "
            f"down its kernel session (so every Launch makes a real copy at the same path; the launch handler's log "
            f"line is checked to say action=copy), then time.perf_counter() from Launch click() until "
            f"expect(first .jp-Cell of the visible notebook panel).to_be_visible(). running: the server is up and "
            f"JupyterLab had been loaded once before in the same context (the login lands in Lab), so Lab's assets "
            f"are in the browser's HTTP cache. stopped: before each sample the server is stopped via DELETE "
            f"/hub/api/users/{USER}/server and polled until the hub reports no server; Launch's "
            f"/hub/user-redirect/ link then {stopped_path(stopped)}, and spawn-pending follows the spawn and "
            f"redirects to the Launch URL on the new server. Lab assets stay cached in that case too. "
            f"Launch always loads a whole Lab page in the marketplace's tab (it does not reuse an open Lab tab). "
            f"lab_document_s is performance.now() of the final Lab document when the cell showed; navigations lists "
            f"main-frame URLs with seconds since the click; load1_before is the 1-minute load average before the "
            f"sample. Targets are recorded, not asserted."
        ),
    }
    write_result(args.out, result, ("running", "stopped"), TARGETS)
    return 0


def stopped_path(samples: list[dict]) -> str:
    """How the hub handled Launch with a stopped server, from what the browser saw."""
    clicked = sum(1 for s in samples if s["not_running_page_s"] is not None)
    if clicked == 0:
        return "went straight to the hub's spawn-pending page (no 'server not running' page, nothing to click)"
    return (f"showed JupyterHub's 'server not running' page in {clicked} of {len(samples)} samples, whose Launch "
            f"Server button was clicked at once inside the timed window (not_running_page_s says when it appeared)")


def _version(package: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
