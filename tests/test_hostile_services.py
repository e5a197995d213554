"""The hub services (marketplace, credentials) against hostile input, over real HTTP (issue #16).

One real hub (`gemhub up`, module-scoped) with a small catalogue built from a
hand-made report. Requests are sent byte for byte (http.client: requests would
normalise odd paths), with and without alice's login, to each service's own
port, where the proxy forwards them: configurable-http-proxy answers some paths
itself (it fails with a 500 on a malformed %-escape such as %FF, before any
service sees the request; that is the proxy's, outside gemhub), and the fuzzing
is of our services. The headers test goes through the proxy, as browsers do.

Hypothesis draws paths, methods, query strings, headers, form fields and JSON
bodies; examples are derandomised and bounded so every run sees the same cases. Whatever arrives, the services answer without a 5xx, a traceback or a
Python repr, with gemhub's security headers, never show data without a login,
refuse a state-changing form without the right _xsrf, store nothing they
refuse, and never put a secret in a response or the log.
"""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests
import yaml
from gemhub_sandbox.contract import SECURITY_HEADERS, content_security_policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.hub import RunningHub, write_config
from test_marketplace_build import Project, meta

pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
MARKETPLACE, CREDENTIALS = "/services/marketplace/", "/services/credentials/"
TITLES = ("Water watch", "Forest pulse")
SECRET = "Hostile-Secret-7c1e9a0b55d2"  # only ever sent in secret fields (or as a token)
SHOWN = "Hostile-Id-3f0b"  # sent in fields that are not secret: may be echoed, escaped
REPR = re.compile(r"Traceback \(most recent call last\)|object at 0x[0-9a-f]+|\bb'[^']*\\x[0-9a-f]{2}|"
                  r"Invalid unicode in")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-hub")
    project = Project(folder)
    project.add("water-watch.ipynb", meta(TITLES[0]))
    project.add("forest-pulse.ipynb", meta(TITLES[1]))
    project.build()
    running = RunningHub(write_config(folder, ["alice", "bob"], {"marketplace": {"site_dir": str(folder / "site")}}),
                         folder / "gemhub-up.log")
    try:
        # Generous: a guard against a hub that never comes up on a loaded machine, not a speed check.
        running.start(timeout=400)
        yield running
    finally:
        running.stop()


