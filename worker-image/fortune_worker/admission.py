"""Admission to a provider call: one of this worker's call slots, then, for an LLM provider, one
of the global LLM leases (`fortune_worker.llm_leases`, shared by every worker through Redis).

Call slots bound the calls one worker makes at once (`FORTUNE_WORKER_CONCURRENCY`); the worker
takes more messages than that (prefetch), so a claimed request waits here for a slot, and when a
call ends the next one starts at once. A claim that waited may have been cancelled meanwhile:
every claim is checked in the status cache once it holds its slot (a cancellation written before
then is never sent to the LLM; skipping the read for a claim that got its slot at once is not
safe: its thread may have been descheduled between the claim and the slot while the cancellation
landed), and a wait for an LLM lease re-checks the record every 2 s and once more at the end.

A worker that stops while a claim waits for its slot does not admit it: the claim is given back
(`NotAdmitted(GIVE_BACK)`).
"""

from __future__ import annotations

import contextlib
import enum
import threading
import time
from collections.abc import Iterator

from fortune_core import Claim, Lifecycle, Status, get_record
from fortune_worker.backend_retry import AbandonedError, BackendRetry
from fortune_worker.llm_leases import LeaseWaitAbortedError, LlmLeases
from fortune_worker.metrics import WorkerMetrics

CANCEL_CHECK_SECONDS = 2.0


class Refusal(enum.Enum):
    """Why a claim is not admitted to its call."""

    GIVE_BACK = "the worker is stopping"
    CANCELLED = "cancelled before its call"


class NotAdmittedError(Exception):
    """The claim does not get its call (`why`)."""

    def __init__(self, why: Refusal) -> None:
        super().__init__(why.value)
        self.why = why


class Admitted:
    """Held while the call runs. `release()` (after the call, before the result is stored) gives
    the call slot back, so the next claim's call starts at once; the LLM lease goes back when
    the admission ends, after the store (its Redis round trip never delays the store)."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._released = False
        self.lease: str | None = None

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission.call_slots.release()

    def end(self) -> None:
        self.release()
        if self.lease is not None:
            lease, self.lease = self.lease, None
            self._admission.release_lease(lease)


class Admission:
    """Call slots and LLM leases for the processor's threads."""

    def __init__(
        self,
        concurrency: int,
        leases: LlmLeases | None,
        lifecycle: Lifecycle,
        backend: BackendRetry,
        stopping: threading.Event,
        metrics: WorkerMetrics,
    ) -> None:
        self.call_slots = threading.BoundedSemaphore(concurrency)
        self.leases = leases
        self.lifecycle = lifecycle
        self.backend = backend
        self.stopping = stopping
        self.metrics = metrics

    @contextlib.contextmanager
    def admit(self, claim: Claim) -> Iterator[Admitted]:
        """Hold a call slot (and an LLM lease) for `claim`'s call; NotAdmittedError when the
        worker stops first or the request was cancelled; AbandonedError on a hard stop."""
        self._take_call_slot()
        admitted = Admitted(self)
        try:
            if not self.lifecycle.still_running(claim):
                raise NotAdmittedError(Refusal.CANCELLED)
            if self.leases is not None:
                admitted.lease = self._take_lease(claim)
            yield admitted
        finally:
            admitted.end()

    def _take_call_slot(self) -> None:
        while not self.call_slots.acquire(timeout=0.5):
            if self.backend.hard_stop.is_set():
                raise AbandonedError
            if self.stopping.is_set():
                raise NotAdmittedError(Refusal.GIVE_BACK)

    def _take_lease(self, claim: Claim) -> str:
        assert self.leases is not None
        leases = self.leases
        token = self.backend(leases.acquire_now, "acquire an LLM lease")
        if token is not None:
            self.metrics.slot_wait.observe(0.0)
            return token
        started = time.monotonic()
        next_check = started + CANCEL_CHECK_SECONDS

        def abort() -> bool:
            nonlocal next_check
            if self.backend.hard_stop.is_set():
                raise AbandonedError
            if time.monotonic() < next_check:
                return False
            next_check = time.monotonic() + CANCEL_CHECK_SECONDS
            return not self._running(claim)

        try:
            token = self.backend(lambda: leases.acquire(abort), "acquire an LLM lease")
        except LeaseWaitAbortedError:
            raise NotAdmittedError(Refusal.CANCELLED) from None
        finally:
            self.metrics.slot_wait.observe(time.monotonic() - started)
        if not self._running(claim):  # a cancellation while it waited
            self.release_lease(token)
            raise NotAdmittedError(Refusal.CANCELLED)
        return token

    def _running(self, claim: Claim) -> bool:
        record = self.backend(lambda: get_record(claim.record.id), "check for a cancellation")
        return record is not None and record.status == Status.RUNNING.value

    def release_lease(self, token: str) -> None:
        assert self.leases is not None
        leases = self.leases
        with contextlib.suppress(AbandonedError):  # if so, the lease expires by itself
            self.backend(lambda: leases.release(token), "release the LLM lease")
