"""Users' own provider credentials as a JupyterHub service at /services/credentials/.

Two faces, one store (the hub database, see `store`):

- a settings page for every logged-in user (HubOAuth, like the marketplace):
  what is stored for each provider, described but never shown back, a form to
  replace it (tornado xsrf) and a Remove button. A user only ever sees and
  changes their own credentials.
- a small REST API for admins and scripts, authenticated with JupyterHub API
  tokens (`Authorization: token ...`):

      GET            api/users                    every user's summaries (admins only)
      GET|PUT|DELETE api/users/<name>/<provider>  one credential (admins: anyone; others: themselves)

  PUT takes the provider's fields as a JSON object; GET returns the summary
  (user, provider, id hint, secret fingerprint, when and by whom): never a
  secret. Errors are JSON `{"status": ..., "message": ...}`.

The service's own hub token needs no scopes: HubAuth identifies a browser or
an API caller by asking /hub/api/user with the *caller's* token, and the
answer always carries the caller's name, `admin` flag and scopes.

Secrets never reach a log, a page or a response: only "credentials set for
USER/PROVIDER by WHO" is logged.
"""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from jupyterhub.services.auth import HubAuth, HubAuthenticated, HubOAuthenticated, UserNotAllowed
from jupyterhub.utils import url_path_join
from tornado import httpclient, web

from ..service_address import listen_address
from ..signals import serve_until_stopped
from ..web_security import NotFoundHandler, OAuthCallbackHandler, SecurityHeadersMixin, plain_error
from .providers import PROVIDERS, InvalidCredentials, Provider, get_provider

DB_URL_ENV = "GEMHUB_CREDENTIALS_DB_URL"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
UNAVAILABLE = "Credentials are unavailable on this hub right now"
SAVED = "Saved. Restart your server to use them (Hub Control Panel → Stop My Server → Start)."
FLASH = {
    "saved": SAVED,
    "removed": "Removed. Restart your server for it to stop using them (Hub Control Panel → Stop My Server → Start).",
    "nothing": "There was nothing to remove.",
}

# Every provider's fields together fit in a few KiB; a larger body is refused before it is parsed,
# so a pasted file never reaches validation, an error message or the log.
MAX_BODY_BYTES = 64 * 1024

log = logging.getLogger("gemhub.credentials")


class BoundedInput:
    """What both faces do with a request before reading it: refuse an oversized body, and
    refuse bytes that are not UTF-8 naming the field only (tornado's own message would show
    the first bytes, in the response and in the log, and they may be a secret's)."""

    def prepare_body(self) -> None:
        if len(self.request.body) > MAX_BODY_BYTES:
            raise web.HTTPError(413, f"the request body is larger than {MAX_BODY_BYTES // 1024} KiB; "
                                     "credentials are a few short values")

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise web.HTTPError(400, f"{name or 'the URL'} is not valid UTF-8") from None


class Unavailable(Exception):
    """The store cannot be used (no database, no or malformed key); message is safe to show."""


class Vault:
    """The CredentialStore, opened on first use (and again after a failure),
    so that a database that is briefly away or a missing key makes pages say
    so rather than stopping the service."""

    def __init__(self, db_url: str, keys: str | None = None):
        self.db_url, self.keys = db_url, keys
        self._store = None

    def store(self):
        if not self.db_url:
            raise Unavailable(f"{UNAVAILABLE}: the service was started without {DB_URL_ENV}.")
        if self._store is None:
            from .store import CredentialStore

            try:
                self._store = CredentialStore(self.db_url, keys=self.keys)
            except Exception as error:  # never the URL: it may hold a password
                log.error("credentials store cannot be opened: %s", type(error).__name__)
                raise Unavailable(f"{UNAVAILABLE}: the hub database cannot be opened.") from None
            if self._store.key_problem:
                log.error("%s", self._store.key_problem)
        return self._store

    def writable(self):
        """The store, if values can be written (it has a usable key)."""
        store = self.store()
        if store.key_problem:
            raise Unavailable(f"{UNAVAILABLE}: the hub has no usable encryption key (ask an admin).")
        return store


def summary_json(summary) -> dict:
    return {
        "user": summary.user,
        "provider": summary.provider,
        "fields": list(summary.fields),
        "id_hint": summary.id_hint,
        "fingerprint": summary.fingerprint,
        "set_at": summary.set_at.isoformat(),
        "set_by": summary.set_by,
        "status": summary.status,
    }


def form_values(provider: Provider, get) -> dict[str, str]:
    """The provider's fields from a form or JSON body; nothing else is read."""
    return {name: get(name) for name in provider.field_names if get(name) is not None}


