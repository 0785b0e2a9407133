"""The request lifecycle: every transition of a request and its projections, in one place.

    submit / accept ─► queued ─claim─► running ─succeed─► succeeded
                         ▲  ▲            │ │  └───fail──► failed
                         │  └─retry(delay)┘ └─give back (the worker stops before the call)
                         └─ dispatch again / publish again (the sweep, a dead-letter replay)
    cancel: pending | queued | running ─► cancelled     (terminal statuses never change again)
    delete: succeeded | failed | cancelled ─► gone      (the record and every projection)

The API, the worker, the operator, the dead-letter tool and the tests call this module; nothing
else writes a status. Each transition is one conditional MongoDB update (`records.transition`: the
allowed current statuses and, where it matters, the dispatch id), then its projections — the Redis
status cache, the request's event stream (`fortune_core.events`: what the API serves as SSE), the
webhook delivery of a finished request (`fortune_core.webhook_queue`), and in Kubernetes mode the
FortuneRequest status — then, for a dispatch, the
confirmed publish of its message. Every caller gets a typed `RequestView` back.

Dispatch ids. Every dispatch records a fresh id with its move to `queued`, before the message
that carries it exists; only a message of the current dispatch claims the request. A message
published twice (a retried publish, a sweep publishing a possibly lost one again) is harmless: the
second copy finds the request claimed or finished. A stale message (of an earlier dispatch) is
dropped. So no attempt is processed twice.

One failure rule: whatever fails, the request stays claimable by a message that will be
delivered, or is recorded for the sweep (`fortune_core.sweep`):

- a publish that is not confirmed flags the record `undelivered` (the sweep publishes it again at
  its next run); a process killed between the record and its publish leaves a queued record with
  no message, which the sweep finds once the pool's queue is empty and the message was due
  `FORTUNE_LOST_MESSAGE_SECONDS` ago (or after `FORTUNE_STALE_QUEUED_SECONDS` in any case);
- a projection that fails flags the record `unprojected` (the sweep writes it again); a failed
  projection never fails the transition, except the status cache at submission, which must
  exist before a request is accepted (polling never falls through to MongoDB while in flight);
- a worker killed while it holds a claim leaves its message unacknowledged: the broker redelivers
  it and the redelivered copy takes the claim over; a claim whose worker and message are both
  gone is dispatched again after `FORTUNE_STALE_RUNNING_SECONDS`.

The API's submission (standalone mode) is the exception to "recorded for the sweep": its client is
waiting for the answer, so a failure marks the request failed ("not accepted") and raises
`NotAcceptedError`, and the client gets 503 with nothing half-accepted left behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import redis
from mongoengine.errors import NotUniqueError
from pymongo.errors import PyMongoError

from fortune_core.clock import Clock, system_clock
from fortune_core.events import EventLog, stream_key, version_key
from fortune_core.failpoints import failpoint
from fortune_core.ids import is_request_id, request_id_millis
from fortune_core.kube import KubeClient, KubeError, ResourceRef, Written
from fortune_core.queue import Publisher, PublishError, QueueFullError, QueueMessage
from fortune_core.records import (
    FortuneRecord,
    create_pending,
    delete_finished,
    flag,
    get_record,
    transition,
    view_of,
)
from fortune_core.request import FortuneRequest
from fortune_core.resource import SPEC_GENERATION, status_of
from fortune_core.status import ACTIVE, Status
from fortune_core.status_cache import StatusCache
from fortune_core.views import RequestView
from fortune_core.webhook_queue import WebhookQueue
from fortune_core.wechat import notification_key

log = logging.getLogger(__name__)

NOT_ACCEPTED = "not_accepted"
#: Delays shorter than this are published straight to the pool's queue.
MIN_DELAY_SECONDS = 0.1
#: What a first delivery of the current dispatch may claim (a running one is another's copy).
UNCLAIMED = frozenset({Status.PENDING, Status.QUEUED})


class NotAcceptedError(Exception):
    """The request could not be accepted because `backend` failed (`full`: its queue is at its
    bound, a matter of minutes rather than an outage); nothing is left waiting."""

    def __init__(self, backend: str, detail: str, full: bool = False) -> None:
        super().__init__(f"{backend}: {detail}")
        self.backend = backend
        self.detail = detail
        self.full = full


class DispatchLostError(Exception):
    """Someone else moved the request on first (claimed, cancelled, dispatched again)."""


class UnknownRequestError(Exception):
    """No request has this id."""


class ExpiredRequestError(Exception):
    """The request is past its retention and was deleted."""


@dataclass(frozen=True)
class Submission:
    """A validated request about to enter the system (its date resolved)."""

    request_id: str
    request: FortuneRequest
    profile: dict[str, Any]
    pool: str
    client: str | None = None
    resource: ResourceRef | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class Dispatched:
    """A request moved to `queued`; `delivered`: its message was confirmed by the broker (if
    not, the record is flagged for the sweep)."""

    view: RequestView
    delivered: bool


@dataclass(frozen=True)
class Claim:
    """A request this worker now runs (the record carries the derived profile)."""

    record: FortuneRecord
    view: RequestView

    @property
    def attempt(self) -> int:
        return self.view.attempts


class Skip(Enum):
    """Why a delivered message does not claim its request, and so how it is settled."""

    NO_RECORD = "no record for this request"  # dead-letter it
    FINISHED = "the request already finished"  # ack
    STALE = "a message of an earlier dispatch"  # ack
    SECOND_COPY = "a second copy of a message another worker holds"  # ack
    CHANGED = "the request changed during the claim"  # requeue: try the message again


@dataclass(frozen=True)
class Skipped:
    """A message that claims nothing (`why`), with the request as it is, when it exists."""

    why: Skip
    view: RequestView | None = None


# --- projections -------------------------------------------------------------------------------


class Projection(Protocol):
    """Something that shows a request's state: written after every transition."""

    name: str

    def project(self, record: FortuneRecord, view: RequestView) -> Written | None:
        """Show `view` (of `record`); Written.GONE when the shown object no longer exists.
        Raises on failure (the lifecycle flags the record for the sweep)."""
        ...


