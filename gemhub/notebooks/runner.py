"""Headless notebook runs: papermill in parallel, cached, with a JSON report.

Each notebook runs as its own papermill process in the hub environment,
driving a kernel of the user environment (kernel.py), or, with an image, as
papermill inside a container of that image (container.py); either way against
a sandbox with throwaway credentials. A notebook whose content, parameters and
environment (or image) are unchanged since it last passed is not run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import papermill
import psutil
from gemhub_sandbox.contract import ENV_PREFIX as SANDBOX_ENV_PREFIX

from ..paths import CHECKOUT, running_from_checkout
from ..secrets_scan import find_secrets, redact
from . import container, kernel, outputs
from .discovery import content_hash
from .fingerprint import environment_fingerprint, package_list_sha256, sandbox_fingerprint
from .report import Environment, NotebookResult, Report, Summary

RUNNER_VERSION = "1"
SANDBOX_LOG = "sandbox.log"
# The lock the user environment is made from, in a source checkout (`make envs`).
USER_LOCK = "images/user/requirements.lock"


@dataclass
class RunOptions:
    out_dir: Path
    report_path: Path
    user_env: Path
    jobs: int = 2
    timeout: float = 600
    force: bool = False
    known_secrets: tuple[str, ...] = ()
    image: str | None = None
    # Kernels use the sandbox their user's Jupyter server started (Binder: binder/start,
    # gemhub_workspace.binder) instead of one the runner starts.
    sandbox_from_server: bool = False

    @property
    def sandbox_log(self) -> Path:
        """Where the runner's sandbox's stderr is kept, as evidence when it dies."""
        return self.out_dir / SANDBOX_LOG


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def environment_hash(options: RunOptions, image_id: str | None = None) -> str:
    """What the kernel runs on: the image (which holds everything), or the user
    environment's packages and the sandbox the notebooks talk to."""
    digest = hashlib.sha256(RUNNER_VERSION.encode())
    if image_id:
        digest.update(b"image:" + image_id.encode())
        return digest.hexdigest()
    digest.update(environment_fingerprint(options.user_env).encode())
    # A server's sandbox belongs to the user environment, fingerprinted above.
    digest.update(b"server-sandbox" if options.sandbox_from_server else sandbox_fingerprint().encode())
    return digest.hexdigest() + kernel.env_id(options.user_env)


def user_lock_sha256(options: RunOptions, image_id: str | None) -> str:
    """For the report: the lock the notebooks' environment was made from. In a checkout,
    the lock file itself; an installed gemhub has none, so the image's id (which is a
    sha256), or the sha256 of what the user environment has installed."""
    if running_from_checkout() and (CHECKOUT / USER_LOCK).is_file():
        return _sha256((CHECKOUT / USER_LOCK).read_bytes())
    if image_id:
        return image_id.removeprefix("sha256:")
    return package_list_sha256(options.user_env)


def parameters_for(path: Path, run_dir: Path) -> dict:
    """Point the notebook's output_dir (if it has one) into this run's folder."""
    declared = papermill.inspect_notebook(str(path))
    return {"output_dir": str(run_dir / "outputs")} if "output_dir" in declared else {}


def cache_key(path: Path, env_hash: str) -> str:
    declared = papermill.inspect_notebook(str(path))
    return _sha256(f"{content_hash(path)}|{sorted(declared)}|{env_hash}".encode())


def _kill_tree(pid: int) -> None:
    """Kill a process and every descendant (the kernel runs in its own session, so
    killing papermill's process group would leave it running)."""
    try:
        root = psutil.Process(pid)
        victims = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for victim in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()


KERNEL_START_FAILURES = ("Kernel died before replying to kernel_info", "Address already in use")


@dataclass
class LocalLaunch:
    """papermill from this (hub) environment, with a kernel of the user environment."""

    env: dict[str, str]

    def argv(self, source: Path, output: Path, run_dir: Path, parameters: dict, run_id: str) -> list[str]:
        argv = [sys.executable, "-m", "papermill", str(source), str(output), "-k", kernel.NAME]
        argv += ["--cwd", str(run_dir), "--no-progress-bar"]
        for name, value in parameters.items():
            argv += ["-p", name, value]
        return argv

    def run_id(self, slug: str) -> str:
        return slug

    def stop(self, run_id: str) -> None:
        """Nothing outlives the process tree, which the runner kills itself."""


