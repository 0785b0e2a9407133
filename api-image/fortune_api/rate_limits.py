"""Per-client rate limits: a moving window per client and scope, atomic in Redis.

`limits` (a maintained library) does the work: its moving-window strategy keeps each client's
recent hits in a Redis list updated by a Lua script, so concurrent API processes agree and there is
no window edge to burst across (a fixed window lets a client send twice its limit around a minute
boundary). Timestamps come from the API host's clock; only differences within a window matter.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

KEY_PREFIX = "cf:rl"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int  # seconds until a call is allowed again (when not allowed)


class RateLimiter:
    """`check(scope, who, limit)`: at most `limit` calls per `window_seconds` per client and scope
    (a limit of 0 turns the check off). Raises `redis.RedisError` when Redis is down."""

    def __init__(self, client: redis.Redis, window_seconds: int = 60) -> None:
        storage = RedisStorage(
            "redis://", connection_pool=client.connection_pool, key_prefix=KEY_PREFIX
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self.window_seconds = window_seconds

    def check(self, scope: str, who: str, limit: int) -> RateDecision:
        if limit <= 0:
            return RateDecision(True, 0)
        item = RateLimitItemPerSecond(limit, self.window_seconds)
        if self._limiter.hit(item, scope, who):
            return RateDecision(True, 0)
        reset_at = self._limiter.get_window_stats(item, scope, who).reset_time
        return RateDecision(False, max(1, math.ceil(reset_at - time.time())))
