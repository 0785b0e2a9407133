"""API errors: every error answers `{"error": {"code", "message", "fields"?, "traceId"}}`.

Bodies say what the client can act on and nothing about our backends (no hosts, ports or exception
text); the details go to the log under the same trace id (`X-Request-Id`)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Response, g, has_request_context, jsonify, request

TRACE_HEADER = "X-Request-Id"
_TRACE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def trace_id() -> str | None:
    """This HTTP request's trace id (the caller's `X-Request-Id` when sane, else a new one)."""
    if not has_request_context():
        return None
    current = g.get("trace_id")
    if current is None:
        offered = request.headers.get(TRACE_HEADER, "")
        current = offered if _TRACE_RE.match(offered) else uuid.uuid4().hex
        g.trace_id = current
    return str(current)


def log_extra(**fields: Any) -> dict[str, Any]:
    """`extra=` for a log call: the trace id plus `fields` (e.g. request_id)."""
    return {"trace_id": trace_id(), **fields}


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
        trace = trace_id()
        if trace is not None:
            body["traceId"] = trace
        response = jsonify({"error": body})
        response.status_code = self.status
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


class BackendUnavailableError(ApiError):
    """A backend (MongoDB, Redis, RabbitMQ) is down: 503 naming it (the cause is only logged)."""

    def __init__(self, backend: str) -> None:
        message = f"{backend} is unavailable; nothing was accepted, try again shortly"
        super().__init__(
            503,
            "backend_unavailable",
            message,
            headers={"Retry-After": "5"},
            extra={"backend": backend},
        )
