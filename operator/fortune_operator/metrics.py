"""The operator's Prometheus metrics and its small HTTP endpoint: /healthz, /readyz, /metrics.

One endpoint for leaders and standbys alike (a standby is healthy and ready: it is waiting for the
Lease). /readyz fails only while the process is starting or stopping.
"""

from __future__ import annotations

import sys
import threading
from http.server import ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from fortune_core import serve_probes

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
PROJECTION_FAILURES = Counter(
    "cyberfortune_operator_projection_failures_total",
    "Projection writes that failed, by projection (status_cache, resource_status); the request "
    "is flagged and the sweep writes it again",
    ("projection",),
)
SWEPT = Counter(
    "cyberfortune_sweep_actions_total",
    "Requests the sweep sent on, by kind (undelivered, reprojected, lost, stale_pending, "
    "stale_running, stale_queued, cancelled_orphan)",
    ("kind",),
)
GARBAGE_COLLECTED = Counter(
    "cyberfortune_fortunerequests_deleted_total", "Finished FortuneRequests deleted after their TTL"
)
LEADER = Gauge("cyberfortune_operator_leader", "1 while this replica holds the Lease")
TRACKED = Gauge(
    "cyberfortune_operator_tracked",
    "Entries of the operator's per-object structures, by structure (reconcile_pending, "
    "reconcile_failures, collector_due, collector_heap, pools); each has a bound (helm.md)",
    ("structure",),
)
ALLOCATED_BLOCKS = Gauge(
    "cyberfortune_operator_python_allocated_blocks",
    "Memory blocks Python's allocator holds (sys.getallocatedblocks): flat while the RSS grows "
    "means the allocator's arenas, not objects kept",
)
ALLOCATED_BLOCKS.set_function(sys.getallocatedblocks)


def serve(port: int) -> tuple[ThreadingHTTPServer, threading.Event]:
    """Serve the endpoint in a daemon thread; (server, the readiness flag to set)."""
    ready = threading.Event()
    server = serve_probes(port, ready.is_set, lambda: (generate_latest(), CONTENT_TYPE_LATEST))
    return server, ready
