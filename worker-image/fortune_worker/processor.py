"""One request's lifecycle in the worker, from a delivered message to the settlement.

parse → validate → claim (running, attempts+1: a conditional update, so the happy path reads
nothing first) → one of the worker's call slots → global LLM slot → provider (with the profile the
API derived and stored) → free the call slot → store (MongoDB, then Redis) → ack. A claim that
fails reads the record to tell why (finished, cancelled, stale, a second copy, no record).
Provider errors are retried through the delay queues or fail the request (then the message is
dead-lettered). Every step is idempotent, so a redelivered message (the previous worker died) is
safe.

The worker takes more messages than it calls the LLM for at once (call slots = concurrency <
prefetch): a claimed request waits for a call slot (at most about one call's time), so when a
call ends the next one starts at once, its claim already made, while the finished request is
stored and acked beside it. Every claim is checked in the status cache once it holds its call
slot (cancelled meanwhile: no call); a worker that stops gives the claims still waiting back
(queued, the attempt not counted) and returns their messages to the queue.

Only the message of the request's current dispatch may claim it (fortune_core.submission): a
message of an earlier dispatch is stale and dropped, and a second copy of the current one (a
publish retried after a lost confirm) finds the request running and is dropped unless the broker
redelivers it (then its first holder died and the claim is taken over). So no request is processed
twice for one attempt.

In Kubernetes mode every transition is also written to the request's FortuneRequest status
(ordered by record version, never failing the request); a request whose FortuneRequest was deleted
is cancelled at its claim instead of being processed.

Backend errors (MongoDB, Redis) are retried in place with backoff until they succeed or the worker
gives up at the end of its shutdown grace period: then nothing is settled and the broker redelivers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from pymongo.errors import PyMongoError

from fortune_core.backoff import delays
from fortune_core.kube import KubeClient, KubeError, ResourceRef, Written
from fortune_core.queue import Publisher, PublishError, QueueMessage, retry_delay_ms
from fortune_core.records import (
    ANY_DISPATCH,
    FortuneRecord,
    get_record,
    record_view,
    status_view,
    transition,
)
from fortune_core.request import FieldMessage, FortuneRequest, validate_request
from fortune_core.resource import status_from_record
from fortune_core.status import ACTIVE, Status
from fortune_core.status_cache import StatusCache
from fortune_core.submission import new_dispatch_id
from fortune_worker.llm_slots import LlmSlots, SlotWaitAbortedError
from fortune_worker.metrics import WorkerMetrics
from fortune_worker.providers import Provider
from fortune_worker.retries import ProviderError, classify_exception, retry_delay
from fortune_worker.settings import WorkerSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

CLAIMABLE = frozenset({Status.PENDING, Status.QUEUED, Status.RUNNING})
#: What a first delivery of the current dispatch may claim (a running one is another's copy).
UNCLAIMED = frozenset({Status.PENDING, Status.QUEUED})
_CANCEL_CHECK_SECONDS = 2.0


class Outcome(enum.Enum):
    """How a delivery is settled with the broker."""

    ACK = "ack"
    DEAD_LETTER = "dead_letter"  # basic_reject(requeue=False)
    REQUEUE = "requeue"  # basic_nack(requeue=True): try again now (counts toward the limit)
    ABANDON = "abandon"  # settle nothing: the broker redelivers when the connection closes


class AbandonedError(Exception):
    """The worker is stopping hard; leave the message unsettled."""


class Processor:
    """Processes deliveries; safe to call from many threads at once."""

    def __init__(
        self,
        settings: WorkerSettings,
        provider: Provider,
        cache: StatusCache,
        publisher: Publisher,
        slots: LlmSlots | None,
        hard_stop: threading.Event,
        metrics: WorkerMetrics | None = None,
        kube: KubeClient | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self._settings = settings
        #: Provider calls this worker makes at once (messages beyond it wait here, unclaimed).
        self._call_slots = threading.BoundedSemaphore(settings.concurrency)
        self._stopping = stopping or threading.Event()
        self._holding = threading.local()  # whether this thread holds a call slot
        self._kube = kube
        self._metrics = metrics or WorkerMetrics()
        self._provider = provider
        self._cache = cache
        self._publisher = publisher
        self._slots = slots
        self._hard_stop = hard_stop

    # --- entry point ---------------------------------------------------------------------------
    def process(self, body: bytes, redelivered: bool = False) -> Outcome:
        """Process one delivered message body (`redelivered`: the broker's flag); how to settle
        it."""
        try:
            message = QueueMessage.parse(body)
        except ValueError as exc:
            log.error("malformed message, dead-lettering it: %s", exc)
            return self._dead_letter("malformed")
        request_id = message.request_id
        extra = {"request_id": request_id}
        try:
            return self._process(message, redelivered)
        except AbandonedError:
            log.warning("worker stopping: leaving the message for redelivery", extra=extra)
            return Outcome.ABANDON
        except Exception:
            # A bug outside the provider call: back to the queue after a pause; the queue's
            # delivery limit dead-letters a message that keeps failing like this.
            log.exception("unexpected error; the message goes back to the queue", extra=extra)
            self._hard_stop.wait(1.0)
            return Outcome.REQUEUE

    def _process(self, message: QueueMessage, redelivered: bool) -> Outcome:
        validated = validate_request(message.request)
        if validated.request is None:
            return self._invalid(message, redelivered, validated.errors)
        return self._claim_and_run(message, validated.request, redelivered)

    def _take_call_slot(self) -> bool:
        """Take a call slot: whether it was taken (False: the worker stops first)."""
        while not self._call_slots.acquire(timeout=0.5):
            if self._hard_stop.is_set():
                raise AbandonedError
            if self._stopping.is_set():
                return False
        self._holding.slot = True
        return True

    def _free_call_slot(self) -> None:
        """Give the call slot back (once: right after the provider call, or at the end)."""
        if getattr(self._holding, "slot", False):
            self._holding.slot = False
            self._call_slots.release()

    def _run_in_call_slot(
        self, message: QueueMessage, request: FortuneRequest, claimed: FortuneRecord
    ) -> Outcome:
        request_id = message.request_id
        if not self._take_call_slot():
            return self._give_back(message, claimed)
        try:
            # Every claim is checked once it holds its slot (one status-cache read, about 0.2 ms):
            # a request cancelled before then is never sent to the LLM. Skipping the read for a
            # claim that got its slot at once is not safe: its thread may have been descheduled
            # between the claim and the slot while the cancellation landed.
            if not self._still_running(request_id):
                log.info("cancelled before it got a call slot; not calling the provider",
                         extra={"request_id": request_id})  # fmt: skip
                return self._settle_finished(request_id)
            return self._run(message, request, claimed)
        finally:
            self._free_call_slot()

    def _still_running(self, request_id: str) -> bool:
        """Whether the status cache still shows the request running (a cancellation writes it
        there too); True when the cache cannot tell: the store is conditional anyway."""
        try:
            view = self._cache.get(request_id)
        except redis.RedisError:
            return True
        return view is None or view.get("status") == Status.RUNNING.value

    def _back_to_queued(
        self, delivered: QueueMessage, what: str, /, **changes: Any
    ) -> FortuneRecord | None:
        """Our claim (running, under the delivered message's dispatch) back to queued with
        `changes`; None when the request is no longer ours to change (cancelled meanwhile)."""
        expected = delivered.dispatch if delivered.dispatch is not None else ANY_DISPATCH
        return self._backend(
            lambda: transition(
                delivered.request_id,
                {Status.RUNNING},
                Status.QUEUED,
                expect_dispatch=expected,
                **changes,
            ),
            what,
        )

    def _give_back(self, message: QueueMessage, claimed: FortuneRecord) -> Outcome:
        """The worker stops before the call: the claim goes back (queued, its attempt uncounted)
        and the message to the queue, for another worker."""
        request_id = message.request_id
        back = self._back_to_queued(
            message, "give the claim back", attempts=claimed.attempts - 1, message=""
        )
        if back is None:  # cancelled meanwhile
            return self._settle_finished(request_id)
        self._show(back)
        log.info("worker stopping: claim given back, message returned",
                 extra={"request_id": request_id})  # fmt: skip
        return Outcome.REQUEUE

    def _invalid(
        self, message: QueueMessage, redelivered: bool, errors: dict[str, FieldMessage]
    ) -> Outcome:
        """A message whose request does not validate: fail its request (if it is ours)."""
        request_id = message.request_id
        extra = {"request_id": request_id}
        record = self._record_or_none(request_id)
        if record is None:
            return self._dead_letter("no_record")
        skip = self._not_ours(record, message, redelivered)
        if skip:
            if record.state.terminal:
                self._show(record)
            log.info("%s; acknowledging the message", skip, extra=extra)
            return Outcome.ACK
        fields = ", ".join(f"{path}: {m.en}" for path, m in errors.items())
        log.error("invalid request in the message (%s), dead-lettering it", fields, extra=extra)
        self._fail(request_id, "invalid_request", f"the queued request is invalid: {fields}")
        return self._dead_letter("invalid_request")

    def _claim_and_run(
        self, message: QueueMessage, request: FortuneRequest, redelivered: bool
    ) -> Outcome:
        request_id = message.request_id
        extra = {"request_id": request_id}
        if message.dispatch is None:  # published before dispatch ids: claims as before
            expected, claimable = ANY_DISPATCH, CLAIMABLE
        else:  # only a redelivery takes over a running claim (its first holder died)
            expected = message.dispatch
            claimable = CLAIMABLE if redelivered else UNCLAIMED
        claimed = self._backend(
            lambda: transition(
                request_id,
                claimable,
                Status.RUNNING,
                increment_attempts=True,
                expect_dispatch=expected,
                worker=self._settings.worker_id,
                message="",
            ),
            "claim the request",
        )
        if claimed is None:
            return self._not_claimed(message, redelivered)
        if self._show(claimed) == Written.GONE:
            return self._cancel_orphan(request_id)
        self._metrics.attempts.inc()
        log.info("processing, attempt %d", claimed.attempts, extra=extra)
        if claimed.attempts > self._settings.max_attempts:
            # Only reachable through redeliveries of a message whose worker kept dying.
            self._fail(
                request_id,
                "too_many_attempts",
                f"gave up after {claimed.attempts - 1} attempts: the workers processing this "
                "request stopped before finishing it",
            )
            self._metrics.finished_attempts.labels("failed").observe(claimed.attempts)
            return self._dead_letter("too_many_attempts")
        return self._run_in_call_slot(message, request, claimed)

    def _record_or_none(self, request_id: str) -> FortuneRecord | None:
        """The request's record; None (logged: its message is dead-lettered) when there is none."""
        record = self._backend(lambda: get_record(request_id), "load the record")
        if record is None:
            log.error("no record for this request, dead-lettering the message",
                      extra={"request_id": request_id})  # fmt: skip
        return record

    def _not_claimed(self, message: QueueMessage, redelivered: bool) -> Outcome:
        """The claim found the request not claimable by this message: read the record to say
        why, and settle accordingly."""
        request_id = message.request_id
        extra = {"request_id": request_id}
        record = self._record_or_none(request_id)
        if record is None:
            return self._dead_letter("no_record")
        skip = self._not_ours(record, message, redelivered)
        if skip is None:  # it changed between the claim and the read: try the message again
            log.info("the request changed during the claim; requeueing", extra=extra)
            return Outcome.REQUEUE
        if record.state.terminal:
            self._show(record)
        log.info("%s; acknowledging the message", skip, extra=extra)
        return Outcome.ACK

    @staticmethod
    def _not_ours(record: FortuneRecord, message: QueueMessage, redelivered: bool) -> str | None:
        """Why this delivery must not claim the request (None: it may)."""
        if record.state.terminal:
            return f"already {record.status}"
        if message.dispatch is None:  # published before dispatch ids: claims as before
            return None
        if message.dispatch != record.dispatch_id:
            return "a message of an earlier dispatch"
        if record.status == Status.RUNNING.value and not redelivered:
            return "a second copy of a message another worker holds"
        return None

    def _cancel_orphan(self, request_id: str) -> Outcome:
        """The request's FortuneRequest was deleted (while the operator was away): cancel it
        rather than call the LLM for nobody."""
        log.info(
            "its FortuneRequest was deleted; cancelling instead of processing",
            extra={"request_id": request_id},
        )
        gone = self._backend(
            lambda: transition(
                request_id,
                {Status.RUNNING},
                Status.CANCELLED,
                message="cancelled: its FortuneRequest was deleted",
            ),
            "cancel the request",
        )
        if gone is not None:
            self._show(gone)
        return Outcome.ACK

    # --- the provider call ---------------------------------------------------------------------
    def _run(
        self, message: QueueMessage, request: FortuneRequest, claimed: FortuneRecord
    ) -> Outcome:
        request_id = message.request_id
        extra = {"request_id": request_id}
        attempt = claimed.attempts
        token: str | None = None
        if self._provider.uses_llm and self._slots is not None:
            try:
                token, waited = self._slots_acquire(request_id)
            except SlotWaitAbortedError:
                return self._settle_finished(request_id)
        else:
            waited = False
        try:
            # The claim just proved the request running; only a wait for a slot leaves time for
            # a cancellation before the call.
            if waited:
                current = self._backend(lambda: get_record(request_id), "re-check the record")
                if current is None or current.status != Status.RUNNING.value:
                    log.info("cancelled before the provider call; not calling it", extra=extra)
                    return self._settle_finished(request_id)
            called = time.monotonic()
            call = self._metrics.llm_call
            try:
                result = self._provider.reading(request, request_id, claimed.profile or None)
            except Exception as exc:  # a ProviderError, or a bug: then it fails permanently
                error = classify_exception(exc)
                call.labels(self._provider.name, error.code).observe(time.monotonic() - called)
                self._free_call_slot()
                return self._failed_attempt(message, attempt, error)
            call.labels(self._provider.name, "ok").observe(time.monotonic() - called)
            self._free_call_slot()  # the next message's call starts while this one is stored
            stored = self._backend(
                lambda: transition(
                    request_id,
                    {Status.RUNNING},
                    Status.SUCCEEDED,
                    exclude=("profile",),  # only the claim needs it back
                    result=result.model_dump(mode="json"),
                    error=None,
                    message="",
                ),
                "store the result",
            )
        finally:
            if token is not None and self._slots is not None:
                self._release_slot(token)
        if stored is None:
            log.info("cancelled while running; the result is dropped", extra=extra)
            return self._settle_finished(request_id)
        self._show(stored)
        self._metrics.finished_attempts.labels("succeeded").observe(attempt)
        log.info("succeeded (provider %s, model %s)", result.provider, result.model, extra=extra)
        return Outcome.ACK

    def _slots_acquire(self, request_id: str) -> tuple[str, bool]:
        """A global LLM slot's token, and whether it had to be waited for."""
        assert self._slots is not None
        slots = self._slots
        token = self._backend(slots.acquire_now, "acquire an LLM slot")
        if token is not None:
            self._metrics.slot_wait.observe(0.0)
            return token, False
        started = time.monotonic()
        next_check = started + _CANCEL_CHECK_SECONDS

        def abort() -> bool:
            nonlocal next_check
            if self._hard_stop.is_set():
                raise AbandonedError
            if time.monotonic() < next_check:
                return False
            next_check = time.monotonic() + _CANCEL_CHECK_SECONDS
            record = self._backend(lambda: get_record(request_id), "check for cancellation")
            return record is None or record.status != Status.RUNNING.value

        try:
            return self._backend(lambda: slots.acquire(abort), "acquire an LLM slot"), True
        finally:
            self._metrics.slot_wait.observe(time.monotonic() - started)

    def _release_slot(self, token: str) -> None:
        assert self._slots is not None
        slots = self._slots
        with contextlib.suppress(AbandonedError):  # if so, the lease expires by itself
            self._backend(lambda: slots.release(token), "release the LLM slot")

    def _failed_attempt(self, message: QueueMessage, attempt: int, error: ProviderError) -> Outcome:
        request_id = message.request_id
        extra = {"request_id": request_id}
        settings = self._settings
        if error.retryable and attempt < settings.max_attempts:
            delay = retry_delay(
                attempt,
                error.retry_after,
                settings.retry_base_seconds,
                settings.retry_max_delay_seconds,
            )
            wait = retry_delay_ms(delay) / 1000
            text = f"retrying in {wait:g} s after {error.reason} (attempt {attempt} failed)"
            # Queued (with a new dispatch id) first, then published: the retried message must find
            # the record queued and its dispatch recorded, never overtake this transition.
            dispatch = new_dispatch_id()
            queued = self._back_to_queued(
                message, "mark the request queued for a retry", message=text, dispatch_id=dispatch
            )
            if queued is None:
                return self._settle_finished(request_id)
            retry = dataclasses.replace(message, dispatch=dispatch)
            try:
                self._publisher.publish_retry(retry, delay, attempt)
            except PublishError as exc:
                log.error("could not publish the retry (%s); requeueing", exc, extra=extra)
                self._show(queued)
                return Outcome.REQUEUE
            self._show(queued)
            self._metrics.retries.labels(error.code).inc()
            log.warning("attempt %d failed: %s; %s", attempt, error.message, text, extra=extra)
            return Outcome.ACK
        if error.retryable:
            text = f"gave up after {attempt} attempts; the last one failed: {error.message}"
        else:
            text = f"attempt {attempt} failed and cannot be retried: {error.message}"
        log.error("failed: %s", text, extra=extra)
        self._fail(request_id, error.code, text)
        self._metrics.finished_attempts.labels("failed").observe(attempt)
        return self._dead_letter(error.code)

    def _dead_letter(self, reason: str) -> Outcome:
        self._metrics.dead_letters.labels(reason).inc()
        return Outcome.DEAD_LETTER

    # --- stores --------------------------------------------------------------------------------
    def _fail(self, request_id: str, code: str, text: str) -> None:
        failed = self._backend(
            lambda: transition(
                request_id,
                ACTIVE,
                Status.FAILED,
                error={"code": code, "message": text},
                message=text,
            ),
            "mark the request failed",
        )
        if failed is not None:
            self._show(failed)
        else:
            self._settle_finished(request_id)

    def _settle_finished(self, request_id: str) -> Outcome:
        """The record changed under us (cancelled, or finished elsewhere): show it, ack."""
        record = self._backend(lambda: get_record(request_id), "reload the record")
        if record is not None:
            self._show(record)
        return Outcome.ACK

    def _show(self, record: FortuneRecord) -> Written | None:
        """Write the record's view to Redis (a newer cached version wins) and, in Kubernetes
        mode, to its FortuneRequest's status (what became of that write; None: none made)."""
        self._backend(
            lambda: self._cache.put(record.id, record_view(record), record.created_at),
            "update the status cache",
        )
        ref = ResourceRef.from_dict(record.resource)
        if self._kube is None or ref is None:
            return None
        try:
            return self._kube.write_status(ref, status_from_record(status_view(record)))
        except KubeError as exc:  # never fails the request: the operator repairs the status
            self._metrics.status_write_failures.inc()
            log.warning(
                "could not write the FortuneRequest status: %s",
                exc,
                extra={"request_id": record.id},
            )
            return None

    def _backend(self, action: Callable[[], T], what: str) -> T:
        """Run a MongoDB/Redis step, retrying with backoff while the backend is down."""
        for delay in delays(0.2, 5.0):
            try:
                return action()
            except (PyMongoError, redis.RedisError) as exc:
                log.warning("could not %s (%s); retrying in %.1f s", what, exc, delay)
                if self._hard_stop.wait(delay):
                    raise AbandonedError from exc
        raise AssertionError("unreachable: delays() never ends")
