"""RabbitMQ topology and the publisher (pika).

Topology, declared idempotently by whichever component starts first:

- durable direct exchange ``cyberfortune.requests``; routing key = worker pool;
- per pool a durable quorum queue ``cyberfortune.requests.<pool>`` with a delivery limit; messages
  rejected, or delivered more often than the limit, are dead-lettered through the direct exchange
  ``cyberfortune.dead`` into ``cyberfortune.dead.<pool>``, a quorum queue bounded in length and
  age (`DeadLetterLimits`: the oldest are dropped first);
- delayed retries: a message waiting N ms goes to ``cyberfortune.retry.<pool>.<N>ms``, a queue
  whose TTL is N ms and which dead-letters back into ``cyberfortune.requests`` with the pool's
  routing key. One queue per delay, because RabbitMQ expires messages only at the head of a queue:
  in a shared queue a 5-minute delay would hold back a 1-second one behind it. Delays are
  jittered (see `fortune_core.backoff`), so these queues are declared when first needed, with fine
  steps (`retry_delay_ms`), and delete themselves once idle (``x-expires``).

Messages are persistent JSON with ``message_id`` = request id, published with confirms and
``mandatory`` (an unroutable message is an error, not a silent drop).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker, NackError, UnroutableError

from fortune_core.backoff import delays
from fortune_core.settings import CoreSettings

log = logging.getLogger(__name__)

REQUESTS_EXCHANGE = "cyberfortune.requests"
DEAD_EXCHANGE = "cyberfortune.dead"
DEFAULT_DELIVERY_LIMIT = 5
#: Longest delayed retry (a Retry-After beyond it is cut to it).
MAX_RETRY_DELAY_SECONDS = 3600.0
#: A retry queue unused for this long after its TTL deletes itself.
RETRY_QUEUE_IDLE_MS = 10 * 60 * 1000
MESSAGE_TYPE = "cyberfortune.request.v1"
_PRECONDITION_FAILED = 406
_NOT_FOUND = 404


@dataclass(frozen=True)
class DeadLetterLimits:
    """Bounds of a pool's dead-letter queue: at most `max_length` messages (the oldest dropped
    first), each kept at most `ttl_seconds`."""

    max_length: int = 10_000
    ttl_seconds: int = 7 * 24 * 3600


@dataclass(frozen=True)
class QueueBounds:
    """How much a pool's queues may hold: at most `max_length` messages in the request queue (a
    publish beyond it is refused, `QueueFullError`: the API answers 503, the operator retries),
    each delivered at most `delivery_limit` times, and the dead-letter queue's own bounds."""

    max_length: int = 10_000
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    dead_letters: DeadLetterLimits = field(default_factory=DeadLetterLimits)


def requests_queue(pool: str) -> str:
    return f"{REQUESTS_EXCHANGE}.{pool}"


def dead_letter_queue(pool: str) -> str:
    return f"cyberfortune.dead.{pool}"


def retry_queue(pool: str, delay_ms: int) -> str:
    return f"cyberfortune.retry.{pool}.{delay_ms}ms"


def retry_delay_ms(delay_seconds: float) -> int:
    """The retry queue TTL for a delay: rounded up to 0.1 s below 10 s, to 1 s below 100 s, to
    10 s above; between 0.1 s and `MAX_RETRY_DELAY_SECONDS`."""
    seconds = min(max(delay_seconds, 0.1), MAX_RETRY_DELAY_SECONDS)
    step = 0.1 if seconds < 10 else 1.0 if seconds < 100 else 10.0
    return round(math.ceil(round(seconds / step, 6)) * step * 1000)


def declare_retry_queue(channel: Any, pool: str, delay_ms: int) -> str:
    """Declare the retry queue for `delay_ms` (idempotent); its name."""
    name = retry_queue(pool, delay_ms)
    channel.queue_declare(
        name,
        durable=True,
        arguments={
            "x-message-ttl": delay_ms,
            "x-expires": delay_ms + RETRY_QUEUE_IDLE_MS,
            "x-dead-letter-exchange": REQUESTS_EXCHANGE,
            "x-dead-letter-routing-key": pool,
        },
    )
    return name


def _declare_keeping(channel: Any, queue: str, arguments: dict[str, Any]) -> None:
    """Declare `queue` with `arguments` on a channel of its own: if it already exists with other
    arguments (a release before this bound), the broker closes that channel (406); keep the
    existing queue and say how to change it."""
    probe = channel.connection.channel()
    try:
        probe.queue_declare(queue, durable=True, arguments=arguments)
    except ChannelClosedByBroker as exc:
        if exc.reply_code != _PRECONDITION_FAILED:
            raise
        log.warning(
            "queue %s exists with other arguments; keeping them (delete the queue, or set a "
            "RabbitMQ policy, to change them): %s",
            queue,
            exc.reply_text,
        )
    finally:
        if probe.is_open:
            probe.close()


