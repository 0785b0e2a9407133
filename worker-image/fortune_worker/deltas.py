"""The narrative as it is written: `delta` events from a streamed answer.

The LLM writes the reading as one JSON object (structured output); while it streams, the answer
so far is partial JSON. `NarrativeDeltas` parses it with jiter's partial mode (the parser the
openai SDK itself uses for partial JSON; `trailing-strings` keeps a string cut mid-way) and tells
its sink each new piece of the `text` field. `StreamSink` is that sink for a claim: it appends the
pieces to the request's event stream (`fortune_core.EventLog`) as `delta` events, preceded by a
`reset` when an earlier attempt (or an earlier answer of this attempt, before a repair) may have
shown text that this one replaces. Writing an event never fails a reading: a Redis error is
logged once per attempt and the deltas stop (the result event still carries the whole text).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import jiter
import redis

from fortune_core import EventLog, RequestView

log = logging.getLogger(__name__)

NARRATIVE_FIELD = "text"
_FIELD_MARK = b'"text"'


class TextSink(Protocol):
    """Where the pieces of the narrative go while it is written."""

    def text(self, piece: str) -> None:
        """The next piece of the narrative."""
        ...

    def reset(self) -> None:
        """Forget the pieces so far: the narrative is written again from the start."""
        ...


class NoSink:
    """Pieces go nowhere (a reading nobody watches: tests, tools)."""

    def text(self, piece: str) -> None:
        return None

    def reset(self) -> None:
        return None


class NarrativeDeltas:
    """Feed it the answer's content as it streams; it tells `sink` each new piece of `text`."""

    def __init__(self, sink: TextSink) -> None:
        self._sink = sink
        self._buffer = bytearray()
        self._shown = ""

    @property
    def shown(self) -> str:
        """The narrative as told to the sink so far."""
        return self._shown

    def feed(self, piece: str) -> None:
        """The next piece of the answer's content."""
        self._buffer += piece.encode()
        if _FIELD_MARK not in self._buffer:  # nothing to parse for until the field has begun
            return
        text = narrative_of(bytes(self._buffer))
        if text is None or len(text) <= len(self._shown) or not text.startswith(self._shown):
            return
        new, self._shown = text[len(self._shown) :], text
        self._sink.text(new)

    def restart(self) -> None:
        """A new answer begins (a repair): what was shown is reset."""
        if self._shown:
            self._sink.reset()
        self._buffer.clear()
        self._shown = ""


def narrative_of(partial: bytes) -> str | None:
    """The `text` field of a (possibly partial, possibly ```-fenced) JSON object, as far as it
    is written; None when it has not begun or the answer is not such an object."""
    start = partial.find(b"{")
    if start < 0:
        return None
    try:
        value: Any = jiter.from_json(partial[start:], partial_mode="trailing-strings")
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    text = value.get(NARRATIVE_FIELD)
    return text if isinstance(text, str) else None


class StreamSink:
    """Pieces of attempt `attempt` of the claimed request `view`, as events of its stream."""

    def __init__(self, events: EventLog, view: RequestView, attempt: int) -> None:
        self._events = events
        self._view = view
        self._attempt = attempt
        # A later attempt replaces what an earlier one may have shown.
        self._reset_first = attempt > 1
        self._shown = False
        self._broken = False

    def text(self, piece: str) -> None:
        if self._reset_first:
            self._reset_first = False
            self._append("reset", {"attempt": self._attempt})
        self._shown = True
        self._append("delta", {"text": piece, "attempt": self._attempt})

    def reset(self) -> None:
        if self._shown:
            self._shown = False
            self._append("reset", {"attempt": self._attempt})

    def error(self, code: str, message: str) -> None:
        """This attempt failed and another follows (`error` with `retrying`)."""
        self._append("error", {"code": code, "message": message, "retrying": True})

    def _append(self, kind: str, data: dict[str, Any]) -> None:
        if self._broken:
            return
        try:
            self._events.append(self._view, kind, data)
        except redis.RedisError as exc:
            self._broken = True
            log.warning("could not write the event stream; no more deltas this attempt: %s", exc,
                        extra={"request_id": self._view.id})  # fmt: skip
