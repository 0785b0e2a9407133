"""MongoDB documents (mongoengine): one document per request, the system of record.

Every status change is a conditional update (`_id` and the allowed current statuses), so two
actors can never both win a transition, and each change bumps `version`, which the Redis cache
uses to drop stale writes. The hot path (the insert, every transition, the read by id) talks to
pymongo directly with the documents mongoengine would write and read, and loads them into
FortuneRecord without mongoengine's per-value conversion (`JsonDictField`): mongoengine's query
and update building and its conversions cost about twice the round trip itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import mongoengine as me
from mongoengine.errors import NotUniqueError
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from fortune_core.status import Status
from fortune_core.views import RequestView, as_utc

COLLECTION = "fortunes"
DEFAULT_DATABASE = "cyberfortune"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # BSON dates are naive UTC


class JsonDictField(me.DictField):  # type: ignore[misc]  # mongoengine is untyped
    """A dict of JSON values, read as stored.

    mongoengine's DictField converts a stored dict value by value when a document is loaded,
    wraps it for change tracking and walks it again for references on first access: about 0.8 ms
    of CPU per transition for the request, profile and result of a record, which hold no
    references and are never saved back through mongoengine (every write is a query). Queries and
    updates on these fields (`resource__namespace__in`, `set__result`) work as with a DictField."""

    def to_python(self, value: Any) -> Any:
        return value

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        return instance._data.get(self.name)


class FortuneRecord(me.Document):  # type: ignore[misc]  # mongoengine is untyped
    """A fortune request, its derived profile, status, result or error, and timestamps."""

    meta = {"collection": COLLECTION, "indexes": [], "auto_create_index": False}  # noqa: RUF012
    # Indexes are made by ensure_indexes() (with the TTL index), not on every connect.

    id = me.StringField(primary_key=True)
    request = JsonDictField(required=True)
    profile = JsonDictField()
    pool = me.StringField(default="default")
    client = me.StringField()
    status = me.StringField(required=True, choices=[s.value for s in Status])
    version = me.IntField(default=1)
    attempts = me.IntField(default=0)
    message = me.StringField()
    result = JsonDictField(null=True)
    error = JsonDictField(null=True)
    worker = me.StringField()
    # The id of the current dispatch: only a queue message carrying it may claim the request.
    dispatch_id = me.StringField(null=True)
    # The FortuneRequest resource this request belongs to ({namespace, name}), in Kubernetes mode.
    resource = JsonDictField(null=True)
    # When the current dispatch's message is deliverable: the dispatch itself, or the end of a
    # retry's delay. The sweep looks for lost messages only after it.
    due_at = me.DateTimeField()
    # Set when the current dispatch's publish was not confirmed: the sweep publishes it again.
    undelivered = me.BooleanField()
    # Set when a projection of the current version failed (the status cache, the FortuneRequest
    # status): the sweep writes them again.
    unprojected = me.BooleanField()
    # SHA-256 digests of the request's share tokens (set only while it has some).
    shares = me.ListField(me.StringField(), default=None)
    created_at = me.DateTimeField(required=True)
    updated_at = me.DateTimeField()
    queued_at = me.DateTimeField()
    started_at = me.DateTimeField()
    completed_at = me.DateTimeField()

    @property
    def state(self) -> Status:
        return Status(self.status)


def connect_records(
    uri: str,
    retention_seconds: int | None,
    db: str | None = None,
    alias: str = "default",
    server_timeout_ms: int = 3000,
) -> None:
    """Connect mongoengine (lazily: no server round trip) and, when `retention_seconds` is
    given, make sure the TTL index has that retention (this one needs the server)."""
    me.connect(
        host=uri,
        db=db or _database_from_uri(uri),
        alias=alias,
        tz_aware=False,
        uuidRepresentation="standard",
        journal=True,  # a write is acknowledged once journaled: a crash cannot lose it
        serverSelectionTimeoutMS=server_timeout_ms,
        connectTimeoutMS=server_timeout_ms,
    )
    if retention_seconds is not None:
        ensure_ttl_index(retention_seconds)


def disconnect_records(alias: str = "default") -> None:
    me.disconnect(alias=alias)


def _database_from_uri(uri: str) -> str:
    path = uri.split("://", 1)[-1].split("/", 1)
    if len(path) == 2:
        name = path[1].split("?", 1)[0]
        if name:
            return name
    return DEFAULT_DATABASE


def ensure_indexes() -> None:
    """The indexes the sweep and the pools' backlog count use (idempotent): (status, updated_at)
    finds stale pending and running requests and counts a pool's running ones, (status, due_at)
    queued ones whose message may be lost; the two flags are sparse (set only while true), so
    finding the flagged records costs what is flagged."""
    collection = FortuneRecord._get_collection()
    collection.create_index([("status", 1), ("updated_at", 1)], name="status_updated")
    collection.create_index([("status", 1), ("due_at", 1)], name="status_due")
    collection.create_index([("undelivered", 1)], name="undelivered", sparse=True)
    collection.create_index([("unprojected", 1)], name="unprojected", sparse=True)


def ensure_history_index() -> None:
    """(client, _id descending): a client's history, newest first, read a page at a time from
    the index (ids are time-ordered ULIDs, so the cursor is the last id of a page); and the
    share tokens' digests."""
    collection = FortuneRecord._get_collection()
    collection.create_index([("client", 1), ("_id", -1)], name="client_id")
    # A share token's digest → its request; sparse: only shared requests are in it.
    collection.create_index([("shares", 1)], name="shares", sparse=True)


