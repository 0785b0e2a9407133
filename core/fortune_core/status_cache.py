"""The Redis status cache: `cf:req:<id>` hashes that answer polling without touching MongoDB.

Written as `pending` at submission and on every later transition, with the same retention as the
MongoDB record (expiring at created_at + retention), so status and result expire together. A
write carries the record's `version`; a write older than what the cache holds is dropped, so
concurrent writers (API and worker) cannot leave a stale status behind.

Every stored write is also announced on the Redis pub/sub channel named like the key (its payload
is the version), so a client's long poll (`wait_until`) wakes at the change instead of polling.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any, cast

import redis

KEY_PREFIX = "cf:req:"
_JSON_FIELDS = ("request", "result", "error")

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


class StatusCache:
    """Read and write request status hashes."""

    def __init__(self, client: redis.Redis, retention_seconds: int) -> None:
        self._redis = client
        self._retention = retention_seconds
        self._put = client.register_script(_PUT_IF_NEWER)

    def expire_at(self, created_at: dt.datetime) -> int:
        created = created_at if created_at.tzinfo else created_at.replace(tzinfo=dt.UTC)
        return int(created.timestamp()) + self._retention

    def put(self, request_id: str, view: dict[str, Any], created_at: dt.datetime) -> bool:
        """Store a record view (see `records.record_view`); False if a newer one is cached or
        the entry's retention is already over."""
        expire_at = self.expire_at(created_at)
        if expire_at <= int(dt.datetime.now(dt.UTC).timestamp()):
            return False
        pairs: list[str] = []
        for name, value in view.items():
            if name == "version" or value is None:
                continue
            text = json.dumps(value, ensure_ascii=False) if name in _JSON_FIELDS else str(value)
            pairs.extend((name, text))
        stored = self._put(keys=[cache_key(request_id)], args=[view["version"], expire_at, *pairs])
        return bool(stored)

    def get(self, request_id: str) -> dict[str, Any] | None:
        """The cached view, or None when Redis has no entry."""
        raw = cast(dict[bytes, bytes], self._redis.hgetall(cache_key(request_id)))
        if not raw:
            return None
        view: dict[str, Any] = {}
        for key, value in raw.items():
            name, text = key.decode(), value.decode()
            view[name] = json.loads(text) if name in _JSON_FIELDS else text
        view["version"] = int(view.get("version", 0))
        view["attempts"] = int(view.get("attempts", 0))
        for name in _JSON_FIELDS:
            view.setdefault(name, None)
        return view

    def wait_until(
        self,
        request_id: str,
        done: Callable[[dict[str, Any]], bool],
        timeout: float,
    ) -> dict[str, Any] | None:
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
