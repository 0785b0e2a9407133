"""A per-year cache for lunar-python's `LunarYear`.

lunar-python keeps exactly one computed `LunarYear` (the last one asked for) behind a global lock.
Deriving a profile asks for the birth year and, for the almanac, today's year, so every request
recomputed both (5-40 ms of CPU each, under the GIL and that lock). A computed `LunarYear` is
never changed afterwards, so it can be shared: `install()` replaces `LunarYear.fromYear` with a
bounded LRU cache keyed by the year (a few KB per year; two threads computing the same year at
once both compute it, and one result is kept).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from lunar_python import LunarYear

#: Years kept: every birth year a service sees in practice, plus the target years.
CACHED_YEARS = 512


@lru_cache(maxsize=CACHED_YEARS)
def lunar_year(year: int) -> Any:
    """The computed `LunarYear` of `year`, shared."""
    return LunarYear(year)


def install() -> None:
    """Make lunar-python use the per-year cache (idempotent)."""
    LunarYear.fromYear = staticmethod(lunar_year)


def warm_in_background(first: int = 1920, last: int = 2040) -> threading.Thread:
    """Compute the years `first`..`last` in a daemon thread (about 3 ms of CPU and 5 KB each), so
    a long-running process answers its first requests for them as fast as its later ones."""
    thread = threading.Thread(
        target=lambda: [lunar_year(year) for year in range(first, last + 1)],
        name="lunar-years",
        daemon=True,
    )
    thread.start()
    return thread
