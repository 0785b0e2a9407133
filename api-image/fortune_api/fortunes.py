"""`/v1/fortunes`: start, query, cancel.

Access: with API keys on, a request is visible and cancellable only by the key that created it
(others get 404, as for an unknown id). Without keys, the id itself is the capability: 80 random
bits after the timestamp (a ULID), too many to guess."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from typing import Any

import redis
from flask import Blueprint, Response, current_app, g, jsonify, request
from pymongo.errors import PyMongoError

from fortune_api.backends import Backends
from fortune_api.errors import ApiError, BackendUnavailableError, log_extra
from fortune_api.idempotency import (
    body_fingerprint,
    release_idempotency_key,
    reserve_idempotency_key,
)
from fortune_api.metrics import ACCEPTED, PUBLISH_FAILURES
from fortune_api.settings import ApiSettings
from fortune_core.ids import is_request_id, new_request_id, request_id_millis
from fortune_core.kube import KubeError, ResourceRef
from fortune_core.profile import derive_profile
from fortune_core.records import FortuneRecord, get_record, record_view, transition
from fortune_core.request import FieldMessage, FortuneRequest, validate_request
from fortune_core.resource import CLIENT_ANNOTATION, REQUEST_ID_ANNOTATION, resource_name
from fortune_core.status import ACTIVE, Status
from fortune_core.status_cache import cache_key
from fortune_core.submission import NotAcceptedError, cancel_unrecorded, submit

log = logging.getLogger(__name__)
bp = Blueprint("fortunes", __name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
_ACTIVE_VALUES = frozenset(s.value for s in ACTIVE)
_PREFER_WAIT = re.compile(r'(?:^|[,;\s])wait\s*=\s*"?(\d+)"?', re.IGNORECASE)


def _backends() -> Backends:
    backends: Backends = current_app.extensions["cyberfortune"]
    return backends


def _settings() -> ApiSettings:
    return _backends().settings


def _links(request_id: str) -> dict[str, str]:
    return {"self": f"/v1/fortunes/{request_id}"}


def _field_errors(errors: dict[str, FieldMessage]) -> dict[str, dict[str, str]]:
    return {path: message.as_dict() for path, message in errors.items()}


def json_body() -> Any:
    """The JSON body, or the right 4xx (415, 413, 400)."""
    settings = _settings()
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        raise ApiError(
            413, "body_too_large", f"the body must be at most {settings.max_body_bytes} bytes"
        )
    raw = request.stream.read(settings.max_body_bytes + 1)
    if len(raw) > settings.max_body_bytes:
        raise ApiError(
            413, "body_too_large", f"the body must be at most {settings.max_body_bytes} bytes"
        )
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc


def rate_limit(scope: str, limit: int) -> None:
    """429 when the client used up `limit` calls of `scope` in the last minute."""
    try:
        decision = _backends().limiter.check(scope, g.client_id, limit)
    except redis.RedisError as exc:
        # The limiter fails open; a Redis outage is reported where Redis is needed.
        log.warning("rate limiter unavailable: %r", exc, extra=log_extra())
        return
    if not decision.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests: at most {limit} per minute; retry in {decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )


def validated(body: Any) -> FortuneRequest:
    """The validated request, or 422 with the field errors."""
    outcome = validate_request(body, _backends().clock())
    if outcome.request is None:
        raise ApiError(
            422,
            "invalid_request",
            "the request has invalid fields; see fields for each one",
            fields=_field_errors(outcome.errors),
        )
    return outcome.request


def _accepted(request_id: str, status: str, created: bool) -> Response:
    response = jsonify({"id": request_id, "status": status, "links": _links(request_id)})
    response.status_code = 202
    response.headers["Location"] = _links(request_id)["self"]
    response.headers["Retry-After"] = str(_settings().retry_after_seconds)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _cache_put(record: FortuneRecord) -> None:
    _backends().cache.put(record.id, record_view(record), record.created_at)


@bp.post("/v1/fortunes")
def start_fortune() -> Response:
    """Accept a request: record (pending) → cache (pending) → publish (confirmed) → queued."""
    settings = _settings()
    backends = _backends()
    rate_limit("start", settings.rate_limit_per_minute)
    body = json_body()
    fortune = validated(body).with_resolved_date(backends.clock())
    request_id = new_request_id()

    idem_key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(idem_key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(
            400, "bad_idempotency_key", f"{IDEMPOTENCY_HEADER} is longer than 255 characters"
        )
    if idem_key:
        fingerprint = body_fingerprint(body)
        try:
            reservation = reserve_idempotency_key(
                backends.redis,
                g.client_id,
                idem_key,
                request_id,
                fingerprint,
                settings.idempotency_ttl_seconds,
            )
        except redis.RedisError as exc:
            log.warning("Redis unavailable: %r", exc, extra=log_extra(request_id=request_id))
            raise BackendUnavailableError("redis") from exc
        if not reservation.new:
            if reservation.fingerprint != fingerprint:
                raise ApiError(
                    409,
                    "idempotency_key_reused",
                    f"this {IDEMPOTENCY_HEADER} was used with a different body",
                )
            return _accepted(reservation.request_id, _current_status(reservation.request_id), False)

    try:
        if backends.kube is not None:
            status = _create_resource(request_id, fortune)
        else:
            status = _enqueue(request_id, fortune)
    except ApiError:
        if idem_key:
            try:
                release_idempotency_key(backends.redis, g.client_id, idem_key, request_id)
            except redis.RedisError:
                log.warning(
                    "could not release idempotency key", extra=log_extra(request_id=request_id)
                )
        raise
    ACCEPTED.labels(fortune.topic.value, fortune.period.value).inc()
    return _accepted(request_id, status, True)


def _current_status(request_id: str) -> str:
    try:
        view = _backends().cache.get(request_id)
    except redis.RedisError:
        view = None
    return str(view["status"]) if view else Status.PENDING.value


def _enqueue(request_id: str, fortune: FortuneRequest) -> str:
    """Standalone: the submission protocol (record, cache, dispatch); the status it reached.
    The profile is derived only now: a replayed Idempotency-Key skips this."""
    backends = _backends()
    convention = backends.settings.core.conventions()
    profile_json = derive_profile(fortune.profile, convention).to_json_dict()
    try:
        backends.ensure_mongo_index()
        record = submit(
            backends.channels,
            request_id=request_id,
            request=fortune,
            profile=profile_json,
            pool=backends.settings.core.pool,
            client=g.client_id,
        )
    except PyMongoError as exc:
        raise _unmongo(request_id, exc) from exc
    except NotAcceptedError as exc:
        backend = {"redis": "Redis", "rabbitmq": "RabbitMQ", "mongodb": "MongoDB"}[exc.backend]
        log.warning("not accepted: %s failed: %s", backend, exc.detail,
                    extra=log_extra(request_id=request_id))  # fmt: skip
        if exc.backend == "rabbitmq":
            PUBLISH_FAILURES.inc()
        raise BackendUnavailableError(exc.backend) from exc
    return str(record.status)


def _create_resource(request_id: str, fortune: FortuneRequest) -> str:
    """Kubernetes mode: cache `pending`, then create the FortuneRequest (named after the id, the id
    in an annotation) for the operator to queue. When the API server does not take it, the cache
    entry is removed again and the client gets 503: nothing half-created is left waiting."""
    backends = _backends()
    assert backends.kube is not None
    now = backends.clock()
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    pending = {
        "status": Status.PENDING.value,
        "version": 0,  # the operator's record (version 1 on) replaces it
        "client": g.client_id,
        "attempts": 0,
        "message": "",
        "request": fortune.to_json_dict(),
        "created_at": stamp,
        "updated_at": stamp,
    }
    try:
        backends.cache.put(request_id, pending, now)
    except redis.RedisError as exc:
        log.warning("Redis unavailable: %r", exc, extra=log_extra(request_id=request_id))
        raise BackendUnavailableError("redis") from exc
    spec = {**fortune.to_json_dict(), "pool": backends.settings.core.pool}
    labels = {
        "app.kubernetes.io/managed-by": "cyberfortune-api",
        "cyberfortune.io/topic": fortune.topic.value,
        "cyberfortune.io/client": hashlib.sha256(g.client_id.encode()).hexdigest()[:16],
    }
    annotations = {REQUEST_ID_ANNOTATION: request_id, CLIENT_ANNOTATION: g.client_id}
    try:
        backends.kube.create_fortune_request(
            backends.namespace, resource_name(request_id), spec, labels, annotations
        )
    except KubeError as exc:
        if exc.status != 409:  # 409: created by an earlier try of this very request
            log.warning(
                "FortuneRequest not created: %s", exc, extra=log_extra(request_id=request_id)
            )
            with contextlib.suppress(redis.RedisError):
                backends.redis.delete(cache_key(request_id))
            raise BackendUnavailableError("kubernetes") from exc
    return Status.PENDING.value


def _public_view(request_id: str, view: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": request_id,
        "status": view["status"],
        "attempts": int(view.get("attempts") or 0),
        "createdAt": view.get("created_at"),
        "updatedAt": view.get("updated_at"),
        "request": view.get("request"),
        "links": _links(request_id),
    }
    if view.get("completed_at"):
        body["completedAt"] = view["completed_at"]
    if view.get("message"):
        body["message"] = view["message"]
    if view.get("result") is not None:
        body["result"] = view["result"]
    if view.get("error") is not None:
        body["error"] = view["error"]
    return body


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no fortune request with this id")


def _gone_or_missing(request_id: str) -> ApiError:
    if is_request_id(request_id):
        now_ms = _backends().clock().timestamp() * 1000
        age_seconds = (now_ms - request_id_millis(request_id)) / 1000  # < 0: an id from the future
        if age_seconds > _settings().core.retention_seconds:
            return ApiError(
                410, "expired", "this request is past its retention period and was deleted"
            )
    return _not_found()


def _unmongo(request_id: str, exc: PyMongoError) -> BackendUnavailableError:
    log.warning("MongoDB unavailable: %r", exc, extra=log_extra(request_id=request_id))
    return BackendUnavailableError("mongodb")


def _owned(client: str | None) -> bool:
    """Whether the caller may see a request created by `client` (always, without API keys).
    Requests created with kubectl (client `k8s:<namespace>`) belong to no key: their ids are
    capabilities, derived from the resource's uid."""
    if not _settings().api_keys or client == g.client_id:
        return True
    return bool(client and client.startswith("k8s:"))


