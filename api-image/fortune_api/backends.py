"""The API's connections to Redis, MongoDB and RabbitMQ, and their readiness checks."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from flask import current_app
from pymongo.errors import PyMongoError

from fortune_api.queue_depth import QueueDepth
from fortune_api.rate_limits import RateLimiter
from fortune_api.settings import ApiSettings
from fortune_core import (
    Clock,
    EventLog,
    FortuneRecord,
    KubeClient,
    KubeError,
    Lifecycle,
    PublishError,
    StatusCache,
    TokenBudgets,
    connect_records,
    delays,
    ensure_history_index,
    ensure_ttl_index,
    fortune_requests_path,
    publisher_for,
    system_clock,
)

log = logging.getLogger(__name__)


class Backends:
    """Clients for the three backends, created once per process."""

    def __init__(
        self, settings: ApiSettings, mongo_db: str | None = None, clock: Clock = system_clock
    ) -> None:
        core = settings.core
        self.settings = settings
        self.clock = clock
        self.redis = redis.Redis.from_url(
            core.redis_url, socket_timeout=3, socket_connect_timeout=3, health_check_interval=30
        )
        self.cache = StatusCache.for_settings(self.redis, core)
        self.limiter = RateLimiter(self.redis)
        #: Daily token budgets (None: no client has one), checked at submission.
        self.budgets = (
            TokenBudgets(self.redis, settings.budgets, clock=clock)
            if settings.budgets.enabled
            else None
        )
        self.publisher = publisher_for(core)
        self.events = EventLog(self.redis, self.cache.expire_at, core.events_max_length)
        #: Event streams block on Redis for up to a keep-alive interval: their own client, whose
        #: socket timeout outlasts that wait.
        self.stream_redis = redis.Redis.from_url(
            core.redis_url,
            socket_timeout=settings.stream_keepalive_seconds + 5,
            socket_connect_timeout=3,
            health_check_interval=30,
        )
        self.stream_events = EventLog(
            self.stream_redis, self.cache.expire_at, core.events_max_length
        )
        #: Event streams this process may hold at once.
        self.stream_slots = threading.BoundedSemaphore(settings.stream_slots)
        self.lifecycle = Lifecycle(
            self.cache,
            self.publisher,
            retention_seconds=core.retention_seconds,
            clock=clock,
            events=self.events,
        )
        # Kubernetes mode: the API creates FortuneRequests in its own namespace.
        self.kube: KubeClient | None = None
        self.namespace = ""
        #: Kubernetes mode: the depth of the pool's queue, so a full one is refused here.
        self.queue_depth: QueueDepth | None = None
        if core.kubernetes:
            self.kube = KubeClient.in_cluster()
            self.namespace = KubeClient.own_namespace()
            self.queue_depth = QueueDepth(core.rabbitmq_management_url)
        self._mongo_db = mongo_db
        self._index_ready = False
        self._index_lock = threading.Lock()
        #: Long polls this process may hold at once (`Prefer: wait`).
        self.poll_waits = threading.BoundedSemaphore(settings.poll_wait_slots)
        connect_records(core.mongodb_uri, None, db=mongo_db)

    def ensure_mongo_index(self) -> None:
        """Create or update the TTL index and the history index once (retried on the next call
        if MongoDB is down)."""
        if self._index_ready:
            return
        with self._index_lock:
            if not self._index_ready:
                ensure_ttl_index(self.settings.core.retention_seconds)
                ensure_history_index()
                self._index_ready = True

    def wait_until_ready(self, seconds: float) -> None:
        """Wait (bounded) for the backends at start-up; log what is still down."""
        deadline = time.monotonic() + seconds
        for delay in delays(0.25, 2.0):
            down = self.check()
            if not any(down.values()):
                return
            if time.monotonic() >= deadline:
                log.warning("starting with backends down", extra={"down": down})
                return
            time.sleep(delay)

    def check(self) -> dict[str, str]:
        """Backend name → error text ('' when healthy); for logs only, never a response."""
        status: dict[str, str] = {"mongodb": "", "redis": "", "rabbitmq": ""}
        if self.kube is not None:
            status["kubernetes"] = ""
            try:  # a 404 proves the API server answers and this account may read them
                self.kube.request("GET", fortune_requests_path(self.namespace, "readiness-probe"))
            except KubeError as exc:
                if exc.status != 404:
                    status["kubernetes"] = str(exc)[:300]
        try:
            FortuneRecord._get_db().command("ping")
            self.ensure_mongo_index()
        except PyMongoError as exc:
            status["mongodb"] = type(exc).__name__
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            status["redis"] = type(exc).__name__
        if self.kube is None:  # in Kubernetes mode the operator publishes, not the API
            try:
                self.publisher.ping()
            except PublishError as exc:
                status["rabbitmq"] = str(exc)[:300]
        else:
            del status["rabbitmq"]
        return status

    def close(self) -> None:
        self.publisher.close()
        self.cache.close()
        self.redis.close()
        self.stream_redis.close()

    def __enter__(self) -> Backends:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def current_backends() -> Backends:
    """The backends of the app handling this request (set by create_app)."""
    backends: Backends = current_app.extensions["cyberfortune"]
    return backends
