"""The JupyterHub application gemhub runs: `python -m gemhub.hub.app -f gemhub/hub/jupyterhub_config.py`.

JupyterHub itself, with these changes to how it stops and starts:
- managed services and user servers are stopped all at once, not one after
  another (each may take JupyterHub's interrupt/terminate/kill timeouts);
- no service health check runs once shutdown has begun (JupyterHub 6 raised
  `AttributeError: 'NoneType' object has no attribute 'proto'` checking a
  service whose server row was already deleted);
- a second SIGINT or SIGTERM exits at once and says what was left running;
- a stop asked for while the hub starts waits until it can clean up, so no
  service or proxy outlives the hub;
- managed services a killed hub left running are stopped before new ones
  start (service_pids.py says why and how), as JupyterHub does for its proxy;
- users' routes are put back before the services start, and the services
  start all at once (see start_service).
The configuration stays in jupyterhub_config.py next to this module, the
same for every target.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from jupyterhub.app import JupyterHub
from traitlets import Unicode

from ..signals import STOP_SIGNALS
from . import service_pids


class GemhubHub(JupyterHub):
    _gemhub_stopping = False
    _stop_while_starting: signal.Signals | None = None
    _service_starts: dict[str, asyncio.Future] | None = None
    _leftovers_stopped: asyncio.Future | None = None

    service_pid_dir = Unicode(
        "", config=True, help="Folder for the managed services' pid files (empty: none kept, none stopped)."
    )

    async def initialize(self, *args, **kwargs) -> None:
        await super().initialize(*args, **kwargs)
        self._replace_leftover_services()
        # JupyterHub installs its stop handlers only once everything has started. A Ctrl-C
        # while the proxy and services are starting would end the hub at once and orphan them;
        # instead it is remembered and acted on as soon as the hub can clean up.
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._stop_signal_while_starting)

    def _replace_leftover_services(self) -> None:
        """Stop what a killed hub left running, then note each service's pid whenever it starts
        (JupyterHub restarts a service that exits through the same Service.start)."""
        if not self.service_pid_dir:
            return
        folder = Path(self.service_pid_dir)
        # In a thread, while the proxy is (re)started: start_service waits for it before any
        # service starts, as the leftovers hold the ports the new services bind.
        self._leftovers_stopped = asyncio.get_running_loop().run_in_executor(
            None, service_pids.stop_leftovers, folder, self.log)
        for service in self._service_map.values():
            if service.managed:
                service.start = _recording_pid(service, service.start, folder)

    async def start_service(self, service_name, service, ssl_context=None) -> bool:
        """JupyterHub starts managed services one after another, each waited for until it answers,
        and puts users' proxy routes back only after the last one. After a hub restart that kept
        users' servers running, every user waited for every service (about 10 s of the restart
        benchmark's reconnect time) although their servers never stopped. So the first call
        restores users' routes, then starts every service at once; each call awaits its own."""
        if self._service_starts is None:
            await self._route_running_servers()
            if self._leftovers_stopped is not None:
                await self._leftovers_stopped
            start = super().start_service
            self._service_starts = {
                name: asyncio.ensure_future(start(name, each, ssl_context)) for name, each in self._service_map.items()
            }
        started = self._service_starts.pop(service_name, None)
        if started is None:  # not one of the services there were at start-up
            return await super().start_service(service_name, service, ssl_context)
        return await started

    async def _route_running_servers(self) -> None:
        """Add the routes of users' running servers that the proxy lacks (a new proxy has none).
        Only those: the hub's and the services' routes are left to JupyterHub's check once the
        services answer, as before, so a hub that answers through the proxy has its services
        routed too. Nothing is removed here."""
        routes = await self.proxy.get_all_routes()
        await asyncio.gather(*(
            self.proxy.add_user(user, name)
            for user in self.users.values()
            for name, spawner in user.spawners.items()
            if spawner.ready and spawner.proxy_spec not in routes
        ))

    def _stop_signal_while_starting(self, signum: int, frame) -> None:
        sig = signal.Signals(signum)
        if self._stop_while_starting is not None:
            self._exit_now(sig)
        self._stop_while_starting = sig
        self.log.warning("Received %s while starting: stopping everything as soon as it has started", sig.name)

    def init_signal(self) -> None:
        super().init_signal()
        loop = asyncio.get_event_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._stop_signal, sig)
        if self._stop_while_starting is not None:
            self._stop_signal(self._stop_while_starting)

    def _stop_signal(self, sig: signal.Signals) -> None:
        if self._gemhub_stopping:
            self._exit_now(sig)
        self._gemhub_stopping = True
        asyncio.ensure_future(self.shutdown_cancel_tasks(sig))

    def _exit_now(self, sig: signal.Signals) -> None:
        left = self.still_running()
        self.log.critical("Received %s again: exiting now, without finishing the cleanup. Left running: %s",
                          sig.name, "; ".join(left) or "nothing")
        os._exit(128 + sig)

    def still_running(self) -> list[str]:
        """What a forced exit leaves behind: processes and containers the hub started that still run."""
        left = []
        for name, service in self._service_map.items():
            proc = getattr(getattr(service, "spawner", None), "proc", None)
            if proc is not None and proc.poll() is None:
                left.append(f"service {name} (pid {proc.pid})")
        for user in self.users.values():
            for spawner in user.spawners.values():
                if spawner.active:
                    left.append(f"server of {user.name} ({_where(spawner)})")
        proxy = getattr(self.proxy, "proxy_process", None)
        if proxy is not None and proxy.poll() is None:
            left.append(f"proxy (pid {proxy.pid})")
        return left

    async def cleanup(self) -> None:
        self._gemhub_stopping = True
        check = self._periodic_callbacks.pop("service_check", None)
        if check is not None:
            check.stop()
        stopping = {f"service {s.name}": s.stop() for s in self._service_map.values() if s.managed}
        if self.cleanup_servers:
            for user in self.users.values():
                for name, spawner in list(user.spawners.items()):
                    if spawner.active:
                        stopping[f"server of {user.name}"] = user.stop(name)
        if stopping:
            self.log.info("Stopping %i services and servers at once...", len(stopping))
            results = await asyncio.gather(*stopping.values(), return_exceptions=True)
            for what, result in zip(stopping, results):
                if isinstance(result, Exception):
                    self.log.error("Stopping %s failed: %s", what, result)
        # JupyterHub's own cleanup finds them stopped; it stops the proxy and removes the pid file
        await super().cleanup()
        if self.service_pid_dir:
            service_pids.forget_stopped(Path(self.service_pid_dir))

    async def check_services_health(self) -> None:
        if self._gemhub_stopping:
            return
        await super().check_services_health()


def _recording_pid(service, start, folder: Path):
    async def start_and_record() -> None:
        await start()
        service_pids.record(folder, service.name, service.proc.pid)

    return start_and_record


def _where(spawner) -> str:
    if getattr(spawner, "container_name", None):
        return f"container {spawner.container_name}"
    if getattr(spawner, "pod_name", None):
        return f"pod {spawner.pod_name}"
    return f"pid {spawner.pid}" if getattr(spawner, "pid", 0) else "unknown process"


main = GemhubHub.launch_instance

if __name__ == "__main__":
    main()
