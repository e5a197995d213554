"""OAuth2 client-credentials tokens and per-client rate limiting.

Tokens are HS256 JWTs signed with a per-process random key: clients (sentinelhub-py's
`SentinelHubSession.info()`) decode the payload to read `exp`/`azp`, but nothing
outside this process can mint one.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid

from .errors import ApiError

UNAUTHORIZED_MESSAGE = ("You are not authorized! Please provide a valid access token within the header "
                        "[Authorization: Bearer <accessToken>] of your request.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    def __init__(self, clients: dict[str, str], lifetime: float = 3600.0, issuer: str = "gemhub-sandbox"):
        self.clients = dict(clients)
        self.lifetime = float(lifetime)
        self.issuer = issuer
        self._key = secrets.token_bytes(32)

    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        """Keycloak answers 401 with an OAuth2 error body; oauthlib turns it into InvalidClientError."""
        expected = self.clients.get(client_id or "")
        if expected is None or not hmac.compare_digest(expected.encode(), (client_secret or "").encode()):
            raise OAuthError(401, "invalid_client", "Invalid client or Invalid client credentials")

    def issue(self, client_id: str) -> dict:
        now = int(time.time())
        exp = now + int(self.lifetime)
        claims = {
            "exp": exp, "iat": now, "jti": str(uuid.uuid4()), "iss": self.issuer, "aud": "https://apis.sentinel-hub.com",
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, "gemhub-sandbox:" + client_id)), "typ": "Bearer",
            "azp": client_id, "scope": "email profile", "clientId": client_id,
        }
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "sandbox"}, separators=(",", ":")).encode())
        payload = _padded_payload(claims)
        signing_input = f"{header}.{payload}".encode()
        signature = _b64(hmac.new(self._key, signing_input, hashlib.sha256).digest())
        return {
            "access_token": f"{header}.{payload}.{signature}",
            "expires_in": int(self.lifetime),
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "email profile",
        }

    def verify(self, authorization: str | None) -> str:
        """Returns the client id of a valid bearer token, otherwise raises 401."""
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, UNAUTHORIZED_MESSAGE, code="COMMON_UNAUTHORIZED")
        token = authorization[len("Bearer "):].strip()
        try:
            header, payload, signature = token.split(".")
            expected = _b64(hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(expected, signature):
                raise ValueError("bad signature")
            claims = json.loads(_unb64(payload))
        except (ValueError, json.JSONDecodeError):
            raise ApiError(401, UNAUTHORIZED_MESSAGE, code="COMMON_UNAUTHORIZED") from None
        if claims.get("exp", 0) <= time.time():
            raise ApiError(401, "The access token has expired. Please request a new token.",
                           code="COMMON_UNAUTHORIZED")
        client_id = claims.get("azp")
        if client_id not in self.clients:
            raise ApiError(403, "This client is no longer allowed to access the service.", code="COMMON_FORBIDDEN")
        return client_id


def _padded_payload(claims: dict) -> str:
    """sentinelhub-py decodes the JWT payload with plain `base64.b64decode` (standard alphabet,
    naive padding). Real tokens usually survive that; we guarantee it by padding the JSON with
    spaces until its base64url form has no '-'/'_' and needs no '=' padding."""
    text = json.dumps(claims, separators=(",", ":"))
    for extra in range(64):
        candidate = _b64((text[:-1] + " " * extra + "}").encode())
        if len(candidate) % 4 == 0 and "-" not in candidate and "_" not in candidate:
            return candidate
    return _b64(text.encode())


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> bytes:
        return json.dumps({"error": self.error, "error_description": self.description}).encode()


class RateLimiter:
    """Token bucket per client: `rate` requests per second with a burst of `rate` (at least 1)."""

    def __init__(self, rate: float | None):
        self.rate = rate if rate and rate > 0 else None
        self.capacity = max(1.0, float(rate or 1))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.rejected = 0

    def check(self, client_id: str) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client_id] = (tokens - 1.0, now)
                return
            self._buckets[client_id] = (tokens, now)
            wait_ms = max(1, int((1.0 - tokens) / self.rate * 1000) + 1)
            self.rejected += 1
        # Sentinel Hub sends Retry-After in milliseconds (sentinelhub-py divides it by 1000).
        raise ApiError(429, "You have exceeded your rate limit", code="RATE_LIMIT_EXCEEDED",
                       headers={"Retry-After": str(wait_ms)})
