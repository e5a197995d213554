"""Tornado application wiring the Sentinel Hub endpoints together.

Process API requests are rendered by supervised worker processes (workers.py),
so no evalscript can crash the server; the IO loop waits for them on a few
threads and keeps answering token requests and issuing 429s meanwhile. Catalog
searches, plain Python, run on the same threads.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

from . import __version__, catalog, process
from .auth import OAuthError, RateLimiter, TokenIssuer
from .contract import CATALOG_PREFIX, HEALTH_PATH, PROCESS_PATH, TOKEN_PATH
from .errors import ApiError
from .workers import RenderPool

LOG = logging.getLogger("gemhub_sandbox")


class State:
    def __init__(self, clients: dict[str, str], rate_limit: float | None, token_lifetime: float, workers: int,
                 evalscript_timeout: float):
        self.issuer = TokenIssuer(clients, lifetime=token_lifetime)
        self.limiter = RateLimiter(rate_limit)
        self.renderers = RenderPool(workers, evalscript_timeout)
        # threads that wait on render workers, plus a few for catalog searches
        self.executor = ThreadPoolExecutor(max_workers=self.renderers.size + 4, thread_name_prefix="sandbox-io")
        self.started = time.time()
        self.requests = 0


class BaseHandler(tornado.web.RequestHandler):
    def initialize(self, state: State) -> None:
        self.state = state

    def set_default_headers(self) -> None:
        self.set_header("Server", "gemhub-sandbox")

    def authenticate(self) -> str:
        client_id = self.state.issuer.verify(self.request.headers.get("Authorization"))
        self.state.limiter.check(client_id)
        self.state.requests += 1
        return client_id

    def send_json(self, obj, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(obj))

    def json_body(self):
        try:
            return json.loads(self.request.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Could not parse request body as JSON: {exc}", code="COMMON_BAD_PAYLOAD") from None
        except RecursionError:
            raise ApiError(400, "Could not parse request body as JSON: nested too deeply.",
                           code="COMMON_BAD_PAYLOAD") from None

    def catalog_base(self) -> str:
        return f"{self.request.protocol}://{self.request.host}{CATALOG_PREFIX}"

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            self.set_status(exc.status)
            for key, value in exc.headers.items():
                self.set_header(key, value)
            self.set_header("Content-Type", "application/json")
            self.finish(exc.body())
            return
        if isinstance(exc, OAuthError):
            self.set_status(exc.status)
            self.set_header("Content-Type", "application/json")
            self.finish(exc.body())
            return
        if isinstance(exc, tornado.web.HTTPError):
            err = ApiError(status_code, exc.log_message or self._reason, code="COMMON_EXCEPTION")
        else:
            err = ApiError(500, "Internal sandbox error.", code="COMMON_EXCEPTION")
        self.set_status(err.status)
        self.set_header("Content-Type", "application/json")
        self.finish(err.body())

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (ApiError, OAuthError)):
            return
        super().log_exception(typ, value, tb)


class TokenHandler(BaseHandler):
    def post(self) -> None:
        args = {k: self.get_body_argument(k, None) for k in ("grant_type", "client_id", "client_secret")}
        auth = self.request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                args["client_id"], args["client_secret"] = unquote(user), unquote(password)
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(400, "invalid_request", "Malformed Basic authorization header") from None
        if args["grant_type"] != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
        self.state.issuer.check_client(args["client_id"], args["client_secret"])
        self.set_header("Cache-Control", "no-store")
        self.send_json(self.state.issuer.issue(args["client_id"]))


class ProcessHandler(BaseHandler):
    async def post(self) -> None:
        self.authenticate()
        req = process.parse(self.json_body())
        accept = self.request.headers.get("Accept")
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.state.executor, self.state.renderers.render, req, accept)
        self.set_header("Content-Type", result.content_type)
        self.set_header("x-processingunits-spent", str(result.processing_units))
        self.finish(result.body)


class CatalogLandingHandler(BaseHandler):
    def get(self) -> None:
        self.send_json(catalog.landing(self.catalog_base()))


class ConformanceHandler(BaseHandler):
    def get(self) -> None:
        self.send_json({"conformsTo": catalog.CONFORMANCE})


class CollectionsHandler(BaseHandler):
    def get(self, cid: str | None = None) -> None:
        self.authenticate()
        base = self.catalog_base()
        if cid is None:
            self.send_json({"collections": [catalog.collection_json(base, c) for c in catalog.COLLECTIONS],
                            "links": [{"href": f"{base}/collections", "rel": "self"}]})
        elif cid in catalog.COLLECTIONS:
            self.send_json(catalog.collection_json(base, cid))
        else:
            raise ApiError(404, f"Collection '{cid}' not found.", code="COMMON_NOT_FOUND")


class ItemHandler(BaseHandler):
    def get(self, cid: str, fid: str) -> None:
        self.authenticate()
        self.send_json(catalog.get_item(self.catalog_base(), cid, fid))


class SearchHandler(BaseHandler):
    async def post(self) -> None:
        self.authenticate()
        payload = self.json_body()
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.state.executor, catalog.search, self.catalog_base(), payload)
        self.set_header("Content-Type", "application/geo+json")
        self.finish(json.dumps(result))


class HealthHandler(BaseHandler):
    """Sandbox-only endpoint (not part of Sentinel Hub) for readiness probes and tests."""

    def get(self) -> None:
        self.send_json({"status": "ok", "version": __version__, "pid": os.getpid(), "requests": self.state.requests,
                        "rate_limited": self.state.limiter.rejected,
                        "render_workers": self.state.renderers.stats(),
                        "uptime_s": round(time.time() - self.state.started, 1)})


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        raise ApiError(404, f"No such endpoint: {self.request.method} {self.request.path}", code="COMMON_NOT_FOUND")


def make_app(clients: dict[str, str], *, rate_limit: float | None = None, token_lifetime: float = 3600.0,
             workers: int = 2, evalscript_timeout: float = 60.0, debug: bool = False) -> tornado.web.Application:
    state = State(clients, rate_limit, token_lifetime, workers, evalscript_timeout)
    kw = {"state": state}
    routes = [
        (TOKEN_PATH, TokenHandler, kw),
        (PROCESS_PATH, ProcessHandler, kw),
        (CATALOG_PREFIX + r"/?", CatalogLandingHandler, kw),
        (CATALOG_PREFIX + r"/conformance", ConformanceHandler, kw),
        (CATALOG_PREFIX + r"/collections", CollectionsHandler, kw),
        (CATALOG_PREFIX + r"/collections/([^/]+)", CollectionsHandler, kw),
        (CATALOG_PREFIX + r"/collections/([^/]+)/items/([^/]+)", ItemHandler, kw),
        (CATALOG_PREFIX + r"/search", SearchHandler, kw),
        (HEALTH_PATH, HealthHandler, kw),
    ]
    app = tornado.web.Application(routes, default_handler_class=NotFoundHandler, default_handler_args=kw,
                                  debug=debug, log_function=_log_request)
    app.sandbox_state = state
    return app


def _log_request(handler: tornado.web.RequestHandler) -> None:
    LOG.info("%d %s %s %.1fms", handler.get_status(), handler.request.method, handler.request.uri,
             1000.0 * handler.request.request_time())


def serve(host: str = "127.0.0.1", port: int = 0, clients: dict[str, str] | None = None, *,
          rate_limit: float | None = None, token_lifetime: float = 3600.0, workers: int = 2,
          evalscript_timeout: float = 60.0, announce=None) -> None:
    """Blocking: bind, announce the real URL (port 0 picks a free port), serve until SIGINT/SIGTERM."""
    sockets = tornado.netutil.bind_sockets(port, address=host)
    app = make_app(clients or {}, rate_limit=rate_limit, token_lifetime=token_lifetime, workers=workers,
                   evalscript_timeout=evalscript_timeout)
    real_port = sockets[0].getsockname()[1]
    server = tornado.httpserver.HTTPServer(app, max_body_size=64 << 20)

    async def main() -> None:
        server.add_sockets(sockets)
        url = f"http://{host if ':' not in host else '[' + host + ']'}:{real_port}"
        (announce or _print_ready)(url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        await stop.wait()
        server.stop()
        app.sandbox_state.renderers.close()
        app.sandbox_state.executor.shutdown(wait=False, cancel_futures=True)

    try:
        asyncio.run(main())
    finally:
        app.sandbox_state.renderers.close()


def _print_ready(url: str) -> None:
    print(f"gemhub sandbox listening on {url}", flush=True)
    sys.stdout.flush()
