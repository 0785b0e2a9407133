"""Prometheus metrics. Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR to an
empty directory so every worker's samples are collected."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

HTTP_REQUESTS = Counter(
    "cyberfortune_http_requests_total",
    "HTTP requests by route, method and status code",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "cyberfortune_http_request_duration_seconds",
    "HTTP request latency by route and method",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PUBLISH_FAILURES = Counter(
    "cyberfortune_queue_publish_failures_total",
    "Requests refused with 503 because RabbitMQ did not confirm the message",
)
BUDGET_REFUSALS = Counter(
    "cyberfortune_budget_refusals_total",
    "Requests refused because the client's daily token budget was used up, by client and where "
    "(submission: the API's 429; worker: a queued request failed)",
    ["client", "where"],
)
ACCEPTED = Counter(
    "cyberfortune_requests_accepted_total", "Fortune requests accepted (202)", ["topic", "period"]
)
SESSIONS = Counter(
    "cyberfortune_sessions_total",
    "Session requests by kind (wechat, device, refresh) and outcome (issued or the refusal)",
    ["kind", "outcome"],
)
CONTENT_CHECKS = Counter(
    "cyberfortune_content_checks_total",
    "Names checked with WeChat's msgSecCheck by outcome (pass, refused, unavailable)",
    ["outcome"],
)


def render() -> tuple[bytes, str]:
    """The exposition text of all metrics (all gunicorn workers in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