class CacheProjection:
    """The Redis status cache (`fortune_core.status_cache`)."""

    name = "status_cache"

    def __init__(self, cache: StatusCache) -> None:
        self.cache = cache

    def project(self, record: FortuneRecord, view: RequestView) -> Written | None:
        self.cache.put(view)
        return None


class EventProjection:
    """The request's event stream (`fortune_core.events`): a `status` event per transition, then
    the `result` of a success or the `error` of a failure; each version at most once."""

    name = "event_stream"

    def __init__(self, events: EventLog) -> None:
        self.events = events

    def project(self, record: FortuneRecord, view: RequestView) -> Written | None:
        self.events.project(view)
        return None


class WebhookProjection:
    """A finished request with a `webhook` URL: its delivery, enqueued once
    (`fortune_core.webhook_queue`; the workers deliver it)."""

    name = "webhook"

    def __init__(self, queue: WebhookQueue, clock: Clock) -> None:
        self.queue = queue
        self.clock = clock

    def project(self, record: FortuneRecord, view: RequestView) -> Written | None:
        url = (record.request or {}).get("webhook")
        if view.terminal and isinstance(url, str) and url:
            self.queue.enqueue(view, url, self.clock())
        return None


class ResourceProjection:
    """The FortuneRequest status (Kubernetes mode), for records made for a FortuneRequest.

    Only what a person acts on is written, so a reading costs the API server two status writes:
    `Queued` (accepted) and the outcome (`Succeeded`, `Failed`, `Cancelled`, with the attempts,
    the worker and the times). A pending record is not shown (the resource says Pending until it
    is queued), nor is `running` (GET /v1/fortunes/{requestId} shows it, from Redis)."""

    name = "resource_status"
    SHOWN = frozenset({Status.QUEUED, Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    def project(self, record: FortuneRecord, view: RequestView) -> Written | None:
        ref = ResourceRef.from_dict(record.resource)
        if ref is None or view.status not in self.SHOWN:
            return None
        return self.kube.write_status(ref, status_of(view, SPEC_GENERATION))


#: What a projection may raise when its store is unavailable.
PROJECTION_ERRORS: tuple[type[Exception], ...] = (
    redis.RedisError,
    KubeError,
    OSError,
    PyMongoError,  # the webhook delivery's enqueue
)


def per_request_keys(request_id: str) -> tuple[str, ...]:
    """The Redis keys a request owns besides its status cache entry (deleted with it)."""
    return (notification_key(request_id), stream_key(request_id), version_key(request_id))


def new_dispatch_id() -> str:
    """A dispatch id: 64 random bits, hex."""
    return os.urandom(8).hex()


def message_of(record: FortuneRecord) -> QueueMessage:
    """The queue message of the record's current dispatch."""
    return QueueMessage(
        record.id,
        record.request,
        record.pool,
        dispatch=str(record.dispatch_id or ""),
        resource=record.resource or None,
    )


def _naive(value: dt.datetime) -> dt.datetime:
    """BSON dates are naive UTC."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


# --- the lifecycle -----------------------------------------------------------------------------


class Lifecycle:
    """Every transition of a request; safe to use from many threads at once.

    `projections` are written after each transition, in order; `on_projection_failure(name)` is
    told of each failed projection (metrics). `retention_seconds` decides when an unknown id is
    answered "expired" rather than "unknown"; a cached in-flight view older than
    `verify_after_seconds` is checked against MongoDB before it is believed (a write lost while
    Redis was unreachable cannot show a wrong status longer than that). `events`: the event
    streams (by default on the status cache's Redis, expiring with its entries).
    `on_finished(view)` is told of each reading the worker finished (stored or failed; a cancel
    is the client's own doing): the worker's subscribe messages; it must not block.
    """

    def __init__(
        self,
        cache: StatusCache,
        publisher: Publisher,
        *,
        retention_seconds: int,
        resources: KubeClient | None = None,
        clock: Clock = system_clock,
        on_projection_failure: Callable[[str], None] | None = None,
        on_finished: Callable[[RequestView], None] | None = None,
        verify_after_seconds: float = 900.0,
        events: EventLog | None = None,
    ) -> None:
        self.cache = cache
        self.events = events or EventLog(cache.client, cache.expire_at)
        self.publisher = publisher
        self.retention_seconds = retention_seconds
        self.clock = clock
        self.projections: list[Projection] = [
            CacheProjection(cache),
            EventProjection(self.events),
            WebhookProjection(WebhookQueue(), clock),
        ]
        if resources is not None:
            self.projections.append(ResourceProjection(resources))
        self._on_projection_failure = on_projection_failure or (lambda name: None)
        self._on_finished = on_finished or (lambda view: None)
        self._verify_after = dt.timedelta(seconds=verify_after_seconds)

    def _now(self) -> dt.datetime:
        return _naive(self.clock())

    # --- entering the system -------------------------------------------------------------------
    def submit(self, new: Submission) -> RequestView:
        """Accept a request whose client waits for the answer (the API, standalone mode): one
        journaled insert of the record already queued with its dispatch id, the status cache,
        the confirmed publish. NotAcceptedError names the backend that failed; the request is
        then failed ("not accepted") and nothing waits for it. Submitting an existing id again
        returns it as it is."""
        now = self._now()
        try:
            record = self._create(new, now, dispatch_id=new_dispatch_id())
        except NotUniqueError:
            return view_of(self._load(new.request_id))
        except PyMongoError as exc:
            raise NotAcceptedError("mongodb", repr(exc)) from exc
        failpoint("submit.after_record")
        view = view_of(record)
        try:
            self.cache.put(view)
        except redis.RedisError as exc:
            self._abandon(new.request_id, "not accepted: Redis was unavailable", exc)
            raise NotAcceptedError("redis", repr(exc)) from exc
        # Before the publish: a worker's claim (a newer version) would drop it afterwards.
        self._project_events(record, view)
        failpoint("submit.after_projection")
        try:
            self.publisher.publish_request(message_of(record))
        except PublishError as exc:
            full = isinstance(exc, QueueFullError)
            why = "its queue is full" if full else "RabbitMQ did not take the request"
            self._abandon(new.request_id, f"not accepted: {why}", exc)
            raise NotAcceptedError("rabbitmq", str(exc)[:200], full) from exc
        return view

    def accept(self, new: Submission) -> RequestView:
        """Accept a request that must be served whatever fails (the operator: its FortuneRequest
        exists): the record pending, then dispatched. Resumable: run again for the same id, a
        pending record is dispatched, anything further along is returned as it is. Raises
        PyMongoError (the caller retries); a failed publish or projection is left to the sweep."""
        try:
            record = self._create(new, self._now())
        except NotUniqueError:
            record = self._load(new.request_id)
            if record.state != Status.PENDING:
                return view_of(record)
        failpoint("accept.after_record")
        return self.dispatch_again(record).view

    def reject(
        self,
        *,
        request_id: str,
        request: dict[str, Any],
        pool: str,
        message: str,
        resource: ResourceRef | None = None,
    ) -> RequestView:
        """Record a request that can never be processed (its spec is invalid) as failed, so that
        its id answers with the reason like any other request. Idempotent."""
        self._ensure_record(request_id, request, pool, None, resource)
        failed = transition(
            request_id,
            {Status.PENDING},
            Status.FAILED,
            message=message,
            error={"code": "invalid_request", "message": message},
        )
        record = failed or self._load(request_id)
        self._project(record)
        return view_of(record)

    def announce(self, request_id: str, request: FortuneRequest, client: str) -> None:
        """Kubernetes mode, before the FortuneRequest is created: cache a `pending` view
        (version 0, replaced by the operator's record) so that polling finds the request at once.
        Raises redis.RedisError (then nothing was accepted)."""
        now = self.clock()
        self.cache.put(
            RequestView(
                id=request_id,
                status=Status.PENDING,
                version=0,
                client=client,
                attempts=0,
                message="",
                request=request.to_json_dict(),
                created_at=now,
                updated_at=now,
            )
        )

    def withdraw(self, request_id: str) -> None:
        """Forget an announcement whose FortuneRequest was not created (best effort)."""
        try:
            self.cache.forget(request_id)
        except redis.RedisError as exc:
            log.warning("could not withdraw the announcement: %s", exc,
                        extra={"request_id": request_id})  # fmt: skip

    # --- dispatching ---------------------------------------------------------------------------
    def dispatch(
        self,
        record: FortuneRecord,
        allowed_from: set[Status] | frozenset[Status],
        *,
        message: str | None = None,
        delay: float = 0.0,
        attempt: int = 0,
        fresh: bool = True,
        **changes: Any,
    ) -> Dispatched:
        """Move `record` to `queued` and publish its message, `delay` seconds ahead (through a
        retry queue). `fresh`: with a new dispatch id (older messages become stale); otherwise
        the same dispatch is published again (a copy of a message that may be lost: if it is
        not, the first to arrive claims). Conditional on the status being in `allowed_from` and
        the dispatch id unchanged since `record` was read: of two dispatchers only one wins,
        the other gets DispatchLostError. Raises PyMongoError."""
        now = self._now()
        fields: dict[str, Any] = dict(changes)
        if message is not None:
            fields["message"] = message
        queued = transition(
            record.id,
            allowed_from,
            Status.QUEUED,
            expect_dispatch=record.dispatch_id,
            dispatch_id=new_dispatch_id() if fresh else record.dispatch_id,
            due_at=now + dt.timedelta(seconds=max(delay, 0.0)),
            now=now,
            **fields,
        )
        if queued is None:
            raise DispatchLostError(record.id)
        failpoint("dispatch.after_record")
        delivered = self._publish(queued, delay, attempt)
        failpoint("dispatch.after_publish")
        # A request whose message the broker did not take (its queue full, the broker away) is
        # not shown Queued on its FortuneRequest: it stays as it was there until the sweep's
        # publish succeeds.
        self._project(queued, resource=delivered)
        return Dispatched(view_of(queued), delivered)

    def dispatch_again(self, record: FortuneRecord, message: str | None = None) -> Dispatched:
        """Dispatch a pending record, or publish a queued one again (its current dispatch).
        DispatchLostError when it moved on meanwhile."""
        if record.state == Status.QUEUED:
            return self.dispatch(record, {Status.QUEUED}, message=message, fresh=False)
        return self.dispatch(record, {Status.PENDING}, message=message)

    def republish(self, record: FortuneRecord, message: str | None = None) -> Dispatched:
        """Publish a queued record's current dispatch again (its message may be lost), keeping
        what is left of its delay. DispatchLostError when it moved on meanwhile."""
        left = 0.0
        if record.due_at is not None:
            left = (record.due_at - self._now()).total_seconds()
        return self.dispatch(record, {Status.QUEUED}, message=message, delay=left, fresh=False)

    def revive(self, record: FortuneRecord, message: str) -> Dispatched:
        """Send a failed request through again (a dead-letter replay): attempts from zero, error
        cleared, then dispatched. DispatchLostError when it changed meanwhile."""
        reset = transition(
            record.id,
            {Status.FAILED},
            Status.PENDING,
            expect_dispatch=record.dispatch_id,
            attempts=0,
            error=None,
            result=None,
            completed_at=None,
            message=message,
        )
        if reset is None:
            raise DispatchLostError(record.id)
        return self.dispatch(reset, {Status.PENDING}, message=message)

    def _publish(self, record: FortuneRecord, delay: float, attempt: int) -> bool:
        message = message_of(record)
        try:
            if delay >= MIN_DELAY_SECONDS:
                self.publisher.publish_retry(message, delay, attempt)
            else:
                self.publisher.publish_request(message)
            return True
        except PublishError as exc:
            log.warning("publish not confirmed; the sweep publishes it again: %s", exc,
                        extra={"request_id": record.id})  # fmt: skip
        try:
            flag(record.id, "undelivered", status=Status.QUEUED.value,
                 dispatch_id=record.dispatch_id)  # fmt: skip
        except PyMongoError as exc:  # then the sweep finds it as a lost message
            log.warning("could not flag the undelivered request: %s", exc,
                        extra={"request_id": record.id})  # fmt: skip
        return False

    # --- the worker's transitions --------------------------------------------------------------
    def claim(self, message: QueueMessage, redelivered: bool, worker: str) -> Claim | Skipped:
        """Claim the request of a delivered message for `worker` (running, attempts + 1): only
        a message of the current dispatch may, and a running claim is taken over only by a
        redelivery (its first holder died). Raises PyMongoError."""
        claimable = ACTIVE if redelivered else UNCLAIMED
        claimed = transition(
            message.request_id,
            claimable,
            Status.RUNNING,
            increment_attempts=True,
            expect_dispatch=message.dispatch,
            worker=worker,
            message="",
        )
        if claimed is None:
            return self._why_not_claimed(message, redelivered)
        failpoint("claim.after_record")
        self._project(claimed)
        failpoint("claim.after_projection")
        return Claim(claimed, view_of(claimed))

    def _why_not_claimed(self, message: QueueMessage, redelivered: bool) -> Skipped:
        record = get_record(message.request_id)
        if record is None:
            return Skipped(Skip.NO_RECORD)
        view = view_of(record)
        if record.state.terminal:
            self._project(record)  # a finished request's message: make sure it shows finished
            return Skipped(Skip.FINISHED, view)
        if message.dispatch != record.dispatch_id:
            return Skipped(Skip.STALE, view)
        if record.state == Status.RUNNING and not redelivered:
            return Skipped(Skip.SECOND_COPY, view)
        return Skipped(Skip.CHANGED, view)

    def still_running(self, claim: Claim) -> bool:
        """Whether the claim may still go on, as far as the status cache tells: False once the
        cache shows a newer version that is not running (a cancellation, a re-dispatch: they
        write it there too). True when the cache cannot tell — unreachable, no entry, or an
        older view whose update failed (the store is conditional anyway)."""
        try:
            view = self.cache.get(claim.record.id)
        except redis.RedisError:
            return True
        if view is None or view.version <= claim.view.version:
            return True
        return view.status == Status.RUNNING

    def give_back(self, claim: Claim) -> RequestView | None:
        """The worker stops before the call: the claim goes back to queued, its attempt not
        counted (the caller returns the message to the queue). None when the request is no
        longer this claim's (cancelled meanwhile). Raises PyMongoError."""
        back = transition(
            claim.record.id,
            {Status.RUNNING},
            Status.QUEUED,
            expect_dispatch=claim.record.dispatch_id,
            attempts=claim.attempt - 1,
            message="",
        )
        if back is None:
            return None
        failpoint("give_back.after_record")
        self._project(back)
        return view_of(back)

    def retry(self, claim: Claim, delay: float, text: str) -> Dispatched | None:
        """A failed attempt is tried again in `delay` seconds: dispatched afresh, by the same
        rule as the first dispatch. None when the request is no longer this claim's."""
        try:
            return self.dispatch(
                claim.record,
                {Status.RUNNING},
                message=text,
                delay=delay,
                attempt=claim.attempt,
            )
        except DispatchLostError:
            return None

    def succeed(self, claim: Claim, result: dict[str, Any]) -> RequestView | None:
        """Store the reading (running → succeeded); None when the request was cancelled or
        finished meanwhile (the result is dropped). Raises PyMongoError."""
        stored = transition(
            claim.record.id,
            {Status.RUNNING},
            Status.SUCCEEDED,
            exclude=("profile",),  # only the claim needs it back
            result=result,
            error=None,
            message="",
        )
        if stored is None:
            return None
        failpoint("succeed.after_record")
        self._project(stored)
        view = view_of(stored)
        self._on_finished(view)
        return view

    def fail(
        self,
        request_id: str,
        code: str,
        text: str,
        allowed_from: frozenset[Status] = ACTIVE,
    ) -> RequestView | None:
        """Fail an unfinished request with an error `code` and `text`; None when it had finished.
        Raises PyMongoError."""
        failed = transition(
            request_id,
            allowed_from,
            Status.FAILED,
            error={"code": code, "message": text},
            message=text,
        )
        if failed is None:
            return None
        failpoint("fail.after_record")
        self._project(failed)
        view = view_of(failed)
        self._on_finished(view)
        return view

    # --- anyone --------------------------------------------------------------------------------
    def cancel(self, request_id: str, reason: str) -> RequestView | None:
        """Cancel an unfinished request; None when it had finished (or is unknown). Raises
        PyMongoError."""
        cancelled = transition(request_id, ACTIVE, Status.CANCELLED, message=reason)
        if cancelled is None:
            return None
        failpoint("cancel.after_record")
        self._project(cancelled)
        return view_of(cancelled)

    def cancel_unrecorded(
        self,
        *,
        request_id: str,
        request: dict[str, Any],
        pool: str,
        client: str | None,
        resource: ResourceRef,
        reason: str,
    ) -> RequestView | None:
        """Cancel a request whose FortuneRequest exists but whose record the operator has not
        made yet: the record is made, cancelled; the operator then only shows it."""
        self._ensure_record(request_id, request, pool, client, resource)
        return self.cancel(request_id, reason)

    def delete(
        self,
        request_id: str,
        remove_resource: Callable[[ResourceRef], None] | None = None,
    ) -> RequestView | None:
        """Delete a finished request, as its owner asked (personal data: a birth date): the
        status cache entry and the request's other keys (its event stream), the record, its
        webhook deliveries, the entry again (a lookup between the two may have refilled it from
        the record), and the FortuneRequest if `remove_resource` is given and the request had
        one. The view it had, or None when it is unknown or unfinished (cancel it first). Raises
        redis.RedisError before anything is deleted when Redis is down, and PyMongoError."""
        structures = per_request_keys(request_id)
        self.cache.forget(request_id, *structures)
        record = delete_finished(request_id)
        if record is None:
            return None
        failpoint("delete.after_record")
        try:
            WebhookQueue().forget(request_id)
        except PyMongoError as exc:  # its deliveries expire with the retention anyway
            log.warning("could not delete the webhook deliveries: %s", exc,
                        extra={"request_id": request_id})  # fmt: skip
        try:
            self.cache.forget(request_id, *structures)
        except redis.RedisError as exc:  # the entry expires within the finished window anyway
            log.warning("could not forget the deleted request: %s", exc,
                        extra={"request_id": request_id})  # fmt: skip
        resource = ResourceRef.from_dict(record.resource)
        if remove_resource is not None and resource is not None:
            try:
                remove_resource(resource)
            except KubeError as exc:  # it is deleted a minute after it finished anyway
                log.warning("could not delete the FortuneRequest: %s", exc,
                            extra={"request_id": request_id})  # fmt: skip
        return view_of(record)

    def repair(self, record: FortuneRecord) -> None:
        """Write the projections of `record` again (the sweep, for a flagged record)."""
        self._project(record)

    def lookup(self, request_id: str) -> RequestView:
        """The request as shown: the status cache, else MongoDB (refilling the cache).
        UnknownRequestError, ExpiredRequestError; PyMongoError when MongoDB is needed and down."""
        try:
            cached = self.cache.get(request_id)
        except redis.RedisError:
            cached = None
        if cached is not None and not self._to_verify(cached):
            return cached
        if not is_request_id(request_id):
            raise UnknownRequestError(request_id)
        record = get_record(request_id)
        if record is None:
            if cached is not None and cached.announced:
                return cached  # Kubernetes mode: the operator has not made the record yet
            raise self._gone_or_unknown(request_id)
        view = view_of(record)
        with contextlib.suppress(redis.RedisError):
            self.cache.put(view)
        return view

    def stored(self, request_id: str) -> RequestView | None:
        """The request as MongoDB has it (None: no record). Raises PyMongoError."""
        record = get_record(request_id)
        return view_of(record) if record is not None else None

    def _to_verify(self, view: RequestView) -> bool:
        return (
            view.active
            and not view.announced
            and self.clock() - view.updated_at > (self._verify_after)
        )

    def _gone_or_unknown(self, request_id: str) -> Exception:
        age_ms = self.clock().timestamp() * 1000 - request_id_millis(request_id)
        if age_ms / 1000 > self.retention_seconds:  # < 0: an id from the future
            return ExpiredRequestError(request_id)
        return UnknownRequestError(request_id)

    # --- internals -----------------------------------------------------------------------------
    def _project(self, record: FortuneRecord, resource: bool = True) -> Written | None:
        """Write every projection of `record` (`resource`: the FortuneRequest status too); flag it
        for the sweep when one fails. What the FortuneRequest status write became (GONE: the
        resource was deleted), if one was made."""
        view = view_of(record)
        outcome: Written | None = None
        failed = []
        for projection in self.projections:
            if not resource and isinstance(projection, ResourceProjection):
                continue
            try:
                written = projection.project(record, view)
            except PROJECTION_ERRORS as exc:
                failed.append(projection.name)
                self._on_projection_failure(projection.name)
                log.warning("could not write the %s: %s", projection.name, exc,
                            extra={"request_id": record.id})  # fmt: skip
                continue
            if written is not None:
                outcome = written
        if failed:
            try:
                flag(record.id, "unprojected", version=record.version)
            except PyMongoError as exc:
                log.warning("could not flag the request for repair: %s", exc,
                            extra={"request_id": record.id})  # fmt: skip
        return outcome

    def _project_events(self, record: FortuneRecord, view: RequestView) -> None:
        """The event stream's projection alone (the submission wrote the cache itself)."""
        try:
            self.events.project(view)
        except PROJECTION_ERRORS as exc:
            self._on_projection_failure(EventProjection.name)
            log.warning("could not write the event stream: %s", exc,
                        extra={"request_id": record.id})  # fmt: skip
            with contextlib.suppress(PyMongoError):
                flag(record.id, "unprojected", version=record.version)

    def _abandon(self, request_id: str, message: str, cause: Exception) -> None:
        """Mark a request that could not be enqueued as failed, so nothing waits for it."""
        log.warning("%s: %s", message, cause, extra={"request_id": request_id})
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
            self._project(failed)

    @staticmethod
    def _create(new: Submission, now: dt.datetime, dispatch_id: str | None = None) -> FortuneRecord:
        """Insert the record of `new` (queued with `dispatch_id` when given, else pending);
        NotUniqueError when its id exists."""
        return create_pending(
            request_id=new.request_id,
            request=new.request.to_json_dict(),
            profile=new.profile,
            pool=new.pool,
            client=new.client,
            created_at=_naive(new.created_at) if new.created_at else now,
            resource=new.resource.as_dict() if new.resource else None,
            dispatch_id=dispatch_id,
        )

    def _ensure_record(
        self,
        request_id: str,
        request: dict[str, Any],
        pool: str,
        client: str | None,
        resource: ResourceRef | None,
    ) -> None:
        with contextlib.suppress(NotUniqueError):  # it exists already
            create_pending(
                request_id=request_id,
                request=request,
                profile={},
                pool=pool,
                client=client,
                created_at=self._now(),
                resource=resource.as_dict() if resource else None,
            )

    def _load(self, request_id: str) -> FortuneRecord:
        record = get_record(request_id)
        if record is None:  # deleted between the insert attempt and now (retention of 0?)
            raise NotAcceptedError("mongodb", "the record vanished")
        return record
