"""An OpenID Connect provider stand-in (Keycloak's endpoints, one realm) on loopback.

It plays the identity provider that is also the data provider: each user's
userinfo carries their Sentinel Hub OAuth client as claims, the way a
Keycloak realm maps user attributes into tokens. The hub's GenericOAuthenticator
talks to it over real HTTP through the real authorization-code flow; the
browser side (redirects) is followed by the test's requests session. Whoever
is `next_user` when /auth is hit is the person logging in.
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

from .loopback_http import JsonHandler, LoopbackServer

REALM = "/auth/realms/gemhub/protocol/openid-connect"


class OidcProviderStandIn(LoopbackServer):
    def __init__(self, client_id: str, client_secret: str, users: dict[str, dict]):
        self.client_id, self.client_secret, self.users = client_id, client_secret, users
        self.next_user: str | None = None
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        provider = self

        class Handler(JsonHandler):
            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == f"{REALM}/auth":
                    if query.get("client_id") != provider.client_id or provider.next_user is None:
                        return self.reply_json(400, {"error": "invalid_request"})
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = provider.next_user
                    self.send_response(302)
                    target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
                    self.send_header("Location", target)
                    self.end_headers()
                    return None
                if url.path == f"{REALM}/userinfo":
                    token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                    if token not in provider.tokens:
                        return self.reply_json(401, {"error": "invalid_token"})
                    return self.reply_json(200, provider.users[provider.tokens[token]])
                return self.reply_json(404, {"error": "not_found"})

            def do_POST(self):
                if urlparse(self.path).path != f"{REALM}/token":
                    return self.reply_json(404, {"error": "not_found"})
                form = {k: v[0] for k, v in parse_qs(self.read_body().decode()).items()}
                client_id, client_secret = form.get("client_id"), form.get("client_secret")
                basic = self.headers.get("Authorization", "")
                if basic.startswith("Basic "):
                    client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
                if (client_id, client_secret) != (provider.client_id, provider.client_secret):
                    return self.reply_json(401, {"error": "invalid_client"})
                user = provider.codes.pop(form.get("code", ""), None)
                if form.get("grant_type") != "authorization_code" or user is None:
                    return self.reply_json(400, {"error": "invalid_grant"})
                token = secrets.token_urlsafe(24)
                provider.tokens[token] = user
                return self.reply_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                        "refresh_token": secrets.token_urlsafe(24), "scope": "openid profile"})

        super().__init__(Handler)

    def endpoints(self) -> dict[str, str]:
        base = self.url + REALM
        return {"authorize_url": f"{base}/auth", "token_url": f"{base}/token", "userdata_url": f"{base}/userinfo"}
