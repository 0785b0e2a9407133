"""The Redis status cache: `cf:req:<id>` hashes that answer polling without touching MongoDB.

A projection of the request lifecycle (`fortune_core.lifecycle` writes it on every transition):
a request's entry lives while it is in flight (at most its retention) and, once it finished, for
`finished_seconds` more, so a client polling for the outcome reads it from here; after that
MongoDB, the system of record, answers (and the lookup refills the entry for the same short
window). Every entry has an expiry, so Redis holds at most the requests in flight plus those that
finished in the last `finished_seconds`. A write carries the record's `version`; a write older
than what the cache holds is dropped, so concurrent writers cannot leave a stale status behind,
and an evicted entry costs a MongoDB read, never a wrong answer.

Every stored write is also announced on the Redis pub/sub channel named like the key (its payload
is the version), so a client's long poll (`wait_until`) wakes at the change instead of polling.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from fortune_core.settings import CoreSettings
from fortune_core.status import Status
from fortune_core.views import RequestView, iso_millis, parse_iso

KEY_PREFIX = "cf:req:"

# KEYS[1] hash; ARGV[1] version, ARGV[2] expire-at (unix s), ARGV[3..] field/value pairs.
_PUT_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 3))
redis.call('EXPIREAT', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


def cache_key(request_id: str) -> str:
    return KEY_PREFIX + request_id


DEFAULT_FINISHED_SECONDS = 600


class StatusCache:
    """Read and write request status hashes."""

    def __init__(
        self,
        client: redis.Redis,
        retention_seconds: int,
        finished_seconds: int = DEFAULT_FINISHED_SECONDS,
    ) -> None:
        self._redis = client
        self._retention = retention_seconds
        self._finished = finished_seconds
        self._put = client.register_script(_PUT_IF_NEWER)

    @property
    def client(self) -> redis.Redis:
        """The Redis client the cache writes with."""
        return self._redis

    @classmethod
    def for_settings(cls, client: redis.Redis, core: CoreSettings) -> StatusCache:
        """The cache with the retention and finished window of `core`."""
        return cls(client, core.retention_seconds, core.cache_finished_seconds)

    def expire_at(self, view: RequestView, now: float | None = None) -> int:
        """When the entry of `view` expires (unix seconds): the request's retention end, and for
        a finished request at most `finished_seconds` from now."""
        end = int(view.created_at.timestamp()) + self._retention
        if view.terminal:
            end = min(end, int(time.time() if now is None else now) + self._finished)
        return end

    def put(self, view: RequestView) -> bool:
        """Store `view`; False if a newer one is cached or the entry would already be expired."""
        expire_at = self.expire_at(view)
        if expire_at <= int(time.time()):
            return False
        pairs: list[str] = [
            "status", view.status.value,
            "client", view.client,
            "attempts", str(view.attempts),
            "message", view.message,
            "request", json.dumps(view.request, ensure_ascii=False),
            "created_at", iso_millis(view.created_at),
            "updated_at", iso_millis(view.updated_at),
        ]  # fmt: skip
        if view.result is not None:
            pairs.extend(("result", json.dumps(view.result, ensure_ascii=False)))
        if view.error is not None:
            pairs.extend(("error", json.dumps(view.error, ensure_ascii=False)))
        if view.completed_at is not None:
            pairs.extend(("completed_at", iso_millis(view.completed_at)))
        stored = self._put(keys=[cache_key(view.id)], args=[view.version, expire_at, *pairs])
        return bool(stored)

    def get(self, request_id: str) -> RequestView | None:
        """The cached view, or None when Redis has no (complete) entry."""
        raw = cast(dict[bytes, bytes], self._redis.hgetall(cache_key(request_id)))
        return _parse(request_id, raw)

    def forget(self, request_id: str, *also: str) -> None:
        """Remove the entry (an announcement that was never followed by a request, a deleted
        request), with the other Redis keys `also` named (a deleted request's structures)."""
        self._redis.delete(cache_key(request_id), *also)

    def wait_until(
        self,
        request_id: str,
        done: Callable[[RequestView], bool],
        timeout: float,
    ) -> RequestView | None:
        """The cached view once `done(view)` is true, or whatever is cached after `timeout`
        seconds (None when Redis has no entry). Wakes on the key's change notifications; the
        subscription comes before the first read, so no change is missed."""
        deadline = time.monotonic() + timeout
        client: Any = self._redis  # redis-py leaves pubsub() untyped
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(cache_key(request_id))
            while True:
                view = self.get(request_id)
                left = deadline - time.monotonic()
                if view is None or done(view) or left <= 0:
                    return view
                pubsub.get_message(timeout=left)
        finally:
            pubsub.close()


def _parse(request_id: str, raw: dict[bytes, bytes]) -> RequestView | None:
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    try:
        return RequestView(
            id=request_id,
            status=Status(fields["status"]),
            version=int(fields["version"]),
            client=fields.get("client", ""),
            attempts=int(fields.get("attempts", "0")),
            message=fields.get("message", ""),
            request=json.loads(fields["request"]),
            created_at=parse_iso(fields["created_at"]),
            updated_at=parse_iso(fields.get("updated_at") or fields["created_at"]),
            result=json.loads(fields["result"]) if "result" in fields else None,
            error=json.loads(fields["error"]) if "error" in fields else None,
            completed_at=parse_iso(fields["completed_at"]) if "completed_at" in fields else None,
        )
    except (KeyError, ValueError):  # absent, or written by an older release: read MongoDB
        return None
