"""The hub's log filter: registered secrets and token-like strings never reach a log line."""

from __future__ import annotations

import logging

from gemhub.hub import credentials_hook, log_redaction

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IiLCJleHAiOjk5OTl9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


class FakeSpawner:
    environment: dict = {}


def test_secrets_injected_at_spawn_are_redacted_from_hub_logs(caplog):
    log_redaction.install()
    spawner = FakeSpawner()
    credentials_hook.inject(spawner, {"SH_CLIENT_ID": "alice-client-id", "SH_CLIENT_SECRET": "alice-very-secret-1"})
    logger = logging.getLogger("JupyterHub")
    with caplog.at_level(logging.INFO, logger="JupyterHub"):
        logger.warning("spawn env %s", spawner.environment)
        logger.info("request with token %s", JWT)
    text = caplog.text
    assert "alice-very-secret-1" not in text and JWT not in text
    assert text.count("[secret]") == 2
    assert "alice-client-id" in text, "ids are not secrets and stay readable"


def test_other_loggers_and_clean_lines_are_untouched(caplog):
    log_redaction.install()
    log_redaction.REDACTOR.add("bob-secret-value")
    with caplog.at_level(logging.INFO):
        logging.getLogger("JupyterHub").info("200 GET /hub/api/users (%s)", "bob")
        logging.getLogger("some.other").info("bob-secret-value")
    assert "200 GET /hub/api/users (bob)" in caplog.text
    assert "bob-secret-value" in caplog.text, "only the hub's own loggers are filtered"
