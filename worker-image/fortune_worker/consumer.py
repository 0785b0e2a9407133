"""The RabbitMQ consumer: one pika BlockingConnection driven by the main thread, a thread pool that
processes the messages, settlements sent back through `add_callback_threadsafe` (pika is not
thread-safe).

Prefetch = twice the concurrency by default (`FORTUNE_WORKER_PREFETCH`): the messages beyond the
concurrency wait unclaimed in the processor for a call slot, so a call that ends is followed by
the next one at once instead of after its store, ack and the broker's next delivery. On a stop
those waiting messages go straight back to the queue.
Stopping (SIGTERM/SIGINT → `request_stop`): cancel the consumer, keep pumping the connection while
in-flight work finishes and is acknowledged, close, return. If work is still running when the
grace period is over, the connection is closed without settling it and the broker redelivers it.
A dropped connection is reopened with backoff; its unsettled messages are redelivered by the
broker (processing is idempotent).
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pika
import redis
from pika.exceptions import AMQPError
from pymongo.errors import PyMongoError

from fortune_core import (
    STANDALONE_SCOPE,
    EventLog,
    KubeClient,
    Lifecycle,
    RedisLease,
    ReuseIndex,
    StatusCache,
    Sweep,
    WebhookQueue,
    connect_records,
    dead_letter_queue,
    declare_topology,
    delays,
    publisher_for,
    queue_bounds,
    requests_queue,
)
from fortune_worker.admission import Admission
from fortune_worker.backend_retry import BackendRetry
from fortune_worker.llm_leases import LlmLeases
from fortune_worker.maintenance import SWEEP_LEASE_KEY, Sweeper
from fortune_worker.metrics import WorkerMetrics
from fortune_worker.notifications import notifier_for
from fortune_worker.processor import Outcome, Processor
from fortune_worker.providers import Provider, make_provider
from fortune_worker.retries import RetryPolicy
from fortune_worker.reuse import Reuser
from fortune_worker.settings import WorkerSettings
from fortune_worker.usage import UsageMeter
from fortune_worker.webhooks import WebhookSender

log = logging.getLogger(__name__)

_PUMP_SECONDS = 0.2
_DEPTH_SAMPLE_SECONDS = 15.0  # how often the queue depths are sampled for the metrics


class ExitStatus(enum.IntEnum):
    """What `Worker.run` ended with (the process exit code)."""

    DRAINED = 0  # every message taken was settled
    ABANDONED = 1  # the grace period ended with work still running (the broker redelivers it)


@dataclass
class _Session:
    """One connection and channel, and the deliveries taken on it that are not settled yet."""

    connection: Any
    channel: Any
    unsettled: set[int] = field(default_factory=set)


class Worker:
    """Consumes the pool's queue until `request_stop()`; `run()` blocks (call it from a thread
    in tests, from the main thread in the process)."""

    #: How often the queue depths are sampled for the metrics.
    depth_sample_seconds = _DEPTH_SAMPLE_SECONDS

    def __init__(self, settings: WorkerSettings, provider: Provider | None = None) -> None:
        self.settings = settings
        self.metrics = WorkerMetrics()
        self.metrics_server: Any = None
        self.consuming = threading.Event()  # set while a consumer is registered
        self.settled = 0  # deliveries acked, rejected or requeued so far
        self._stop = threading.Event()
        self._no_grace = threading.Event()
        self._hard_stop = threading.Event()
        self._lock = threading.Lock()
        self._running_tasks = 0
        self._session: _Session | None = None
        self._redis = redis.Redis.from_url(
            settings.core.redis_url,
            socket_timeout=10,
            socket_connect_timeout=5,
            health_check_interval=30,
        )
        self.provider = provider or make_provider(settings, self._redis, self.metrics)
        self._leases = (
            LlmLeases(
                self._redis,
                settings.llm_global_concurrency,
                settings.llm_slot_lease_seconds,
                owner=settings.worker_id,
            )
            if self.provider.uses_llm
            else None
        )
        self._publisher = publisher_for(settings.core)
        cache = StatusCache.for_settings(self._redis, settings.core)
        #: "Your reading is ready" (WeChat subscribe messages), when a template is configured.
        self.notifier = notifier_for(settings.wechat, self._redis, self.metrics.registry)
        self.lifecycle = Lifecycle(
            cache,
            self._publisher,
            retention_seconds=settings.core.retention_seconds,
            resources=KubeClient.in_cluster() if settings.core.kubernetes else None,
            on_projection_failure=self._projection_failed,
            events=EventLog(self._redis, cache.expire_at, settings.core.events_max_length),
            on_finished=self.notifier.finished if self.notifier is not None else None,
        )
        backend = BackendRetry(self._hard_stop)
        self.reuser: Reuser | None = None
        if settings.reuse and self.provider.endpoints is not None:
            self.reuser = Reuser(
                ReuseIndex(
                    self._redis,
                    min(settings.reuse_ttl_seconds, settings.core.retention_seconds),
                    flight_lease_seconds=settings.drain_seconds,
                ),
                settings.reuse_scope,
                self.provider.endpoints.models,
                self.lifecycle,
                self._stop,
                backend,
                settings.core.conventions(),
            )
        self.processor = Processor(
            worker_id=settings.worker_id,
            lifecycle=self.lifecycle,
            provider=self.provider,
            admission=Admission(
                settings.concurrency,
                self._leases,
                self.lifecycle,
                backend,
                self._stop,
                self.metrics,
            ),
            policy=RetryPolicy(
                settings.max_attempts, settings.retry_base_seconds, settings.retry_max_delay_seconds
            ),
            backend=backend,
            metrics=self.metrics,
            reuser=self.reuser,
            meter=UsageMeter(self.metrics, settings.llm_prices),
        )
        # Standalone mode: the stale sweep runs in the workers, one at a time (a Redis lease).
        self.sweeper: Sweeper | None = None
        if settings.sweep_enabled:
            self.sweeper = Sweeper(
                Sweep(
                    self.lifecycle,
                    settings.sweep,
                    scope=STANDALONE_SCOPE,
                    queue_depth=self._publisher.ready_messages,
                ),
                RedisLease(
                    self._redis,
                    SWEEP_LEASE_KEY,
                    3 * settings.sweep.sweep_seconds,
                    owner=settings.worker_id,
                ),
                settings.sweep.sweep_seconds,
                self.metrics,
            )

        # Webhook deliveries (in both modes): from their durable queue in MongoDB.
        self.webhooks: WebhookSender | None = None
        if settings.webhook_secret and settings.webhook_threads:
            self.webhooks = WebhookSender(
                WebhookQueue(),
                settings.webhook_secret,
                allow_private=settings.core.webhook_allow_private,
                metrics=self.metrics,
                stop=self._stop,
                threads=settings.webhook_threads,
            )

    def details(self) -> dict[str, Any]:
        """What `/readyz` shows besides the status: each LLM endpoint's circuit breaker."""
        endpoints = self.provider.endpoints
        return {"endpoints": endpoints.states()} if endpoints is not None else {}

    def _projection_failed(self, name: str) -> None:
        self.metrics.projection_failures.labels(name).inc()

    # --- control -------------------------------------------------------------------------------
    def request_stop(self, immediately: bool = False) -> None:
        """Stop consuming and drain (safe from a signal handler or another thread);
        `immediately`: do not wait for in-flight work (the broker redelivers it)."""
        if immediately:
            self._no_grace.set()
        self._stop.set()

    @property
    def busy(self) -> int:
        """Messages being processed right now."""
        with self._lock:
            return self._running_tasks

    # --- main loop -----------------------------------------------------------------------------
    def run(self) -> ExitStatus:
        """Consume until stopped; reconnects when the connection drops."""
        settings = self.settings
        connect_records(settings.core.mongodb_uri, None)
        log.info(
            "worker starting: pool %s, concurrency %d, provider %s, LLM global limit %d",
            settings.core.pool,
            settings.concurrency,
            self.provider.describe(),
            settings.llm_global_concurrency,
        )
        if settings.metrics_port:
            self.metrics_server = self.metrics.serve(
                settings.metrics_port, self.consuming.is_set, details=self.details
            )
            log.info("metrics and probes on port %d", settings.metrics_port)
        executor = ThreadPoolExecutor(settings.prefetch_count, thread_name_prefix="fortune")
        status = ExitStatus.DRAINED
        self._start_background()
        try:
            waits = delays(0.5, 10.0)
            while not self._stop.is_set():
                try:
                    session = self._connect()
                    if session is None:
                        break  # stopped while waiting for RabbitMQ
                    waits = delays(0.5, 10.0)
                    status = self._consume(session, executor)
                except AMQPError as exc:
                    self.consuming.clear()
                    self._drop_session()
                    if self._stop.is_set():
                        break
                    wait = next(waits)
                    log.warning("RabbitMQ connection lost (%r); reconnecting in %.1f s", exc, wait)
                    self._stop.wait(wait)
        finally:
            self.consuming.clear()
            self._drop_session()
            if self.busy:
                status = ExitStatus.ABANDONED
                self._hard_stop.set()
            executor.shutdown(wait=status == ExitStatus.DRAINED, cancel_futures=True)
            self._stop_background()
            self._close_clients()
            if status == ExitStatus.DRAINED:
                self._redis.close()
            if self.metrics_server is not None:
                self.metrics_server.shutdown()
                self.metrics_server.server_close()
        log.info("worker stopped (%s)", status.name.lower())
        return status

    def _start_background(self) -> None:
        """The threads beside the consumer: the sweep (standalone), the subscribe messages, the
        webhook deliveries."""
        if self.sweeper is not None:
            self.sweeper.start(self._stop)
        if self.notifier is not None:
            self.notifier.start()
        if self.webhooks is not None:
            try:
                WebhookQueue().ensure_indexes(self.settings.core.retention_seconds)
            except PyMongoError as exc:  # made at the next start; claims work without them
                log.warning("could not make the webhook queue's indexes: %r", exc)
            self.webhooks.start()

    def _stop_background(self) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.notifier is not None:
            self.notifier.stop()
        if self.webhooks is not None:
            self.webhooks.join(15.0)  # the stop event is set; a try in flight ends in its timeout

    def _close_clients(self) -> None:
        """The publisher, and the heartbeats of the global and the endpoints' LLM leases."""
        self._publisher.close()
        if self._leases is not None:
            self._leases.close()
        if self.provider.endpoints is not None:
            self.provider.endpoints.close()

    def _connect(self) -> _Session | None:
        """Open a connection, declare the topology, set prefetch; None if stopped meanwhile."""
        params = pika.URLParameters(self.settings.core.rabbitmq_url)
        params.connection_attempts = 1
        params.socket_timeout = 5
        params.blocked_connection_timeout = 60
        waits = delays(0.5, 10.0)
        while not self._stop.is_set():
            try:
                connection = pika.BlockingConnection(params)
                channel = connection.channel()
                declare_topology(channel, self.settings.core.pool, queue_bounds(self.settings.core))
                channel.basic_qos(prefetch_count=self.settings.prefetch_count)
                session = _Session(connection, channel)
                with self._lock:
                    self._session = session
                return session
            except AMQPError as exc:
                delay = next(waits)
                log.warning("RabbitMQ not reachable (%r); retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
        return None

    def _consume(self, session: _Session, executor: ThreadPoolExecutor) -> ExitStatus:
        """Consume on `session` until stopped, then drain; AMQPError when the connection drops."""
        queue = requests_queue(self.settings.core.pool)

        def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
            tag = method.delivery_tag
            session.unsettled.add(tag)
            with self._lock:
                self._running_tasks += 1
            executor.submit(self._work, session, tag, body, bool(method.redelivered))

        consumer_tag = session.channel.basic_consume(queue, on_message, auto_ack=False)
        self.consuming.set()
        log.info("consuming %s", queue)
        next_sample = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_sample:
                self._sample_depths(session)
                next_sample = time.monotonic() + self.depth_sample_seconds
            session.connection.process_data_events(time_limit=_PUMP_SECONDS)

        log.info("stopping: no new messages; %d in flight", len(session.unsettled))
        session.channel.basic_cancel(consumer_tag)
        self.consuming.clear()
        deadline = time.monotonic() + self.settings.drain_seconds
        while session.unsettled and time.monotonic() < deadline and not self._no_grace.is_set():
            session.connection.process_data_events(time_limit=_PUMP_SECONDS)
        if session.unsettled:
            log.warning(
                "grace period over with %d messages unsettled; the broker redelivers them",
                len(session.unsettled),
            )
            self._hard_stop.set()
            return ExitStatus.ABANDONED
        self._drop_session()
        return ExitStatus.DRAINED

    def _sample_depths(self, session: _Session) -> None:
        """Ready messages in the pool's request and dead-letter queues (on the pump thread)."""
        pool = self.settings.core.pool
        for queue in (requests_queue(pool), dead_letter_queue(pool)):
            declared = session.channel.queue_declare(queue, passive=True)
            self.metrics.queue_messages.labels(queue).set(declared.method.message_count)

    # --- per message (pool threads) ------------------------------------------------------------
    def _work(self, session: _Session, tag: int, body: bytes, redelivered: bool = False) -> None:
        started = time.monotonic()
        self.metrics.in_flight.inc()
        try:
            outcome = self.processor.process(body, redelivered)
        except BaseException:  # never lose track of a delivery
            log.exception("processing crashed")
            outcome = Outcome.REQUEUE
        finally:
            with self._lock:
                self._running_tasks -= 1
            self.metrics.in_flight.dec()
        self.metrics.processing.labels(outcome.value).observe(time.monotonic() - started)
        if outcome == Outcome.ABANDON:
            return
        settle = functools.partial(self._settle, session, tag, outcome, time.monotonic())
        try:
            session.connection.add_callback_threadsafe(settle)
        except AMQPError:
            log.warning("connection gone before settling; the broker redelivers the message")

    def _settle(self, session: _Session, tag: int, outcome: Outcome, scheduled: float) -> None:
        """Runs on the connection's thread (`scheduled`: when a pool thread handed it over)."""
        self.metrics.settle_delay.observe(time.monotonic() - scheduled)
        session.unsettled.discard(tag)
        channel = session.channel
        if not channel.is_open:
            return
        self.settled += 1
        if outcome == Outcome.ACK:
            channel.basic_ack(tag)
        elif outcome == Outcome.DEAD_LETTER:
            channel.basic_reject(tag, requeue=False)
        else:
            channel.basic_nack(tag, requeue=True)

    def _drop_session(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is None:
            return
        try:
            if session.connection.is_open:
                session.connection.close()
        except AMQPError:
            pass
        except Exception:  # closing a broken connection must not hide the original error
            log.debug("error while closing the connection", exc_info=True)