# -- the settings page ----------------------------------------------------------


@lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class PageHandler(SecurityHeadersMixin, BoundedInput, HubOAuthenticated, web.RequestHandler):
    def initialize(self, vault: Vault, prefix: str, hub_base: str):
        self.vault, self.prefix, self.hub_base = vault, prefix, hub_base

    def prepare(self):
        self.prepare_body()

    @property
    def user(self) -> str:
        return self.get_current_user()["name"]

    def render_page(self, status: int = 200, *, flash: str | None = None, error: str | None = None,
                    error_provider: str | None = None, kept: dict | None = None) -> None:
        problem, stored = None, {}
        try:
            store = self.vault.store()
            problem = UNAVAILABLE if store.key_problem else None
            stored = {s.provider: s for s in store.describe(self.user, check=True)}
        except Unavailable as error_:
            problem = str(error_)
        html = templates().get_template("page.html.j2").render(
            user=self.user,
            providers=list(PROVIDERS.values()),
            stored=stored,
            problem=problem,
            flash=flash,
            error=error,
            error_provider=error_provider,
            kept=kept or {},
            prefix=self.prefix,
            home_url=url_path_join(self.hub_base, "hub/home"),
            xsrf_form_html=self.xsrf_form_html(),
        )
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(html)

    def write_error(self, status_code: int, **kwargs) -> None:
        plain_error(self, status_code, **kwargs)

    def provider_from_form(self) -> Provider | None:
        name = self.get_body_argument("provider", "")
        try:
            return get_provider(name)
        except InvalidCredentials as error:
            self.render_page(400, error=str(error))
            return None

    def back(self, done: str) -> None:
        self.redirect(f"{self.prefix}?{urlencode({'done': done})}")


class SettingsHandler(PageHandler):
    @web.authenticated
    def get(self):
        self.render_page(flash=FLASH.get(self.get_argument("done", "")))

    @web.authenticated
    def post(self):
        provider = self.provider_from_form()
        if provider is None:
            return
        values = form_values(provider, lambda name: self.get_body_argument(name, None))
        kept = {provider.name: {f.name: values.get(f.name, "") for f in provider.public_fields}}
        try:
            store = self.vault.writable()
            store.set(self.user, provider.name, values, by=self.user)
        except Unavailable as error:
            self.render_page(503, error=str(error), error_provider=provider.name, kept=kept)
            return
        except InvalidCredentials as error:
            self.render_page(400, error=str(error), error_provider=provider.name, kept=kept)
            return
        log.info("credentials set for %s/%s by %s", self.user, provider.name, self.user)
        self.back("saved")


class RemoveHandler(PageHandler):
    @web.authenticated
    def post(self):
        provider = self.provider_from_form()
        if provider is None:
            return
        try:
            removed = self.vault.store().unset(self.user, provider.name)
        except Unavailable as error:
            self.render_page(503, error=str(error), error_provider=provider.name)
            return
        if removed:
            log.info("credentials removed for %s/%s by %s", self.user, provider.name, self.user)
        self.back("removed" if removed else "nothing")


# -- the REST API ---------------------------------------------------------------


class ApiHandler(SecurityHeadersMixin, BoundedInput, HubAuthenticated, web.RequestHandler):
    """Token-authenticated JSON API; browsers' cookies are not accepted here,
    so there is nothing for a cross-site request to ride on (no xsrf needed)."""

    def initialize(self, vault: Vault, hub_auth: HubAuth):
        self.vault = vault
        self.hub_auth = hub_auth

    def check_xsrf_cookie(self):
        # Only the Authorization header authenticates here (see class doc).
        return

    async def prepare(self):
        self.prepare_body()
        model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            raise web.HTTPError(401, "a JupyterHub API token is required (Authorization: token <token>)")
        try:
            self.current_user = self.check_hub_user(model)
        except UserNotAllowed:
            raise web.HTTPError(403, f"{model.get('kind', 'user')} {model['name']!r} may not use the credentials "
                                     "service") from None

    @property
    def caller(self) -> str:
        return self.current_user["name"]

    @property
    def is_admin(self) -> bool:
        model = self.current_user
        return model.get("kind", "user") == "user" and (
            bool(model.get("admin")) or "admin:users" in model.get("scopes", ())
        )

    def authorize(self, user: str) -> None:
        if user != self.caller and not self.is_admin:
            raise web.HTTPError(403, f"{self.caller} may only manage their own credentials, not {user!r}'s")

    def write_error(self, status_code: int, **kwargs) -> None:
        reason = kwargs.get("exc_info", (None, None))[1]
        message = getattr(reason, "log_message", None) or self._reason
        if status_code >= 500 and not isinstance(reason, web.HTTPError):
            message = "internal error (see the hub log)"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def send(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data))

    def store(self, write: bool = False):
        try:
            return self.vault.writable() if write else self.vault.store()
        except Unavailable as error:
            raise web.HTTPError(503, str(error)) from None


