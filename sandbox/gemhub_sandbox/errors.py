"""Error responses shaped like the real service so client-side error decoding
(`decode_sentinelhub_err_msg`, retry logic keyed on status) behaves identically."""
from __future__ import annotations

import json
from http import HTTPStatus


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str = "COMMON_BAD_PAYLOAD",
                 headers: dict[str, str] | None = None, errors: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.errors = errors

    def __reduce__(self):
        # render workers send errors back pickled; subclasses travel as the plain ApiError they answer with
        return ApiError, (self.status, self.message, self.code, self.headers, self.errors)

    def body(self) -> bytes:
        error = {
            "status": self.status,
            "reason": HTTPStatus(self.status).phrase,
            "message": self.message,
            "code": self.code,
        }
        if self.errors:
            error["errors"] = self.errors
        return json.dumps({"error": error}).encode()


def bad_request(message: str, code: str = "COMMON_BAD_PAYLOAD") -> ApiError:
    return ApiError(400, message, code=code)


class EvalscriptError(ApiError):
    """Evalscript failures are user errors (400) carrying the JS engine's message."""

    def __init__(self, js_message: str):
        super().__init__(400, f"Failed to evaluate script!\n{js_message.strip()}", code="RENDERER_EXCEPTION")
