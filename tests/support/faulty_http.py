"""A loopback HTTP forwarder that misbehaves on cue: the stand-in for a Sentinel Hub that is
rate-limiting, failing or dropping connections, in front of a real sandbox.

Requests whose path starts with `only` take the next action from the script (a list, consumed
in order), and `then` (default: forward) once it is used up; every other request (the token
endpoint, say) is forwarded. Actions:

    ("429", retry_after)   Too Many Requests with Retry-After (Sentinel Hub's unit: milliseconds)
    ("500",) / ("503",)    a server error with a small JSON body
    ("drop",)              close the connection without answering
    ("forward",)           pass the request on to the upstream and its answer back

`seen` records (path, action, time.monotonic()) for each request, for the test to check.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from urllib.parse import urlsplit

from .loopback_http import JsonHandler, LoopbackServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
              "content-length", "host"}


class FaultyHttp(LoopbackServer):
    def __init__(self, upstream: str, script: list[tuple] = (), *, only: str = "/", then: tuple = ("forward",)):
        self.upstream = urlsplit(upstream)
        assert self.upstream.hostname in ("127.0.0.1", "localhost"), "the tests talk to loopback only"
        self.script, self.only, self.then = list(script), only, then
        self.seen: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()
        forwarder = self

        class Handler(JsonHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                forwarder.handle(self)

            do_POST = do_PUT = do_DELETE = do_GET

        super().__init__(Handler)

    def next_action(self, path: str) -> tuple:
        with self.lock:
            if not path.startswith(self.only):
                action = ("forward",)
            else:
                action = self.script.pop(0) if self.script else self.then
            self.seen.append((path, action[0], time.monotonic()))
            return action

    def handle(self, request: JsonHandler) -> None:
        body = request.read_body()
        action = self.next_action(request.path)
        kind = action[0]
        if kind == "drop":
            request.close_connection = True
            request.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind in ("500", "503"):
            request.reply_json(int(kind), {"error": {"status": int(kind), "reason": "injected by faulty_http"}})
            return
        if kind == "429":
            data = json.dumps({"error": {"status": 429, "reason": "Too Many Requests"}}).encode()
            request.send_response(429)
            request.send_header("Retry-After", str(action[1]))
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
            return
        self.forward(request, body)

    def forward(self, request: JsonHandler, body: bytes) -> None:
        upstream = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(request.command, request.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        request.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
