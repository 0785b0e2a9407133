"""Worker metrics for Prometheus, served on `FORTUNE_WORKER_METRICS_PORT` (see docs/operations.md).

Each `Worker` has its own registry, so several workers in one process (tests) do not mix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from fortune_core import serve_probes

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class WorkerMetrics:
    """The worker's counters, gauges and histograms (names start with ``cyberfortune_``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.processing = Histogram(
            "cyberfortune_worker_processing_seconds",
            "Time from delivery to settlement, by outcome (ack, dead_letter, requeue, abandon)",
            ["outcome"],
            buckets=_SECONDS,
            registry=r,
        )
        self.llm_call = Histogram(
            "cyberfortune_llm_call_seconds",
            "Provider call latency (repair included), by provider and result (ok or error code)",
            ["provider", "result"],
            buckets=_SECONDS,
            registry=r,
        )
        self.attempts = Counter(
            "cyberfortune_worker_attempts_total", "Attempts started (claims)", registry=r
        )
        self.projection_failures = Counter(
            "cyberfortune_worker_projection_failures_total",
            "Projection writes that failed, by projection (status_cache, resource_status); the "
            "request is flagged and the sweep writes it again",
            ["projection"],
            registry=r,
        )
        self.swept = Counter(
            "cyberfortune_sweep_actions_total",
            "Requests the standalone sweep sent on, by kind (undelivered, reprojected, lost, "
            "stale_pending, stale_running, stale_queued)",
            ["kind"],
            registry=r,
        )
        self.finished_attempts = Histogram(
            "cyberfortune_request_attempts",
            "Attempts a request took, observed when it succeeds or fails",
            ["status"],
            buckets=(1, 2, 3, 4, 5, 6, 8, 10),
            registry=r,
        )
        self.retries = Counter(
            "cyberfortune_worker_retries_total",
            "Delayed retries scheduled, by reason (rate_limited, llm_unavailable, llm_timeout...)",
            ["reason"],
            registry=r,
        )
        self.dead_letters = Counter(
            "cyberfortune_worker_dead_letters_total",
            "Messages dead-lettered by this worker, by reason",
            ["reason"],
            registry=r,
        )
        self.slot_wait = Histogram(
            "cyberfortune_llm_slot_wait_seconds",
            "Time spent waiting for a global LLM lease",
            buckets=_SECONDS,
            registry=r,
        )
        self.settle_delay = Histogram(
            "cyberfortune_worker_settle_delay_seconds",
            "Time a finished delivery waits for the connection's thread to send its ack",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=r,
        )
        self.in_flight = Gauge(
            "cyberfortune_worker_in_flight", "Messages being processed right now", registry=r
        )
        # --- LLM usage and cost (labels: client as `fortune_core.client_label` bounds it) ------
        self.llm_tokens = Counter(
            "cyberfortune_llm_tokens_total",
            "LLM tokens used, by client, endpoint, model, kind (prompt, completion) and source "
            "(reported by the provider, or estimated where it reported none)",
            ["client", "endpoint", "model", "kind", "source"],
            registry=r,
        )
        self.llm_calls = Counter(
            "cyberfortune_llm_calls_total",
            "LLM calls made, by client, endpoint, model and result (ok or error code)",
            ["client", "endpoint", "model", "result"],
            registry=r,
        )
        self.llm_cost = Counter(
            "cyberfortune_llm_cost_total",
            "Cost of the LLM calls from the price table FORTUNE_LLM_PRICES (its currency), by "
            "client, endpoint and model",
            ["client", "endpoint", "model"],
            registry=r,
        )
        self.readings = Counter(
            "cyberfortune_readings_total",
            "Readings stored, by client and source (llm, reused, almanac)",
            ["client", "source"],
            registry=r,
        )
        self.reading_cost = Histogram(
            "cyberfortune_reading_cost",
            "Cost of one stored reading (its calls, repair included; 0 when reused)",
            buckets=(0.0, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
            registry=r,
        )
        self.budget_refusals = Counter(
            "cyberfortune_budget_refusals_total",
            "Requests refused because the client's daily token budget was used up, by client and "
            "where (submission: the API's 429; worker: a queued request failed)",
            ["client", "where"],
            registry=r,
        )
        self.fallbacks = Counter(
            "cyberfortune_llm_fallbacks_total",
            "Calls moved on from an endpoint to the next, by the endpoint left and the reason",
            ["endpoint", "reason"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "cyberfortune_llm_breaker_state",
            "Circuit breaker of each LLM endpoint: 0 closed, 1 half-open, 2 open",
            ["endpoint"],
            registry=r,
        )
        self.queue_messages = Gauge(
            "cyberfortune_queue_messages",
            "Ready messages in the pool's request and dead-letter queues, sampled by the worker",
            ["queue"],
            registry=r,
        )

    # --- what the endpoints report (`fortune_worker.endpoints.EndpointObserver`) -------------
    def fallback(self, endpoint: str, reason: str) -> None:
        self.fallbacks.labels(endpoint, reason).inc()

    def breaker(self, endpoint: str, state: int) -> None:
        self.breaker_state.labels(endpoint).set(int(state))

    def serve(
        self,
        port: int,
        ready: Callable[[], bool],
        address: str = "0.0.0.0",
        details: Callable[[], dict[str, Any]] | None = None,
    ) -> Any:
        """Serve `/metrics`, `/healthz` and `/readyz` (`ready()`, with `details()` as JSON) on
        `address:port` from a daemon thread; the server (`.shutdown()`)."""
        return serve_probes(
            port,
            ready,
            lambda: (generate_latest(self.registry), CONTENT_TYPE_LATEST),
            address,
            details=details,
        )
