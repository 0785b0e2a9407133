"""The clock: anything that decides by the time of day takes one, so tests can fix "now"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: Returns the current time, timezone-aware.
Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)
