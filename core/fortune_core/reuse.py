"""Exact reuse of identical readings, and single flight for identical requests in flight.

A reading's identity is the SHA-256 of its canonical inputs: the facts given to the LLM (the
prompt's data block: the derived chart, the name, what is asked — topic, period, its first and
last day, the language — and the almanac of those days), the prompt's version, the model, and
for the per-client scope the client. Canonical means sorted-key JSON of exactly what the LLM is
given, so two requests share an identity only when the LLM would see the same thing: a chart that
differs in one pillar, another day, another name is another reading. Nothing is ever matched by
similarity.

Redis holds, per identity, `cf:reuse:<identity>` → the id of the request whose successful reading
it is (for `ttl_seconds`; MongoDB keeps the reading itself), and, while a reading is being
written, `cf:flight:<identity>` → the writer's token (a lease that lapses if the writer dies).
A request that finds its identity answered takes that reading; one that finds a flight waits for
it (`SingleFlight.wait`) instead of calling the LLM too; so identical requests make one call
whichever workers (and whichever API processes submitted them) they are on.

Bounds: one small key per reading written in the last `ttl_seconds`, one per reading being
written.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import redis

from fortune_core.backoff import delays
from fortune_core.lease import RedisLease
from fortune_core.profile import day_almanac
from fortune_core.prompt import PROMPT_VERSION, data_block
from fortune_core.request import FortuneRequest

REUSE_PREFIX = "cf:reuse:"
FLIGHT_PREFIX = "cf:flight:"


class ReuseScope(StrEnum):
    """Whose readings a request may reuse."""

    CLIENT = "client"  # only readings written for the same client
    GLOBAL = "global"  # any client's identical reading


def reading_facts(request: FortuneRequest, profile: dict[str, Any]) -> dict[str, Any]:
    """The canonical facts of a reading: the prompt's data block (`profile`: the derived
    profile as stored with the record; `request.date` resolved)."""
    return data_block(request, profile, day_almanac(request.target_date()))


def reading_identity(
    facts: dict[str, Any],
    model: str,
    client: str | None,
    scope: ReuseScope = ReuseScope.CLIENT,
    prompt_version: str = PROMPT_VERSION,
) -> str:
    """The identity (hex SHA-256) of a reading with these facts, written by `model`."""
    canonical = {
        "facts": facts,
        "model": model,
        "promptVersion": prompt_version,
        "client": client if scope == ReuseScope.CLIENT else None,
    }
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Flight:
    """A reading being written under `identity` by the holder of `token`."""

    identity: str
    token: str


class ReuseIndex:
    """Which request holds the reading of each identity, and who is writing one now."""

    def __init__(self, client: redis.Redis, ttl_seconds: int, flight_lease_seconds: float) -> None:
        self._redis = client
        self.ttl_seconds = ttl_seconds
        self.flight_lease_seconds = flight_lease_seconds

    def find(self, identities: Sequence[str]) -> str | None:
        """The request id holding a reading of the first of `identities` that has one."""
        if not identities:
            return None
        values = cast(list[Any], self._redis.mget([REUSE_PREFIX + i for i in identities]))
        for value in values:
            if value:
                return value.decode() if isinstance(value, bytes) else str(value)
        return None

    def remember(self, identity: str, request_id: str) -> None:
        """`request_id` holds the reading of `identity` (for `ttl_seconds`)."""
        self._redis.set(REUSE_PREFIX + identity, request_id, ex=self.ttl_seconds)

    def forget(self, identity: str, request_id: str) -> None:
        """Drop the entry of `identity` if it still names `request_id` (its reading is gone)."""
        key = REUSE_PREFIX + identity
        value = self._redis.get(key)
        if value is not None and (value.decode() if isinstance(value, bytes) else value) == (
            request_id
        ):
            self._redis.delete(key)

    def take_flight(self, identity: str, token: str | None = None) -> Flight | None:
        """Become the writer of `identity`'s reading (or renew it); None when another is."""
        lease = self._flight_lease(identity, token or uuid.uuid4().hex)
        return Flight(identity, lease.owner) if lease.hold() else None

    def land(self, flight: Flight) -> None:
        """End a flight (its reading is remembered, or it failed)."""
        self._flight_lease(flight.identity, flight.token).release()

    def _flight_lease(self, identity: str, token: str) -> RedisLease:
        """The writer's lease of `identity` (a RedisLease: taken if free, renewed if ours)."""
        return RedisLease(self._redis, FLIGHT_PREFIX + identity, self.flight_lease_seconds, token)

    def in_flight(self, identity: str) -> bool:
        return bool(self._redis.exists(FLIGHT_PREFIX + identity))

    def wait(
        self,
        find_identities: Sequence[str],
        flight_identity: str,
        abort: Callable[[], bool],
        max_interval: float = 0.5,
    ) -> str | Flight | None:
        """Wait while another writes the reading: its request id once it is remembered, or this
        caller's own `Flight` when the other's ended without one (it failed, or its writer
        died: then this caller writes it), or None when `abort()` became true first."""
        for delay in delays(0.02, max_interval):
            if abort():
                return None
            found = self.find(find_identities)
            if found is not None:
                return found
            flight = self.take_flight(flight_identity)
            if flight is not None:
                found = self.find(find_identities)  # remembered just before the flight ended
                if found is not None:
                    self.land(flight)
                    return found
                return flight
            time.sleep(delay)
        raise AssertionError("unreachable: delays() never ends")
