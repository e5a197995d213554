"""Keeping secrets out of the hub's logs.

JupyterHub and tornado log request URLs, errors and exceptions that could, in
some path nobody thought of, quote an environment value or a token. This
filter rewrites any record that contains a secret the hub has handed to a
server (registered by the credentials hook) or a token-like string, so a log
line can be shared in an issue without thinking twice.
"""

from __future__ import annotations

import logging

from ..secrets_scan import redact

LOGGERS = ("JupyterHub", "tornado.access", "tornado.application", "tornado.general", "gemhub")


class SecretRedactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._known: list[str] = []

    def add(self, *values: str) -> None:
        """Remember values to redact (longest first, so no secret is half-replaced)."""
        self._known = sorted({*self._known, *(v for v in values if v and len(v) >= 6)}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return True
        cleaned = redact(message, self._known)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


REDACTOR = SecretRedactor()


def install(loggers: tuple[str, ...] = LOGGERS) -> None:
    for name in loggers:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)
