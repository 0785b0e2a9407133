"""What a request looks like to those who show it: one typed view, made from the MongoDB record
and kept in the Redis status cache, from which the API's answer and the FortuneRequest status are
both derived. Nothing between the stores, the cache and the API passes `dict[str, Any]` views."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fortune_core.status import ACTIVE, Status


def as_utc(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC datetime (BSON dates come back naive, in UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def iso_millis(value: dt.datetime) -> str:
    """`2026-12-03T12:00:00.123Z`: how the API and the cache write times."""
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    """The inverse of `iso_millis` (any ISO 8601 time with a zone)."""
    return as_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request's state as shown: status, result or error, times (aware UTC).

    `version` orders views: every transition of the record bumps it, and a projection never
    replaces a newer view by an older one. Version 0 is the API's announcement of a request whose
    record the operator has not made yet (Kubernetes mode). `queued_at`, `started_at` and `worker`
    come with views made from the record (the FortuneRequest status shows them); the status cache
    does not keep them.
    """

    id: str
    status: Status
    version: int
    client: str
    attempts: int
    message: str
    request: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    completed_at: dt.datetime | None = None
    queued_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    worker: str | None = None

    @property
    def active(self) -> bool:
        """Not finished yet (pending, queued or running)."""
        return self.status in ACTIVE

    def shown(self, links: dict[str, str]) -> dict[str, Any]:
        """The request as `GET /v1/fortunes/{id}` shows it (and a webhook delivers it)."""
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "attempts": self.attempts,
            "createdAt": iso_millis(self.created_at),
            "updatedAt": iso_millis(self.updated_at),
            "request": self.request,
            "links": links,
        }
        if self.completed_at is not None:
            body["completedAt"] = iso_millis(self.completed_at)
        if self.message:
            body["message"] = self.message
        if self.result is not None:
            body["result"] = self.result
        if self.error is not None:
            body["error"] = self.error
        return body

    @property
    def terminal(self) -> bool:
        """Succeeded, failed or cancelled: it never changes again."""
        return self.status.terminal

    @property
    def announced(self) -> bool:
        """Only announced by the API: no record exists yet (Kubernetes mode, version 0)."""
        return self.version == 0
