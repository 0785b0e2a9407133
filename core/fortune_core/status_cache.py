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
A long poll's subscription is a connection of its own; once it is over the connection is
unsubscribed and kept for the next one (at most `idle_subscribers`, closed beyond that or after
an error), since a new one per poll (a TCP connection and redis-py's handshake) cost the API and
Redis more than the poll itself.
"""

from __future__ import annotations

import json
import threading
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
#: Subscriber connections kept between long polls (each an idle Redis connection).
DEFAULT_IDLE_SUBSCRIBERS = 16
#: How long an unsubscribe may take to be confirmed before its connection is closed instead.
_UNSUBSCRIBE_SECONDS = 1.0


class StatusCache:
    """Read and write request status hashes."""

    def __init__(
        self,
        client: redis.Redis,
        retention_seconds: int,
        finished_seconds: int = DEFAULT_FINISHED_SECONDS,
        idle_subscribers: int = DEFAULT_IDLE_SUBSCRIBERS,
    ) -> None:
        self._redis = client
        self._retention = retention_seconds
        self._finished = finished_seconds
        self._put = client.register_script(_PUT_IF_NEWER)
        self._idle_subscribers: list[Any] = []
        self._max_idle_subscribers = idle_subscribers
        self._subscribers_lock = threading.Lock()

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
        channel = cache_key(request_id)
        pubsub = self._subscriber()
        reusable = False
        try:
            pubsub.subscribe(channel)
            view = self.get(request_id)
            while view is not None and not done(view):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                message = pubsub.get_message(timeout=left)
                if message is None and deadline > time.monotonic():
                    continue  # the confirmation of a subscription (or of an earlier unsubscribe)
                if message is not None and _text(message.get("channel")) != channel:
                    continue  # a notice for an earlier poll's key, sent before its unsubscribe
                view = self.get(request_id)
            reusable = self._unsubscribe(pubsub, channel)
            return view
        finally:
            self._done_with(pubsub, reusable)

    def _subscriber(self) -> Any:
        with self._subscribers_lock:
            if self._idle_subscribers:
                return self._idle_subscribers.pop()
        client: Any = self._redis  # redis-py leaves pubsub() untyped
        return client.pubsub(ignore_subscribe_messages=True)

    @staticmethod
    def _unsubscribe(pubsub: Any, channel: str) -> bool:
        """Unsubscribe and wait for the confirmation; whether the connection is clean to reuse."""
        pubsub.unsubscribe(channel)
        deadline = time.monotonic() + _UNSUBSCRIBE_SECONDS
        while pubsub.subscribed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            pubsub.get_message(timeout=left)
        return True

    def _done_with(self, pubsub: Any, reusable: bool) -> None:
        if reusable:
            with self._subscribers_lock:
                if len(self._idle_subscribers) < self._max_idle_subscribers:
                    self._idle_subscribers.append(pubsub)
                    return
        pubsub.close()

    def close(self) -> None:
        """Close the subscriber connections kept between long polls."""
        with self._subscribers_lock:
            idle, self._idle_subscribers = self._idle_subscribers, []
        for pubsub in idle:
            pubsub.close()


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


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
