"""The worker's core: from a delivered message to how it is settled with the broker.

    parse → validate → claim → admission (call slot, LLM lease) → provider → store | retry | fail

Every transition is the lifecycle's (`fortune_core.lifecycle`: the claim, giving a claim back,
the store, a retry dispatched by the same rule as the first dispatch, a failure), so this module
decides only what follows what and how each delivery is settled (`Outcome`). Around it:
`admission` (this worker's call slots and the global LLM leases, with the cancellation checks),
`retries` (what follows a failed attempt), `backend_retry` (MongoDB and Redis steps retried in
place), `metrics`.

A redelivered message (its first worker died) is safe at every step: the claim is conditional
(only the current dispatch's message claims, a running claim is taken over only by a redelivery),
the store is conditional (`running → succeeded` once), so no attempt is processed twice and no
result is stored twice.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fortune_core import (
    Claim,
    FortuneRequest,
    Lifecycle,
    QueueMessage,
    Skip,
    Skipped,
    failpoint,
    validate_request,
)
from fortune_worker.admission import Admission, NotAdmittedError, Refusal
from fortune_worker.backend_retry import AbandonedError, BackendRetry
from fortune_worker.metrics import WorkerMetrics
from fortune_worker.providers import Provider
from fortune_worker.retries import GiveUp, ProviderError, RetryPolicy, classify_exception
from fortune_worker.reuse import Reused, Reuser, Writing
from fortune_worker.usage import UsageMeter

log = logging.getLogger(__name__)
#: The error code of a call refused by the client's daily token budget.
BUDGET_EXHAUSTED = "budget_exhausted"


class Outcome(enum.Enum):
    """How a delivery is settled with the broker."""

    ACK = "ack"
    DEAD_LETTER = "dead_letter"  # basic_reject(requeue=False)
    REQUEUE = "requeue"  # basic_nack(requeue=True): try again now (counts toward the limit)
    ABANDON = "abandon"  # settle nothing: the broker redelivers when the connection closes


_SKIP_OUTCOMES = {
    Skip.NO_RECORD: Outcome.DEAD_LETTER,
    Skip.FINISHED: Outcome.ACK,
    Skip.STALE: Outcome.ACK,
    Skip.SECOND_COPY: Outcome.ACK,
    Skip.CHANGED: Outcome.REQUEUE,
}


class Processor:
    """Processes deliveries; safe to call from many threads at once."""

    def __init__(
        self,
        *,
        worker_id: str,
        lifecycle: Lifecycle,
        provider: Provider,
        admission: Admission,
        policy: RetryPolicy,
        backend: BackendRetry,
        metrics: WorkerMetrics,
        reuser: Reuser | None = None,
        meter: UsageMeter | None = None,
    ) -> None:
        self.reuser = reuser
        self.meter = meter or UsageMeter(metrics, {})
        self.worker_id = worker_id
        self.lifecycle = lifecycle
        self.provider = provider
        self.admission = admission
        self.policy = policy
        self.backend = backend
        self.metrics = metrics

    @property
    def hard_stop(self) -> threading.Event:
        return self.backend.hard_stop

    def process(self, body: bytes, redelivered: bool = False) -> Outcome:
        """Process one delivered message body (`redelivered`: the broker's flag); how to settle
        it."""
        try:
            message = QueueMessage.parse(body)
        except ValueError as exc:
            log.error("malformed message, dead-lettering it: %s", exc)
            return self._dead_letter("malformed")
        extra = {"request_id": message.request_id}
        try:
            return self._process(message, redelivered)
        except AbandonedError:
            log.warning("worker stopping: leaving the message for redelivery", extra=extra)
            return Outcome.ABANDON
        except Exception:
            # A bug outside the provider call: back to the queue after a pause; the queue's
            # delivery limit dead-letters a message that keeps failing like this.
            log.exception("unexpected error; the message goes back to the queue", extra=extra)
            self.hard_stop.wait(1.0)
            return Outcome.REQUEUE

    def _process(self, message: QueueMessage, redelivered: bool) -> Outcome:
        request_id = message.request_id
        extra = {"request_id": request_id}
        claimed = self.backend(
            lambda: self.lifecycle.claim(message, redelivered, self.worker_id), "claim the request"
        )
        if isinstance(claimed, Skipped):
            return self._skipped(claimed)
        validated = validate_request(message.request)
        if validated.request is None:
            fields = ", ".join(f"{path}: {m.en}" for path, m in validated.errors.items())
            log.error("invalid request in the message (%s), dead-lettering it", fields, extra=extra)
            self._fail(claimed, "invalid_request", f"the queued request is invalid: {fields}")
            return self._dead_letter("invalid_request")
        self.metrics.attempts.inc()
        log.info("processing, attempt %d", claimed.attempt, extra=extra)
        if claimed.attempt > self.policy.max_attempts:
            # Only reachable through redeliveries of a message whose worker kept dying.
            self._fail(
                claimed,
                "too_many_attempts",
                f"gave up after {claimed.attempt - 1} attempts: the workers processing this "
                "request stopped before finishing it",
            )
            return self._dead_letter("too_many_attempts")
        try:
            return self._reuse_or_call(claimed, validated.request)
        except NotAdmittedError as refused:
            if refused.why == Refusal.GIVE_BACK:
                return self._give_back(claimed)
            log.info("%s; not calling the provider", refused.why.value, extra=extra)
            return self._settle_finished(claimed)

    def _reuse_or_call(self, claimed: Claim, request: FortuneRequest) -> Outcome:
        """An identical stored reading (or the one being written: then wait for it) answers the
        claim; otherwise its call, once admitted. NotAdmittedError when it is not."""
        writing = Writing(None, None)
        try:
            if self.reuser is not None:
                begun = self.reuser.begin(claimed, request)
                if isinstance(begun, Reused):
                    return self._store(claimed, begun.result, "reused", 0.0)
                writing = begun
            with self.admission.admit(claimed) as admitted:
                if self.reuser is not None:
                    self.reuser.renew(writing)  # the wait for admission may have been long
                return self._call(claimed, request, admitted.release, writing)
        finally:
            if self.reuser is not None:
                self.reuser.land(writing)

    def _skipped(self, skipped: Skipped) -> Outcome:
        outcome = _SKIP_OUTCOMES[skipped.why]
        request_id = skipped.view.id if skipped.view else None
        log.info("%s; %s", skipped.why.value, outcome.value, extra={"request_id": request_id})
        if outcome == Outcome.DEAD_LETTER:
            return self._dead_letter("no_record")
        return outcome

    def _give_back(self, claimed: Claim) -> Outcome:
        """The worker stops before the call: the claim goes back and the message to the queue."""
        back = self.backend(lambda: self.lifecycle.give_back(claimed), "give the claim back")
        if back is None:  # cancelled meanwhile
            return self._settle_finished(claimed)
        log.info("worker stopping: claim given back, message returned",
                 extra={"request_id": claimed.record.id})  # fmt: skip
        return Outcome.REQUEUE

    def _call(
        self,
        claimed: Claim,
        request: FortuneRequest,
        done_calling: Callable[[], None],
        writing: Writing | None = None,
    ) -> Outcome:
        request_id = claimed.record.id
        called = time.monotonic()
        call = self.metrics.llm_call
        try:
            result = self.provider.reading(
                request, request_id, claimed.record.profile or None, client=claimed.record.client
            )
        except Exception as exc:  # a ProviderError, or a bug: then it fails permanently
            error = classify_exception(exc)
            call.labels(self.provider.name, error.code).observe(time.monotonic() - called)
            done_calling()
            return self._failed_attempt(claimed, error)
        call.labels(self.provider.name, "ok").observe(time.monotonic() - called)
        done_calling()  # the next claim's call starts while this one is stored
        failpoint("worker.after_call")
        source = "llm" if self.provider.uses_llm else self.provider.name
        model = self._endpoint_model(result.endpoint)
        reuser = self.reuser

        def remember() -> None:  # once stored: identical requests may take it from now on
            if writing is not None and reuser is not None:
                reuser.remember(writing, model, request_id)

        cost = self.meter.cost(model, result.usage)
        return self._store(claimed, result.model_dump(mode="json"), source, cost, remember)

    def _endpoint_model(self, endpoint: str | None) -> str | None:
        endpoints = self.provider.endpoints
        return endpoints.model_of(endpoint) if endpoints is not None else None

    def _store(
        self,
        claimed: Claim,
        result: dict[str, Any],
        source: str,
        cost: float,
        on_stored: Callable[[], None] | None = None,
    ) -> Outcome:
        """Store the reading (the lifecycle's succeed: record, projections); `on_stored` once it
        is stored (not when the request was cancelled meanwhile)."""
        extra = {"request_id": claimed.record.id}
        stored = self.backend(lambda: self.lifecycle.succeed(claimed, result), "store the result")
        if stored is None:
            log.info("cancelled while running; the result is dropped", extra=extra)
            return self._settle_finished(claimed)
        if on_stored is not None:
            on_stored()
        failpoint("worker.before_ack")
        self.metrics.finished_attempts.labels("succeeded").observe(claimed.attempt)
        self.meter.reading(claimed.record.client, source, cost)
        if source == "reused":
            log.info("succeeded (reused the reading of %s)", result.get("reusedFrom"), extra=extra)
        else:
            log.info("succeeded (provider %s, model %s)", result.get("provider"),
                     result.get("model"), extra=extra)  # fmt: skip
        return Outcome.ACK

    def _failed_attempt(self, claimed: Claim, error: ProviderError) -> Outcome:
        extra = {"request_id": claimed.record.id}
        if error.code == BUDGET_EXHAUSTED:  # the client's matter: failed, nothing to replay
            log.warning("failed: %s", error.message, extra=extra)
            self._fail(claimed, error.code, error.message)
            return Outcome.ACK
        decision = self.policy.decide(claimed.attempt, error)
        if isinstance(decision, GiveUp):
            log.error("failed: %s", decision.text, extra=extra)
            self._fail(claimed, error.code, decision.text)
            return self._dead_letter(error.code)
        retried = self.backend(
            lambda: self.lifecycle.retry(claimed, decision.delay, decision.text),
            "queue the request for a retry",
        )
        if retried is None:  # cancelled meanwhile
            return self._settle_finished(claimed)
        # Queued afresh (a new dispatch): this message is stale now, whether or not the retry's
        # publish was confirmed (if not, the record is flagged and the sweep publishes it).
        self.metrics.retries.labels(error.code).inc()
        log.warning("attempt %d failed: %s; %s", claimed.attempt, error.message, decision.text,
                    extra=extra)  # fmt: skip
        return Outcome.ACK

    def _fail(self, claimed: Claim, code: str, text: str) -> None:
        self.backend(
            lambda: self.lifecycle.fail(claimed.record.id, code, text), "mark the request failed"
        )
        self.metrics.finished_attempts.labels("failed").observe(claimed.attempt)

    @staticmethod
    def _settle_finished(claimed: Claim) -> Outcome:
        """The request moved on without this claim (cancelled: that transition showed it)."""
        return Outcome.ACK

    def _dead_letter(self, reason: str) -> Outcome:
        self.metrics.dead_letters.labels(reason).inc()
        return Outcome.DEAD_LETTER
