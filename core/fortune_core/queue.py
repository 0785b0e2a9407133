"""RabbitMQ topology and the publisher (pika).

Topology, declared idempotently by whichever component starts first:

- durable direct exchange ``cyberfortune.requests``; routing key = worker pool;
- per pool a durable quorum queue ``cyberfortune.requests.<pool>`` with a delivery limit; messages
  rejected, or delivered more often than the limit, are dead-lettered through the direct exchange
  ``cyberfortune.dead`` into ``cyberfortune.dead.<pool>``;
- per pool and delay tier a retry queue ``cyberfortune.retry.<pool>.<N>s`` with a message TTL of
  N seconds that dead-letters back into ``cyberfortune.requests`` with the pool's routing key.
  One queue per tier, because RabbitMQ expires messages only at the head of a queue: in a single
  retry queue a 5-minute delay would hold back a 1-second one behind it.

Messages are persistent JSON with ``message_id`` = request id, published with confirms and
``mandatory`` (an unroutable message is an error, not a silent drop).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import pika
from pika.exceptions import AMQPError, NackError, UnroutableError

REQUESTS_EXCHANGE = "cyberfortune.requests"
DEAD_EXCHANGE = "cyberfortune.dead"
DEFAULT_DELIVERY_LIMIT = 5
RETRY_TIERS_SECONDS: tuple[int, ...] = (1, 5, 15, 60, 300)
MESSAGE_TYPE = "cyberfortune.request.v1"


def requests_queue(pool: str) -> str:
    return f"{REQUESTS_EXCHANGE}.{pool}"


def dead_letter_queue(pool: str) -> str:
    return f"cyberfortune.dead.{pool}"


def retry_queue(pool: str, seconds: int) -> str:
    return f"cyberfortune.retry.{pool}.{seconds}s"


def retry_tier(delay_seconds: float) -> int:
    """The shortest tier at least `delay_seconds` long (the longest tier caps it)."""
    for tier in RETRY_TIERS_SECONDS:
        if tier >= delay_seconds:
            return tier
    return RETRY_TIERS_SECONDS[-1]


def declare_topology(channel: Any, pool: str, delivery_limit: int = DEFAULT_DELIVERY_LIMIT) -> None:
    """Declare exchanges and the pool's queues (idempotent)."""
    channel.exchange_declare(REQUESTS_EXCHANGE, exchange_type="direct", durable=True)
    channel.exchange_declare(DEAD_EXCHANGE, exchange_type="direct", durable=True)
    channel.queue_declare(
        requests_queue(pool),
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": DEAD_EXCHANGE,
            "x-dead-letter-routing-key": pool,
        },
    )
    channel.queue_bind(requests_queue(pool), REQUESTS_EXCHANGE, routing_key=pool)
    channel.queue_declare(
        dead_letter_queue(pool), durable=True, arguments={"x-queue-type": "quorum"}
    )
    channel.queue_bind(dead_letter_queue(pool), DEAD_EXCHANGE, routing_key=pool)
    for seconds in RETRY_TIERS_SECONDS:
        channel.queue_declare(
            retry_queue(pool, seconds),
            durable=True,
            arguments={
                "x-message-ttl": seconds * 1000,
                "x-dead-letter-exchange": REQUESTS_EXCHANGE,
                "x-dead-letter-routing-key": pool,
            },
        )


@dataclass(frozen=True)
class QueueMessage:
    """What travels through the queue: the request id, the validated request body, the dispatch
    it belongs to (see fortune_core.submission) and, in Kubernetes mode, its FortuneRequest."""

    request_id: str
    request: dict[str, Any]
    pool: str
    dispatch: str | None = None
    resource: dict[str, str] | None = None

    def body(self) -> bytes:
        data: dict[str, Any] = {"id": self.request_id, "request": self.request, "pool": self.pool}
        if self.dispatch:
            data["dispatch"] = self.dispatch
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
        if not isinstance(request_id, str) or not isinstance(request, dict):
            raise ValueError("message lacks id or request")
        dispatch, resource = data.get("dispatch"), data.get("resource")
        return cls(
            request_id,
            request,
            pool if isinstance(pool, str) else "default",
            dispatch if isinstance(dispatch, str) else None,
            resource if isinstance(resource, dict) else None,
        )


class PublishError(Exception):
    """The broker did not take the message (down, refused, unroutable)."""


def message_properties(request_id: str, attempt: int = 0) -> pika.BasicProperties:
    return pika.BasicProperties(
        message_id=request_id,
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        type=MESSAGE_TYPE,
        timestamp=int(time.time()),
        headers={"x-cf-retry": attempt},
    )


class Publisher:
    """A confirmed, mandatory publisher over one connection, safe to share between threads.

    On a broken connection it reconnects (with short backoff) and tries again; when the broker
    stays unreachable it raises `PublishError`.
    """

    def __init__(
        self,
        url: str,
        delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
        attempts: int = 3,
        connect_timeout: float = 5.0,
    ) -> None:
        self._params = pika.URLParameters(url)
        self._params.socket_timeout = connect_timeout
        self._params.blocked_connection_timeout = connect_timeout
        self._params.connection_attempts = 1
        self._delivery_limit = delivery_limit
        self._attempts = attempts
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None
        self._declared: set[str] = set()

    def _ensure_channel(self) -> Any:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._close()
        self._connection = pika.BlockingConnection(self._params)
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        self._declared.clear()
        return self._channel

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                if connection.is_open:
                    connection.close()
            except AMQPError:
                pass

    def _publish_once(
        self, pool: str, exchange: str, routing_key: str, body: bytes, props: Any
    ) -> None:
        channel = self._ensure_channel()
        if pool not in self._declared:
            declare_topology(channel, pool, self._delivery_limit)
            self._declared.add(pool)
        channel.basic_publish(exchange, routing_key, body, props, mandatory=True)

    def _publish(self, pool: str, exchange: str, routing_key: str, body: bytes, props: Any) -> None:
        with self._lock:
            delay = 0.2
            for attempt in range(1, self._attempts + 1):
                try:
                    self._publish_once(pool, exchange, routing_key, body, props)
                    return
                except (UnroutableError, NackError) as exc:
                    raise PublishError(f"broker refused the message: {exc!r}") from exc
                except (AMQPError, OSError) as exc:
                    self._close()
                    if attempt == self._attempts:
                        raise PublishError(f"RabbitMQ unreachable: {exc!r}") from exc
                    time.sleep(delay)
                    delay *= 2

    def publish_request(self, message: QueueMessage) -> None:
        """Publish a new request to its pool's queue; raises PublishError when not confirmed."""
        self._publish(
            message.pool,
            REQUESTS_EXCHANGE,
            message.pool,
            message.body(),
            message_properties(message.request_id),
        )

    def publish_retry(self, message: QueueMessage, delay_seconds: float, attempt: int) -> int:
        """Publish to the retry tier for `delay_seconds`; returns the tier's delay used."""
        tier = retry_tier(delay_seconds)
        self._publish(
            message.pool,
            "",
            retry_queue(message.pool, tier),
            message.body(),
            message_properties(message.request_id, attempt),
        )
        return tier

    def ping(self) -> None:
        """Raise PublishError if the broker cannot be reached."""
        with self._lock:
            try:
                channel = self._ensure_channel()
                self._connection.process_data_events(time_limit=0)
                if not channel.is_open:
                    raise PublishError("channel closed")
            except (AMQPError, OSError) as exc:
                self._close()
                raise PublishError(f"RabbitMQ unreachable: {exc!r}") from exc

    def close(self) -> None:
        with self._lock:
            self._close()
