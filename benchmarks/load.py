"""N simulated users log in, spawn, run a cell, open the marketplace, Launch, and stop, on a ramp.

    .gemhub/envs/hub/bin/python benchmarks/load.py --users 100 --ramp 60 --lightweight-servers
    .gemhub/envs/hub/bin/python benchmarks/load.py --users 30 --ramp 60            # full JupyterLab servers
    .gemhub/envs/hub/bin/python benchmarks/load.py --hub-url URL --admin-token TOKEN --users 10 --ramp 10

In the spirit of jupyterhub/hubtraf: every user is a thread with its own HTTP
session (requests, cookies and all) that walks the journey a workshop attendee
does, and every step is timed:

  login        GET /hub/login (the form and its _xsrf cookie), POST it → 302
  token        an API token for the user (POST /hub/api/users/<u>/tokens), used to stop later
  spawn        GET /hub/spawn/<u>, then the spawn progress event stream until "ready" (as the
               spawn-pending page's JavaScript does, benchmarks/spawn.py)
  server_auth  first page of the server (/user/<u>/files/): its OAuth round trip with the hub
  kernel_start POST /user/<u>/api/kernels
  execute      websocket /user/<u>/api/kernels/<id>/channels, execute_request "1 + 1" → execute_reply ok
  marketplace  GET /services/marketplace/ (its own OAuth round trip the first time)
  launch       GET /hub/user-redirect/gemhub/launch/<slug> → the launched copy open in JupyterLab
  stop         DELETE /hub/api/users/<u>/server with the user's token, then until the hub reports none

plus login_to_ready (login start → spawn ready). A failed step is recorded with
its reason (HTTP status and the first line of the body, or the exception) and
ends that user's journey; the server is still stopped.

By default the harness starts its own `gemhub up` on free loopback ports (the
same helper the tests use, tests/support/hub.py), then the same journey against
stock JupyterHub (`--peer stock`, see load_hubs.py) with the same users, ramp,
spawner and single-user arguments, and reports gemhub/stock ratios of the spawn
latency. `--lightweight-servers` starts every user server with all server
extensions off (no JupyterLab, no Launch: that step is then "skipped:
lightweight"), so two cores measure the hubs rather than many Labs. With
`--hub-url` the target is a hub already running: users are made through the
admin API and authenticate with API tokens instead of the login form.

Process CPU%/RSS (hub, proxy, gemhub's services, user servers, this harness) and
the load average are sampled every 0.5 s (load_sampler.py). Results go to
benchmarks/results/load-<mode>.json; the plot is drawn by plot_load.py, which
needs matplotlib and so runs in the user environment; this script calls it:

    .gemhub/envs/user/bin/python benchmarks/plot_load.py benchmarks/results/load-<mode>.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from requests.cookies import get_cookie_header
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from gemhub_sandbox.contract import LAUNCH_PATH  # noqa: E402

from common import machine, summary, versions, write_result  # noqa: E402
from load_hubs import USER_ENV, GemhubHub, RemoteHub, StockHub, Target, describe_stock  # noqa: E402
from load_sampler import Sampler  # noqa: E402
from load_sampler import summarise as summarise_resources  # noqa: E402

RESULTS = HERE / "results"
STEPS = ("login", "token", "spawn", "server_auth", "kernel_start", "execute", "marketplace", "launch", "stop")
DERIVED = ("login_to_ready",)
TARGETS = {"lightweight": "100 users ramped over 60 s: 0 failures, p95 login → server ready < 10 s",
           "full": "30 JupyterLab users: 0 failures",
           "overhead": "gemhub/stock p95 spawn latency < 1.05"}
CODE = "1 + 1"


class StepFailed(Exception):
    """A step's answer was not what a browser would accept; the message is the recorded reason."""


def reason_of(response: requests.Response) -> str:
    first = (response.text or "").strip().splitlines()[:1]
    return f"HTTP {response.status_code} at {response.url.split('?')[0]}: {first[0][:200] if first else '(empty)'}"


def expect(response: requests.Response, *ok: int) -> requests.Response:
    if response.status_code not in ok:
        raise StepFailed(reason_of(response))
    return response


