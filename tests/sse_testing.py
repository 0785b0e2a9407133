"""A small server-sent events client for the tests: frames as the server wrote them."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Frame:
    """One SSE frame: its fields (`id`, `event`, `data`, `retry`) and comment lines."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    retry: str | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        assert self.data is not None, f"frame without data: {self}"
        return json.loads(self.data)


class EventStream:
    """`GET url` with `headers`, read frame by frame (`frames()`), closed on exit."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 30):
        parts = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.connection.request("GET", path, headers={"Accept": "text/event-stream",
                                                      **(headers or {})})  # fmt: skip
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers

    def body(self) -> Any:
        """The JSON body of an answer that is not a stream."""
        return json.loads(self.response.read())

    def frames(self) -> Iterator[Frame]:
        """Frames until the server closes the stream."""
        frame = Frame()
        while True:
            raw = self.response.readline()
            if not raw:
                return
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == "":
                yield frame
                frame = Frame()
            elif line.startswith(":"):
                frame.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                setattr(frame, name, value.removeprefix(" "))

    def events(self) -> list[Frame]:
        """Every frame with an event, until the server closes the stream."""
        return [f for f in self.frames() if f.event is not None]

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
