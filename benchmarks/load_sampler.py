"""CPU% and RSS of a hub's process tree over time, by role, for benchmarks/load.py.

A hub under load is several processes: the hub itself (`gemhub up` and the
JupyterHub it runs), configurable-http-proxy, gemhub's services (marketplace,
credentials, sandbox, culler) and the user servers with their kernels. Summing
per role keeps the question "what does the hub cost" apart from "what do 100
Jupyter servers cost", which is why every descendant is classified rather than
the machine's total being reported. The harness's own process is sampled too:
it shares the same two cores.
"""

from __future__ import annotations

import os
import threading
import time

import psutil

ROLES = ("hub", "proxy", "services", "user_servers", "harness")


def _role(pid: int, ppid: int, cmdline: str, root_pid: int, server_pids: set[int]) -> str:
    """`gemhub up` execs JupyterHub, so the root is the hub in both gemhub's and stock's trees."""
    if pid == root_pid:
        return "hub"
    if "configurable-http-proxy" in cmdline:
        return "proxy"
    if pid in server_pids or ppid in server_pids:
        return "user_servers"
    return "services"


class Sampler:
    """A thread that samples the tree under `root_pid` every `interval` s until stopped."""

    def __init__(self, root_pid: int, interval: float = 0.5):
        self.root_pid, self.interval = root_pid, interval
        self.samples: list[dict] = []
        self._procs: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)
        self._t0 = time.monotonic()

    def start(self, t0: float) -> "Sampler":
        self._t0 = t0
        self._thread.start()
        return self

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.samples

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.root_pid)
            found = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            found = []
        found.append(psutil.Process(os.getpid()))
        procs = []
        for p in found:
            try:
                known = self._procs.get(p.pid)
                if known is None or known.create_time() != p.create_time():
                    known = p
                    known.cpu_percent(None)  # the first call only starts the clock
                    self._procs[p.pid] = known
            except psutil.Error:  # ended since it was listed (a stopping server's kernel)
                self._procs.pop(p.pid, None)
                continue
            procs.append(known)
        return procs

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            totals = {role: {"cpu_percent": 0.0, "rss_mb": 0.0, "processes": 0} for role in ROLES}
            procs = self._tree()
            cmdlines = {}
            for p in procs:
                try:
                    cmdlines[p.pid] = " ".join(p.cmdline())
                except psutil.Error:
                    pass
            servers = {pid for pid, cmd in cmdlines.items() if "jupyterhub-singleuser" in cmd}
            for p in procs:
                if p.pid not in cmdlines:
                    continue
                try:
                    role = "harness" if p.pid == me else _role(p.pid, p.ppid(), cmdlines[p.pid], self.root_pid,
                                                                  servers)
                    cpu, rss = p.cpu_percent(None), p.memory_info().rss
                except psutil.Error:
                    continue
                totals[role]["cpu_percent"] += cpu
                totals[role]["rss_mb"] += rss / 2**20
                totals[role]["processes"] += 1
            sample = {"t": round(time.monotonic() - self._t0, 2), "load1": round(os.getloadavg()[0], 2)}
            for role, values in totals.items():
                sample[role] = {k: round(v, 1) for k, v in values.items()}
            self.samples.append(sample)
            self._stop.wait(self.interval)


def summarise(samples: list[dict]) -> dict:
    """Peak and mean per role, so the JSON's headline does not need the plot."""
    out = {}
    for role in ROLES:
        cpu = [s[role]["cpu_percent"] for s in samples] or [0.0]
        rss = [s[role]["rss_mb"] for s in samples] or [0.0]
        out[role] = {"cpu_percent_mean": round(sum(cpu) / len(cpu), 1), "cpu_percent_max": max(cpu),
                     "rss_mb_max": max(rss)}
    loads = [s["load1"] for s in samples] or [0.0]
    out["load1_max"] = max(loads)
    return out
