"""A caller's own requests: `GET /v1/fortunes` (history across devices) and `DELETE /v1/fortunes`
(delete all of it).

    GET /v1/fortunes?limit=20&cursor=<id>  → 200 {"items": [{"id", "status", ...}], "next"}
    DELETE /v1/fortunes                    → 200 {"deleted": n, "more": false}

Only for a caller who is someone (a session's identity or an API key's client): an address is
shared by everyone behind a NAT, so it has no history (401 `session_required`). Items are the
caller's records, newest first, from MongoDB through the (client, _id) index, one page of at
most 50 per call (the cursor is the last id of the page: ids are time-ordered), within the
retention. An item is a summary; `GET /v1/fortunes/{id}` gives the whole request and reading.

The bulk delete cancels what is unfinished, then deletes every record of the caller with its
status cache entry (and its FortuneRequest, in Kubernetes mode): at most `BULK_DELETE_BATCH` per
call (`more` says whether to call again).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import redis
from flask import Blueprint, Response, g, jsonify, request
from pymongo.errors import PyMongoError

from fortune_api.backends import Backends, current_backends
from fortune_api.errors import ApiError, BackendUnavailableError, log_extra
from fortune_api.fortunes import rate_limit
from fortune_core import ACTIVE, FortuneRecord, client_records, is_request_id, iso_millis

log = logging.getLogger(__name__)
bp = Blueprint("history", __name__)

DEFAULT_PAGE = 20
MAX_PAGE = 50
BULK_DELETE_BATCH = 500


def require_someone() -> str:
    """The caller's identity, or 401 when the caller is only an address."""
    client: str = g.client_id
    if client.startswith("ip:"):
        raise ApiError(
            401,
            "session_required",
            "a history belongs to someone: log in (POST /v1/sessions/wechat or "
            "/v1/sessions/device) or use an API key",
            headers={"WWW-Authenticate": 'Bearer realm="cyberfortune"'},
        )
    return client


def _page_arguments() -> tuple[int, str | None]:
    fields: dict[str, dict[str, str]] = {}
    raw_limit = request.args.get("limit")
    limit = DEFAULT_PAGE
    if raw_limit is not None:
        if (
            not raw_limit.isascii()
            or not raw_limit.isdigit()
            or not 1 <= int(raw_limit) <= MAX_PAGE
        ):
            fields["limit"] = {
                "en": f"an integer from 1 to {MAX_PAGE}",
                "zh": f"1 到 {MAX_PAGE} 的整数",
            }
        else:
            limit = int(raw_limit)
    cursor = request.args.get("cursor")
    if cursor is not None and not is_request_id(cursor):
        fields["cursor"] = {"en": "the next of an earlier page", "zh": "上一页返回的 next"}
    if fields:
        raise ApiError(
            422,
            "invalid_request",
            "the request has invalid fields; see fields for each one",
            fields=fields,
        )
    return limit, cursor


def _item(record: FortuneRecord) -> dict[str, Any]:
    asked = record.request or {}
    item: dict[str, Any] = {
        "id": record.id,
        "status": record.status,
        "createdAt": iso_millis(record.created_at.replace(tzinfo=dt.UTC)),
        "topic": asked.get("topic"),
        "period": asked.get("period"),
        "date": asked.get("date"),
        "language": asked.get("language"),
        "links": {"self": f"/v1/fortunes/{record.id}"},
    }
    if record.completed_at is not None:
        item["completedAt"] = iso_millis(record.completed_at.replace(tzinfo=dt.UTC))
    result = record.result or {}
    if result.get("summary"):
        item["summary"] = result["summary"]
    overall = (result.get("scores") or {}).get("overall")
    if overall is not None:
        item["overall"] = overall
    return item


def _retention_start() -> dt.datetime:
    backends = current_backends()
    now = backends.clock().astimezone(dt.UTC).replace(tzinfo=None)
    return now - dt.timedelta(seconds=backends.settings.core.retention_seconds)


@bp.get("/v1/fortunes")
def list_fortunes() -> Response:
    """The caller's requests, newest first, a page at a time."""
    rate_limit("poll", current_backends().settings.poll_rate_limit_per_minute)
    client = require_someone()
    limit, cursor = _page_arguments()
    try:
        current_backends().ensure_mongo_index()
        records = client_records(client, cursor, limit + 1, _retention_start())
    except PyMongoError as exc:
        log.warning("MongoDB unavailable: %r", exc, extra=log_extra())
        raise BackendUnavailableError("mongodb") from exc
    page = records[:limit]
    more = len(records) > limit
    response = jsonify(
        {"items": [_item(record) for record in page], "next": page[-1].id if more else None}
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.delete("/v1/fortunes")
def delete_fortunes() -> Response:
    """Delete the caller's requests (unfinished ones are cancelled first)."""
    backends = current_backends()
    rate_limit("start", backends.settings.rate_limit_per_minute)
    client = require_someone()
    deleted = 0
    try:
        backends.ensure_mongo_index()
        records = client_records(client, None, BULK_DELETE_BATCH + 1, dt.datetime(1970, 1, 1))
        for record in records[:BULK_DELETE_BATCH]:
            if record.state in ACTIVE:
                backends.lifecycle.cancel(record.id, "cancelled: its owner deleted it")
            if backends.lifecycle.delete(record.id, remove_resource(backends)) is not None:
                deleted += 1
    except PyMongoError as exc:
        log.warning("MongoDB unavailable: %r", exc, extra=log_extra())
        raise BackendUnavailableError("mongodb") from exc
    except redis.RedisError as exc:
        log.warning("Redis unavailable: %r", exc, extra=log_extra())
        raise BackendUnavailableError("redis") from exc
    log.info("history deleted", extra=log_extra(client=client, deleted=deleted))
    return jsonify({"deleted": deleted, "more": len(records) > BULK_DELETE_BATCH})


def remove_resource(backends: Backends) -> Any:
    """How the lifecycle deletes a FortuneRequest here (Kubernetes mode), or None."""
    kube = backends.kube
    return kube.delete_fortune_request if kube is not None else None
