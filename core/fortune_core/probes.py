"""A small HTTP endpoint for the processes that serve no HTTP of their own (worker, operator):
`/healthz` (the process answers), `/readyz` (the process says it is ready) and `/metrics` (the
Prometheus exposition text it is given). Standard library only; one daemon thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MetricsText = Callable[[], tuple[bytes, str]]
"""() -> (body, content type) of the metrics exposition."""


def serve(
    port: int,
    ready: Callable[[], bool],
    metrics: MetricsText,
    address: str = "0.0.0.0",
    details: Callable[[], dict[str, Any]] | None = None,
) -> ThreadingHTTPServer:
    """Serve the three paths on `address:port` in a daemon thread; the server (`shutdown()`,
    `server_close()` to stop it). With `details`, `/readyz` answers JSON: `{"status": "ok" |
    "not ready", **details()}`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, kind = metrics()
                code = 200
            elif self.path == "/healthz":
                body, kind, code = b"ok\n", "text/plain", 200
            elif self.path == "/readyz":
                ok = ready()
                code = 200 if ok else 503
                if details is not None:
                    shown = {"status": "ok" if ok else "not ready", **details()}
                    body, kind = json.dumps(shown).encode() + b"\n", "application/json"
                else:
                    body, kind = (b"ok\n" if ok else b"not ready\n"), "text/plain"
            else:
                body, kind, code = b"not found\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes every few seconds would flood the log."""

    server = ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