class Caller:
    """Someone sending raw requests to the hub's proxy: a stranger, or alice with her cookies."""

    def __init__(self, hub: RunningHub, session: requests.Session | None = None):
        self.hub, self.session = hub, session
        split = urlsplit(hub.url)
        self.host, self.port = split.hostname, split.port
        config = yaml.safe_load(hub.config_file.read_text())
        self.ports = {MARKETPLACE: config["marketplace"]["port"], CREDENTIALS: config["hub"]["credentials_port"]}

    def direct(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
        """`send`, but to the service's own port (the proxy's target), bypassing the proxy."""
        prefix = MARKETPLACE if path.startswith(MARKETPLACE) else CREDENTIALS
        return self.send(method, path, headers, body, port=self.ports[prefix])

    def cookie_header(self) -> str:
        if self.session is None:
            return ""
        return "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)

    def xsrf(self, prefix: str) -> str:
        return self.session.cookies.get("_xsrf", path=prefix) if self.session else ""

    def send(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
             port: int | None = None):
        headers = dict(headers or {})
        if self.session is not None and "Cookie" not in headers:
            headers["Cookie"] = self.cookie_header()
        conn = http.client.HTTPConnection(self.host, port or self.port, timeout=60)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()


def logged_in(hub: RunningHub, user: str) -> requests.Session:
    """A browser session that has visited both services (so it holds their OAuth cookies and xsrf)."""
    session = hub.session(user)
    assert session.login().status_code == 302
    for prefix in (MARKETPLACE, CREDENTIALS):
        page = session.http.get(hub.url + prefix, timeout=60)
        assert page.status_code == 200 and page.url == hub.url + prefix, (page.status_code, page.url)
    return session.http


@pytest.fixture(scope="module")
def alice(hub):
    return Caller(hub, logged_in(hub, "alice"))


@pytest.fixture(scope="module")
def stranger(hub):
    return Caller(hub)


@pytest.fixture(scope="module")
def admin_token(hub):
    session = hub.session("admin")
    assert session.login().status_code == 302
    return session.token()


def stored(hub, admin_token) -> list[tuple]:
    """Everything in the credential store, as the admin API lists it (no secrets in it)."""
    response = requests.get(f"{hub.url}{CREDENTIALS}api/users", headers={"Authorization": f"token {admin_token}"},
                            timeout=60)
    assert response.status_code == 200, response.text
    return sorted((c["user"], c["provider"], c["fingerprint"], c["set_at"]) for c in response.json()["credentials"])


def check_response(status: int, headers, body: bytes, what) -> str:
    text = body.decode("utf-8", errors="replace")
    assert status < 500, (what, status, text[:400])
    assert not REPR.search(text), (what, status, text[:400])
    assert SECRET not in text, what
    assert headers.get("X-Content-Type-Options") == "nosniff", (what, status, dict(headers))
    assert headers.get("Referrer-Policy") == SECURITY_HEADERS["Referrer-Policy"], (what, dict(headers))
    assert headers.get("Content-Security-Policy") == content_security_policy("/hub/security/csp-report"), \
        (what, dict(headers))
    return text


def check_no_data_without_login(status: int, headers, text: str, what) -> None:
    assert status != 200, (what, text[:300])
    if status in (301, 302, 303, 307):
        assert urlsplit(headers["Location"]).path.startswith("/hub/"), (what, headers["Location"])
    for title in TITLES:
        assert title not in text, what
    assert '"notebooks"' not in text and "sha256:" not in text, what


# -- strategies -------------------------------------------------------------------

ODD_SEGMENTS = ["..", ".", "%2e%2e", "%2E%2E%2F", "%252e%252e", "%00", "%0d%0a", "%FF", "%C0%AE", "\\", "%5C",
                "index.html", "index.json", "notebooks", "water-watch.html", "static", "thumbnails", "previews",
                "static/marketplace.css", "../../hub/api/users", "api", "users", "alice", "admin", "sentinelhub",
                "meteoblue", "dropbox", "remove", "oauth_callback", "x" * 3000, "%E2%80%AE", "<script>", "'", "~"]
SEGMENTS = st.one_of(st.sampled_from(ODD_SEGMENTS),
                     st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=16)
                     .map(lambda s: quote(s, safe="")))
PATHS = st.lists(SEGMENTS, max_size=5).map("/".join)
METHODS = st.sampled_from(["GET", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
QUERIES = st.one_of(
    st.just(""),
    st.dictionaries(st.sampled_from(["done", "next", "state", "code", "provider", "_xsrf", "token", "x"]),
                    st.text(max_size=30), max_size=3).map(lambda d: "?" + urlencode(d) if d else ""),
    st.sampled_from(["?done=saved", "?done=%FF", "?done=%00", "?next=//evil.example/", "?code=x&state=y",
                     "?" + "a=" * 2000, "?%zz"]),
)
HEADER_VALUES = st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=40),
                          st.sampled_from(["token ", "token x" * 500, "Bearer abc", "token " + SECRET]))
HEADERS = st.dictionaries(
    st.sampled_from(["Authorization", "Cookie", "Content-Type", "Accept", "X-XSRFToken", "X-Forwarded-For",
                     "Referer", "Origin", "If-Modified-Since", "Range"]),
    HEADER_VALUES, max_size=3,
)
FIELDS = st.sampled_from(["provider", "client_id", "client_secret", "api_key", "access_key_id",
                          "secret_access_key", "endpoint_url", "_xsrf", "done", "x"])
FIELD_VALUES = st.one_of(st.text(max_size=40), st.sampled_from(["sentinelhub", "meteoblue", "s3", "dropbox", "",
                                                                 SHOWN, "\x00", "a\r\nb", "\x1b[31m" + SHOWN]))
FORMS = st.dictionaries(FIELDS, FIELD_VALUES, max_size=4).map(lambda d: urlencode(d).encode())
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | FIELD_VALUES,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELDS, inner, max_size=3),
                           max_leaves=8)
BODIES = st.one_of(st.none(), FORMS, JSON_VALUES.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200))


def request_strategy(prefix: str):
    return st.tuples(METHODS, PATHS.map(lambda p: prefix + p), QUERIES, HEADERS, BODIES)


# -- security headers -------------------------------------------------------------


