"""CORS for browser clients on another origin (the mini-program's H5 build served elsewhere).

Off unless `FORTUNE_CORS_ORIGINS` lists origins (or is `*`). A preflight (`OPTIONS` with
`Access-Control-Request-Method`) from an allowed origin is answered here, before authentication,
because browsers send preflights without credentials. Responses to allowed origins expose the
headers the client reads: `Retry-After` (polling), `Location`, `Idempotent-Replayed`,
`Preference-Applied` (a long poll with `Prefer: wait=N`, an allowed request header).
"""

from __future__ import annotations

from flask import Flask, Response, request

ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = "Content-Type, Authorization, Idempotency-Key, Prefer, Last-Event-ID"
EXPOSED_HEADERS = "Retry-After, Location, Idempotent-Replayed, Preference-Applied"
PREFLIGHT_MAX_AGE = "600"


def parse_origins(raw: str) -> tuple[str, ...]:
    """`https://a.example, https://b.example` or `*` → a tuple (trailing slashes dropped)."""
    return tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())


def _allowed(origins: tuple[str, ...], origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for this origin, or None when it is not allowed."""
    if not origin:
        return None
    if "*" in origins:
        return "*"
    return origin if origin.rstrip("/") in origins else None


def install_cors(app: Flask, origins: tuple[str, ...]) -> None:
    """Answer preflights and add CORS headers for `origins` (nothing when it is empty).

    Call before other `before_request` hooks so a preflight never meets authentication.
    """
    if not origins:
        return

    @app.before_request
    def _preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        allow = _allowed(origins, request.headers.get("Origin", ""))
        response = Response(status=204 if allow else 403)
        response.headers["Vary"] = "Origin"
        if allow:
            response.headers["Access-Control-Allow-Origin"] = allow
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response

    @app.after_request
    def _cors_headers(response: Response) -> Response:
        allow = _allowed(origins, request.headers.get("Origin", ""))
        if allow and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = allow
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            response.headers.add("Vary", "Origin")
        return response
