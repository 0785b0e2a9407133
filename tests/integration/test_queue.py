"""The publisher against a real RabbitMQ: confirms from many threads at once."""

from __future__ import annotations

import concurrent.futures
import uuid

import pika
import pytest

from fortune_core.queue import Publisher, QueueMessage, requests_queue
from localservices.backends import RabbitMQServer

pytestmark = pytest.mark.integration


def test_threads_publish_at_once_on_a_bounded_pool_of_connections(
    rabbitmq: RabbitMQServer, amqp_connection: pika.BlockingConnection
) -> None:
    pool = f"q{uuid.uuid4().hex[:10]}"
    publisher = Publisher(rabbitmq.amqp_url, max_links=3)
    ids = [f"r{i:03d}" for i in range(120)]

    def publish(request_id: str) -> None:
        publisher.publish_request(QueueMessage(request_id, {"topic": "love"}, pool, "d1"))

    try:
        with concurrent.futures.ThreadPoolExecutor(12) as threads:
            list(threads.map(publish, ids))  # raises if any publish was not confirmed
        publisher.ping()
        assert len(publisher._idle) <= 3  # never more connections than the bound
    finally:
        publisher.close()
    assert publisher._idle == []

    channel = amqp_connection.channel()
    received = []
    while True:
        method, props, _ = channel.basic_get(requests_queue(pool), auto_ack=True)
        if method is None:
            break
        received.append(props.message_id)
    assert sorted(received) == ids
