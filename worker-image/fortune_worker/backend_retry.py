"""MongoDB and Redis steps of the worker, retried in place while the backend is down.

A worker holds a delivery while it retries: nothing is settled until the step succeeds, so a
backend outage delays requests and loses none. When the worker is stopping hard (its shutdown
grace period is over) the retry gives up with `AbandonedError` and the delivery is left
unsettled, for the broker to redeliver.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import redis
from pymongo.errors import PyMongoError

from fortune_core import delays

log = logging.getLogger(__name__)
T = TypeVar("T")


class AbandonedError(Exception):
    """The worker is stopping hard; leave the message unsettled."""


class BackendRetry:
    """`retry(action, "what it does")`: the action's value, once MongoDB and Redis let it run."""

    def __init__(self, hard_stop: threading.Event) -> None:
        self.hard_stop = hard_stop

    def __call__(self, action: Callable[[], T], what: str) -> T:
        for delay in delays(0.2, 5.0):
            try:
                return action()
            except (PyMongoError, redis.RedisError) as exc:
                log.warning("could not %s (%s); retrying in %.1f s", what, exc, delay)
                if self.hard_stop.wait(delay):
                    raise AbandonedError from exc
        raise AssertionError("unreachable: delays() never ends")
