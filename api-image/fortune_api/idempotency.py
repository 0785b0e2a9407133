"""Idempotency-Key reservations in Redis: the same key (per client) maps to the same request."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import cast

import redis

IDEMPOTENCY_PREFIX = "cf:idem:"


def body_fingerprint(body: object) -> str:
    """A stable hash of a JSON body (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Reservation:
    """Result of reserving an Idempotency-Key: ours (new) or an earlier request's id."""

    request_id: str
    fingerprint: str
    new: bool


def _idem_key(who: str, key: str) -> str:
    return IDEMPOTENCY_PREFIX + who + ":" + hashlib.sha256(key.encode()).hexdigest()


def reserve_idempotency_key(
    client: redis.Redis, who: str, key: str, request_id: str, fingerprint: str, ttl: int
) -> Reservation:
    """Claim `key` for `request_id`, or return what claimed it first."""
    redis_key = _idem_key(who, key)
    value = json.dumps({"id": request_id, "fingerprint": fingerprint})
    if client.set(redis_key, value, nx=True, ex=ttl):
        return Reservation(request_id, fingerprint, True)
    raw = client.get(redis_key)
    if raw is None:  # expired between the two calls: try once more
        if client.set(redis_key, value, nx=True, ex=ttl):
            return Reservation(request_id, fingerprint, True)
        raw = client.get(redis_key)
    stored = json.loads(cast(bytes, raw) or b"{}")
    return Reservation(str(stored.get("id", "")), str(stored.get("fingerprint", "")), False)


def release_idempotency_key(client: redis.Redis, who: str, key: str, request_id: str) -> None:
    """Forget a reservation whose request was not accepted (so the client can retry)."""
    redis_key = _idem_key(who, key)
    raw = client.get(redis_key)
    if raw is not None and json.loads(cast(bytes, raw)).get("id") == request_id:
        client.delete(redis_key)
