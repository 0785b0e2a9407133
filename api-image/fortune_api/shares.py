"""Share links that reveal no personal data.

    POST   /v1/fortunes/{id}/share  (its owner; a succeeded request) → 201 {"token", "links"}
    DELETE /v1/fortunes/{id}/share  (its owner)                      → 204, every token revoked
    GET    /v1/shared/{token}       (anyone, no session needed)      → 200 the redacted view

A shared reading used to travel as its request id, which opens the whole request (the name, the
birth date, time and place) to whoever gets it. A share token opens only the redacted public
view: the reading (its summary, scores, aspects, lucky items, advice and text, with every
occurrence of the name taken out) and the four pillars' 干支, never the name, the birth data, the
place or the time zone. The token is 144 random bits; the record keeps only its SHA-256 (the
`shares` field, at most `MAX_SHARES` per request), so the database alone opens nothing. Tokens
end with the request (its deletion, its retention) or when the owner revokes them. Opening a
share writes nothing anywhere: it never enters the recipient's history.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from typing import Any

from flask import Blueprint, Response, g, jsonify
from pymongo.errors import PyMongoError

from fortune_api.backends import current_backends
from fortune_api.errors import ApiError, BackendUnavailableError, log_extra
from fortune_api.fortunes import rate_limit
from fortune_api.identity import owns
from fortune_core import FortuneRecord, Status

log = logging.getLogger(__name__)
bp = Blueprint("shares", __name__)

SHARED_PATH = "/v1/shared/"
MAX_SHARES = 10
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{24}$")
#: What the public view keeps of a result.
PUBLIC_RESULT_FIELDS = ("summary", "scores", "aspects", "lucky", "advice", "text")
NAME_STAND_IN = {"zh-CN": "TA", "en": "they"}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no fortune request with this id")


def _unmongo(exc: PyMongoError) -> BackendUnavailableError:
    log.warning("MongoDB unavailable: %r", exc, extra=log_extra())
    return BackendUnavailableError("mongodb")


def _owned_record(request_id: str) -> FortuneRecord:
    try:
        record: FortuneRecord | None = (
            FortuneRecord.objects(id=request_id).only("id", "status", "client").first()
        )
    except PyMongoError as exc:
        raise _unmongo(exc) from exc
    if record is None or not owns(
        g.client_id, record.client, bool(current_backends().settings.api_keys)
    ):
        raise _not_found()
    return record


@bp.post("/v1/fortunes/<request_id>/share")
def create_share(request_id: str) -> Response:
    """A new share token of a succeeded request."""
    rate_limit("start", current_backends().settings.rate_limit_per_minute)
    record = _owned_record(request_id)
    if record.status != Status.SUCCEEDED.value:
        raise ApiError(
            409,
            "not_shareable",
            f"only a finished reading can be shared (this one is {record.status})",
            extra={"status": record.status},
        )
    token = secrets.token_urlsafe(18)
    try:
        added = FortuneRecord.objects(
            id=request_id, **{f"shares__{MAX_SHARES - 1}__exists": False}
        ).update_one(push__shares=_digest(token))
    except PyMongoError as exc:
        raise _unmongo(exc) from exc
    if not added:
        raise ApiError(
            409,
            "too_many_shares",
            f"this reading has {MAX_SHARES} share links: revoke them first",
        )
    response = jsonify({"token": token, "links": {"public": SHARED_PATH + token}})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/v1/fortunes/<request_id>/share")
def revoke_shares(request_id: str) -> Response:
    """Revoke every share token of the request."""
    rate_limit("start", current_backends().settings.rate_limit_per_minute)
    _owned_record(request_id)
    try:
        FortuneRecord.objects(id=request_id).update_one(unset__shares=True)
    except PyMongoError as exc:
        raise _unmongo(exc) from exc
    return Response(status=204)


def _without(value: Any, name: str, stand_in: str) -> Any:
    """`value` with every occurrence of `name` in its strings replaced by `stand_in`."""
    if isinstance(value, str):
        return value.replace(name, stand_in) if name else value
    if isinstance(value, dict):
        return {key: _without(item, name, stand_in) for key, item in value.items()}
    if isinstance(value, list):
        return [_without(item, name, stand_in) for item in value]
    return value


def public_view(record: FortuneRecord) -> dict[str, Any]:
    """What a share shows: the reading without the name, the pillars' 干支, what was asked
    about (topic, period, date, language); nothing of the birth data."""
    asked = record.request or {}
    language = str(asked.get("language") or "zh-CN")
    name = str((asked.get("profile") or {}).get("name") or "").strip()
    result = record.result or {}
    reading = {key: result[key] for key in PUBLIC_RESULT_FIELDS if key in result}
    pillars = {
        key: pillar.get("ganzhi")
        for key, pillar in ((record.profile or {}).get("pillars") or {}).items()
        if isinstance(pillar, dict) and pillar.get("ganzhi")
    }
    return {
        "topic": asked.get("topic"),
        "period": asked.get("period"),
        "date": asked.get("date"),
        "language": language,
        "result": _without(reading, name, NAME_STAND_IN.get(language, "TA")),
        "pillars": pillars,
    }


@bp.get("/v1/shared/<token>")
def open_share(token: str) -> Response:
    """The redacted public view of a shared reading."""
    rate_limit("poll", current_backends().settings.poll_rate_limit_per_minute)
    if not _TOKEN.match(token):
        raise ApiError(404, "not_found", "no shared reading with this token")
    try:
        current_backends().ensure_mongo_index()
        record: FortuneRecord | None = (
            FortuneRecord.objects(shares=_digest(token), status=Status.SUCCEEDED.value)
            .only("request", "result", "profile", "status")
            .first()
        )
    except PyMongoError as exc:
        raise _unmongo(exc) from exc
    if record is None:
        raise ApiError(404, "not_found", "no shared reading with this token (revoked or gone)")
    response = jsonify(public_view(record))
    response.headers["Cache-Control"] = "no-store"  # a revoked token closes at once
    return response
