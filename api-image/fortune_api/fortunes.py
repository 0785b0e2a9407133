"""`/v1/fortunes`: start, query, cancel.

Access: a request made in a session (a WeChat login, a device session) is visible and
cancellable only by that identity; with API keys on, one made with a key only by that key (others
get 404, as for an unknown id). Otherwise the id itself is the capability: 80 random bits after
the timestamp (a ULID), too many to guess. See `fortune_api.identity`."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

import redis
from flask import Blueprint, Response, g, jsonify, request
from pymongo.errors import PyMongoError

from fortune_api.backends import current_backends
from fortune_api.content_check import screen_name
from fortune_api.errors import ApiError, BackendUnavailableError, log_extra
from fortune_api.idempotency import (
    body_fingerprint,
    release_idempotency_key,
    reserve_idempotency_key,
)
from fortune_api.identity import owns
from fortune_api.metrics import ACCEPTED, BUDGET_REFUSALS, PUBLISH_FAILURES
from fortune_api.settings import ApiSettings
from fortune_core import (
    CLIENT_ANNOTATION,
    REQUEST_ID_ANNOTATION,
    ExpiredRequestError,
    FieldMessage,
    FortuneRequest,
    KubeError,
    NotAcceptedError,
    RequestView,
    ResourceRef,
    Status,
    Submission,
    UnknownRequestError,
    WebhookQueue,
    client_label,
    derive_profile,
    new_request_id,
    requests_queue,
    resource_name,
    validate_request,
    webhook_target_problem,
)

log = logging.getLogger(__name__)
bp = Blueprint("fortunes", __name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
#: Deepest nesting of arrays and objects a body may have (a request body needs 3).
MAX_JSON_DEPTH = 32
#: Seconds a client is asked to wait when the pool's queue is at its bound.
QUEUE_FULL_RETRY_AFTER = 30
_PREFER_WAIT = re.compile(r'(?:^|[,;\s])wait\s*=\s*"?(\d+)"?', re.IGNORECASE)


def _settings() -> ApiSettings:
    return current_backends().settings


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
        body = json.loads(raw)
    except RecursionError:
        body = None  # deeper than the parser goes: refused below as too deep
        depth = MAX_JSON_DEPTH + 1
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc
    else:
        depth = json_depth(body, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise ApiError(
            400,
            "nested_too_deeply",
            f"the body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep",
        )
    return body


def json_depth(value: Any, limit: int) -> int:
    """How deeply `value` nests arrays and objects, counted without recursion and only up to
    `limit + 1` (beyond it the answer is "too deep" whatever the rest holds)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children)
    return deepest


def rate_limit(scope: str, limit: int) -> None:
    """429 when the client used up `limit` calls of `scope` in the last minute."""
    try:
        decision = current_backends().limiter.check(scope, g.client_id, limit)
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


def check_budget() -> None:
    """429 `budget_exhausted` when the client's daily token budget is used up (spent and
    reserved by calls in flight); `Retry-After`: until it resets at 00:00 UTC. Fails open when
    Redis is down: the workers' reservation enforces the budget anyway."""
    budgets = current_backends().budgets
    if budgets is None or budgets.budget_of(g.client_id) is None:
        return
    try:
        status = budgets.status(g.client_id)
    except redis.RedisError as exc:
        log.warning("token budgets unavailable: %r", exc, extra=log_extra())
        return
    if status.exhausted:
        BUDGET_REFUSALS.labels(client_label(g.client_id), "submission").inc()
        raise ApiError(
            429,
            "budget_exhausted",
            f"the daily token budget of this client ({status.budget} tokens) is used up; it "
            f"resets at 00:00 UTC, in {status.retry_after} s",
            headers={"Retry-After": str(status.retry_after)},
        )


