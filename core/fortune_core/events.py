"""A request's events: one capped Redis Stream per request, `cf:ev:<id>`, read as SSE.

    status  {"status", "attempts", "message"?, "updatedAt"}    each transition (the lifecycle's
                                                               projection, `EventProjection`)
    delta   {"text", "attempt"}                                the next piece of the narrative
                                                               (the worker, while the LLM writes)
    reset   {"attempt"}                                        forget the deltas so far: a new
                                                               attempt (or a repaired answer)
                                                               writes the text again
    error   {"code", "message", "retrying"}                    an attempt failed (retrying: a new
                                                               attempt follows) or the request did
    result  the result, as GET /v1/fortunes/{id} shows it      the last event of a success

Event ids are the stream's entry ids (`<unix ms>-<seq>`), which Redis makes strictly increasing,
so a reader resumes after the last id it saw and gets only later events (`read`). The stream is
capped (`MAXLEN ~ max_length`: Redis trims whole macro nodes, so it can hold up to about a
hundred entries more) and expires with the request's status cache entry (`expire_at`, the same
instant: the request's retention while in flight, the cache's finished window once it finished).
The last event of a finished request carries `last`, so a reader knows the stream is over.

Status events are projections: written only by the lifecycle after a transition, each at most
once per record version (a companion key `cf:ev:<id>:v` holds the last version written, so a
projection written again, by the sweep's repair or a redelivered message, appends nothing, and an
older projection arriving late is dropped). Deltas, resets and retry errors are not statuses: the
worker appends them with `append`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import redis

from fortune_core.status import Status
from fortune_core.views import RequestView, iso_millis

KEY_PREFIX = "cf:ev:"
DEFAULT_MAX_LENGTH = 2000
#: A stream entry id, as a client sends it back (`Last-Event-ID`, `?after=`); 19 digits a part
#: at most, so that every id this takes is one Redis takes (its parts are 64-bit).
EVENT_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}")

STATUS = "status"
DELTA = "delta"
RESET = "reset"
ERROR = "error"
RESULT = "result"
KINDS = (STATUS, DELTA, RESET, ERROR, RESULT)

# KEYS[1] stream, KEYS[2] version key; ARGV[1] version (or '' for no check), ARGV[2] expire-at
# (unix s), ARGV[3] max length, ARGV[4..] triples kind, data, last. A projection sets the expiry
# (a finished request's is shorter); an append only gives a new stream one (NX), so a late delta
# never extends a finished request's stream.
_APPEND = """
if ARGV[1] ~= '' then
  local current = redis.call('GET', KEYS[2])
  if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
  redis.call('SET', KEYS[2], ARGV[1], 'EXAT', ARGV[2])
end
for i = 4, #ARGV, 3 do
  if ARGV[i + 2] == '1' then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',
      'event', ARGV[i], 'data', ARGV[i + 1], 'last', '1')
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[i], 'data', ARGV[i + 1])
  end
end
if ARGV[1] ~= '' then
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
else
  redis.call('EXPIREAT', KEYS[1], ARGV[2], 'NX')
end
return 1
"""


def stream_key(request_id: str) -> str:
    return KEY_PREFIX + request_id


def version_key(request_id: str) -> str:
    return KEY_PREFIX + request_id + ":v"


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a request's stream."""

    id: str
    kind: str
    data: dict[str, Any]
    #: The last event of a finished request: nothing follows.
    last: bool = False

    def sse(self) -> str:
        """The event as a server-sent event frame."""
        payload = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {payload}\n\n"


def status_data(view: RequestView) -> dict[str, Any]:
    """The data of the `status` event of `view`."""
    data: dict[str, Any] = {
        "status": view.status.value,
        "attempts": view.attempts,
        "updatedAt": iso_millis(view.updated_at),
    }
    if view.message:
        data["message"] = view.message
    return data


def transition_events(view: RequestView) -> list[tuple[str, dict[str, Any]]]:
    """The events that show a transition to `view`: its status, then the result of a success or
    the error of a failure (the last of them ends a finished request's stream)."""
    events: list[tuple[str, dict[str, Any]]] = [(STATUS, status_data(view))]
    if view.status == Status.SUCCEEDED and view.result is not None:
        events.append((RESULT, view.result))
    elif view.status == Status.FAILED:
        error = view.error or {"code": "failed", "message": view.message}
        events.append((ERROR, {**error, "retrying": False}))
    return events


class EventLog:
    """Append to and read the per-request event streams."""

    def __init__(
        self,
        client: redis.Redis,
        expire_at: Callable[[RequestView], int],
        max_length: int = DEFAULT_MAX_LENGTH,
    ) -> None:
        self._redis = client
        self._expire_at = expire_at
        self.max_length = max_length
        self._append = client.register_script(_APPEND)

    def project(self, view: RequestView) -> bool:
        """Append the events of the transition to `view` (once per version); False when this
        version or a newer one was written already."""
        events = transition_events(view)
        return self._write(view, events, version=view.version, last=view.terminal)

    def append(self, view: RequestView, kind: str, data: dict[str, Any]) -> None:
        """Append one event to the stream of `view`'s request (a delta, a reset, an error before
        a retry), expiring with its status cache entry."""
        self._write(view, [(kind, data)], version=None, last=False)

    def _write(
        self,
        view: RequestView,
        events: list[tuple[str, dict[str, Any]]],
        *,
        version: int | None,
        last: bool,
    ) -> bool:
        args: list[str | int] = ["" if version is None else version, self._expire_at(view)]
        args.append(self.max_length)
        for index, (kind, data) in enumerate(events):
            final = last and index == len(events) - 1
            args.extend((kind, json.dumps(data, ensure_ascii=False), "1" if final else "0"))
        written = self._append(keys=[stream_key(view.id), version_key(view.id)], args=args)
        return bool(written)

    def read(
        self, request_id: str, after: str = "0-0", block_ms: int | None = None, count: int = 200
    ) -> list[Event]:
        """The events after id `after` (at most `count`); with `block_ms`, wait up to that long
        for one when there is none yet. [] when there is nothing (or no stream)."""
        if block_ms is None:
            raw = self._redis.xrange(stream_key(request_id), f"({after}", "+", count=count)
            return _events(cast(list[Any], raw))
        answer = self._redis.xread({stream_key(request_id): after}, count=count, block=block_ms)
        if not answer:
            return []
        # [[key, [(id, fields), ...]]] (RESP2)
        return _events(cast(list[Any], answer)[0][1])

    def exists(self, request_id: str) -> bool:
        """Whether the request has a stream (it expires with the status cache entry)."""
        return bool(self._redis.exists(stream_key(request_id)))


def _events(entries: Iterable[Any]) -> list[Event]:
    events = []
    for entry_id, fields in entries:
        decoded = {_text(k): _text(v) for k, v in fields.items()}
        try:
            data = json.loads(decoded["data"])
        except (KeyError, ValueError):
            continue  # not ours
        events.append(
            Event(_text(entry_id), decoded.get("event", ""), data, decoded.get("last") == "1")
        )
    return events


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def later_id(first: str, second: str) -> bool:
    """Whether event id `first` comes after `second`."""
    a, _, b = first.partition("-")
    c, _, d = second.partition("-")
    return (int(a), int(b or 0)) > (int(c), int(d or 0))