def _load_view(request_id: str) -> dict[str, Any]:
    """Redis first; MongoDB only when Redis has no entry (then refill the cache)."""
    backends = _backends()
    try:
        cached = backends.cache.get(request_id)
    except redis.RedisError:
        cached = None
    if cached is not None and "client" in cached:
        return cached
    if not is_request_id(request_id):
        raise _not_found()
    try:
        record = get_record(request_id)
    except PyMongoError as exc:
        raise _unmongo(request_id, exc) from exc
    if record is None:
        raise _gone_or_missing(request_id)
    view = record_view(record)
    with contextlib.suppress(redis.RedisError):
        _cache_put(record)
    return view


def _preferred_wait() -> int:
    """Seconds the client prefers to wait for the outcome (RFC 7240 `Prefer: wait=N`), capped."""
    match = _PREFER_WAIT.search(request.headers.get("Prefer", ""))
    if match is None:
        return 0
    return min(int(match.group(1)), _settings().poll_wait_max_seconds)


def _wait_for_outcome(request_id: str, view: dict[str, Any], seconds: int) -> dict[str, Any]:
    """Long poll: the view once the request finished, or after `seconds` (from Redis alone).
    Only while this process has a free wait slot: a long poll holds a thread."""
    backends = _backends()
    if not backends.poll_waits.acquire(blocking=False):
        return view
    try:
        waited = backends.cache.wait_until(
            request_id, lambda v: v["status"] not in _ACTIVE_VALUES, float(seconds)
        )
    except redis.RedisError:
        waited = None
    finally:
        backends.poll_waits.release()
    g.wait_applied = seconds
    return waited if waited is not None and "client" in waited else view


