"""The publisher against a real RabbitMQ: confirms from many threads at once."""

from __future__ import annotations

import concurrent.futures
import uuid

import pika
import pytest

from fortune_core.queue import Publisher, QueueMessage, requests_queue
from localservices.backends import RabbitMQServer
from localservices.supervisor import wait_for

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


def test_the_api_reads_queue_depths_as_a_monitoring_user(rabbitmq: RabbitMQServer) -> None:
    """Kubernetes mode's full-queue check: a `monitoring` user (no right to publish or consume)
    reads a pool's ready messages from the management API; a queue nobody declared is empty;
    a management API out of reach is "unknown", never an error."""
    from fortune_api.queue_depth import QueueDepth

    user = f"mon{uuid.uuid4().hex[:6]}"
    rabbitmq.ctl("add_user", user, "secret")
    rabbitmq.ctl("set_user_tags", user, "monitoring")
    rabbitmq.ctl("set_permissions", "-p", "/", user, "^$", "^$", "^$")
    pool = f"q{uuid.uuid4().hex[:10]}"
    publisher = Publisher(rabbitmq.amqp_url)
    try:
        for n in range(3):
            publisher.publish_request(QueueMessage(f"r{n}", {"topic": "love"}, pool, "d1"))
    finally:
        publisher.close()
    depth = QueueDepth(f"http://{user}:secret@127.0.0.1:{rabbitmq.management_port}", ttl=0)
    # The management API's figures follow its statistics interval.
    wait_for(lambda: depth.ready(requests_queue(pool)) == 3, 30, "the depth to show")
    assert depth.ready(requests_queue("nobody-declared-this")) == 0
    assert QueueDepth("http://x:y@127.0.0.1:1", ttl=0).ready(requests_queue(pool)) is None
