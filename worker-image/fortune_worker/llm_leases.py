"""The global LLM concurrency limit: a Redis semaphore of leases, shared by every worker (not to be
confused with a worker's own call slots, `fortune_worker.admission`, nor the publisher's links).

The holders live in one sorted set, each scored by its lease expiry (milliseconds, Redis server
time, so worker clocks do not matter). The set itself never expires: it is one small key, and a
key without an expiry is never evicted under the chart's `volatile-ttl` policy (an evicted set
would forget the holders and let the limit be exceeded). Acquire, renew and release are Lua
scripts, atomic on the server. Acquiring first drops expired leases, so a worker that died holding
a lease gives it back when its lease runs out. A holder renews its lease from a heartbeat thread
while its call lasts. Waiting for a free lease polls with a short, growing, jittered backoff
(`fortune_core.backoff`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from fortune_core import delays

log = logging.getLogger(__name__)

DEFAULT_KEY = "cf:llm:slots"  # the key of earlier releases: a rolling upgrade shares the limit

# ARGV[1] is "now" in ms from an injected clock, or '' for the Redis server's clock.
_NOW_MS = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# KEYS[1] holders; ARGV[2] limit, ARGV[3] lease ms, ARGV[4] token → 1 acquired, 0 full.
_ACQUIRE = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expiry = now + tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], expiry, ARGV[4])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], expiry, ARGV[4])
redis.call('PERSIST', KEYS[1])
return 1
"""
)

# KEYS[1] holders; ARGV[2] lease ms, ARGV[3] token → 1 renewed, 0 the lease was lost.
_RENEW = (
    _NOW_MS
    + """
local current = redis.call('ZSCORE', KEYS[1], ARGV[3])
if not current or tonumber(current) <= now then
  redis.call('ZREM', KEYS[1], ARGV[3])
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
return 1
"""
)

# KEYS[1] holders → number of live leases.
_COUNT = (
    _NOW_MS
    + """
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""
)


class LeaseWaitAbortedError(Exception):
    """Waiting for a lease was given up (the caller's abort condition became true)."""


class LlmLeases:
    """A counting semaphore over Redis whose holders hold leases.

    `limit` holders at most across every process using the same `key`; a lease not renewed
    within `lease_seconds` expires and it is reclaimed by the next acquirer. The heartbeat
    renews every `renew_seconds` (default a third of the lease). Time is the Redis server's,
    unless `clock_ms` (milliseconds since the epoch) is given: tests decide what "now" is.
    """

    def __init__(
        self,
        client: redis.Redis,
        limit: int,
        lease_seconds: float,
        key: str = DEFAULT_KEY,
        owner: str = "worker",
        renew_seconds: float | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self._redis = client
        self.limit = limit
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.renew_seconds = renew_seconds if renew_seconds is not None else lease_seconds / 3
        self._clock_ms = clock_ms
        self.key = key
        self._owner = owner
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._count = client.register_script(_COUNT)
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._closing = threading.Event()

    # --- single operations ---------------------------------------------------------------------
    def new_token(self) -> str:
        return f"{self._owner}:{uuid.uuid4().hex}"

    def _now(self) -> int | str:
        return self._clock_ms() if self._clock_ms is not None else ""

    def try_acquire(self, token: str) -> bool:
        """Take a lease for `token` if one is free (or renew it if `token` holds one)."""
        args = [self._now(), self.limit, self.lease_ms, token]
        return bool(self._acquire(keys=[self.key], args=args))

    def renew(self, token: str) -> bool:
        """Extend `token`'s lease; False if it had expired (it may be someone else's now)."""
        return bool(self._renew(keys=[self.key], args=[self._now(), self.lease_ms, token]))

    def release(self, token: str) -> None:
        """Give the lease back (a no-op if the lease already expired)."""
        with self._held_lock:
            self._held.discard(token)
        self._redis.zrem(self.key, token)

    def holders(self) -> int:
        """How many live leases there are now."""
        return int(self._count(keys=[self.key], args=[self._now()]))

    # --- waiting and holding -------------------------------------------------------------------
    def acquire_now(self) -> str | None:
        """A lease's token if one is free right now (held and renewed until `release`), else
        None."""
        token = self.new_token()
        if not self.try_acquire(token):
            return None
        with self._held_lock:
            self._held.add(token)
        self._ensure_heartbeat()
        return token

    def acquire(
        self,
        abort: Callable[[], bool] = lambda: False,
        max_interval: float = 1.0,
    ) -> str:
        """Wait for a lease and return its token; the heartbeat renews it until `release`.

        Polls with a backoff from 20 ms up to `max_interval`; raises `LeaseWaitAbortedError` as
        soon as `abort()` is true (checked before every poll).
        """
        token = self.new_token()
        for delay in delays(0.02, max_interval):
            if abort():
                raise LeaseWaitAbortedError("gave up waiting for an LLM lease")
            if self.try_acquire(token):
                with self._held_lock:
                    self._held.add(token)
                self._ensure_heartbeat()
                return token
            time.sleep(delay)
        raise AssertionError("unreachable: delays() never ends")

    @contextmanager
    def hold(self, abort: Callable[[], bool] = lambda: False) -> Iterator[str]:
        """`with leases.hold(): ...` — acquire, and release however the block ends."""
        token = self.acquire(abort)
        try:
            yield token
        finally:
            self.release(token)

    def close(self) -> None:
        """Stop the heartbeat thread (held leases then simply expire)."""
        self._closing.set()

    def _ensure_heartbeat(self) -> None:
        with self._held_lock:
            if self._heartbeat is not None and self._heartbeat.is_alive():
                return
            self._heartbeat = threading.Thread(
                target=self._renew_loop, name="llm-lease-heartbeat", daemon=True
            )
            self._heartbeat.start()

    def _renew_loop(self) -> None:
        while not self._closing.wait(self.renew_seconds):
            with self._held_lock:
                tokens = list(self._held)
            for token in tokens:
                try:
                    if not self.renew(token):
                        with self._held_lock:
                            lost = token in self._held  # not merely released meanwhile
                            self._held.discard(token)
                        if lost:
                            log.warning("an LLM lease expired before it was renewed")
                except redis.RedisError as exc:
                    log.warning("could not renew an LLM lease: %s", exc)
