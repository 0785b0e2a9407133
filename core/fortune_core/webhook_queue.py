"""The durable queue of webhook deliveries: one MongoDB document per delivery.

A request with a `webhook` URL gets one delivery when it finishes (`succeeded`, `failed` or
`cancelled`): the lifecycle's projection of that transition enqueues it (`enqueue`, idempotent:
its `_id` is the delivery's `webhook-id`, the same for every try and for a projection written
again). The workers deliver it (`fortune_worker.webhooks`): `claim` takes the next due delivery
for a lease (a worker that dies holding it leaves it due again when the lease ends), `settle`
records the outcome and, for a retry, when it is due again. The documents expire with the
requests (a TTL index on `created_at`, the same retention), so the queue holds at most one
delivery per request kept.

    pending ──2xx──► delivered
       │  └─410──► gone (the receiver asked us to stop)
       ├─ refused (the target is not allowed: plain http, a private address)
       └─ failed (still failing after the last try)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from mongoengine.connection import get_db
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, OperationFailure

from fortune_core.status import Status
from fortune_core.views import RequestView, iso_millis

COLLECTION = "webhook_deliveries"
PENDING = "pending"
DELIVERED = "delivered"
GONE = "gone"
REFUSED = "refused"
FAILED = "failed"
STATES = (PENDING, DELIVERED, GONE, REFUSED, FAILED)


def delivery_id(request_id: str, status: Status) -> str:
    """The delivery's `webhook-id`: stable across tries (and across projections written
    again)."""
    return f"msg_{request_id}_{status.value}"


def event_body(view: RequestView) -> dict[str, Any]:
    """What is POSTed: the event type, its time, and the request as GET shows it."""
    data = view.shown({"self": f"/v1/fortunes/{view.id}"})
    moment = view.completed_at or view.updated_at
    return {"type": f"fortune.{view.status.value}", "timestamp": iso_millis(moment), "data": data}


@dataclass(frozen=True)
class Delivery:
    """A delivery claimed for one try (`attempts` counts this one)."""

    id: str
    request_id: str
    url: str
    body: bytes
    attempts: int


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


class WebhookQueue:
    """Enqueue, claim and settle deliveries (mongoengine's default connection)."""

    def __init__(self, alias: str = "default") -> None:
        self._alias = alias

    @property
    def collection(self) -> Collection[Any]:
        collection: Collection[Any] = get_db(self._alias)[COLLECTION]
        return collection

    def enqueue(self, view: RequestView, url: str, now: dt.datetime) -> bool:
        """Enqueue the delivery of `view`'s finish to `url`; False when it exists already."""
        body = json.dumps(event_body(view), ensure_ascii=False, separators=(",", ":"))
        document = {
            "_id": delivery_id(view.id, view.status),
            "request_id": view.id,
            "url": url,
            "body": body,
            "state": PENDING,
            "attempts": 0,
            "due_at": _naive(now),
            "created_at": _naive(view.created_at),
        }
        try:
            self.collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    def claim(self, now: dt.datetime, lease_seconds: float) -> Delivery | None:
        """The next due delivery, leased for `lease_seconds` (then due again if not settled)."""
        now = _naive(now)
        found = self.collection.find_one_and_update(
            {"state": PENDING, "due_at": {"$lte": now}},
            {
                "$set": {"due_at": now + dt.timedelta(seconds=lease_seconds)},
                "$inc": {"attempts": 1},
            },
            sort=[("due_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        if found is None:
            return None
        return Delivery(
            id=str(found["_id"]),
            request_id=str(found["request_id"]),
            url=str(found["url"]),
            body=str(found["body"]).encode(),
            attempts=int(found["attempts"]),
        )

    def settle(
        self,
        delivery: Delivery,
        state: str,
        now: dt.datetime,
        *,
        due_at: dt.datetime | None = None,
        status: int | None = None,
        error: str = "",
    ) -> bool:
        """Record the outcome of `delivery`'s try: `state` (PENDING again with `due_at` for a
        retry), the answer's HTTP `status` or the `error`. False when the try was no longer this
        claim's (its lease ended and another took it)."""
        assert state in STATES
        fields: dict[str, Any] = {
            "state": state,
            "last_status": status,
            "last_error": error[:300],
            "last_try_at": _naive(now),
        }
        if due_at is not None:
            fields["due_at"] = _naive(due_at)
        updated = self.collection.update_one(
            {"_id": delivery.id, "attempts": delivery.attempts, "state": PENDING}, {"$set": fields}
        )
        return bool(updated.modified_count)

    def state_of(self, request_id: str) -> dict[str, Any] | None:
        """The delivery of a request as the API shows it, or None (none enqueued)."""
        found = self.collection.find_one({"request_id": request_id})
        if found is None:
            return None
        shown: dict[str, Any] = {"state": found["state"], "attempts": int(found["attempts"])}
        if found.get("last_status") is not None:
            shown["lastStatus"] = int(found["last_status"])
        if found.get("last_error"):
            shown["lastError"] = str(found["last_error"])
        if found["state"] == PENDING and found["attempts"]:
            shown["nextTryAt"] = iso_millis(found["due_at"].replace(tzinfo=dt.UTC))
        return shown

    def forget(self, request_id: str) -> int:
        """Delete the request's deliveries (its owner deleted it: the body holds its reading)."""
        return int(self.collection.delete_many({"request_id": request_id}).deleted_count)

    def ensure_indexes(self, retention_seconds: int) -> None:
        """(state, due_at) for `claim`, request_id for `state_of`, the TTL on created_at."""
        collection = self.collection
        collection.create_index([("state", 1), ("due_at", 1)], name="state_due")
        collection.create_index([("request_id", 1)], name="request")
        try:
            collection.create_index(
                "created_at", expireAfterSeconds=retention_seconds, name="created_at_ttl"
            )
        except OperationFailure as exc:  # the retention changed: make it again
            if "already exists" not in str(exc) and "different options" not in str(exc):
                raise
            collection.drop_index("created_at_ttl")
            collection.create_index(
                "created_at", expireAfterSeconds=retention_seconds, name="created_at_ttl"
            )
