"""Security headers for gemhub's hub services (marketplace, credentials).

JupyterHub sets a Content-Security-Policy on its own pages, but a service is
its own tornado application behind the proxy: nothing adds headers to what it
sends. This mixin gives every response of a service (pages, assets, API
answers, errors and redirects) the same headers as the Launch endpoint on the
users' servers; the values live in `gemhub_sandbox.contract`, the one module
both environments install.
"""

from __future__ import annotations

import os

from gemhub_sandbox.contract import SECURITY_HEADERS, content_security_policy
from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web

# JupyterHub's CSP report sink (jupyterhub.handlers.base: csp_report_uri).
HUB_CSP_REPORT_PATH = "hub/security/csp-report"


def hub_csp_report_uri() -> str:
    """The hub's report sink, under the hub's base URL as the hub gives it to its services."""
    return url_path_join(os.environ.get("JUPYTERHUB_BASE_URL", "/"), HUB_CSP_REPORT_PATH)


class SecurityHeadersMixin:
    """Put before tornado's RequestHandler in the bases. `set_default_headers` runs for
    every response, and again when an error page replaces one (`send_error` clears headers)."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Security-Policy", content_security_policy(hub_csp_report_uri()))
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)


def plain_error(handler: web.RequestHandler, status_code: int, **kwargs) -> None:
    """`write_error` for our services: the status and the HTTPError's message as text, never
    a traceback or a repr (tornado's default shows one in debug mode)."""
    reason = kwargs.get("exc_info", (None, None))[1]
    message = getattr(reason, "log_message", None) if isinstance(reason, web.HTTPError) else None
    handler.set_header("Content-Type", "text/plain; charset=utf-8")
    handler.finish(f"{status_code}: {message or handler._reason}\n")


class OAuthCallbackHandler(SecurityHeadersMixin, HubOAuthCallbackHandler):
    """JupyterHub's OAuth callback, with our headers and without tracebacks in its errors."""

    async def get(self):
        # HubAuth turns the hub's 4xx for a made-up or reused ?code= into a 500 of the service.
        try:
            await super().get()
        except web.HTTPError as error:
            if error.status_code == 500 and (error.log_message or "").startswith("Failed to check authorization"):
                raise web.HTTPError(400, "The hub did not accept this login (its code is unknown or already "
                                         "used); please log in again.") from None
            raise

    def write_error(self, status_code: int, **kwargs) -> None:
        plain_error(self, status_code, **kwargs)


class NotFoundHandler(SecurityHeadersMixin, web.RequestHandler):
    """What a service answers for a path it does not serve (its `default_handler_class`)."""

    def prepare(self):
        raise web.HTTPError(404, "Nothing here.")

    def check_xsrf_cookie(self):  # a 404 whatever the method; nothing is written
        return

    def write_error(self, status_code: int, **kwargs) -> None:
        plain_error(self, status_code, **kwargs)
