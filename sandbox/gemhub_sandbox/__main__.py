"""Command line entry point: `python -m gemhub_sandbox serve ...` / `gemhub-sandbox serve ...`."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from .contract import CLIENTS_ENV

from .process_defaults import one_blas_thread, stop_when_told

one_blas_thread()


class UsageError(Exception):
    pass


def _validate_clients(obj, origin: str) -> dict[str, str]:
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in obj.items()):
        raise UsageError(f"{origin}: expected a JSON object mapping client id to client secret, "
                         'e.g. {"alice-id": "alice-secret"}')
    return obj


def load_clients(path: str | None) -> dict[str, str]:
    """Clients from --clients FILE and/or $GEMHUB_SANDBOX_CLIENTS (file entries win)."""
    clients: dict[str, str] = {}
    env = os.environ.get(CLIENTS_ENV)
    if env:
        try:
            clients.update(_validate_clients(json.loads(env), f"${CLIENTS_ENV}"))
        except json.JSONDecodeError as exc:
            raise UsageError(f"${CLIENTS_ENV} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise UsageError(f"cannot read clients file {path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"clients file {path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
        clients.update(_validate_clients(data, f"clients file {path}"))
    return clients


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gemhub-sandbox", description="Offline Sentinel Hub API sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    serve.add_argument("--clients", metavar="FILE", help="JSON object {client_id: client_secret}")
    serve.add_argument("--rate-limit", type=float, default=None, metavar="N",
                       help="max requests per second per client; excess gets 429 + Retry-After")
    serve.add_argument("--token-lifetime", type=float, default=3600.0, metavar="SECONDS")
    serve.add_argument("--workers", type=int, default=2, help="render worker processes")
    serve.add_argument("--evalscript-timeout", type=float, default=60.0, metavar="SECONDS")
    serve.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    stop_when_told(interrupt_raises=True)  # also while its render workers start
    args = build_parser().parse_args(argv)
    try:
        clients = load_clients(args.clients)
        if not clients:
            raise UsageError(f"no clients configured: pass --clients FILE or set ${CLIENTS_ENV}")
        if args.rate_limit is not None and args.rate_limit <= 0:
            raise UsageError("--rate-limit must be positive")
        if args.token_lifetime <= 0:
            raise UsageError("--token-lifetime must be positive")
    except UsageError as exc:
        print(f"gemhub-sandbox: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    if not args.verbose:
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
    from .server import serve

    try:
        serve(args.host, args.port, clients, rate_limit=args.rate_limit, token_lifetime=args.token_lifetime,
              workers=args.workers, evalscript_timeout=args.evalscript_timeout)
    except OSError as exc:
        print(f"gemhub-sandbox: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
