"""Per-client rate limits and Idempotency-Key reservations, both in Redis."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import redis

RATE_PREFIX = "cf:rl:"
IDEMPOTENCY_PREFIX = "cf:idem:"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int  # seconds until the window resets (when not allowed)
    remaining: int


def check_rate(
    client: redis.Redis, scope: str, who: str, limit: int, window: int = 60
) -> RateDecision:
    """Fixed-window counter: at most `limit` calls per `window` seconds per client and scope.

    A limit of 0 turns the check off."""
    if limit <= 0:
        return RateDecision(True, 0, -1)
    now = time.time()
    bucket = int(now // window)
    key = f"{RATE_PREFIX}{scope}:{who}:{bucket}"
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.expire(key, window * 2)
    count = int(pipe.execute()[0])
    if count > limit:
        return RateDecision(False, max(1, int((bucket + 1) * window - now) + 1), 0)
    return RateDecision(True, 0, limit - count)


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
    stored = json.loads(raw or b"{}")
    return Reservation(str(stored.get("id", "")), str(stored.get("fingerprint", "")), False)


def release_idempotency_key(client: redis.Redis, who: str, key: str, request_id: str) -> None:
    """Forget a reservation whose request was not accepted (so the client can retry)."""
    redis_key = _idem_key(who, key)
    raw = client.get(redis_key)
    if raw is not None and json.loads(raw).get("id") == request_id:
        client.delete(redis_key)
