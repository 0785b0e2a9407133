"""`GET /v1/fortunes/{id}/events`: a request's events as server-sent events (`text/event-stream`).

Each frame is `id: <event id>`, `event: <status|delta|reset|error|result>`, `data: <JSON>`; ids
increase (they are the Redis Stream's entry ids, `fortune_core.events`). A client resumes with
`Last-Event-ID` (what `EventSource` sends on reconnect) or `?after=<id>` (for clients that cannot
set the header, like a WeChat mini-program) and gets only later events. A finished request
replays its events and the stream closes after the last one; when its stream has expired (it
lives as long as the status cache entry), the request's `status` and `result` (or `error`) are
sent instead, with ids made from the completion time. A comment line every
`FORTUNE_STREAM_KEEPALIVE_SECONDS` keeps proxies from closing an idle stream; a stream closes
after `FORTUNE_STREAM_MAX_SECONDS` (the client resumes from its last id).

Same access rules, rate limit and errors as `GET /v1/fortunes/{id}` (the poll limit counts one
call per stream opened). A stream holds no OS thread: the API runs under gunicorn's gevent
worker, so a stream is a greenlet blocked on Redis (`XREAD BLOCK`); a process holds at most
`FORTUNE_STREAM_SLOTS` of them (503 with Retry-After beyond).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from flask import Blueprint, Response, request, stream_with_context

from fortune_api.backends import current_backends
from fortune_api.errors import ApiError, log_extra
from fortune_api.fortunes import owned_view, rate_limit
from fortune_core import EVENT_ID, Event, RequestView, Status, later_id

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)

LAST_EVENT_ID = "Last-Event-ID"
#: Seconds a client is asked to wait when this process holds all the streams it may.
STREAMS_FULL_RETRY_AFTER = 5
#: How long a client should wait before reconnecting (the SSE `retry:` field), in ms.
RECONNECT_MS = 2000


def _cursor() -> str:
    """Where the client resumes: `?after=` (wins) or `Last-Event-ID`; 422 when malformed."""
    after = request.args.get("after") or None  # empty: none given
    name = "after"
    if after is None:
        after = request.headers.get(LAST_EVENT_ID) or None
        name = LAST_EVENT_ID
    if after is None:
        return "0-0"
    # One trailing newline is ignored, as the document's `$` (in Python's reading) allows it.
    after = after.removesuffix("\n")
    if not EVENT_ID.fullmatch(after):
        raise ApiError(
            422,
            "invalid_request",
            "the event id to resume after is malformed",
            fields={
                name: {
                    "en": "an event id as the stream sent it, like 1764763200000-0",
                    "zh": "应为事件流给出的事件 id，例如 1764763200000-0",
                }
            },
        )
    return after


def finished_events(view: RequestView) -> list[Event]:
    """A finished request's `status` and `result` or `error`, for when its stream expired; ids
    from its completion time (no earlier than the real events of that transition were)."""
    moment = int((view.completed_at or view.updated_at).timestamp() * 1000)
    status = {"status": view.status.value, "attempts": view.attempts}
    if view.message:
        status["message"] = view.message
    events = [Event(f"{moment}-0", "status", status, last=view.status == Status.CANCELLED)]
    if view.status == Status.SUCCEEDED and view.result is not None:
        events.append(Event(f"{moment}-1", "result", view.result, last=True))
    elif view.status == Status.FAILED:
        error = {**(view.error or {}), "retrying": False}
        events.append(Event(f"{moment}-1", "error", error, last=True))
    return events


@bp.get("/v1/fortunes/<request_id>/events")
def fortune_events(request_id: str) -> Response:
    """The request's events as SSE, from after the client's last id until the last one."""
    backends = current_backends()
    settings = backends.settings
    rate_limit("poll", settings.poll_rate_limit_per_minute)
    after = _cursor()
    view = owned_view(request_id)
    if not backends.stream_slots.acquire(blocking=False):
        raise ApiError(
            503,
            "too_many_streams",
            "this server holds as many event streams as it may; poll GET /v1/fortunes/{id} or "
            "retry the stream shortly",
            headers={"Retry-After": str(STREAMS_FULL_RETRY_AFTER)},
        )

    def frames() -> Iterator[str]:
        try:
            yield f"retry: {RECONNECT_MS}\n\n"
            yield from _follow(view, after)
        except redis.RedisError as exc:  # the client reconnects and resumes from its last id
            log.warning("event stream ended: Redis unavailable: %r", exc, extra=log_extra())
        finally:
            backends.stream_slots.release()

    return Response(
        stream_with_context(frames()),
        mimetype="text/event-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each frame on at once
        },
    )


def _follow(view: RequestView, after: str) -> Iterator[str]:
    """The frames of `view`'s request after id `after`, until its last event (or the time
    limit)."""
    backends = current_backends()
    settings = backends.settings
    events = backends.stream_events
    deadline = time.monotonic() + settings.stream_max_seconds
    cursor = after
    finished = view.terminal
    while (left := deadline - time.monotonic()) > 0:
        wait = min(settings.stream_keepalive_seconds, left)
        batch = events.read(
            view.id, cursor, block_ms=None if finished else max(int(wait * 1000), 1)
        )
        for event in batch:
            yield event.sse()
            cursor = event.id
            if event.last:
                return
        if batch:
            continue
        if finished:  # nothing after the cursor, and no last event: its stream expired
            for event in finished_events(view):
                if later_id(event.id, cursor):
                    yield event.sse()
            return
        yield ": keep-alive\n\n"
        current = backends.cache.get(view.id)
        if current is not None and current.terminal:
            view, finished = current, True