def test_every_kind_of_service_response_carries_the_security_headers(hub, alice, stranger, admin_token):
    cases = [
        (alice, "GET", MARKETPLACE, 200), (alice, "GET", MARKETPLACE + "notebooks/water-watch.html", 200),
        (alice, "GET", MARKETPLACE + "static/marketplace.css", 200), (alice, "GET", MARKETPLACE + "index.json", 200),
        (alice, "GET", MARKETPLACE + "notebooks/nope.html", 404), (alice, "GET", MARKETPLACE + "no/such/page", 404),
        (stranger, "GET", MARKETPLACE, 302), (stranger, "GET", MARKETPLACE + "oauth_callback?code=x&state=y", 403),
        (alice, "GET", CREDENTIALS, 200), (alice, "POST", CREDENTIALS, 403), (stranger, "GET", CREDENTIALS, 302),
        (stranger, "GET", CREDENTIALS + "api/users", 401), (alice, "GET", CREDENTIALS + "no/such/page", 404),
    ]
    for caller, method, path, expected in cases:
        status, headers, body = caller.send(method, path)
        assert status == expected, (path, status, body[:300])
        check_response(status, headers, body, path)
    api = requests.get(f"{hub.url}{CREDENTIALS}api/users", headers={"Authorization": f"token {admin_token}"},
                       timeout=60)
    assert api.status_code == 200
    check_response(api.status_code, api.headers, api.content, "api/users")


# -- fuzzing ----------------------------------------------------------------------


@FUZZ
@given(request=request_strategy(MARKETPLACE))
def test_marketplace_fuzz_without_a_login_shows_nothing(stranger, request):
    method, path, query, headers, body = request
    status, response_headers, raw = stranger.direct(method, path + query, headers, body)
    text = check_response(status, response_headers, raw, request)
    check_no_data_without_login(status, response_headers, text, request)


@FUZZ
@given(request=request_strategy(MARKETPLACE))
def test_marketplace_fuzz_logged_in_never_fails(alice, request):
    method, path, query, headers, body = request
    headers = {k: v for k, v in headers.items() if k != "Cookie"}
    status, response_headers, raw = alice.direct(method, path + query, headers, body)
    check_response(status, response_headers, raw, request)


@FUZZ
@given(request=request_strategy(CREDENTIALS))
def test_credentials_fuzz_without_a_login_shows_and_stores_nothing(hub, stranger, admin_token, request):
    before = stored(hub, admin_token)
    method, path, query, headers, body = request
    status, response_headers, raw = stranger.direct(method, path + query, headers, body)
    text = check_response(status, response_headers, raw, request)
    check_no_data_without_login(status, response_headers, text, request)
    assert stored(hub, admin_token) == before, request


@FUZZ
@given(form=FORMS, xsrf=st.sampled_from(["none", "wrong", "right"]), action=st.sampled_from(["", "remove"]))
def test_credentials_forms_need_the_right_xsrf_and_store_only_valid_values(hub, alice, admin_token, form, xsrf,
                                                                          action):
    before = stored(hub, admin_token)
    fields = dict(pair.split("=", 1) for pair in form.decode().split("&") if pair)
    fields.pop("_xsrf", None)
    if xsrf != "none":
        fields["_xsrf"] = alice.xsrf(CREDENTIALS) if xsrf == "right" else "2|deadbeef|" + "0" * 32 + "|1700000000"
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    status, headers, raw = alice.direct("POST", CREDENTIALS + action, {
        "Content-Type": "application/x-www-form-urlencoded"}, body)
    check_response(status, headers, raw, (form, xsrf))
    if xsrf != "right":
        assert status == 403, (form, xsrf, status)
    if status >= 400:
        assert stored(hub, admin_token) == before, (form, xsrf, status)


@FUZZ
@given(provider=st.sampled_from(["sentinelhub", "meteoblue", "s3", "dropbox", "%00", "x" * 300]),
       method=st.sampled_from(["GET", "PUT", "PUT", "PUT", "DELETE", "POST", "PATCH"]),
       body=BODIES)
def test_credentials_api_fuzz_answers_json_4xx_and_stores_nothing_it_refuses(hub, alice, admin_token, provider,
                                                                            method, body):
    token = admin_token  # an admin: the widest powers, so refusals come from the input, not the caller
    before = stored(hub, admin_token)
    status, headers, raw = alice.direct(method, f"{CREDENTIALS}api/users/alice/{provider}",
                                      {"Authorization": f"token {token}", "Cookie": ""}, body)
    check_response(status, headers, raw, (provider, method, body))
    if status >= 400:
        assert json.loads(raw)["status"] == status
        assert stored(hub, admin_token) == before, (provider, method, body, status)
    if status in (200, 201):
        assert method == "PUT" or method == "GET"