def _record_before_operator(request_id: str) -> FortuneRecord | None:
    """Kubernetes mode: a request accepted a moment ago may have no record yet (the operator makes
    it); its cached `pending` entry stands for it. Make the record for the cancellation."""
    backends = _backends()
    if backends.kube is None:
        return None
    with contextlib.suppress(redis.RedisError):
        view = backends.cache.get(request_id)
        if view is not None and view["status"] == Status.PENDING.value and _owned(view["client"]):
            ref = ResourceRef(backends.namespace, resource_name(request_id))
            return cancel_unrecorded(
                backends.channels,
                request_id=request_id,
                request=view["request"] or {},
                pool=backends.settings.core.pool,
                client=view["client"],
                resource=ref,
                reason="cancelled by the client",
            ) or get_record(request_id)
    return None


@bp.get("/v1/fortunes/<request_id>")
def get_fortune(request_id: str) -> Response:
    """Status and, when done, the result; with `Prefer: wait=N`, held until it is done (or N s)."""
    rate_limit("poll", _settings().poll_rate_limit_per_minute)
    view = _load_view(request_id)
    if not _owned(view.get("client")):
        raise _not_found()
    wait = _preferred_wait()
    if wait and view["status"] in _ACTIVE_VALUES:
        view = _wait_for_outcome(request_id, view, wait)
    response = jsonify(_public_view(request_id, view))
    if getattr(g, "wait_applied", 0):
        response.headers["Preference-Applied"] = f"wait={g.wait_applied}"
    if view["status"] not in _ACTIVE_VALUES:
        response.headers["Cache-Control"] = "private, max-age=60"
    else:
        response.headers["Retry-After"] = str(_settings().retry_after_seconds)
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/v1/fortunes/<request_id>")
def cancel_fortune(request_id: str) -> Response:
    """Cancel a request that has not finished; 409 when it already has."""
    rate_limit("start", _settings().rate_limit_per_minute)
    if not is_request_id(request_id):
        raise _not_found()
    try:
        record = get_record(request_id)
        if record is None:
            record = _record_before_operator(request_id)
        if record is None:
            raise _gone_or_missing(request_id)
        if not _owned(record.client):
            raise _not_found()
        cancelled = transition(
            request_id, ACTIVE, Status.CANCELLED, message="cancelled by the client"
        )
        if cancelled is None:
            current = get_record(request_id)
            status = current.status if current is not None else record.status
            raise ApiError(
                409,
                "already_finished",
                f"the request already finished ({status}) and cannot be cancelled",
                extra={"status": status},
            )
    except PyMongoError as exc:
        raise _unmongo(request_id, exc) from exc
    try:
        _cache_put(cancelled)
    except redis.RedisError:
        log.warning("cancelled but cache not updated", extra=log_extra(request_id=request_id))
    response = jsonify(
        {"id": request_id, "status": Status.CANCELLED.value, "links": _links(request_id)}
    )
    response.status_code = 202
    return response
