"""The submission protocol: how a request enters the system, written once for every caller (the API
in standalone mode, the operator in Kubernetes mode, the tests).

    record `pending` (MongoDB) → cache `pending` (Redis) → dispatch → `queued`

Dispatching gives the request a fresh dispatch id, records it with the move to `queued` (a
conditional update), then publishes a message carrying that id with confirms. A worker claims a
request only with the message of its current dispatch id, so publishing is idempotent per request:

- a second copy of a message (a publish retried after a lost confirm, an operator that restarted
  between publishing and writing the resource status) finds the request already claimed or
  finished and is dropped, never processed twice;
- a re-dispatch (a stale request queued again) makes the older message stale; only the new one is
  processed;
- the id is recorded before the message exists, so a fast worker never sees a message its record
  does not know yet. If the publisher dies between the two, the request stays `queued` without a
  message until the stale sweep dispatches it again: late, never lost.

When the first publish fails, the request is marked failed ("not accepted") and `NotAcceptedError`
tells the caller which backend failed, so the API can answer 503 with nothing left waiting.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from dataclasses import dataclass
from typing import Any

import redis
from mongoengine.errors import NotUniqueError
from pymongo.errors import PyMongoError

from fortune_core.kube import ResourceRef
from fortune_core.queue import Publisher, PublishError, QueueMessage
from fortune_core.records import (
    FortuneRecord,
    create_pending,
    get_record,
    record_view,
    transition,
    utcnow,
)
from fortune_core.request import FortuneRequest
from fortune_core.status import ACTIVE, Status
from fortune_core.status_cache import StatusCache

log = logging.getLogger(__name__)

NOT_ACCEPTED = "not_accepted"


class NotAcceptedError(Exception):
    """The request could not be accepted because `backend` failed; nothing is left waiting."""

    def __init__(self, backend: str, detail: str) -> None:
        super().__init__(f"{backend}: {detail}")
        self.backend = backend
        self.detail = detail


@dataclass(frozen=True)
class Channels:
    """Where the protocol writes besides MongoDB: the status cache and the queue."""

    cache: StatusCache
    publisher: Publisher


def new_dispatch_id() -> str:
    """A dispatch id: 64 random bits, hex."""
    return os.urandom(8).hex()


def show(channels: Channels, record: FortuneRecord) -> None:
    """Write the record's view to Redis (a newer cached version wins)."""
    channels.cache.put(record.id, record_view(record), record.created_at)


def submit(
    channels: Channels,
    *,
    request_id: str,
    request: FortuneRequest,
    profile: dict[str, Any],
    pool: str,
    client: str | None = None,
    resource: ResourceRef | None = None,
    created_at: dt.datetime | None = None,
    abandon_on_failure: bool = True,
) -> FortuneRecord:
    """Accept a request (`request` with its date resolved); the record, now queued.

    Re-running it for the same id resumes: an existing record is reused (a submission whose caller
    died half-way), a pending one is dispatched, anything further along is left as it is.
    Raises NotAcceptedError. With `abandon_on_failure` (the API: its client gets 503 and may try
    again) the record is then failed; without (the operator: the resource exists and must be
    served) it stays pending or queued for the caller to dispatch again.

    With `abandon_on_failure` nobody resumes the submission, so the record is inserted already
    queued with its dispatch id (the id still exists before the message does): one journaled
    write and one cache write fewer than pending → queued, and no `pending` state to show.
    """
    try:
        record = create_pending(
            request_id=request_id,
            request=request.to_json_dict(),
            profile=profile,
            pool=pool,
            client=client,
            created_at=created_at or utcnow(),
            resource=resource.as_dict() if resource else None,
            dispatch_id=new_dispatch_id() if abandon_on_failure else None,
        )
    except NotUniqueError:
        existing = _load(request_id)
        if existing.status != Status.PENDING.value:
            return existing
        record = existing
    except PyMongoError as exc:
        raise NotAcceptedError("mongodb", repr(exc)) from exc
    try:
        show(channels, record)
    except redis.RedisError as exc:
        if abandon_on_failure:
            _abandon(channels, request_id, "not accepted: Redis was unavailable", None)
        raise NotAcceptedError("redis", repr(exc)) from exc
    try:
        if record.status == Status.QUEUED.value and record.version == 1:  # inserted queued
            channels.publisher.publish_request(message_of(record))
            return record
        return dispatch(channels, record, {Status.PENDING})
    except PublishError as exc:
        if abandon_on_failure:
            _abandon(channels, request_id, "not accepted: RabbitMQ did not take the request", exc)
        raise NotAcceptedError("rabbitmq", str(exc)[:200]) from exc
    except PyMongoError as exc:
        raise NotAcceptedError("mongodb", repr(exc)) from exc