# -- hostile credential values ------------------------------------------------------

HOSTILE_VALUES = [
    ("nul", "abc\x00defghij", "control characters"),
    ("crlf", "abcdefgh\r\nSet-Cookie: x=1", "control characters"),
    ("ansi", "\x1b[31mabcdefgh\x1b[0m", "control characters"),
    ("megabyte", "k" * (1024 * 1024), "larger than 64 KiB"),
]


@pytest.mark.parametrize(("name", "value", "problem"), HOSTILE_VALUES, ids=[v[0] for v in HOSTILE_VALUES])
def test_hostile_values_in_the_form_are_refused_naming_the_field(hub, alice, admin_token, name, value, problem):
    before = stored(hub, admin_token)
    offset = hub.log_file.stat().st_size
    for field, values in (("client_secret", {"client_id": "alice-0001", "client_secret": SECRET + value}),
                          ("client_id", {"client_id": SHOWN + value, "client_secret": SECRET})):
        body = urlencode({"provider": "sentinelhub", **values, "_xsrf": alice.xsrf(CREDENTIALS)}).encode()
        status, headers, raw = alice.send("POST", CREDENTIALS, {
            "Content-Type": "application/x-www-form-urlencoded"}, body)
        text = check_response(status, headers, raw, (name, field))
        assert 400 <= status < 500 and problem in text, (name, field, status, text[:300])
        if status == 400:
            assert f"sentinelhub {field}" in text
        # A refused client id is kept in its (HTML-escaped) input for the user to correct; no raw
        # control character reaches the page, and a megabyte is never sent back.
        assert "\x1b" not in text and "\x00" not in text and len(raw) < 100_000
    assert stored(hub, admin_token) == before
    assert SECRET not in hub.log_file.read_bytes()[offset:].decode(errors="replace")


@pytest.mark.parametrize(("name", "value", "problem"), HOSTILE_VALUES, ids=[v[0] for v in HOSTILE_VALUES])
def test_hostile_values_in_the_api_are_refused_naming_the_field(hub, alice, admin_token, name, value, problem):
    before = stored(hub, admin_token)
    offset = hub.log_file.stat().st_size
    for field, values in (("client_secret", {"client_id": "alice-0001", "client_secret": SECRET + value}),
                          ("client_id", {"client_id": SHOWN + value, "client_secret": SECRET})):
        response = requests.put(f"{hub.url}{CREDENTIALS}api/users/alice/sentinelhub", json=values,
                                headers={"Authorization": f"token {admin_token}"}, timeout=60)
        check_response(response.status_code, response.headers, response.content, (name, field))
        message = response.json()["message"]
        assert 400 <= response.status_code < 500 and problem in message, (name, field, response.text[:300])
        if response.status_code == 400:
            assert f"sentinelhub {field}" in message
        assert value not in message
    assert stored(hub, admin_token) == before
    assert SECRET not in hub.log_file.read_bytes()[offset:].decode(errors="replace")


NOT_UTF8 = b"\xff\xfe" + SECRET.encode() + b"\xc0\xaf"


@pytest.mark.parametrize(("body", "problem"), [
    (b"provider=meteoblue&api_key=" + quote(NOT_UTF8).encode(), "api_key is not valid UTF-8"),
    (b"provider=" + quote(NOT_UTF8).encode(), "provider is not valid UTF-8"),
    (b"provider=meteoblue&api_key=" + b"\x80" * 12 + SECRET.encode(), None),
])
def test_non_utf8_form_values_are_refused_without_echo_or_log(hub, alice, admin_token, body, problem):
    before = stored(hub, admin_token)
    offset = hub.log_file.stat().st_size
    body += b"&_xsrf=" + alice.xsrf(CREDENTIALS).encode()
    status, headers, raw = alice.send("POST", CREDENTIALS, {"Content-Type": "application/x-www-form-urlencoded"},
                                      body)
    text = check_response(status, headers, raw, body)
    assert status == 400, (status, text[:300])
    if problem:
        assert problem in text, text[:300]
    assert stored(hub, admin_token) == before
    assert SECRET not in hub.log_file.read_bytes()[offset:].decode(errors="replace")


