"""The operator's Prometheus metrics and its small HTTP endpoint: /healthz, /readyz, /metrics.

One endpoint for leaders and standbys alike (a standby is healthy and ready: it is waiting for the
Lease). /readyz fails only while the process is starting or stopping.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

POOL = ("namespace", "pool")
POOL_READY = Gauge("cyberfortune_pool_ready_messages", "Messages ready in the pool's queue", POOL)
POOL_IN_PROGRESS = Gauge(
    "cyberfortune_pool_in_progress", "Requests of the pool being processed", POOL
)
POOL_BACKLOG = Gauge("cyberfortune_pool_backlog", "Ready messages plus requests in progress", POOL)
POOL_CURRENT = Gauge("cyberfortune_pool_replicas", "Replicas of the pool's Deployment", POOL)
POOL_DESIRED = Gauge(
    "cyberfortune_pool_desired_replicas", "Replicas the scaling policy asks for", POOL
)
POOL_SCALINGS = Counter(
    "cyberfortune_pool_scalings_total", "Resizes of worker pools", (*POOL, "direction")
)
POOL_ERRORS = Counter(
    "cyberfortune_pool_poll_errors_total", "Polls that could not read the backlog or scale", POOL
)
RECONCILES = Counter(
    "cyberfortune_reconciles_total", "FortuneRequests reconciled, by outcome", ("outcome",)
)
RECONCILE_SECONDS = Histogram(
    "cyberfortune_reconcile_seconds",
    "Time to reconcile a new FortuneRequest (derive, record, cache, publish, status)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REQUEUED = Counter(
    "cyberfortune_requests_requeued_total", "Stale requests queued again, by status", ("status",)
)
STATUS_REPAIRS = Counter(
    "cyberfortune_status_repairs_total", "FortuneRequest statuses rewritten from MongoDB"
)
GARBAGE_COLLECTED = Counter(
    "cyberfortune_fortunerequests_deleted_total", "Finished FortuneRequests deleted after their TTL"
)
LEADER = Gauge("cyberfortune_operator_leader", "1 while this replica holds the Lease")


class _Handler(BaseHTTPRequestHandler):
    ready = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/metrics":
            body, kind, code = generate_latest(), CONTENT_TYPE_LATEST, 200
        elif self.path == "/healthz":
            body, kind, code = b"ok\n", "text/plain", 200
        elif self.path == "/readyz":
            ok = self.ready.is_set()
            body, kind = (b"ok\n" if ok else b"starting\n"), "text/plain"
            code = 200 if ok else 503
        else:
            body, kind, code = b"not found\n", "text/plain", 404
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds would flood the log."""


def serve(port: int) -> tuple[ThreadingHTTPServer, threading.Event]:
    """Serve the endpoint in a daemon thread; (server, the readiness flag to set)."""
    server = ThreadingHTTPServer(("0.0.0.0", port), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return server, _Handler.ready