def validated(body: Any) -> FortuneRequest:
    """The validated request, or 422 with the field errors."""
    outcome = validate_request(body, current_backends().clock())
    if outcome.request is None:
        raise ApiError(
            422,
            "invalid_request",
            "the request has invalid fields; see fields for each one",
            fields=_field_errors(outcome.errors),
        )
    webhook = outcome.request.webhook
    allow_private = _settings().core.webhook_allow_private
    if webhook and (problem := webhook_target_problem(webhook, allow_private)) is not None:
        raise ApiError(
            422,
            "invalid_request",
            "the request has invalid fields; see fields for each one",
            fields=_field_errors({"webhook": problem}),
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


@bp.post("/v1/fortunes")
def start_fortune() -> Response:
    """Accept a request: record (pending) → cache (pending) → publish (confirmed) → queued."""
    settings = _settings()
    backends = current_backends()
    rate_limit("start", settings.rate_limit_per_minute)
    body = json_body()
    fortune = validated(body).with_resolved_date(backends.clock())
    screen_name(fortune)  # WeChat's content check of the name (fortune_api.content_check)
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
        check_budget()
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
        view = current_backends().cache.get(request_id)
    except redis.RedisError:
        view = None
    return view.status.value if view else Status.PENDING.value


def _enqueue(request_id: str, fortune: FortuneRequest) -> str:
    """Standalone: the lifecycle's submission (record, cache, publish); the status it reached.
    The profile is derived only now: a replayed Idempotency-Key skips this."""
    backends = current_backends()
    convention = backends.settings.core.conventions()
    profile_json = derive_profile(fortune.profile, convention).to_json_dict()
    try:
        backends.ensure_mongo_index()
        view = backends.lifecycle.submit(
            Submission(
                request_id=request_id,
                request=fortune,
                profile=profile_json,
                pool=backends.settings.core.pool,
                client=g.client_id,
            )
        )
    except PyMongoError as exc:
        raise _unmongo(request_id, exc) from exc
    except NotAcceptedError as exc:
        backend = {"redis": "Redis", "rabbitmq": "RabbitMQ", "mongodb": "MongoDB"}[exc.backend]
        log.warning("not accepted: %s failed: %s", backend, exc.detail,
                    extra=log_extra(request_id=request_id))  # fmt: skip
        if exc.backend == "rabbitmq":
            PUBLISH_FAILURES.inc()
        if exc.full:
            raise queue_full() from exc
        raise BackendUnavailableError(exc.backend) from exc
    return view.status.value


def queue_full() -> ApiError:
    """503: the pool's queue is at its bound (`FORTUNE_QUEUE_MAX_LENGTH`)."""
    return ApiError(
        503,
        "queue_full",
        "too many readings are waiting to be written; nothing was accepted, try again in a minute",
        headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER)},
    )


def _create_resource(request_id: str, fortune: FortuneRequest) -> str:
    """Kubernetes mode: announce `pending` in the cache, then create the FortuneRequest (named
    after the id, the id in an annotation) for the operator to queue. When the API server does not
    take it, the announcement is withdrawn and the client gets the API server's reason (a 4xx
    naming the field, 429 for a full quota) or 503: nothing half-created is left waiting."""
    backends = current_backends()
    assert backends.kube is not None
    core = backends.settings.core
    if backends.queue_depth is not None:
        ready = backends.queue_depth.ready(requests_queue(core.pool))
        if ready is not None and ready >= core.queue_max_length:
            raise queue_full()
    try:
        backends.lifecycle.announce(request_id, fortune, g.client_id)
    except redis.RedisError as exc:
        log.warning("Redis unavailable: %r", exc, extra=log_extra(request_id=request_id))
        raise BackendUnavailableError("redis") from exc
    spec = {
        **fortune.to_json_dict(),
        "pool": core.pool,
        # The reading lives in MongoDB; the resource only has to outlast its outcome's watchers,
        # so etcd holds the requests in flight plus a minute of finished ones.
        "ttlSecondsAfterFinished": backends.settings.resource_ttl_seconds,
    }
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
            backends.lifecycle.withdraw(request_id)
            raise refusal_of(exc) from exc
    return Status.PENDING.value


def refusal_of(exc: KubeError) -> ApiError:
    """What the client is told when the API server refused to create its FortuneRequest: its
    own mistake (a field the CRD's schema refused) as a 422 naming the field, a full quota as
    429, our trouble (unreachable, forbidden, overloaded) as 503."""
    if exc.status in (400, 422):
        fields = {
            _spec_path(cause.get("field", "")): {
                "en": str(cause.get("message", "")),
                "zh": str(cause.get("message", "")),
            }
            for cause in exc.causes
        } or {"request": {"en": exc.message, "zh": exc.message}}
        return ApiError(
            422,
            "invalid_request",
            "the request has invalid fields; see fields for each one",
            fields=fields,
        )
    if exc.status == 403 and "exceeded quota" in exc.message:
        return ApiError(
            429,
            "quota_exceeded",
            "too many fortune requests in flight here; retry later",
            headers={"Retry-After": "30"},
        )
    return BackendUnavailableError("kubernetes")


def _spec_path(field: str) -> str:
    """`spec.profile.birthDate` (the API server's cause) → `profile.birthDate` (the body's)."""
    return field.removeprefix("spec.") or "request"


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no fortune request with this id")


def _expired() -> ApiError:
    return ApiError(410, "expired", "this request is past its retention period and was deleted")


def _unmongo(request_id: str, exc: PyMongoError) -> BackendUnavailableError:
    log.warning("MongoDB unavailable: %r", exc, extra=log_extra(request_id=request_id))
    return BackendUnavailableError("mongodb")


def _owned(client: str | None) -> bool:
    """Whether the caller may see a request created by `client` (`fortune_api.identity.owns`)."""
    return owns(g.client_id, client, bool(_settings().api_keys))


def _load_view(request_id: str) -> RequestView:
    """The request as shown (Redis first, MongoDB when Redis has no entry), or 404/410/503."""
    try:
        return current_backends().lifecycle.lookup(request_id)
    except UnknownRequestError:
        raise _not_found() from None
    except ExpiredRequestError:
        raise _expired() from None
    except PyMongoError as exc:
        raise _unmongo(request_id, exc) from exc