def client_records(
    client: str, before: str | None, limit: int, created_after: dt.datetime
) -> list[FortuneRecord]:
    """Up to `limit` records of `client`, newest first, with ids below `before` (a cursor) and
    created after `created_after` (the retention: the TTL sweep may lag); without the derived
    profile (a list shows the request, not the chart)."""
    conditions: dict[str, Any] = {"client": client, "created_at__gt": created_after}
    if before is not None:
        conditions["id__lt"] = before
    found = FortuneRecord.objects(**conditions).exclude("profile").order_by("-id").limit(limit)
    return list(found)


def delete_finished(request_id: str) -> FortuneRecord | None:
    """Delete the record of a finished request (an unfinished one must be cancelled first): the
    deleted record, or None when there was none finished."""
    document = FortuneRecord._get_collection().find_one_and_delete(
        {"_id": request_id, "status": {"$in": [s.value for s in Status if s.terminal]}},
        projection={"profile": 0},
    )
    if document is None:
        return None
    record: FortuneRecord = FortuneRecord._from_son(document)
    return record


def ensure_ttl_index(retention_seconds: int) -> None:
    """TTL index on `created_at`; recreated when the retention changed."""
    collection = FortuneRecord._get_collection()
    for index in collection.list_indexes():
        if index.get("key") and list(index["key"].keys()) == ["created_at"]:
            if index.get("expireAfterSeconds") == retention_seconds:
                return
            collection.drop_index(index["name"])
    try:
        collection.create_index(
            "created_at", expireAfterSeconds=retention_seconds, name="created_at_ttl"
        )
    except OperationFailure as exc:  # a concurrent starter created it first
        if "already exists" not in str(exc):
            raise


def create_pending(
    *,
    request_id: str,
    request: dict[str, Any],
    profile: dict[str, Any],
    pool: str,
    client: str | None,
    created_at: dt.datetime,
    resource: dict[str, str] | None = None,
    dispatch_id: str | None = None,
) -> FortuneRecord:
    """Insert the record of a newly accepted request (NotUniqueError if it exists): `pending`,
    or, given a `dispatch_id`, already `queued` with that dispatch (one write instead of two).

    Written with pymongo, as the document mongoengine would write: its save() converts and
    validates our own already-validated nested dicts field by field, twice the CPU of the
    insert itself on the submission path."""
    document: dict[str, Any] = {"_id": request_id, "request": request, "profile": profile}
    document["pool"] = pool
    if client is not None:
        document["client"] = client
    document.update(
        status=Status.PENDING.value if dispatch_id is None else Status.QUEUED.value,
        version=1,
        attempts=0,
        result=None,
        error=None,
        dispatch_id=dispatch_id,
        resource=resource,
        created_at=created_at,
        updated_at=created_at,
    )
    if dispatch_id is not None:
        document["queued_at"] = created_at
        document["due_at"] = created_at
    try:
        FortuneRecord._get_collection().insert_one(document)
    except DuplicateKeyError as exc:
        raise NotUniqueError(f"request {request_id} exists") from exc
    return _loaded(document)


