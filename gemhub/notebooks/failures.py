"""One line that says why a notebook failed, when the error's own first line does not.

sentinelhub-py reports a download that failed after its retries as a
DownloadFailedException whose message starts "Failed to download from:" and
puts the URL and the cause on the lines after. The runner's progress line and
anyone skimming the report see only that first line, so for this error the
runner puts a summary naming the endpoint and what happened first, and keeps
sentinelhub-py's own message after it.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from urllib.parse import urlsplit

DOWNLOAD_FAILED = re.compile(r"Failed to download from:\s*(?P<url>\S+)\s*with (?P<kind>\w+):\s*(?P<detail>.*)", re.S)
CONNECTION_REASONS = (  # (what the cause says, what to call it); the first that matches
    ("Connection refused", "connection refused"),
    ("Name or service not known", "host name not found"),
    ("Temporary failure in name resolution", "host name not found"),
    ("RemoteDisconnected", "connection closed without an answer"),
    ("Connection reset", "connection reset"),
    ("Connection aborted", "connection closed without an answer"),
    ("timed out", "timed out"),
    ("No route to host", "no route to host"),
)


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


def download_failure(evalue: str) -> str | None:
    """The one-line summary of a sentinelhub-py download failure, or None for any other message."""
    match = DOWNLOAD_FAILED.match(evalue.strip())
    if not match:
        return None
    url, kind, detail = match["url"], match["kind"], match["detail"]
    if kind in ("ConnectionError", "ProxyError", "SSLError"):
        reason = next((name for sign, name in CONNECTION_REASONS if sign in detail), "connection failed")
        return f"Sentinel Hub endpoint unreachable: {_endpoint(url)} ({reason})"
    if kind in ("Timeout", "ReadTimeout", "ConnectTimeout"):
        return f"Sentinel Hub endpoint unreachable: {_endpoint(url)} (timed out)"
    status = re.match(r"(\d{3}) ", detail)
    if kind == "HTTPError" and status:
        code = int(status[1])
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "error"
        return f"Sentinel Hub endpoint failing: {url} answered {code} {phrase}"
    return None


def explain(ename: str | None, evalue: str | None) -> str:
    """`ename: evalue`, with a summary line first where the message needs one."""
    summary = download_failure(evalue or "")
    if summary is None:
        return f"{ename}: {evalue}"
    return f"{ename}: {summary}\n{evalue}"