def _load(request_id: str) -> FortuneRecord:
    try:
        record = get_record(request_id)
    except PyMongoError as exc:
        raise NotAcceptedError("mongodb", repr(exc)) from exc
    if record is None:  # deleted between the insert attempt and now (retention of 0?)
        raise NotAcceptedError("mongodb", "the record vanished")
    return record


class DispatchLostError(Exception):
    """Someone else moved the request on first (claimed, cancelled, re-dispatched)."""


def dispatch(
    channels: Channels,
    record: FortuneRecord,
    allowed_from: set[Status] | frozenset[Status],
    message: str = "",
) -> FortuneRecord:
    """Give `record` a new dispatch id with the move to `queued`, show it, publish its message.

    The move is conditional on the record's status being in `allowed_from` and its dispatch id
    unchanged since `record` was read, so of two dispatchers only one wins: the other gets
    DispatchLostError. PublishError when the broker does not confirm (the record stays queued:
    the stale sweep dispatches it again later).
    """
    dispatch_id = new_dispatch_id()
    queued = transition(
        record.id,
        allowed_from,
        Status.QUEUED,
        expect_dispatch=record.dispatch_id,
        dispatch_id=dispatch_id,
        message=message,
    )
    if queued is None:
        raise DispatchLostError(record.id)
    try:
        show(channels, queued)
    except redis.RedisError:
        log.warning("queued but the status cache is stale", extra={"request_id": record.id})
    channels.publisher.publish_request(message_of(queued))
    return queued


def message_of(record: FortuneRecord) -> QueueMessage:
    """The queue message of the record's current dispatch."""
    return QueueMessage(
        record.id,
        record.request,
        record.pool,
        dispatch=record.dispatch_id,
        resource=record.resource or None,
    )


def _abandon(channels: Channels, request_id: str, message: str, cause: Exception | None) -> None:
    """Mark a request that could not be enqueued as failed, so nothing waits for it."""
    try:
        failed = transition(
            request_id,
            {Status.PENDING, Status.QUEUED},
            Status.FAILED,
            message=message,
            error={"code": NOT_ACCEPTED, "message": message},
        )
    except PyMongoError:
        log.error("could not mark the request failed", extra={"request_id": request_id})
        return
    if failed is not None:
        try:
            show(channels, failed)
        except redis.RedisError:
            log.warning("failed, but the status cache is stale", extra={"request_id": request_id})
    if cause is not None:
        log.warning("%s: %s", message, cause, extra={"request_id": request_id})


def reject(
    channels: Channels,
    *,
    request_id: str,
    request: dict[str, Any],
    pool: str,
    message: str,
    resource: ResourceRef | None = None,
    created_at: dt.datetime | None = None,
) -> FortuneRecord:
    """Record a request that can never be processed (its spec is invalid) as failed, so that its
    id answers with the reason like any other request. Idempotent."""
    with contextlib.suppress(NotUniqueError):  # a second run: it exists already
        create_pending(
            request_id=request_id,
            request=request,
            profile={},
            pool=pool,
            client=None,
            created_at=created_at or utcnow(),
            resource=resource.as_dict() if resource else None,
        )
    failed = transition(
        request_id,
        {Status.PENDING},
        Status.FAILED,
        message=message,
        error={"code": "invalid_request", "message": message},
    )
    record = failed or _load(request_id)
    show(channels, record)
    return record


def cancel_unrecorded(
    channels: Channels,
    *,
    request_id: str,
    request: dict[str, Any],
    pool: str,
    client: str | None,
    resource: ResourceRef,
    reason: str,
) -> FortuneRecord | None:
    """Cancel a request whose FortuneRequest exists but whose record the operator has not made
    yet: the record is made cancelled, and the operator then only shows it."""
    with contextlib.suppress(NotUniqueError):  # the operator was faster: cancel its record
        create_pending(
            request_id=request_id,
            request=request,
            profile={},
            pool=pool,
            client=client,
            created_at=utcnow(),
            resource=resource.as_dict(),
        )
    return cancel(channels, request_id, reason)


def cancel(channels: Channels, request_id: str, reason: str) -> FortuneRecord | None:
    """Cancel an unfinished request; the record, or None if it had finished (or is unknown)."""
    cancelled = transition(request_id, ACTIVE, Status.CANCELLED, message=reason)
    if cancelled is not None:
        show(channels, cancelled)
    return cancelled