def get_record(request_id: str) -> FortuneRecord | None:
    document = FortuneRecord._get_collection().find_one({"_id": request_id})
    return None if document is None else _loaded(document)


ANY_DISPATCH: Any = object()
"""`expect_dispatch` default: the transition does not depend on the dispatch id."""


def transition(
    request_id: str,
    allowed_from: set[Status] | frozenset[Status],
    to: Status,
    *,
    increment_attempts: bool = False,
    expect_dispatch: str | None = ANY_DISPATCH,
    exclude: tuple[str, ...] = (),
    now: dt.datetime | None = None,
    **fields: Any,
) -> FortuneRecord | None:
    """Move a request to `to` if its status is one of `allowed_from` (and, when given, its
    dispatch id is `expect_dispatch`); the updated record (without the `exclude`d fields: a
    partial record, to read, never to save), or None when it was not (someone else won).

    Every transition clears `unprojected` (its projections are written next) and stamps the
    times of its status; a field given as None is unset."""
    now = now or utcnow()
    sets: dict[str, Any] = {"status": to.value, "updated_at": now}
    unsets: dict[str, Any] = {"unprojected": True}
    increments: dict[str, int] = {"version": 1}
    if increment_attempts:
        increments["attempts"] = 1
    if to == Status.QUEUED:
        sets["queued_at"] = now
        fields.setdefault("due_at", now)
    if to == Status.RUNNING:
        sets["started_at"] = now
    if to.terminal:
        sets["completed_at"] = now
    if to != Status.QUEUED:
        fields["due_at"] = None
    fields.setdefault("undelivered", None)  # a new state: its message is yet to be (re)sent
    for name, value in fields.items():
        stored = _stored_name(name)
        if value is None and name in _UNSETTABLE:
            unsets[stored] = True
        else:
            sets[stored] = value
    update = {"$set": sets, "$unset": unsets, "$inc": increments}
    query: dict[str, Any] = {"_id": request_id, "status": {"$in": [s.value for s in allowed_from]}}
    if expect_dispatch is not ANY_DISPATCH:
        query["dispatch_id"] = expect_dispatch
    document = FortuneRecord._get_collection().find_one_and_update(
        query,
        update,
        projection=dict.fromkeys(exclude, 0) or None,
        return_document=ReturnDocument.AFTER,
    )
    return None if document is None else _loaded(document)


def _loaded(document: dict[str, Any]) -> FortuneRecord:
    record: FortuneRecord = FortuneRecord._from_son(document)
    return record


def _stored_name(name: str) -> str:
    """The name field `name` of FortuneRecord is stored under (TypeError when there is none)."""
    field = FortuneRecord._fields.get(name)
    if field is None or name == "id":
        raise TypeError(f"a transition cannot write {name!r}")
    stored: str = field.db_field
    return stored


_UNSETTABLE = frozenset({"due_at", "undelivered", "unprojected"})


def flag(request_id: str, name: str, **condition: Any) -> bool:
    """Set the flag `name` (`undelivered` or `unprojected`) on the record if it still matches
    `condition` (e.g. `version=5`, `dispatch_id=...`): whether it did."""
    assert name in {"undelivered", "unprojected"}
    updated = FortuneRecord.objects(id=request_id, **condition).update_one(**{f"set__{name}": True})
    return bool(updated)


def flagged(name: str, limit: int) -> list[FortuneRecord]:
    """Up to `limit` records carrying the flag `name`."""
    return list(FortuneRecord.objects(**{name: True}).limit(limit))


def view_of(record: FortuneRecord) -> RequestView:
    """The view of a record (see `fortune_core.views`)."""
    return RequestView(
        id=record.id,
        status=Status(record.status),
        version=record.version,
        client=record.client or "",
        attempts=record.attempts,
        message=record.message or "",
        request=record.request,
        result=record.result,
        error=record.error,
        created_at=as_utc(record.created_at),
        updated_at=as_utc(record.updated_at or record.created_at),
        completed_at=as_utc(record.completed_at) if record.completed_at else None,
        queued_at=as_utc(record.queued_at) if record.queued_at else None,
        started_at=as_utc(record.started_at) if record.started_at else None,
        worker=record.worker or None,
    )