@dataclass
class Journey:
    """One simulated user: its session, its events (step, start, seconds, ok, reason)."""

    target: Target
    user: str
    t0: float
    timeout: float
    http: requests.Session = field(default_factory=requests.Session)
    events: list[dict] = field(default_factory=list)
    token: str | None = None

    # -- helpers -----------------------------------------------------------------

    def hub_xsrf(self) -> dict:
        return {"X-XSRFToken": self.http.cookies.get("_xsrf", path="/hub/") or ""}

    def server_xsrf(self) -> dict:
        return {"X-XSRFToken": self.http.cookies.get("_xsrf", path=f"/user/{self.user}/") or ""}

    def step(self, name: str, action) -> object:
        if name in self.target.skip:
            self.events.append({"user": self.user, "step": name, "start": None, "seconds": None,
                                "ok": None, "reason": self.target.skip[name]})
            return None
        start = time.monotonic()
        try:
            value = action()
        except Exception as error:  # every failure is data here, never a crash of the harness
            reason = str(error) if isinstance(error, StepFailed) else f"{type(error).__name__}: {error}"
            self.events.append({"user": self.user, "step": name, "start": round(start - self.t0, 3),
                                "seconds": round(time.monotonic() - start, 3), "ok": False,
                                "reason": reason.splitlines()[0][:300] if reason else type(error).__name__})
            raise
        self.events.append({"user": self.user, "step": name, "start": round(start - self.t0, 3),
                            "seconds": round(time.monotonic() - start, 3), "ok": True, "reason": None})
        return value

    # -- the steps ---------------------------------------------------------------

    def login(self) -> None:
        url = self.target.url
        expect(self.http.get(f"{url}/hub/login", timeout=self.timeout), 200)
        expect(self.http.post(f"{url}/hub/login", data={
            "username": self.user, "password": self.target.credentials[self.user],
            "_xsrf": self.http.cookies.get("_xsrf", path="/hub/")}, allow_redirects=False, timeout=self.timeout), 302)

    def make_token(self) -> None:
        if self.token:
            return
        response = expect(self.http.post(f"{self.target.url}/hub/api/users/{self.user}/tokens",
                                         json={"note": "benchmarks/load.py", "expires_in": 3600},
                                         headers=self.hub_xsrf(), timeout=self.timeout), 200, 201)
        self.token = response.json()["token"]

    def spawn(self) -> None:
        url = self.target.url
        if self.target.auth == "API token":
            expect(self.http.post(f"{url}/hub/api/users/{self.user}/server", timeout=self.timeout), 201, 202)
        else:
            expect(self.http.get(f"{url}/hub/spawn/{self.user}", allow_redirects=False, timeout=self.timeout),
                   302, 303)
        response = expect(self.http.get(f"{url}/hub/api/users/{self.user}/server/progress", headers=self.hub_xsrf(),
                                        stream=True, timeout=self.timeout), 200)
        deadline = time.monotonic() + self.timeout
        with response:
            for line in response.iter_lines(decode_unicode=True):
                if time.monotonic() > deadline:
                    break
                if not line or not line.startswith("data:"):
                    continue
                event = json.loads(line[len("data:"):])
                if event.get("failed"):
                    raise StepFailed(f"spawn failed: {event.get('message')}")
                if event.get("ready"):
                    return
        raise StepFailed(f"no ready event within {self.timeout:g} s (progress stream ended)")

    def server_auth(self) -> None:
        """The server's OAuth round trip with the hub, as a browser's first page there makes it. Its API
        answers 403 rather than redirecting, so the page is /files/ (core jupyter_server, no extension
        needed; it answers 404 for a folder): what counts is that the hub authorised the server's cookie."""
        response = self.http.get(f"{self.target.url}/user/{self.user}/files/", timeout=self.timeout)
        cookie = f"jupyterhub-user-{self.user}"
        via_hub = any("/hub/api/oauth2/authorize" in r.url for r in response.history)
        if not (via_hub and cookie in self.http.cookies.keys() and response.status_code in (200, 403, 404)):
            raise StepFailed(reason_of(response) + f" (through the hub's OAuth: {via_hub})")

    def kernel_start(self) -> str:
        response = expect(self.http.post(f"{self.target.url}/user/{self.user}/api/kernels", json={},
                                         headers=self.server_xsrf(), timeout=self.timeout), 201)
        return response.json()["id"]

    def execute(self, kernel_id: str) -> None:
        http_url = f"{self.target.url}/user/{self.user}/api/kernels/{kernel_id}/channels"
        headers = {}
        if self.token and self.target.auth == "API token":
            headers["Authorization"] = f"token {self.token}"
        cookie = get_cookie_header(self.http.cookies, requests.Request("GET", http_url))
        if cookie:
            headers["Cookie"] = cookie
        request = HTTPRequest("ws" + http_url[len("http"):], headers=headers, request_timeout=self.timeout,
                              connect_timeout=self.timeout)
        asyncio.run(asyncio.wait_for(run_cell(request, self.user), self.timeout))

    def marketplace(self) -> None:
        response = expect(self.http.get(f"{self.target.url}/services/marketplace/", timeout=self.timeout), 200)
        if self.target.launch_slug not in response.text:
            raise StepFailed(f"the catalogue page does not list {self.target.launch_slug}")

    def launch(self) -> None:
        slug = self.target.launch_slug
        response = expect(self.http.get(f"{self.target.url}/hub/user-redirect/{LAUNCH_PATH}{slug}",
                                        timeout=self.timeout), 200)
        if f"/user/{self.user}/lab/tree/marketplace/{slug}/" not in response.url:
            raise StepFailed(f"Launch ended at {response.url}, not the launched copy in Lab")

    def stop(self) -> None:
        api = f"{self.target.url}/hub/api/users/{self.user}"
        auth = {"Authorization": f"token {self.token}"} if self.token else self.hub_xsrf()
        expect(self.http.delete(f"{api}/server", headers=auth, timeout=self.timeout), 202, 204)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            servers = expect(self.http.get(api, headers=auth, timeout=self.timeout), 200).json().get("servers", {})
            if "" not in servers:
                return
            time.sleep(0.25)
        raise StepFailed(f"server still listed {self.timeout:g} s after DELETE")

    # -- the whole walk ----------------------------------------------------------

    def run(self) -> None:
        spawned = False
        try:
            started = time.monotonic()
            if self.target.auth == "API token":
                self.token = self.target.credentials[self.user]
                self.http.headers["Authorization"] = f"token {self.token}"
            self.step("login", self.login)
            self.step("token", self.make_token)
            spawned = True
            self.step("spawn", self.spawn)
            self.events.append({"user": self.user, "step": "login_to_ready", "start": round(started - self.t0, 3),
                                "seconds": round(time.monotonic() - started, 3), "ok": True, "reason": None})
            self.step("server_auth", self.server_auth)
            kernel = self.step("kernel_start", self.kernel_start)
            self.step("execute", lambda: self.execute(kernel))
            self.step("marketplace", self.marketplace)
            self.step("launch", self.launch)
        except Exception:
            pass
        if spawned:
            try:
                self.step("stop", self.stop)
            except Exception:
                pass


