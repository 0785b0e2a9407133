"""`POST /v1/fortunes/{id}/subscription`: the user accepted a one-time subscribe message
("your reading is ready") for this request; the worker that finishes it sends the message
(`fortune_worker.notifications`).

Only the request's owner, and only a WeChat login (the message goes to the openid behind the
identity); only while the request is unfinished (a finished one is 409: the result is there to
read). One record per request (`cf:notify:<id>`), expiring with the request's retention.
"""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, g, jsonify

from fortune_api.backends import current_backends
from fortune_api.errors import ApiError, BackendUnavailableError, log_extra
from fortune_api.fortunes import owned_view, rate_limit
from fortune_api.identity import USER_PREFIX
from fortune_core import ask_to_notify

log = logging.getLogger(__name__)
bp = Blueprint("subscriptions", __name__)


@bp.post("/v1/fortunes/<request_id>/subscription")
def subscribe(request_id: str) -> Response:
    """Send the caller a subscribe message when the request finishes."""
    backends = current_backends()
    settings = backends.settings
    rate_limit("start", settings.rate_limit_per_minute)
    view = owned_view(request_id)
    if not str(g.client_id).startswith(USER_PREFIX):
        raise ApiError(
            403,
            "wechat_login_required",
            "subscribe messages go to a WeChat user: log in with POST /v1/sessions/wechat",
        )
    if not (settings.wechat.configured and settings.wechat.subscribe_template_id):
        raise ApiError(
            404, "subscribe_off", "this server sends no subscribe messages (no template configured)"
        )
    if not view.active:
        raise ApiError(
            409,
            "already_finished",
            f"the request already finished ({view.status.value}): read the result",
            extra={"status": view.status.value},
        )
    age = backends.clock() - view.created_at
    ttl = int(settings.core.retention_seconds - age.total_seconds())
    try:
        ask_to_notify(backends.redis, request_id, g.client_id, ttl)
    except redis.RedisError as exc:
        log.warning("Redis unavailable: %r", exc, extra=log_extra(request_id=request_id))
        raise BackendUnavailableError("redis") from exc
    response = jsonify({"id": request_id, "subscribed": True})
    response.status_code = 201
    return response
