"""Jittered exponential backoff: the one helper behind every retry loop (API, worker, core).

Attempt n waits between half and all of ``min(cap, base · 2^(n-1))`` ("equal jitter"): the delay
still grows, but clients that failed together do not come back together. A small function rather
than tenacity because our loops wait on events (stop, hard stop) and have their own exit rules;
each one only needs the next delay.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

_RNG = random.Random()


def ceiling(attempt: int, base: float, cap: float) -> float:
    """The un-jittered delay after the `attempt`-th failure: base, 2·base, 4·base… at most cap."""
    return float(min(cap, base * 2 ** min(max(0, attempt - 1), 32)))


def jittered(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """A delay in [ceiling / 2, ceiling] for the `attempt`-th failure."""
    top = ceiling(attempt, base, cap)
    return top / 2 + (rng or _RNG).uniform(0.0, top / 2)


def delays(base: float, cap: float, rng: random.Random | None = None) -> Iterator[float]:
    """Endless jittered delays for attempts 1, 2, 3…: ``for delay in delays(0.2, 5): ...``."""
    attempt = 0
    while True:
        attempt += 1
        yield jittered(attempt, base, cap, rng)


def spread(minimum: float, rng: random.Random | None = None, factor: float = 0.5) -> float:
    """`minimum` plus up to `factor` of it: a jittered wait that never undercuts `minimum` (e.g. a
    server's Retry-After)."""
    return minimum * (1.0 + (rng or _RNG).uniform(0.0, factor))
