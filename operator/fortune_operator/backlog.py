"""A worker pool's backlog: messages ready in its queue plus requests in progress.

Ready messages come from RabbitMQ itself (a passive queue declaration answers with the ready count
at once, where the management API's figures lag by its statistics interval); requests in progress
are the pool's `running` records in MongoDB, so busy workers are counted as busy. Messages waiting
in a retry queue are not backlog yet: they are counted when they come back.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker

from fortune_core import FortuneRecord, Status, requests_queue

log = logging.getLogger(__name__)
_NOT_FOUND = 404


@dataclass(frozen=True)
class Backlog:
    """What a pool has to do."""

    ready: int
    in_progress: int

    @property
    def total(self) -> int:
        """Ready plus in progress: what the policy scales on."""
        return self.ready + self.in_progress


class BacklogReader:
    """Reads pools' backlogs over one AMQP connection (serialised: pika is not thread-safe)."""

    def __init__(self, rabbitmq_url: str) -> None:
        self._params = pika.URLParameters(rabbitmq_url)
        self._params.connection_attempts = 1
        self._params.socket_timeout = 5
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None

    def _ready(self, pool: str) -> int:
        if self._connection is None or not self._connection.is_open:
            self._connection = pika.BlockingConnection(self._params)
            self._channel = None
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection.channel()
        try:
            ok = self._channel.queue_declare(requests_queue(pool), passive=True)
        except ChannelClosedByBroker as exc:
            self._channel = None
            if exc.reply_code == _NOT_FOUND:  # nobody declared the pool's queue yet
                return 0
            raise
        return int(ok.method.message_count)

    def read(self, pool: str) -> Backlog:
        """The pool's backlog now; AMQPError or PyMongoError when a backend is down."""
        with self._lock:
            try:
                ready = self._ready(pool)
            except AMQPError:
                self.close()
                raise
        running = FortuneRecord.objects(status=Status.RUNNING.value, pool=pool).count()
        return Backlog(ready=ready, in_progress=int(running))

    def close(self) -> None:
        """Close the AMQP connection (reopened by the next read)."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except AMQPError:
                log.debug("closing the backlog connection failed", exc_info=True)