class InFlight:
    """The papermill processes running now, so that a dead sandbox can stop them at once.

    Without this, a notebook whose sandbox died spends minutes in sentinelhub-py's
    retries against a closed port before it fails."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[str, tuple[subprocess.Popen, object]] = {}
        self.stopped: dict[str, str] = {}

    def add(self, run_id: str, process: subprocess.Popen, launch) -> None:
        with self._lock:
            self._running[run_id] = (process, launch)
            self.stopped.pop(run_id, None)

    def remove(self, run_id: str) -> str | None:
        """Forget a finished run; returns why it was stopped, if it was."""
        with self._lock:
            self._running.pop(run_id, None)
            return self.stopped.pop(run_id, None)

    def stop_all(self, reason: str) -> None:
        with self._lock:
            running = list(self._running.items())
            for run_id, _ in running:
                self.stopped[run_id] = reason
        for run_id, (process, launch) in running:
            _kill_tree(process.pid)
            launch.stop(run_id)


def run_one(path: Path, key: str, options: RunOptions, launch, secrets: list[str], sandbox=None,
            in_flight: InFlight | None = None) -> NotebookResult:
    """Run a notebook; run it once more when the failure was not the notebook's.

    Kernels started at the same moment can race for the same free TCP port
    (jupyter_client picks ports by probing), and the sandbox can die under a
    notebook (it is restarted at once): neither says anything about the
    notebook, so it gets a second chance. A failure inside a cell does not."""
    in_flight = in_flight or InFlight()
    if sandbox is not None:
        sandbox.ensure_alive()
    started = time.time()
    result = _run_once(path, key, options, launch, secrets, in_flight)
    log = options.out_dir / path.stem / "papermill.log"
    if result.status == "failed" and result.failing_cell is None and log.exists():
        if any(sign in log.read_text(errors="replace") for sign in KERNEL_START_FAILURES):
            result = _run_once(path, key, options, launch, secrets, in_flight)
    deaths = sandbox.died_since(started) if sandbox is not None else []
    if result.status != "passed" and deaths:
        first_error = (result.error or result.status).splitlines()[0]
        sandbox.ensure_alive()
        result = _run_once(path, key, options, launch, secrets, in_flight)
        result.rerun_reason = (f"the sandbox died during the first run ({deaths[0].how}) and was restarted; "
                               f"this is the second run (first run: {first_error})")
    return result


def _run_once(path: Path, key: str, options: RunOptions, launch, secrets: list[str],
              in_flight: InFlight) -> NotebookResult:
    slug = path.stem
    run_dir = options.out_dir / slug
    run_dir.mkdir(parents=True, exist_ok=True)
    output = run_dir / f"{slug}.ipynb"
    output.unlink(missing_ok=True)
    parameters = parameters_for(path, run_dir)
    run_id = launch.run_id(slug)
    argv = launch.argv(path, output, run_dir, parameters, run_id)
    started = time.monotonic()
    log = run_dir / "papermill.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            argv, stdout=log_file, stderr=subprocess.STDOUT, env=launch.env, start_new_session=True
        )
        in_flight.add(run_id, process, launch)
        try:
            code = process.wait(options.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_tree(process.pid)
            launch.stop(run_id)
            process.wait()
            code, timed_out = -9, True
        stopped_because = in_flight.remove(run_id)
    duration = round(time.monotonic() - started, 2)
    status, failing_cell, error = outputs.outcome(path, output, code, timed_out, log)
    if stopped_because and status != "passed":
        status, error = "failed", stopped_because
    leaked = find_secrets(output.read_text(), secrets) if output.exists() else []
    if leaked:
        output.write_text(redact(output.read_text(), secrets))
        status, error = "failed", f"output contains credentials ({', '.join(leaked)}); redacted, not published"
    thumbnail = outputs.thumbnail(output, run_dir / f"{slug}.png") if status == "passed" else None
    return NotebookResult(
        path=str(path),
        slug=slug,
        status=status,
        cached=False,
        duration_s=duration,
        finished_at=datetime.now(timezone.utc),
        failing_cell=failing_cell,
        error=redact(error, secrets) if error else None,
        output_notebook=str(output) if output.exists() else None,
        thumbnail=str(thumbnail) if thumbnail else None,
        cache_key=key,
        parameters=parameters,
    )


def kernel_environment(sandbox, jupyter_path: Path, home: str | Path) -> dict[str, str]:
    """The environment headless kernels run in: this sandbox, a throwaway home, and
    none of the caller's own Sentinel Hub or hub credentials (so a run can neither
    use nor leak them)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SH_", SANDBOX_ENV_PREFIX, "JUPYTERHUB_"))
    }
    if sandbox is not None:
        env.update(sandbox.environment())
    else:
        env.update(server_sandbox_environment())
    env.update(JUPYTER_PATH=str(jupyter_path), HOME=str(home), PYTHONHASHSEED="0")
    return env


def server_sandbox_environment() -> dict[str, str]:
    """Without a sandbox of the runner's own, kernels look for the one their Jupyter
    server started in the runtime folder: keep it the caller's, not the throwaway home's."""
    from jupyter_core.paths import jupyter_runtime_dir

    return {"JUPYTER_RUNTIME_DIR": jupyter_runtime_dir()}


