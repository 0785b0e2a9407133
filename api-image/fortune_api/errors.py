"""API errors: every error answers `{"error": {"code", "message", "fields"?}}`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


class ApiError(Exception):
    """An error with its HTTP status, stable code and human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}
        self.extra = extra or {}

    def response(self) -> Response:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        response = jsonify({"error": body})
        response.status_code = self.status
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


class BackendUnavailableError(ApiError):
    """A backend (MongoDB, Redis, RabbitMQ) is down: 503 naming it."""

    def __init__(self, backend: str, detail: str = "") -> None:
        message = f"{backend} is unavailable; nothing was accepted, try again shortly"
        super().__init__(
            503,
            "backend_unavailable",
            message,
            headers={"Retry-After": "5"},
            extra={"backend": backend, **({"detail": detail} if detail else {})},
        )