def owned_view(request_id: str) -> RequestView:
    """The caller's request (404 for anyone else's, as for an unknown id; 410, 503)."""
    view = _load_view(request_id)
    if not _owned(view.client):
        raise _not_found()
    return view


def _webhook_state(request_id: str) -> dict[str, Any] | None:
    """A finished request's webhook delivery (from MongoDB; pending until it is enqueued), or
    None when MongoDB cannot tell now."""
    try:
        state = WebhookQueue().state_of(request_id)
    except PyMongoError as exc:
        log.warning("webhook state unavailable: %r", exc, extra=log_extra(request_id=request_id))
        return None
    return state or {"state": "pending", "attempts": 0}


def _preferred_wait() -> int:
    """Seconds the client prefers to wait for the outcome (RFC 7240 `Prefer: wait=N`), capped."""
    match = _PREFER_WAIT.search(request.headers.get("Prefer", ""))
    if match is None:
        return 0
    return min(int(match.group(1)), _settings().poll_wait_max_seconds)


def _wait_for_outcome(view: RequestView, seconds: int) -> RequestView:
    """Long poll: the view once the request finished, or after `seconds` (from Redis alone).
    Only while this process has a free wait slot: a long poll holds a thread."""
    backends = current_backends()
    if not backends.poll_waits.acquire(blocking=False):
        return view
    try:
        waited = backends.cache.wait_until(view.id, lambda v: not v.active, float(seconds))
    except redis.RedisError:
        waited = None
    finally:
        backends.poll_waits.release()
    g.wait_applied = seconds
    return waited if waited is not None else view


@bp.get("/v1/fortunes/<request_id>")
def get_fortune(request_id: str) -> Response:
    """Status and, when done, the result; with `Prefer: wait=N`, held until it is done (or N s)."""
    rate_limit("poll", _settings().poll_rate_limit_per_minute)
    view = _load_view(request_id)
    if not _owned(view.client):
        raise _not_found()
    wait = _preferred_wait()
    if wait and view.active:
        view = _wait_for_outcome(view, wait)
    body = view.shown(_links(view.id))
    if view.terminal and view.request.get("webhook"):
        delivery = _webhook_state(view.id)
        if delivery is not None:
            body["webhook"] = delivery
    response = jsonify(body)
    if getattr(g, "wait_applied", 0):
        response.headers["Preference-Applied"] = f"wait={g.wait_applied}"
    if not view.active:
        response.headers["Cache-Control"] = "private, max-age=60"
    else:
        response.headers["Retry-After"] = str(_settings().retry_after_seconds)
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/v1/fortunes/<request_id>")
def cancel_fortune(request_id: str) -> Response:
    """Cancel a request that has not finished (202); delete one that has (204: the record, its
    cache entry and, in Kubernetes mode, its FortuneRequest). With `?onlyIfActive=true` (a
    cancel button: it must never delete a reading that finished meanwhile) a finished request
    is a 409 `already_finished` instead."""
    rate_limit("start", _settings().rate_limit_per_minute)
    only_if_active = request.args.get("onlyIfActive", "false")
    if only_if_active not in {"true", "false"}:
        raise ApiError(
            422,
            "invalid_request",
            "the request has invalid fields; see fields for each one",
            fields={"onlyIfActive": {"en": "true or false", "zh": "true 或 false"}},
        )
    view = owned_view(request_id)
    lifecycle = current_backends().lifecycle
    reason = "cancelled by the client"
    try:
        if view.announced:  # Kubernetes mode: the operator has not made its record yet
            cancelled = lifecycle.cancel_unrecorded(
                request_id=request_id,
                request=view.request,
                pool=_settings().core.pool,
                client=view.client,
                resource=ResourceRef(current_backends().namespace, resource_name(request_id)),
                reason=reason,
            )
        else:
            cancelled = lifecycle.cancel(request_id, reason)
        if cancelled is None and only_if_active == "true":
            current = lifecycle.stored(request_id) or view
            raise ApiError(
                409,
                "already_finished",
                f"the request already finished ({current.status.value}) and cannot be cancelled",
                extra={"status": current.status.value},
            )
        if cancelled is None:
            return _delete_finished(request_id)
    except PyMongoError as exc:
        raise _unmongo(request_id, exc) from exc
    response = jsonify(
        {"id": request_id, "status": Status.CANCELLED.value, "links": _links(request_id)}
    )
    response.status_code = 202
    return response


def _delete_finished(request_id: str) -> Response:
    backends = current_backends()
    kube = backends.kube
    try:
        deleted = backends.lifecycle.delete(
            request_id, kube.delete_fortune_request if kube is not None else None
        )
    except redis.RedisError as exc:
        log.warning("Redis unavailable: %r", exc, extra=log_extra(request_id=request_id))
        raise BackendUnavailableError("redis") from exc
    if deleted is None:  # deleted meanwhile by another call
        raise _not_found()
    log.info("deleted by its owner", extra=log_extra(request_id=request_id))
    return Response(status=204)
