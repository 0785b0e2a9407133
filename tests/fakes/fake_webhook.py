"""A fake webhook receiver: records every POST (headers and body) and answers as scripted.

`FakeReceiver().start()` (free port on 127.0.0.1, a thread); `.url` the URL to give as
`webhook`; `.answer(*statuses)` the answers of the next POSTs, in order (an item is a status, or
`(status, {"Retry-After": "2"})`), 204 once they are used up; `.received` the recorded POSTs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        fake = self.server.fake
        with fake.lock:
            fake.received.append(Received(self.path, dict(self.headers.items()), body))
            status, headers = fake.script.pop(0) if fake.script else (204, {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeReceiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeReceiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}/hook"

    def answer(self, *items: int | tuple[int, dict[str, str]]) -> None:
        with self.lock:
            self.script = [item if isinstance(item, tuple) else (item, {}) for item in items]

    def start(self) -> FakeReceiver:
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
