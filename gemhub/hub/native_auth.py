"""NativeAuthenticator, with a login form that works under JupyterHub 6.

nativeauthenticator 1.3.0 (the newest release) was written for JupyterHub 5:
- its login handler times each login with `self.statsd`, which JupyterHub 6
  removed, so every login through the form was a 500;
- its `_render` takes only `login_error` and `username`, while JupyterHub 6
  renders a failed form submission (an expired XSRF token, a throttled login)
  by calling `_render(**namespace)` with more keys, so those errors were a 500
  instead of the login form with the message.
Both are fixed here in a subclass, so gemhub's pinned releases keep working;
everything else is nativeauthenticator's own.
"""

from __future__ import annotations

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler


class _NoTiming:
    """Takes the place of the removed statsd client: a timer that records nothing."""

    def timer(self, name: str) -> _NoTiming:
        return self

    def start(self) -> _NoTiming:
        return self

    def stop(self, send: bool = True) -> None:
        pass


class GemhubLoginHandler(LoginHandler):
    statsd = _NoTiming()
    _render_now = False

    def _render(self, login_error=None, username=None, sync=False, **ignored):
        """JupyterHub 6 calls this from write_error with `sync=True` (it needs the page as a string,
        not an awaitable) and the error page's own keys, which the form does not use."""
        self._render_now = sync
        try:
            return super()._render(login_error=login_error, username=username)
        finally:
            self._render_now = False

    def render_template(self, name, **namespace):
        if self._render_now:
            namespace["sync"] = True
        return super().render_template(name, **namespace)


class GemhubNativeAuthenticator(NativeAuthenticator):
    def get_handlers(self, app):
        return [(path, GemhubLoginHandler if handler is LoginHandler else handler)
                for path, handler in super().get_handlers(app)]