def _sandbox(options: RunOptions):
    from ..sandbox_process import start_sandbox

    if options.sandbox_from_server:
        return contextlib.nullcontext()
    return start_sandbox(log_path=options.sandbox_log, supervised=True)


class RunCache:
    """Results of notebooks that passed, by path, kept across runs in the output folder.

    Separate from the report so that running a subset never forgets the rest."""

    def __init__(self, path: Path):
        self.path = path
        try:
            raw = json.loads(path.read_text())
            self.entries = {k: NotebookResult.model_validate(v) for k, v in raw.items()}
        except (FileNotFoundError, ValueError):
            self.entries = {}

    def reusable(self, path: Path, key: str) -> NotebookResult | None:
        result = self.entries.get(str(path))
        if result and result.cache_key == key and result.output_notebook and Path(result.output_notebook).exists():
            return result.model_copy(update={"cached": True})
        return None

    def record(self, result: NotebookResult) -> None:
        if result.status == "passed":
            self.entries[result.path] = result
        else:
            self.entries.pop(result.path, None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({k: v.model_dump(mode="json") for k, v in self.entries.items()}, indent=1))


def run(
    notebooks: list[Path],
    options: RunOptions,
    on_start: Callable[[Path], None] = lambda p: None,
    on_done: Callable[[NotebookResult], None] = lambda r: None,
    on_sandbox_death: Callable = lambda death: None,
) -> Report:
    started = time.monotonic()
    sandbox_deaths: list[str] = []
    image_id = container.check_image(options.image) if options.image else None
    env_hash = environment_hash(options, image_id)
    cache = RunCache(options.out_dir / "cache.json")
    results: dict[Path, NotebookResult] = {}
    todo = []
    for path in notebooks:
        key = cache_key(path, env_hash)
        reused = None if options.force else cache.reusable(path, key)
        if reused:
            results[path] = reused
            on_done(reused)
        else:
            todo.append((path, key))
    if todo:
        jupyter_path = None if options.image else kernel.ensure_kernelspec(options.user_env)
        with _sandbox(options) as sandbox, tempfile.TemporaryDirectory(prefix="gemhub-run-home-") as home:
            if options.image:
                launch = container.ContainerLaunch(
                    options.image, {**sandbox.environment(), "PYTHONHASHSEED": "0"}, f"{os.getuid()}:{os.getgid()}"
                )
            else:
                launch = LocalLaunch(kernel_environment(sandbox, jupyter_path, home))
            own = [sandbox.client_secret, sandbox.client_id] if sandbox else []
            secrets = [*own, *options.known_secrets]
            in_flight = InFlight()
            if sandbox is not None:
                sandbox.on_death(lambda death: in_flight.stop_all(
                    f"stopped: the sandbox died during this run ({death.how}); its log: {sandbox.log_path}"))
                sandbox.on_death(on_sandbox_death)
            def started_then_run(path: Path, key: str) -> NotebookResult:
                on_start(path)  # when a worker takes it, not when it is queued
                return run_one(path, key, options, launch, secrets, sandbox, in_flight)

            with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
                futures = {pool.submit(started_then_run, path, key): path for path, key in todo}
                for future in as_completed(futures):
                    result = future.result()
                    results[futures[future]] = result
                    cache.record(result)
                    cache.save()  # a run stopped half-way (a hub restart) keeps what already passed
                    on_done(result)
            sandbox_deaths = [d.how for d in sandbox.deaths] if sandbox is not None else []
    report = report_for([results[path] for path in notebooks], options, image_id=image_id,
                        wall_s=time.monotonic() - started, sandbox_deaths=sandbox_deaths,
                        sandbox_log=bool(todo) and not options.sandbox_from_server)
    report.write(options.report_path)
    return report


def report_for(results: list[NotebookResult], options: RunOptions, *, image_id: str | None = None,
               wall_s: float = 0.0, sandbox_deaths: list[str] = (), sandbox_log: bool = False) -> Report:
    """The report of these results; also of a run still going (the background curation
    publishes from the results so far)."""
    return Report(
        generated_at=datetime.now(timezone.utc),
        environment=Environment(
            user_lock_sha256=user_lock_sha256(options, image_id),
            kernel=container.KERNEL if options.image else kernel.NAME,
            python=sys.version.split()[0],
            image=options.image,
        ),
        summary=Summary(
            total=len(results),
            passed=sum(r.status == "passed" for r in results),
            failed=sum(r.status == "failed" for r in results),
            timeout=sum(r.status == "timeout" for r in results),
            cached=sum(r.cached for r in results),
            wall_s=round(wall_s, 2),
            sandbox_restarts=len(sandbox_deaths),
        ),
        sandbox_deaths=list(sandbox_deaths),
        sandbox_log=str(options.sandbox_log) if sandbox_log else None,
        notebooks=results,
    )
