"""Inspect and replay a pool's dead letters: ``python -m fortune_worker.deadletters``.

    python -m fortune_worker.deadletters list   [--limit 100]
    python -m fortune_worker.deadletters replay (--all | --id <request id> ...)

Settings come from the environment like the worker's (RABBITMQ_URL, MONGODB_URI, REDIS_URL,
FORTUNE_POOL). `list` prints one JSON object per dead letter (request id, why and when it was
dead-lettered, the request's status) and leaves the queue as it was. `replay` takes the chosen dead
letters off the queue and sends their requests through the pipeline again with a new dispatch
(`fortune_core.lifecycle`: older copies of the message become stale): a failed request
is reset (attempts from zero, error cleared, message "replayed from the dead-letter queue") and
queued; a request still active is queued again as it is; one that already succeeded or was
cancelled needs nothing, so its dead letter is dropped. Messages that are not ours
or whose record has expired stay in the queue. Each decision is printed as a JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import pika
import redis

from fortune_core import (
    ACTIVE,
    CoreSettings,
    DispatchLostError,
    KubeClient,
    Lifecycle,
    QueueMessage,
    Status,
    StatusCache,
    connect_records,
    dead_letter_queue,
    get_record,
    publisher_for,
)

REPLAY_MESSAGE = "replayed from the dead-letter queue"


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as `list` shows it."""

    request_id: str | None
    reason: str | None  # rejected (failed), delivery_limit, expired, ...
    from_queue: str | None
    dead_lettered_at: str | None
    status: str | None  # the request's status in MongoDB (None: no record)


def describe(properties: Any, body: bytes) -> tuple[str | None, dict[str, Any]]:
    """(request id or None, the x-death facts) of a dead-lettered message."""
    try:
        request_id: str | None = QueueMessage.parse(body).request_id
    except ValueError:
        request_id = None
    # x-death lists the deaths most recent first (a retry's expiry from its delay queue is a
    # death too); the first entry is how the message came here.
    deaths = (properties.headers or {}).get("x-death") or [{}]
    latest = deaths[0] if isinstance(deaths, list) and deaths else {}
    when: Any = latest.get("time")
    return request_id, {
        "reason": _text(latest.get("reason")),
        "from_queue": _text(latest.get("queue")),
        "dead_lettered_at": when.isoformat() if hasattr(when, "isoformat") else _text(when),
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def _channel(settings: CoreSettings) -> Iterator[Any]:
    """A channel whose unacknowledged messages go back to their queue when it closes."""
    connection = pika.BlockingConnection(pika.URLParameters(settings.rabbitmq_url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def _taken(channel: Any, queue: str, limit: int | None) -> Iterator[tuple[int, Any, bytes]]:
    """basic_get without acknowledging (each message is taken once per channel)."""
    count = 0
    while limit is None or count < limit:
        method, properties, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            return
        count += 1
        yield method.delivery_tag, properties, body


def list_dead_letters(settings: CoreSettings, limit: int = 100) -> list[DeadLetter]:
    """Up to `limit` dead letters of the pool, oldest first; the queue is left as it was."""
    connect_records(settings.mongodb_uri, None)
    found = []
    with _channel(settings) as channel:
        for _tag, properties, body in _taken(channel, dead_letter_queue(settings.pool), limit):
            request_id, facts = describe(properties, body)
            record = get_record(request_id) if request_id else None
            found.append(DeadLetter(request_id, status=record.status if record else None, **facts))
    return found


def replay(
    settings: CoreSettings, ids: set[str] | None, lifecycle: Lifecycle
) -> list[dict[str, Any]]:
    """Replay the dead letters of `ids` (None: all); what was done with each one."""
    connect_records(settings.mongodb_uri, None)
    report: list[dict[str, Any]] = []
    with _channel(settings) as channel:
        for tag, properties, body in _taken(channel, dead_letter_queue(settings.pool), None):
            request_id, _facts = describe(properties, body)
            if request_id is None or (ids is not None and request_id not in ids):
                continue  # stays in the queue when the channel closes
            action = _replay_one(request_id, lifecycle)
            report.append({"request_id": request_id, "action": action})
            if not action.startswith("kept"):
                channel.basic_ack(tag)
    return report


def _replay_one(request_id: str, lifecycle: Lifecycle) -> str:
    """Send a request through again with a new dispatch (`fortune_core.lifecycle`)."""
    record = get_record(request_id)
    if record is None:
        return "kept: no record (expired?)"
    if record.state in {Status.SUCCEEDED, Status.CANCELLED}:
        return f"dropped: the request already {record.status}"
    try:
        if record.state == Status.FAILED:
            lifecycle.revive(record, REPLAY_MESSAGE)
            return "replayed: failed → queued"
        assert record.state in ACTIVE
        lifecycle.dispatch(record, {record.state}, message=REPLAY_MESSAGE)
    except DispatchLostError:  # changed meanwhile: decide again from its new status
        return _replay_one(request_id, lifecycle)
    return f"republished: the request was still {record.status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="show dead letters (the queue is left as it was)")
    listing.add_argument("--limit", type=int, default=100)
    again = sub.add_parser("replay", help="send dead-lettered requests through again")
    chosen = again.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--all", action="store_true", help="every dead letter of the pool")
    chosen.add_argument("--id", action="append", dest="ids", help="a request id (repeatable)")
    args = parser.parse_args(argv)
    settings = CoreSettings.from_env()
    if args.command == "list":
        for letter in list_dead_letters(settings, args.limit):
            print(json.dumps(asdict(letter), ensure_ascii=False))  # noqa: T201
        return 0
    client = redis.Redis.from_url(settings.redis_url)
    publisher = publisher_for(settings)
    try:
        lifecycle = Lifecycle(
            StatusCache.for_settings(client, settings),
            publisher,
            retention_seconds=settings.retention_seconds,
            resources=KubeClient.in_cluster() if settings.kubernetes else None,
        )
        ids = None if args.all else set(args.ids)
        for line in replay(settings, ids, lifecycle):
            print(json.dumps(line, ensure_ascii=False))  # noqa: T201
    finally:
        publisher.close()
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
