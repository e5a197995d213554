"""Finding credentials in text that is about to be published or committed.

Shared by the notebook runner (executed outputs), `gemhub notebooks lint`
(sources and committed outputs) and the marketplace, so that one list of
patterns guards every way out.
"""

from __future__ import annotations

import re

TOKEN_PATTERNS = {
    "JSON web token": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "AWS access key": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "credential assignment": re.compile(
        r"(?i)\b(client_secret|sh_client_secret|secret_key|api_key|password|access_token)\b\s*[:=]\s*"
        r"['\"](?!\s*['\"])(?![{<$])[^'\"\s]{8,}['\"]"
    ),
}


def find_secrets(text: str, known: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Names of what was found (never the values themselves, which must not be echoed)."""
    found = [f"configured secret #{i + 1}" for i, value in enumerate(known) if value and value in text]
    found += [name for name, pattern in TOKEN_PATTERNS.items() if pattern.search(text)]
    return found


def redact(text: str, known: list[str] | tuple[str, ...] = ()) -> str:
    for value in known:
        if value:
            text = text.replace(value, "[secret]")
    for pattern in TOKEN_PATTERNS.values():
        text = pattern.sub("[secret]", text)
    return text


def json_strings(data: object) -> str:
    """Every string in decoded JSON, one per line: quotes and newlines as a reader sees them,
    so patterns like `api_key = "..."` match even where the file escapes them."""
    out: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            if value and all(isinstance(item, str) for item in value):
                out.append("".join(value))  # multi-line sources and outputs are lists of lines
            else:
                for item in value:
                    walk(item)

    walk(data)
    return "\n".join(out)