def declare_topology(channel: Any, pool: str, bounds: QueueBounds | None = None) -> None:
    """Declare exchanges and the pool's queues (idempotent)."""
    bounds = bounds or QueueBounds()
    channel.exchange_declare(REQUESTS_EXCHANGE, exchange_type="direct", durable=True)
    channel.exchange_declare(DEAD_EXCHANGE, exchange_type="direct", durable=True)
    _declare_keeping(
        channel,
        requests_queue(pool),
        {
            "x-queue-type": "quorum",
            "x-delivery-limit": bounds.delivery_limit,
            "x-max-length": bounds.max_length,
            "x-overflow": "reject-publish",
            "x-dead-letter-exchange": DEAD_EXCHANGE,
            "x-dead-letter-routing-key": pool,
        },
    )
    channel.queue_bind(requests_queue(pool), REQUESTS_EXCHANGE, routing_key=pool)
    limits = bounds.dead_letters
    _declare_keeping(
        channel,
        dead_letter_queue(pool),
        {
            "x-queue-type": "quorum",
            "x-max-length": limits.max_length,
            "x-overflow": "drop-head",
            "x-message-ttl": limits.ttl_seconds * 1000,
        },
    )
    channel.queue_bind(dead_letter_queue(pool), DEAD_EXCHANGE, routing_key=pool)


