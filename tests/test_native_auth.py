"""auth.type native (the Helm chart's default) on a real hub: sign up, log in, and the
errors a login form meets, each answered with the form and a message, never a 500.

nativeauthenticator 1.3.0's own login handler fails under JupyterHub 6
(gemhub/hub/native_auth.py says how); these tests failed with its handler.
"""

from __future__ import annotations

import secrets

import pytest
import requests
from support.hub import RunningHub, write_config

ADMIN = "admin"


@pytest.fixture(scope="module")
def native_hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("native-hub")
    # Only the hub and its login: no sandbox, marketplace or credentials service to wait for.
    config = write_config(folder, [], {
        "auth": {"type": "native", "admin_users": [ADMIN]},
        "hub": {"credentials_service": False},
        "marketplace": {"enabled": False},
        "sentinelhub": {"sandbox": {"enabled": False}},
        "culling": {"enabled": False},
    })
    hub = RunningHub(config, folder / "gemhub-up.log").start()
    try:
        yield hub
    finally:
        hub.stop()


def form_session(hub: RunningHub, page: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    session.get(f"{hub.url}/hub/{page}", timeout=30).raise_for_status()
    return session, session.cookies.get("_xsrf", path="/hub/")


def sign_up(hub: RunningHub, name: str, password: str) -> None:
    session, xsrf = form_session(hub, "signup")
    done = session.post(f"{hub.url}/hub/signup", timeout=30, data={
        "username": name, "signup_password": password, "signup_password_confirmation": password, "_xsrf": xsrf})
    # An admin is let in at once; anyone else waits for an admin to authorise them.
    accepted = ("successful", "sent to the admin")
    assert done.status_code == 200 and any(a in done.text for a in accepted), alerts(done.text)


def alerts(page: str) -> list[str]:
    """The messages a form page shows (what a person reads when it fails)."""
    import re

    return re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S)


def log_in(hub: RunningHub, name: str, password: str, *, xsrf: bool = True) -> requests.Response:
    session, token = form_session(hub, "login")
    data = {"username": name, "password": password, **({"_xsrf": token} if xsrf else {})}
    return session.post(f"{hub.url}/hub/login", timeout=30, allow_redirects=False, data=data)


@pytest.mark.slow
def test_an_admin_signs_up_and_logs_in(native_hub):
    password = secrets.token_urlsafe(16)
    sign_up(native_hub, ADMIN, password)
    logged_in = log_in(native_hub, ADMIN, password)
    assert logged_in.status_code == 302, f"{logged_in.status_code}\n{native_hub.log_tail()}"
    assert "jupyterhub-session-id" in logged_in.cookies or "jupyterhub-hub-login" in logged_in.cookies


@pytest.mark.slow
def test_login_form_errors_are_the_form_with_a_message(native_hub):
    password = secrets.token_urlsafe(16)
    sign_up(native_hub, "carol", password)  # not authorised by an admin yet
    for response, message in (
        (log_in(native_hub, "nobody", "wrong-password-123"), "Invalid username or password"),
        (log_in(native_hub, "carol", password), "has not been authorized"),
        (log_in(native_hub, "carol", password, xsrf=False), "Login form invalid or expired"),
    ):
        assert response.status_code < 500, f"{response.status_code}\n{native_hub.log_tail()}"
        assert message in response.text and 'name="password"' in response.text
        assert "Traceback" not in response.text
    assert "Traceback" not in native_hub.log_file.read_text(errors="replace")
