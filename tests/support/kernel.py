"""Run code in a Jupyter kernel through the hub's proxy, over the kernel's websocket."""

from __future__ import annotations

import json
import time
import uuid

import requests
import websocket


class KernelError(Exception):
    pass


def _message(code: str, session: str) -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "username": "test",
            "session": session,
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
        "channel": "shell",
    }


def execute(server_url: str, token: str, code: str, timeout: float = 120) -> str:
    """Start a kernel on the user's server, run `code`, return its stdout; delete the kernel."""
    headers = {"Authorization": f"token {token}"}
    kernel = requests.post(f"{server_url}/api/kernels", headers=headers, json={}, timeout=60)
    kernel.raise_for_status()
    kernel_id = kernel.json()["id"]
    try:
        return execute_in(server_url, token, kernel_id, code, timeout)
    finally:
        requests.delete(f"{server_url}/api/kernels/{kernel_id}", headers=headers, timeout=30)


def execute_in(server_url: str, token: str, kernel_id: str, code: str, timeout: float = 60) -> str:
    """Run `code` in the running kernel `kernel_id` over its websocket (through the proxy); its stdout."""
    ws_url = server_url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=timeout)
    try:
        request = _message(code, uuid.uuid4().hex)
        ws.send(json.dumps(request))
        stdout, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = json.loads(ws.recv())
            if reply.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
                continue
            kind, content = reply["msg_type"], reply["content"]
            if kind == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                raise KernelError(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(stdout)
        raise TimeoutError(f"no reply from kernel {kernel_id} within {timeout}s")
    finally:
        ws.close()
