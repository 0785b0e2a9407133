"""The integration fixtures are real services and behave like them (restarts included)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from pathlib import Path
from typing import Any

import bson
import pika
import pika.exceptions
import pymongo
import pymongo.errors
import pytest
import redis
from pymongo.database import Database

from localservices.backends import RabbitMQServer, RedisServer, SecantusDBServerProcess
from localservices.supervisor import ProcessError, Program, free_port, wait_for

pytestmark = pytest.mark.integration

LOCALSERVICES = Path(__file__).resolve().parents[2] / "dev" / "localservices"


def _publish_persistent(
    rabbitmq: RabbitMQServer, queue: str, body: bytes, message_id: str, quorum: bool = True
) -> None:
    """Publish with confirms to a durable (quorum by default) queue, then close the connection."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        arguments = {"x-queue-type": "quorum"} if quorum else {}
        channel.queue_declare(queue, durable=True, arguments=arguments)
        channel.basic_publish(
            "",
            queue,
            body,
            pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, message_id=message_id),
            mandatory=True,
        )
    finally:
        connection.close()


def _get_one(rabbitmq: RabbitMQServer, queue: str) -> tuple[bytes, str] | None:
    """basic_get + ack one message (body, message_id); None if the queue is empty or not ready."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.amqp_url))
    except pika.exceptions.AMQPError:
        return None
    try:
        channel = connection.channel()
        method, properties, body = channel.basic_get(queue)
        if method is None:
            return None
        channel.basic_ack(method.delivery_tag)
        return body, properties.message_id
    except pika.exceptions.AMQPError:  # e.g. a quorum queue still electing its leader
        return None
    finally:
        if connection.is_open:
            connection.close()


def _queue_info(rabbitmq: RabbitMQServer, queue: str) -> dict[str, Any]:
    return dict(rabbitmq.management_get(f"/api/queues/%2F/{queue}"))


# --- RabbitMQ ------------------------------------------------------------------------------------


def test_rabbitmq_urls_name_the_running_node(rabbitmq: RabbitMQServer) -> None:
    overview = rabbitmq.management_get("/api/overview")
    assert overview["node"] == rabbitmq.node
    assert rabbitmq.amqp_url == f"amqp://guest:guest@127.0.0.1:{rabbitmq.port}/%2F"
    assert rabbitmq.management_url == f"http://127.0.0.1:{rabbitmq.management_port}"


def test_rabbitmq_management_api_reports_the_backlog(rabbitmq: RabbitMQServer, pool: str) -> None:
    queue = f"cyberfortune.requests.{pool}"
    for n in range(3):
        _publish_persistent(rabbitmq, queue, f"m{n}".encode(), f"m{n}")
    info = wait_for(
        lambda: (i := _queue_info(rabbitmq, queue)).get("messages_ready") == 3 and i,
        30,
        "the management API to count 3 ready messages",
    )
    assert info["messages_unacknowledged"] == 0


def test_rabbitmq_keeps_persistent_messages_across_a_restart(
    rabbitmq: RabbitMQServer, pool: str
) -> None:
    queue = f"cyberfortune.requests.{pool}"
    _publish_persistent(rabbitmq, queue, b"survives restart", "restart-1")
    old_pid = rabbitmq.pid

    rabbitmq.restart()

    assert rabbitmq.pid != old_pid
    message = wait_for(lambda: _get_one(rabbitmq, queue), 30, "the message after the restart")
    assert message == (b"survives restart", "restart-1")
    assert _get_one(rabbitmq, queue) is None


def test_rabbitmq_keeps_confirmed_messages_across_a_crash(
    rabbitmq: RabbitMQServer, pool: str
) -> None:
    # A classic queue: in RabbitMQ 3.10 a quorum queue declared less than ~3 minutes before a
    # kill -9 does not come back (Ra's server registry is saved to disk lazily), so a crash test
    # on a fresh quorum queue would test that bug. Graceful restarts keep quorum queues (above).
    queue = f"cf-test.crash.{pool}"
    _publish_persistent(rabbitmq, queue, b"survives kill -9", "crash-1", quorum=False)

    rabbitmq.kill()
    assert not rabbitmq.running()
    rabbitmq.start()

    message = wait_for(lambda: _get_one(rabbitmq, queue), 30, "the message after the crash")
    assert message == (b"survives kill -9", "crash-1")


# --- Redis ---------------------------------------------------------------------------------------


def test_redis_restart_starts_empty(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    redis_client.set("cf:before-restart", "1")
    old_pid = redis_server.pid

    redis_server.restart()

    assert redis_server.pid != old_pid
    assert redis_client.ping()
    assert redis_client.get("cf:before-restart") is None
    assert redis_client.dbsize() == 0


# --- SecantusDB ----------------------------------------------------------------------------------


def test_secantusdb_ttl_index_expires_old_documents(mongo_db: Database[Any]) -> None:
    requests = mongo_db["requests"]
    requests.create_index("created_at", expireAfterSeconds=3600)
    now = dt.datetime.now(dt.UTC)
    requests.insert_many(
        [
            {"_id": "old", "created_at": now - dt.timedelta(hours=2)},
            {"_id": "fresh", "created_at": now},
        ]
    )
    wait_for(
        lambda: requests.count_documents({"_id": "old"}) == 0,
        30,
        "the TTL sweep to delete the expired document",
    )
    assert [doc["_id"] for doc in requests.find()] == ["fresh"]


def test_secantusdb_answers_id_filters_with_every_clause(mongo_db: Database[Any]) -> None:
    # dev/images/secantusdb/serve.py looks a filter with an _id equality up by its _id: the
    # other clauses must still decide (a transition is conditional on them).
    requests = mongo_db["requests"]
    requests.create_index([("status", 1), ("updated_at", 1)])
    requests.insert_many(
        [{"_id": f"r{i}", "status": "queued", "dispatch_id": "a", "version": 1} for i in range(3)]
    )
    after = pymongo.ReturnDocument.AFTER
    claim = {"$set": {"status": "running"}, "$inc": {"version": 1}}
    stale = {"_id": "r0", "status": {"$in": ["queued"]}, "dispatch_id": "b"}
    assert requests.find_one_and_update(stale, claim, return_document=after) is None
    current = {"_id": "r0", "status": {"$in": ["pending", "queued"]}, "dispatch_id": "a"}
    claimed = requests.find_one_and_update(current, claim, return_document=after)
    assert claimed is not None and claimed["status"] == "running" and claimed["version"] == 2
    assert requests.find_one_and_update(current, claim, return_document=after) is None
    assert requests.update_one({"_id": "r0", "version": 1}, {"$set": {"x": 1}}).modified_count == 0
    assert requests.update_one({"_id": "r0", "version": 2}, {"$set": {"x": 1}}).modified_count == 1
    assert requests.count_documents({"_id": "r1", "status": "running"}) == 0
    assert requests.count_documents({"_id": {"$in": ["r0", "r1"]}, "status": "queued"}) == 1
    others = requests.find({"_id": {"$ne": "r0"}, "status": "queued"})
    assert sorted(doc["_id"] for doc in others) == ["r1", "r2"]


def test_secantusdb_replays_a_retried_write(mongo_db: Database[Any]) -> None:
    # A driver retries a write with the same session and txnNumber: the stand-in answers the
    # stored reply instead of applying the write twice (serve.py prunes those records in order).
    requests = mongo_db["requests"]
    requests.insert_one({"_id": "n", "count": 0})
    with mongo_db.client.start_session() as session:
        lsid = session.session_id
        for number in range(1, 4):
            command = {
                "update": "requests",
                "updates": [{"q": {"_id": "n"}, "u": {"$inc": {"count": 1}}}],
                "lsid": lsid,
                "txnNumber": bson.Int64(number),
            }
            first = mongo_db.command(dict(command))
            again = mongo_db.command(dict(command))
            assert first["nModified"] == again["nModified"] == 1
    assert requests.find_one({"_id": "n"})["count"] == 3


def test_secantusdb_keeps_data_across_restart_and_crash(
    mongodb: SecantusDBServerProcess, mongo_db_name: str
) -> None:
    def client() -> pymongo.MongoClient[Any]:
        return pymongo.MongoClient(mongodb.mongodb_uri, serverSelectionTimeoutMS=10_000)

    with client() as first:
        first[mongo_db_name]["requests"].insert_one({"_id": "kept", "status": "succeeded"})
    mongodb.restart()
    with client() as second:
        requests = second[mongo_db_name]["requests"]
        assert requests.find_one({"_id": "kept"})["status"] == "succeeded"
        # Like mongod with j: false, only a journaled write is sure to survive kill -9.
        journaled = requests.with_options(write_concern=pymongo.WriteConcern(w=1, j=True))
        journaled.insert_one({"_id": "after-restart"})

    mongodb.kill()
    mongodb.start()
    with client() as third:
        ids = sorted(doc["_id"] for doc in third[mongo_db_name]["requests"].find())
        assert ids == ["after-restart", "kept"]
        third.drop_database(mongo_db_name)


def test_start_names_a_port_that_is_taken(redis_server: RedisServer, tmp_path: Path) -> None:
    second = RedisServer(tmp_path, redis_server.port)
    with pytest.raises(ProcessError, match=f"port {redis_server.port} .* already in use"):
        second.start()
    assert second.pid is None


def test_cli_foreground_service_logs_and_stops_on_sigterm(tmp_path: Path) -> None:
    """What honcho does with a Procfile line: run it, then SIGTERM its whole process group."""
    port, log = free_port(), tmp_path / "log" / "redis.log"
    command = [sys.executable, str(LOCALSERVICES), "logged", "--log", str(log), "--"]
    command += [sys.executable, str(LOCALSERVICES), "redis", "--port", str(port)]
    command += ["--dir", str(tmp_path / "redis")]
    ready = RedisServer(tmp_path, port).ready
    program = Program(
        command,
        ready=lambda: log.exists() and "redis ready" in log.read_text(),
        log_path=tmp_path / "honcho.out",
    ).start()
    try:
        assert ready()
        assert program.pid is not None
        os.killpg(program.pid, signal.SIGTERM)  # to the process group, as honcho sends it
        assert program.wait(30) == 0
        assert not ready()
    finally:
        program.kill()
    assert "ready to exit" in log.read_text().lower()