async def run_cell(request: HTTPRequest, user: str) -> None:
    """One execute_request over the kernel's websocket (JSON messages, protocol 5.3) → its reply."""
    connection = await websocket_connect(request)
    try:
        msg_id = uuid.uuid4().hex
        connection.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": user, "session": uuid.uuid4().hex, "msg_type": "execute_request",
                       "version": "5.3", "date": dt.datetime.now(dt.timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": CODE, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        while True:
            message = await connection.read_message()
            if message is None:
                raise StepFailed(f"websocket closed before the execute_reply ({connection.close_code} "
                                 f"{connection.close_reason})")
            if isinstance(message, bytes):
                continue
            reply = json.loads(message)
            if reply.get("parent_header", {}).get("msg_id") != msg_id or reply.get("msg_type") != "execute_reply":
                continue
            if reply["content"].get("status") != "ok":
                raise StepFailed(f"execute_reply status {reply['content'].get('status')}: "
                                 f"{reply['content'].get('ename')} {reply['content'].get('evalue')}")
            return
    finally:
        connection.close()


# -- running one target and summarising ------------------------------------------

def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def step_summary(events: list[dict]) -> dict:
    out = {}
    for name in (*STEPS, *DERIVED):
        ok = [e["seconds"] for e in events if e["step"] == name and e["ok"]]
        failed = [e for e in events if e["step"] == name and e["ok"] is False]
        skipped = sorted({e["reason"] for e in events if e["step"] == name and e["ok"] is None})
        row = {"ok": len(ok), "failed": len(failed)}
        if ok:
            row.update(p50=round(statistics.median(ok), 3), p95=round(percentile(ok, 95), 3), max=round(max(ok), 3),
                       min=round(min(ok), 3), mean=round(statistics.fmean(ok), 3))
        if skipped:
            row["skipped"] = skipped
        out[name] = row
    return out


def run_target(target: Target, users: list[str], ramp: float, timeout: float, interval: float) -> dict:
    """Start the users evenly over `ramp` seconds, each in its own thread, and wait for all of them."""
    t0 = time.monotonic()
    sampler = Sampler(target.root_pid, interval).start(t0) if target.root_pid else None
    load_before = os.getloadavg()
    journeys = [Journey(target, user, t0, timeout) for user in users]
    threads = []
    for i, journey in enumerate(journeys):
        at = t0 + (ramp * i / max(1, len(users) - 1) if len(users) > 1 else 0)
        time.sleep(max(0.0, at - time.monotonic()))
        thread = threading.Thread(target=journey.run, name=f"user-{journey.user}", daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=timeout * len(STEPS) + 60)
    hung = [t.name for t in threads if t.is_alive()]
    wall = time.monotonic() - t0
    samples = sampler.stop() if sampler else []
    events = sorted((e for j in journeys for e in j.events), key=lambda e: (e["start"] is None, e["start"] or 0))
    failures = [{"user": e["user"], "step": e["step"], "reason": e["reason"]} for e in events if e["ok"] is False]
    failures += [{"user": name[len("user-"):], "step": "?", "reason": "journey still running at the harness's "
                  "deadline"} for name in hung]
    completed = sum(1 for j in journeys if any(e["step"] == "stop" and e["ok"] for e in j.events)
                    and not any(e["ok"] is False for e in j.events))
    return {
        "target": target.name, "url": target.url, "auth": target.auth, "notes": target.notes,
        "users": len(users), "ramp_s": ramp, "wall_s": round(wall, 1),
        "journeys_without_failure": completed, "failures": failures,
        "steps": step_summary(events), "events": events,
        "resources": {"interval_s": interval, "summary": summarise_resources(samples), "samples": samples},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def ratios(gemhub: dict, stock: dict) -> dict:
    out = {}
    for step in ("spawn", "login_to_ready", "login", "stop"):
        a, b = gemhub["steps"].get(step, {}), stock["steps"].get(step, {})
        for q in ("p50", "p95"):
            if q in a and q in b and b[q] > 0:
                out[f"{step}_{q}"] = round(a[q] / b[q], 3)
    return out


def other_activity() -> list[str]:
    """What else used this machine during the run (other tests, CI, builds), for honest figures."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    busy = []
    for proc in psutil.process_iter(["pid", "cmdline", "cpu_times"]):
        if proc.info["pid"] in mine or not proc.info["cmdline"]:
            continue
        cmd = " ".join(proc.info["cmdline"])
        if any(word in cmd for word in ("pytest", "jupyterhub", "gemhub", "playwright", "chrom", "docker build",
                                        "papermill", "node ", "uv ", "make ")):
            busy.append(f"{proc.info['pid']}: {cmd[:160]}")
    return busy[:40]


# -- main ----------------------------------------------------------------------------

def redacted(argv: list[str]) -> list[str]:
    """The command line for the record, without the admin token's value."""
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("<redacted>")
        elif arg.startswith("--admin-token="):
            out.append("--admin-token=<redacted>")
        else:
            out.append(arg)
        hide = arg == "--admin-token"
    return out


def measure(hub, users, args) -> dict:
    try:
        target = hub.start()
        print(f"{target.name}: {len(users)} users over {args.ramp:g} s at {target.url} ({target.auth})", flush=True)
        result = run_target(target, users, args.ramp, args.timeout, args.interval)
    except Exception:
        print(f"--- {type(hub).__name__} log (tail) ---\n{hub.log_tail()}", file=sys.stderr)
        raise
    finally:
        hub.stop()
    steps = result["steps"]
    print(f"{target.name}: {result['journeys_without_failure']}/{len(users)} journeys without failure, "
          f"{len(result['failures'])} failures; login→ready p50 {steps['login_to_ready'].get('p50')} "
          f"p95 {steps['login_to_ready'].get('p95')} s", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10, help="simulated users (default 10)")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which users start (default 10)")
    parser.add_argument("--lightweight-servers", action="store_true",
                        help="user servers with every server extension off (no JupyterLab, no Launch)")
    parser.add_argument("--peer", choices=["stock", "none"], default="stock",
                        help="also run stock JupyterHub 6 with the same users and ramp (default stock)")
    parser.add_argument("--hub-url", help="measure this running hub instead of starting gemhub (needs --admin-token)")
    parser.add_argument("--admin-token", default=os.environ.get("GEMHUB_LOAD_ADMIN_TOKEN"),
                        help="admin API token for --hub-url (or $GEMHUB_LOAD_ADMIN_TOKEN)")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-step guard against hanging (default 300 s)")
    parser.add_argument("--interval", type=float, default=0.5, help="resource sampling interval (default 0.5 s)")
    parser.add_argument("--config-extra", type=json.loads, default=None,
                        help='JSON merged into the generated gemhub.yaml, e.g. \'{"marketplace": {"enabled": false}}\'')
    parser.add_argument("--launch-slug", help="curated notebook to Launch (default: a one-cell probe notebook the "
                        "harness publishes on its own hub; with --hub-url: water-monitor)")
    parser.add_argument("--prefix", default="load", help="user name prefix (default load)")
    parser.add_argument("--out", type=Path, help="JSON result (default results/load-<mode>.json)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    args = parser.parse_args(argv)
    if args.users < 1 or args.ramp < 0:
        parser.error("--users must be at least 1 and --ramp not negative")
    if args.hub_url and not args.admin_token:
        parser.error("--hub-url needs --admin-token (or $GEMHUB_LOAD_ADMIN_TOKEN)")
    mode = "remote" if args.hub_url else ("lightweight" if args.lightweight_servers else "full")
    out = args.out or RESULTS / f"load-{mode}.json"
    users = [f"{args.prefix}{i:03d}" for i in range(1, args.users + 1)]
    started = dt.datetime.now(dt.timezone.utc)
    activity_before = other_activity()

    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="gemhub-load-") as tmp:
        if args.hub_url:
            runs["remote"] = measure(RemoteHub(args.hub_url, args.admin_token, users,
                                               args.launch_slug or "water-monitor"), users, args)
        else:
            runs["gemhub"] = measure(GemhubHub(Path(tmp) / "gemhub", users, args.lightweight_servers,
                                               args.config_extra), users, args)
            if args.peer == "stock":
                runs["stock"] = measure(StockHub(Path(tmp) / "stock", users, args.lightweight_servers), users, args)

    result = {
        "benchmark": "simulated users: login → spawn → kernel cell → marketplace → Launch → stop",
        "mode": mode,
        "mode_description": {
            "lightweight": "jupyterhub-singleuser with every server extension off (jupyterlab, jupyter_lsp, "
                           "jupyter_server_proxy, terminals, notebook_shim, gemhub_workspace): a real server "
                           "and kernel, no Lab; Launch skipped",
            "full": "jupyterhub-singleuser with the user env's extensions (JupyterLab, gemhub_workspace, ...)",
            "remote": "an existing hub's own servers; users authenticate with API tokens",
        }[mode],
        "date": started.isoformat(timespec="seconds"),
        "command": "benchmarks/load.py " + " ".join(redacted(sys.argv[1:] if argv is None else argv)),
        "users": args.users, "ramp_s": args.ramp, "step_timeout_s": args.timeout,
        "steps": list(STEPS), "derived": list(DERIVED), "cell": CODE,
        "machine": {**machine(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "versions": versions(USER_ENV),
        "other_activity": {"before": activity_before, "after": other_activity()},
        "runs": runs,
        "ratios_gemhub_over_stock": ratios(runs["gemhub"], runs["stock"]) if "stock" in runs else None,
        "stock_setup": describe_stock() if "stock" in runs else None,
        "targets": TARGETS,
        "method": __doc__.split("\n\n", 2)[2].strip(),
    }
    kinds = []
    for name, run in runs.items():
        for step in ("login_to_ready", "spawn"):
            samples = [e["seconds"] for e in run["events"] if e["step"] == step and e["ok"]]
            if samples:
                key = f"{name}_{step}"
                result[key] = {**summary(samples), "p95": run["steps"][step]["p95"]}
                kinds.append(key)
    if kinds:
        write_result(out, result, tuple(kinds))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"no step succeeded; written to {out}")
    if result["ratios_gemhub_over_stock"]:
        print("gemhub/stock:", result["ratios_gemhub_over_stock"])
    for name, run in runs.items():
        for failure in run["failures"][:10]:
            print(f"{name} failure: {failure['user']} {failure['step']}: {failure['reason']}")
    if not args.no_plot:
        plot = subprocess.run([str(USER_ENV / "bin" / "python"), str(HERE / "plot_load.py"), str(out)],
                              capture_output=True, text=True)
        print(plot.stdout.strip() or plot.stderr.strip()[-2000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