@dataclass(frozen=True)
class QueueMessage:
    """What travels through the queue: the request id, the validated request body, the dispatch
    it belongs to (see fortune_core.lifecycle) and, in Kubernetes mode, its FortuneRequest."""

    request_id: str
    request: dict[str, Any]
    pool: str
    dispatch: str
    resource: dict[str, str] | None = None

    def body(self) -> bytes:
        data: dict[str, Any] = {
            "id": self.request_id,
            "request": self.request,
            "pool": self.pool,
            "dispatch": self.dispatch,
        }
        if self.resource:
            data["resource"] = self.resource
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, body: bytes) -> QueueMessage:
        """Parse a message body; ValueError when it is not one of ours."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"message is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("message is not a JSON object")
        request_id, request, pool = data.get("id"), data.get("request"), data.get("pool")
        dispatch, resource = data.get("dispatch"), data.get("resource")
        if not isinstance(request_id, str) or not isinstance(request, dict):
            raise ValueError("message lacks id or request")
        if not isinstance(dispatch, str) or not dispatch:
            raise ValueError("message lacks its dispatch id")
        return cls(
            request_id,
            request,
            pool if isinstance(pool, str) else "default",
            dispatch,
            resource if isinstance(resource, dict) else None,
        )


class PublishError(Exception):
    """The broker did not take the message (down, refused, unroutable)."""


class QueueFullError(PublishError):
    """The broker refused the message: its queue is at its length bound (reject-publish)."""


def message_properties(request_id: str, attempt: int = 0) -> pika.BasicProperties:
    return pika.BasicProperties(
        message_id=request_id,
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        type=MESSAGE_TYPE,
        timestamp=int(time.time()),
        headers={"x-cf-retry": attempt},
    )


@dataclass
class _Link:
    """One connection with its confirming channel, used by one thread at a time."""

    connection: Any
    channel: Any
    declared: set[str] = field(default_factory=set)
    last_used: float = field(default_factory=time.monotonic)

    @property
    def is_open(self) -> bool:
        return bool(self.connection.is_open and self.channel.is_open)

    def close(self) -> None:
        try:
            if self.connection.is_open:
                self.connection.close()
        except AMQPError:
            pass


class Publisher:
    """A confirmed, mandatory publisher, safe to share between threads.

    Publishing waits for the broker's confirm, a round trip (on a quorum queue, a replicated and
    synced write). So that threads do not queue behind each other's confirms, each publish takes a
    connection of its own from a small pool (at most `max_links`, opened when first needed and
    reused; pika connections are not thread-safe, so one thread at a time uses each), as
    Dramatiq's per-thread channels do. On a broken connection it reconnects (with short backoff)
    and tries again; when the broker stays unreachable it raises `PublishError`.

    A pika BlockingConnection answers the broker's heartbeats only while it is used, so an idle
    link is dead once the broker's heartbeat timeout (60 s by default) has passed: a link idle
    for more than `idle_seconds` is closed and replaced before it is used, so neither a publish
    nor the readiness check (`ping`) meets a connection the broker already dropped.
    """

    def __init__(
        self,
        url: str,
        bounds: QueueBounds | None = None,
        attempts: int = 3,
        connect_timeout: float = 5.0,
        max_links: int = 4,
        idle_seconds: float = 20.0,
    ) -> None:
        self._params = pika.URLParameters(url)
        self._params.socket_timeout = connect_timeout
        self._params.blocked_connection_timeout = connect_timeout
        self._params.connection_attempts = 1
        self._bounds = bounds or QueueBounds()
        self._attempts = attempts
        self._lock = threading.Lock()  # guards _idle only, never held across a round trip
        self._idle: list[_Link] = []
        self._links_free = threading.BoundedSemaphore(max_links)
        self._idle_seconds = idle_seconds
        self._closed = False

    def _open(self) -> _Link:
        connection = pika.BlockingConnection(self._params)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
        except BaseException:
            _Link(connection, None).close()
            raise
        return _Link(connection, channel)

    @contextmanager
    def _link(self) -> Iterator[_Link]:
        """A pooled link for one operation; one that failed is closed instead of returned."""
        self._links_free.acquire()
        try:
            with self._lock:
                link = self._idle.pop() if self._idle else None
            stale = link is not None and time.monotonic() - link.last_used > self._idle_seconds
            if link is not None and (stale or not link.is_open):
                link.close()
                link = None
            if link is None:
                link = self._open()
            try:
                yield link
            except BaseException:
                link.close()
                raise
            link.last_used = time.monotonic()
            with self._lock:
                if self._closed or not link.is_open:
                    link.close()
                else:
                    self._idle.append(link)
        finally:
            self._links_free.release()

    def _publish_once(
        self,
        pool: str,
        exchange: str,
        routing_key: str,
        body: bytes,
        props: Any,
        retry_delay_ms: int | None,
    ) -> None:
        with self._link() as link:
            channel = link.channel
            if pool not in link.declared:
                declare_topology(channel, pool, self._bounds)
                link.declared.add(pool)
            # Redeclared each time: idle retry queues delete themselves.
            if retry_delay_ms is not None:
                declare_retry_queue(channel, pool, retry_delay_ms)
            channel.basic_publish(exchange, routing_key, body, props, mandatory=True)

    def _publish(
        self,
        pool: str,
        exchange: str,
        routing_key: str,
        body: bytes,
        props: Any,
        retry_delay_ms: int | None = None,
    ) -> None:
        waits = delays(0.2, 2.0)
        for attempt in range(1, self._attempts + 1):
            try:
                self._publish_once(pool, exchange, routing_key, body, props, retry_delay_ms)
                return
            except NackError as exc:  # reject-publish: the queue is at its bound
                raise QueueFullError(f"broker refused the message (queue full): {exc!r}") from exc
            except UnroutableError as exc:
                raise PublishError(f"broker refused the message: {exc!r}") from exc
            except (AMQPError, OSError) as exc:
                if attempt == self._attempts:
                    raise PublishError(f"RabbitMQ unreachable: {exc!r}") from exc
                time.sleep(next(waits))

    def publish_request(self, message: QueueMessage) -> None:
        """Publish a new request to its pool's queue; raises PublishError when not confirmed."""
        self._publish(
            message.pool,
            REQUESTS_EXCHANGE,
            message.pool,
            message.body(),
            message_properties(message.request_id),
        )

    def publish_retry(self, message: QueueMessage, delay_seconds: float, attempt: int) -> float:
        """Publish to the retry queue for `delay_seconds`; returns the delay used (seconds)."""
        delay_ms = retry_delay_ms(delay_seconds)
        self._publish(
            message.pool,
            "",
            retry_queue(message.pool, delay_ms),
            message.body(),
            message_properties(message.request_id, attempt),
            retry_delay_ms=delay_ms,
        )
        return delay_ms / 1000

    def ready_messages(self, pool: str) -> int:
        """Messages ready in the pool's request queue (0 when nobody declared it yet); raises
        PublishError when the broker cannot be reached."""
        try:
            with self._link() as link:
                try:
                    declared = link.channel.queue_declare(requests_queue(pool), passive=True)
                except ChannelClosedByBroker as exc:
                    if exc.reply_code == _NOT_FOUND:
                        return 0
                    raise
                return int(declared.method.message_count)
        except (AMQPError, OSError) as exc:
            raise PublishError(f"RabbitMQ unreachable: {exc!r}") from exc

    def ping(self) -> None:
        """Raise PublishError if the broker cannot be reached. A pooled link the broker dropped
        (a restart, a missed heartbeat) still looks open until it is used: a failure on it is
        tried once more on a new link, so only a broker that is really down fails the check."""
        for attempt in (1, 2):
            try:
                with self._link() as link:
                    link.connection.process_data_events(time_limit=0)
                    if not link.is_open:
                        raise PublishError("channel closed")
                return
            except (AMQPError, OSError, PublishError) as exc:
                if attempt == 2:
                    raise PublishError(f"RabbitMQ unreachable: {exc!r}") from exc

    def close(self) -> None:
        """Close the idle connections; those in use close when their operation ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for link in idle:
            link.close()


def queue_bounds(core: CoreSettings) -> QueueBounds:
    """The queue bounds the settings ask for."""
    return QueueBounds(
        max_length=core.queue_max_length,
        dead_letters=DeadLetterLimits(core.dead_letter_max_length, core.dead_letter_ttl_seconds),
    )


def publisher_for(core: CoreSettings) -> Publisher:
    """The publisher of a component, on the settings' broker and bounds."""
    return Publisher(core.rabbitmq_url, queue_bounds(core))