@pytest.mark.parametrize(("body", "problem"), [
    (b'{"api_key": "' + NOT_UTF8 + b'"}', "JSON object"),
    (b'{"api_key": 12345678901}', "JSON object of strings"),
    (b'{"api_key": null}', "JSON object of strings"),
    (b'{"api_key": ["' + SECRET.encode() + b'"]}', "JSON object of strings"),
    (b'{"api_key": {"nested": "' + SECRET.encode() + b'"}}', "JSON object of strings"),
    (b'["' + SECRET.encode() + b'"]', "JSON object"),
    (b'"' + SECRET.encode() + b'"', "JSON object"),
    (b"true", "JSON object"),
    (b"", "JSON object"),
    (b"[" * 30000 + b"]" * 30000, "JSON object"),
    (b'{"api_key": "' + SECRET.encode() + b'", "token": "x"}', "meteoblue has no field 'token'"),
    (b'{"api_key": "' + SECRET.encode() + b'", "api_key": "short"}', "meteoblue api_key must be 8 to 256"),
])
def test_api_type_confusion_is_a_clear_400_and_stores_nothing(hub, admin_token, body, problem):
    before = stored(hub, admin_token)
    offset = hub.log_file.stat().st_size
    response = requests.put(f"{hub.url}{CREDENTIALS}api/users/alice/meteoblue", data=body, timeout=60,
                            headers={"Authorization": f"token {admin_token}", "Content-Type": "application/json"})
    check_response(response.status_code, response.headers, response.content, body[:80])
    assert response.status_code == 400 and problem in response.json()["message"], response.text[:300]
    assert stored(hub, admin_token) == before
    assert SECRET not in hub.log_file.read_bytes()[offset:].decode(errors="replace")


def test_unknown_providers_and_fields_are_named(hub, alice, admin_token):
    before = stored(hub, admin_token)
    status, headers, raw = alice.send("POST", CREDENTIALS, {"Content-Type": "application/x-www-form-urlencoded"},
                                      urlencode({"provider": "drop\x1bbox", "_xsrf": alice.xsrf(CREDENTIALS)}).encode())
    text = check_response(status, headers, raw, "unknown provider")
    assert status == 400 and "unknown provider" in text and "\x1b" not in text
    response = requests.put(f"{hub.url}{CREDENTIALS}api/users/alice/dropbox", json={"token": SECRET}, timeout=60,
                            headers={"Authorization": f"token {admin_token}"})
    assert response.status_code == 400 and "unknown provider 'dropbox'" in response.json()["message"]
    assert stored(hub, admin_token) == before


def test_hostile_names_in_api_paths_cannot_forge_log_lines(hub, alice):
    """A user name with a line break, refused: the log shows it escaped, on one line."""
    token = hub.session("alice")
    assert token.login().status_code == 302
    alice_token = token.token()
    offset = hub.log_file.stat().st_size
    forged = "[I 2026-01-01 00:00:00.000 gemhub.credentials] credentials set for bob/sentinelhub by admin"
    response = requests.get(f"{hub.url}{CREDENTIALS}api/users/x{quote(chr(13) + chr(10) + forged, safe='')}"
                            "/sentinelhub", headers={"Authorization": f"token {alice_token}"}, timeout=60)
    assert response.status_code == 403
    check_response(response.status_code, response.headers, response.content, "forged")
    new_lines = hub.log_file.read_bytes()[offset:].decode(errors="replace").splitlines()
    assert not any(line.startswith(forged) for line in new_lines), new_lines


@pytest.mark.parametrize("prefix", [MARKETPLACE, CREDENTIALS])
def test_a_tampered_oauth_callback_code_is_a_4xx(hub, prefix):
    """A real login flow started, then the callback called with a made-up code: the hub refuses
    the code, and the service says so with a 4xx (not the 500 HubAuth raises for it)."""
    http = requests.Session()
    started = http.get(hub.url + prefix, allow_redirects=False, timeout=60)
    assert started.status_code == 302
    state = dict(pair.split("=", 1) for pair in urlsplit(started.headers["Location"]).query.split("&"))["state"]
    response = http.get(f"{hub.url}{prefix}oauth_callback", params={"code": "made-up-code", "state": state},
                        allow_redirects=False, timeout=60)
    text = check_response(response.status_code, response.headers, response.content, prefix)
    assert 400 <= response.status_code < 500 and "log in again" in text, (response.status_code, text)
