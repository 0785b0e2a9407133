"""`/v1/sessions/*`: WeChat login, anonymous device sessions, refresh.

    POST /v1/sessions/wechat   {"code": <wx.login code>}  → 200 {"token", "expiresIn", "kind"}
    POST /v1/sessions/device                               → 200 the same, kind "device"
    POST /v1/sessions/refresh  Authorization: Bearer <session, expired or not> → 200 a new one

The login exchanges the code at WeChat's `jscode2session` exactly once, derives the identity (a
keyed hash of the openid, `fortune_api.identity`), keeps the openid in Redis for the calls WeChat
needs it in (`fortune_core.wechat.remember_openid`) and drops the `session_key` (nothing here
decrypts user data): neither is ever logged or answered. These routes need no API key (a phone
cannot hold one) and are rate limited per address (`FORTUNE_SESSION_RATE_LIMIT_PER_MINUTE`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from fortune_api.backends import Backends, current_backends
from fortune_api.errors import ApiError, BackendUnavailableError, log_extra
from fortune_api.fortunes import json_body, rate_limit
from fortune_api.identity import new_device_identity, user_identity
from fortune_api.metrics import SESSIONS
from fortune_api.sessions import SIGNER, SessionSigner, signer_of
from fortune_api.settings import ApiSettings
from fortune_api.wechat import WECHAT, wechat_client, wechat_of
from fortune_core import WeChatError, remember_openid

log = logging.getLogger(__name__)
bp = Blueprint("sessions", __name__)

SESSIONS_PATH = "/v1/sessions/"
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def install_sessions(app: Flask, settings: ApiSettings, backends: Backends) -> None:
    """The session routes, the signer (when `FORTUNE_SESSION_KEYS` is set) and the WeChat
    client (when the app is configured)."""
    app.extensions[SIGNER] = (
        SessionSigner(
            settings.session_keys, settings.session_ttl_seconds, settings.session_refresh_seconds
        )
        if settings.sessions
        else None
    )
    app.extensions[WECHAT] = wechat_client(settings, backends.redis)
    app.register_blueprint(bp)


def _signer(kind: str) -> SessionSigner:
    signer = signer_of(current_app)
    if signer is None:
        SESSIONS.labels(kind, "off").inc()
        raise ApiError(
            404, "sessions_off", "this server issues no sessions (FORTUNE_SESSION_KEYS is not set)"
        )
    return signer


def _session(signer: SessionSigner, subject: str, kind: str, auth: int | None = None) -> Response:
    token = signer.issue(subject, kind, auth)
    response = jsonify({"token": token, "expiresIn": signer.ttl_seconds, "kind": kind})
    response.headers["Cache-Control"] = "no-store"
    return response


def _limit(kind: str) -> None:
    try:  # the one limiter, keyed here on the address (these routes take no session)
        rate_limit("session", current_backends().settings.session_rate_limit_per_minute)
    except ApiError:
        SESSIONS.labels(kind, "rate_limited").inc()
        raise


def _body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "invalid_request",
            "the body must be a JSON object",
            fields={"body": {"en": "must be an object", "zh": "必须是 JSON 对象"}},
        )
    return body


_WECHAT_REFUSALS: dict[str, tuple[int, str, str, dict[str, str]]] = {
    "invalid": (
        401,
        "invalid_code",
        "WeChat refused the login code (wrong, expired or used): call wx.login again",
        {},
    ),
    "rate_limited": (
        429,
        "wechat_rate_limited",
        "WeChat limits logins right now; retry in a minute",
        {"Retry-After": "60"},
    ),
    "refused": (403, "wechat_refused", "WeChat does not allow this account to log in", {}),
    "unavailable": (
        503,
        "wechat_unavailable",
        "WeChat cannot be reached right now; retry shortly",
        {"Retry-After": "5"},
    ),
}


@bp.post("/v1/sessions/wechat")
def wechat_login() -> Response:
    """Exchange a `wx.login` code for a session of the user's identity."""
    settings = current_backends().settings
    _limit("wechat")
    body = _body()
    code = body.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise ApiError(
            422,
            "invalid_request",
            "the request has invalid fields; see fields for each one",
            fields={
                "code": {
                    "en": "the code from wx.login: 1 to 128 letters, digits, _ or -",
                    "zh": "wx.login 返回的 code：1 到 128 个字母、数字、_ 或 -",
                }
            },
        )
    signer = _signer("wechat")
    client = wechat_of(current_app)
    if client is None:
        SESSIONS.labels("wechat", "off").inc()
        raise ApiError(404, "wechat_off", "WeChat login is not configured on this server")
    try:
        exchanged = client.code_to_session(code)
    except WeChatError as exc:
        status, error_code, message, headers = _WECHAT_REFUSALS.get(
            exc.kind, _WECHAT_REFUSALS["unavailable"]
        )
        SESSIONS.labels("wechat", error_code).inc()
        log.warning("WeChat login failed: %s", exc.message, extra=log_extra(errcode=exc.errcode))
        raise ApiError(status, error_code, message, headers=dict(headers)) from None
    identity = user_identity(settings.identity_key, client.app_id, exchanged.openid)
    try:
        remember_openid(
            current_backends().redis, identity, exchanged.openid, settings.session_refresh_seconds
        )
    except redis.RedisError as exc:
        log.warning("Redis unavailable: %r", exc, extra=log_extra())
        raise BackendUnavailableError("redis") from exc
    del exchanged  # the session_key goes no further than this function
    g.client_id = identity
    SESSIONS.labels("wechat", "issued").inc()
    log.info("WeChat login", extra=log_extra(client=identity))
    return _session(signer, identity, "wechat")


@bp.post("/v1/sessions/device")
def device_session() -> Response:
    """An anonymous session for a device without `wx.login` (the H5 build)."""
    settings = current_backends().settings
    _limit("device")
    signer = _signer("device")
    if not settings.device_sessions:
        SESSIONS.labels("device", "off").inc()
        raise ApiError(403, "device_sessions_off", "anonymous sessions are turned off here")
    identity = new_device_identity()
    SESSIONS.labels("device", "issued").inc()
    return _session(signer, identity, "device")


@bp.post("/v1/sessions/refresh")
def refresh_session() -> Response:
    """A new token for a session within the refresh window of its login (expired or not)."""
    _limit("refresh")
    signer = _signer("refresh")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    claims = signer.refreshable(token.strip()) if scheme.lower() == "bearer" else None
    if claims is None:
        SESSIONS.labels("refresh", "invalid_session").inc()
        raise ApiError(
            401,
            "invalid_session",
            "this session cannot be refreshed (invalid, or its login is too old): log in again",
            headers={"WWW-Authenticate": 'Bearer realm="cyberfortune"'},
        )
    SESSIONS.labels("refresh", "issued").inc()
    return _session(signer, claims.subject, claims.kind, claims.authenticated_at)
