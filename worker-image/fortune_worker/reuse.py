"""Reuse of identical readings in the worker, and single flight (`fortune_core.reuse`).

Before a claimed request is admitted to an LLM call, its identity is looked up: a stored,
unexpired successful reading of the same identity answers it (the lifecycle's `succeed` stores
it as this request's result, with `reusedFrom` and zero usage; no call slot, no lease, no LLM
call). Otherwise the request becomes the identity's writer (its flight) and goes on to its call;
or, when another request is writing that reading right now (on any worker), it waits for it
and takes it once it is stored. A writer that fails ends its flight without a reading: one of
the waiting requests then writes it (its own attempt, with its own retries).

Identities are looked up for each endpoint's model in order (a reading is remembered under the
model of the endpoint that wrote it); the flight is over the whole endpoint list. Redis being
unreachable never fails a reading: it is then written without reuse.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from fortune_core import (
    DEFAULT_CONVENTIONS,
    Claim,
    Conventions,
    Flight,
    FortuneRequest,
    Lifecycle,
    ReuseIndex,
    ReuseScope,
    Status,
    derive_profile,
    get_record,
    reading_facts,
    reading_identity,
)
from fortune_worker.admission import NotAdmittedError, Refusal
from fortune_worker.backend_retry import AbandonedError, BackendRetry

log = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Identities:
    """A request's identities: one per endpoint model (to look up) and its flight's."""

    facts: dict[str, Any]
    client: str | None
    by_model: dict[str, str]
    flight: str


@dataclass(frozen=True)
class Reused:
    """A stored reading that answers the request: the result to store for it."""

    result: dict[str, Any]
    source: str


@dataclass
class Writing:
    """This request writes the reading (it holds the flight, if Redis could give it one)."""

    identities: Identities | None
    flight: Flight | None


class Reuser:
    """Looks up, waits for and remembers readings for the processor."""

    def __init__(
        self,
        index: ReuseIndex,
        scope: ReuseScope,
        models: Sequence[str],
        lifecycle: Lifecycle,
        stopping: threading.Event,
        backend: BackendRetry,
        convention: Conventions = DEFAULT_CONVENTIONS,
    ) -> None:
        self.convention = convention
        self.backend = backend
        self.hard_stop = backend.hard_stop
        self.index = index
        self.scope = scope
        self.models = list(models)
        self.lifecycle = lifecycle
        self.stopping = stopping

    def identities(self, claim: Claim, request: FortuneRequest) -> Identities:
        # The profile stored with the record, as the prompt uses it (derived when there is none).
        profile = claim.record.profile or derive_profile(request.profile, self.convention)
        facts = reading_facts(request, dict(profile) if isinstance(profile, dict) else
                              profile.to_json_dict())  # fmt: skip
        client = claim.record.client
        by_model = {m: reading_identity(facts, m, client, self.scope) for m in self.models}
        flight = reading_identity(facts, "|".join(self.models), client, self.scope)
        return Identities(facts, client, by_model, flight)

    def begin(self, claim: Claim, request: FortuneRequest) -> Reused | Writing:
        """A stored reading for `claim`, or the right to write it (after waiting for another
        writer of the same reading). NotAdmittedError (GIVE_BACK) when the worker stops while
        waiting, (CANCELLED) when the request is cancelled meanwhile; AbandonedError on a hard
        stop."""
        try:
            ids = self.identities(claim, request)
        except (ValueError, KeyError) as exc:  # a profile this code cannot read: no reuse
            log.warning("no reuse for this request: %r", exc,
                        extra={"request_id": claim.record.id})  # fmt: skip
            return Writing(None, None)
        try:
            return self._begin(claim, ids)
        except redis.RedisError as exc:
            log.warning("reuse unavailable (Redis): %r; writing the reading", exc,
                        extra={"request_id": claim.record.id})  # fmt: skip
            return Writing(ids, None)

    def _begin(self, claim: Claim, ids: Identities) -> Reused | Writing:
        lookups = list(ids.by_model.values())
        while True:
            found = self.index.find(lookups)
            if found is not None:
                reused = self._load(found, ids)
                if reused is not None:
                    return reused
                continue  # it was gone: forgotten, look again
            flight = self.index.take_flight(ids.flight)
            if flight is not None:
                found = self.index.find(lookups)  # remembered just before the flight ended
                if found is None:
                    return Writing(ids, flight)
                self.index.land(flight)
                continue
            log.info("an identical reading is being written; waiting for it",
                     extra={"request_id": claim.record.id})  # fmt: skip
            waited = self.index.wait(lookups, ids.flight, self._abort(claim))
            if waited is None:
                if self.hard_stop.is_set():
                    raise AbandonedError
                if self.stopping.is_set():
                    raise NotAdmittedError(Refusal.GIVE_BACK)
                raise NotAdmittedError(Refusal.CANCELLED)
            if isinstance(waited, Flight):
                return Writing(ids, waited)
            reused = self._load(waited, ids)
            if reused is not None:
                return reused

    def _abort(self, claim: Claim) -> Callable[[], bool]:
        next_check = time.monotonic() + CANCEL_CHECK_SECONDS

        def abort() -> bool:
            nonlocal next_check
            if self.stopping.is_set() or self.hard_stop.is_set():
                return True
            if time.monotonic() < next_check:
                return False
            next_check = time.monotonic() + CANCEL_CHECK_SECONDS
            return not self.lifecycle.still_running(claim)

        return abort

    def _load(self, request_id: str, ids: Identities) -> Reused | None:
        """The reading stored by `request_id`, as the result of a request reusing it; None (and
        the entry forgotten) when it is gone."""
        record = self.backend(lambda: get_record(request_id), "load a reusable reading")
        if record is None or record.status != Status.SUCCEEDED.value or not record.result:
            for identity in ids.by_model.values():
                self.index.forget(identity, request_id)
            return None
        source = str(record.result.get("reusedFrom") or request_id)
        result = {
            **record.result,
            "usage": {"promptTokens": 0, "completionTokens": 0},
            "reusedFrom": source,
        }
        return Reused(result, source)

    def remember(self, writing: Writing, model: str | None, request_id: str) -> None:
        """The reading of `request_id` was stored: remember it under the model that wrote it."""
        ids = writing.identities
        if ids is None:
            return
        identity = ids.by_model.get(model or "")
        if identity is None:
            return
        try:
            self.index.remember(identity, request_id)
        except redis.RedisError as exc:
            log.warning("could not remember the reading for reuse: %r", exc,
                        extra={"request_id": request_id})  # fmt: skip

    def renew(self, writing: Writing) -> None:
        """Extend the flight's lease (once the call is admitted)."""
        if writing.flight is None:
            return
        with contextlib.suppress(redis.RedisError):  # then it may lapse: at worst an identical
            self.index.take_flight(writing.flight.identity, writing.flight.token)  # one calls too

    def land(self, writing: Writing) -> None:
        """End the flight (after the reading was remembered, or when it failed)."""
        if writing.flight is None:
            return
        with contextlib.suppress(redis.RedisError):  # it lapses after its lease
            self.index.land(writing.flight)
