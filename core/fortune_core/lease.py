"""A lease in Redis: one holder at a time among many processes, lost when not renewed in time.

The standalone stale sweep runs under one (`cf:lease:sweep`): every worker tries to hold it at
each sweep interval, the holder renews it and sweeps, the others do nothing; a holder that dies
stops renewing, and its lease expires after `ttl_seconds` for another worker to take (rq's
worker maintenance, which cleans up its registries from whichever worker gets to it, is the
model). Time is the Redis server's (PX expiry), so worker clocks do not matter.
"""

from __future__ import annotations

import contextlib
import uuid

import redis

# KEYS[1] the lease; ARGV[1] owner, ARGV[2] ttl ms → 1 held (taken or renewed), 0 someone else's.
_HOLD = """
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] the lease; ARGV[1] owner → 1 released, 0 not ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    """Hold `key` as `owner` (a fresh unique owner by default) for `ttl_seconds` at a time."""

    def __init__(
        self, client: redis.Redis, key: str, ttl_seconds: float, owner: str | None = None
    ) -> None:
        self.key = key
        self.owner = owner or uuid.uuid4().hex
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """Take the lease if it is free, renew it if it is ours: whether we hold it now.
        Raises redis.RedisError."""
        return bool(self._hold(keys=[self.key], args=[self.owner, self.ttl_ms]))

    def release(self) -> None:
        """Give the lease up if we hold it (best effort: it expires anyway)."""
        with contextlib.suppress(redis.RedisError):
            self._release(keys=[self.key], args=[self.owner])
