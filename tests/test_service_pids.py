"""gemhub/hub/service_pids.py on real processes: a recorded service that still runs is stopped
with its children; a pid that now belongs to another process is never touched.

The whole story (a hub SIGKILLed, restarted, no service left behind) is in
tests/test_faults_processes.py on a real hub; this is the quick check of the rules."""

from __future__ import annotations

import json
import subprocess
import sys

import psutil

from gemhub.hub import service_pids
from gemhub.waiting import wait_until

# A "service" that starts a child of its own, as the sandbox starts its render workers.
PARENT_WITH_CHILD = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "time.sleep(600)\n"
)


def _children(process: subprocess.Popen, count: int) -> list[psutil.Process]:
    def started():
        children = psutil.Process(process.pid).children()
        return children if len(children) == count else None

    return wait_until(started, 30, "the service's child started")


def test_a_leftover_service_and_its_children_are_stopped_and_its_file_removed(tmp_path):
    service = subprocess.Popen([sys.executable, "-c", PARENT_WITH_CHILD], start_new_session=True)
    try:
        (child,) = _children(service, 1)
        service_pids.record(tmp_path, "sandbox", service.pid)
        assert service_pids.stop_leftovers(tmp_path) == [f"sandbox (pid {service.pid})"]
        assert service.wait(10) is not None
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
        assert list(tmp_path.iterdir()) == []
    finally:
        service.kill()
        service.wait()


def test_a_pid_given_to_another_process_since_is_left_alone(tmp_path):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        started = psutil.Process(bystander.pid).create_time()
        # what a previous hub noted for a service that has since ended, its pid now reused
        (tmp_path / "marketplace.pid").write_text(json.dumps({"pid": bystander.pid, "started": started - 100}))
        assert service_pids.stop_leftovers(tmp_path) == []
        assert bystander.poll() is None, "a process that is not the recorded service was stopped"
        assert list(tmp_path.iterdir()) == []
    finally:
        bystander.kill()
        bystander.wait()


def test_a_clean_stop_forgets_ended_services_but_not_survivors(tmp_path):
    survivor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        service_pids.record(tmp_path, "credentials", survivor.pid)
        service_pids.record(tmp_path, "idle-culler", ended.pid)
        ended.wait()
        service_pids.forget_stopped(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials.pid"]
    finally:
        survivor.kill()
        survivor.wait()
