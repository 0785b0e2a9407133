"""The one backoff helper and the retry queue delays (pure code)."""

from __future__ import annotations

import itertools
import random

from fortune_core.backoff import ceiling, delays, jittered, spread
from fortune_core.queue import MAX_RETRY_DELAY_SECONDS, retry_delay_ms


def test_ceiling_doubles_up_to_the_cap() -> None:
    assert [ceiling(n, 1.0, 300.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert ceiling(20, 1.0, 300.0) == 300.0
    assert ceiling(1000, 1.0, 300.0) == 300.0  # no overflow
    assert ceiling(0, 0.5, 10.0) == 0.5


def test_jittered_stays_between_half_and_the_ceiling_and_varies() -> None:
    rng = random.Random(3)
    values = [jittered(3, 0.5, 10.0, rng) for _ in range(500)]
    assert all(1.0 <= v <= 2.0 for v in values)
    assert len({round(v, 3) for v in values}) > 100


def test_delays_grow_to_the_cap() -> None:
    first = list(itertools.islice(delays(0.2, 5.0, random.Random(5)), 12))
    assert 0.1 <= first[0] <= 0.2
    assert all(2.5 <= d <= 5.0 for d in first[6:])


def test_spread_never_undercuts_the_minimum() -> None:
    rng = random.Random(9)
    values = [spread(4.0, rng) for _ in range(200)]
    assert all(4.0 <= v <= 6.0 for v in values) and max(values) - min(values) > 1.0


def test_retry_delay_ms_rounds_up_in_fine_steps() -> None:
    assert retry_delay_ms(0) == 100
    assert retry_delay_ms(1.0) == 1000
    assert retry_delay_ms(1.01) == 1100
    assert retry_delay_ms(9.99) == 10_000
    assert retry_delay_ms(10.2) == 11_000
    assert retry_delay_ms(101) == 110_000
    assert retry_delay_ms(10**6) == MAX_RETRY_DELAY_SECONDS * 1000
    for seconds in (0.3, 2.71, 17.5, 250.0):
        assert retry_delay_ms(seconds) >= seconds * 1000  # never shorter than asked