class UsersApiHandler(ApiHandler):
    def get(self):
        if not self.is_admin:
            raise web.HTTPError(403, "only admins may list everyone's credentials")
        self.send({"credentials": [summary_json(s) for s in self.store().describe(check=True)]})


class CredentialApiHandler(ApiHandler):
    def target(self, user: str, provider: str) -> Provider:
        self.authorize(user)
        try:
            return get_provider(provider)
        except InvalidCredentials as error:
            raise web.HTTPError(400, str(error)) from None

    def find(self, user: str, provider: str):
        for summary in self.store().describe(user, check=True):
            if summary.provider == provider:
                return summary
        return None

    def get(self, user: str, provider: str):
        spec = self.target(user, provider)
        summary = self.find(user, spec.name)
        if summary is None:
            raise web.HTTPError(404, f"no {spec.name} credentials stored for {user!r}")
        self.send(summary_json(summary))

    async def put(self, user: str, provider: str):
        spec = self.target(user, provider)
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            raise web.HTTPError(400, "the body must be a JSON object of the provider's fields") from None
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise web.HTTPError(400, f"the body must be a JSON object of strings; {spec.name} fields: "
                                     f"{', '.join(spec.field_names)}")
        store = self.store(write=True)
        if user != self.caller:
            await self.check_user_exists(user)
        existed = self.find(user, spec.name) is not None
        try:
            summary = store.set(user, spec.name, body, by=self.caller)
        except InvalidCredentials as error:
            raise web.HTTPError(400, str(error)) from None
        log.info("credentials set for %s/%s by %s", user, spec.name, self.caller)
        self.send(summary_json(summary), 200 if existed else 201)

    def delete(self, user: str, provider: str):
        spec = self.target(user, provider)
        if not self.store().unset(user, spec.name):
            raise web.HTTPError(404, f"no {spec.name} credentials stored for {user!r}")
        log.info("credentials removed for %s/%s by %s", user, spec.name, self.caller)
        self.set_status(204)
        self.finish()

    async def check_user_exists(self, user: str) -> None:
        """An admin storing for someone else: refuse a name the hub does not know
        (a typo would store credentials nobody gets). Asked with the caller's own
        token, so the service needs no read:users scope of its own."""
        token = self.hub_auth.get_token(self, in_cookie=False)
        url = url_path_join(self.hub_auth.api_url, "users", quote(user, safe=""))
        response = await httpclient.AsyncHTTPClient().fetch(
            url, headers={"Authorization": f"token {token}"}, raise_error=False, request_timeout=20
        )
        if response.code == 404:
            raise web.HTTPError(404, f"no hub user named {user!r} (or your token may not read users)")
        if response.code != 200:
            log.warning("could not check that hub user %s exists: HTTP %s", user, response.code)


# -- the application ------------------------------------------------------------


def make_app(vault: Vault, prefix: str, hub_base: str) -> web.Application:
    pages = {"vault": vault, "prefix": prefix, "hub_base": hub_base}
    api = {"vault": vault, "hub_auth": HubAuth()}
    name = r"([^/]+)"
    return web.Application(
        [
            (prefix, SettingsHandler, pages),
            (url_path_join(prefix, "remove"), RemoveHandler, pages),
            (url_path_join(prefix, "api/users"), UsersApiHandler, api),
            (url_path_join(prefix, f"api/users/{name}/{name}"), CredentialApiHandler, api),
            (url_path_join(prefix, "oauth_callback"), OAuthCallbackHandler),
        ],
        default_handler_class=NotFoundHandler,
        cookie_secret=os.urandom(32),
        xsrf_cookies=True,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/credentials/")
    hub_base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
    address, port = listen_address("http://127.0.0.1:8030")
    db_url = os.environ.get(DB_URL_ENV, "")
    if not db_url:
        log.error("%s is not set: the page will say credentials are unavailable", DB_URL_ENV)
    app = make_app(Vault(db_url), prefix, hub_base)
    log.info("credentials service at %s", prefix)
    serve_until_stopped(lambda: app.listen(port, address))


if __name__ == "__main__":
    main()
