"""Fixtures for the integration tier: real RabbitMQ, Redis and SecantusDB, and the fake LLM.

The services start once per session on free ports in a pytest temp dir and are stopped by PID at
the end (RabbitMQ takes several seconds to start). Per-test isolation comes from the function-scoped
helpers: a flushed Redis db, a unique Mongo database, a unique worker pool (so unique queues), and
a fake LLM reset to its start settings.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pika
import pymongo
import pytest
import redis
from fakes.fake_llm import FakeLLM
from fakes.fake_wechat import FakeWeChat
from pymongo.database import Database
from worker_testing import Stack, WorkerProcess

from fortune_core.queue import Publisher
from fortune_core.records import connect_records, disconnect_records
from fortune_core.status_cache import StatusCache
from localservices.backends import RabbitMQServer, RedisServer, SecantusDBServerProcess
from localservices.supervisor import free_port


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQServer]:
    """A RabbitMQ node with the management plugin, for the whole session."""
    with RabbitMQServer(tmp_path_factory.mktemp("rabbitmq"), free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server without persistence (a restart empties it), for the whole session."""
    with RedisServer(tmp_path_factory.mktemp("redis"), free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def mongodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusDBServerProcess]:
    """SecantusDB (MongoDB wire protocol) sweeping TTL indexes every second, for the session."""
    directory = tmp_path_factory.mktemp("secantusdb")
    with SecantusDBServerProcess(directory, free_port(), ttl_sweep_seconds=1) as server:
        yield server


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    """The fake OpenAI-compatible server in a thread, for the session (`llm`: reset per test)."""
    fake = FakeLLM().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def llm(fake_llm: FakeLLM) -> FakeLLM:
    """The session's fake LLM, reset (no scripts, no counts, start settings) for this test."""
    fake_llm.reset()
    return fake_llm


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[FakeWeChat]:
    """The fake WeChat server API in a thread, for the session (`wechat`: reset per test)."""
    fake = FakeWeChat().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def wechat(fake_wechat: FakeWeChat) -> FakeWeChat:
    """The session's fake WeChat server, reset (no codes, no counts) for this test."""
    fake_wechat.reset()
    return fake_wechat


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on a flushed db 0 (decode_responses=True)."""
    client = redis.Redis.from_url(redis_server.redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def mongo_db_name() -> str:
    """A database name unique to this test."""
    return f"cf_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mongo_uri(mongodb: SecantusDBServerProcess, mongo_db_name: str) -> str:
    """MONGODB_URI naming this test's database: mongodb://127.0.0.1:<port>/<db>."""
    return f"{mongodb.mongodb_uri}/{mongo_db_name}"


@pytest.fixture
def mongo_client(mongodb: SecantusDBServerProcess) -> Iterator[pymongo.MongoClient[Any]]:
    """A pymongo client on the session's SecantusDB."""
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        mongodb.mongodb_uri, serverSelectionTimeoutMS=10_000
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def mongo_db(mongo_client: pymongo.MongoClient[Any], mongo_db_name: str) -> Iterator[Database[Any]]:
    """This test's database, dropped afterwards."""
    yield mongo_client[mongo_db_name]
    mongo_client.drop_database(mongo_db_name)


@pytest.fixture
def pool() -> str:
    """A worker pool name unique to this test (queues are cyberfortune.requests.<pool>)."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def amqp_connection(rabbitmq: RabbitMQServer) -> Iterator[pika.BlockingConnection]:
    """A pika blocking connection to the session's RabbitMQ, closed afterwards."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.amqp_url))
    try:
        yield connection
    finally:
        if connection.is_open:
            connection.close()


@pytest.fixture
def backend_env(
    rabbitmq: RabbitMQServer,
    redis_server: RedisServer,
    mongo_uri: str,
    fake_llm: FakeLLM,
    pool: str,
) -> dict[str, str]:
    """Environment variables pointing an API or worker process at this test's backends."""
    return {
        "RABBITMQ_URL": rabbitmq.amqp_url,
        "RABBITMQ_MANAGEMENT_URL": f"http://guest:guest@127.0.0.1:{rabbitmq.management_port}",
        "REDIS_URL": redis_server.redis_url,
        "MONGODB_URI": mongo_uri,
        "FORTUNE_POOL": pool,
        "FORTUNE_LLM_PROVIDER": "openai",
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_API_KEY": "test-key",
        "FORTUNE_WORKER_METRICS_PORT": "0",  # several workers per test: none on the default port
    }


# --- the worker tests' stack and worker processes ------------------------------------------


@pytest.fixture
def stack(
    rabbitmq: RabbitMQServer,
    redis_server: RedisServer,
    redis_client: redis.Redis,  # flushes db 0
    mongo_uri: str,
    mongo_db: Any,  # dropped afterwards
    pool: str,
) -> Iterator[Stack]:
    connect_records(mongo_uri, None)
    client = redis.Redis.from_url(redis_server.redis_url)
    publisher = Publisher(rabbitmq.amqp_url)
    try:
        yield Stack(
            rabbitmq, redis_server, mongo_uri, pool, client, StatusCache(client, 3600), publisher
        )
    finally:
        publisher.close()
        client.close()
        disconnect_records()


@pytest.fixture
def spawn_worker(
    backend_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes (openai provider against the session fake unless overridden)."""
    started: list[WorkerProcess] = []

    def spawn(**overrides: str) -> WorkerProcess:
        env = {
            **os.environ,
            **backend_env,
            "FORTUNE_WORKER_CONCURRENCY": "4",
            "FORTUNE_WORKER_ID": f"proc-{len(started) + 1}",
            "FORTUNE_RETRY_MAX_DELAY_SECONDS": "1",
            "FORTUNE_WORKER_SWEEP": "off",  # a test that wants the sweep turns it on
            "FORTUNE_REUSE": "off",  # one LLM call per request of the same body, as counted
            **overrides,
        }
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started) + 1}.log").start()
        started.append(worker)
        worker.wait_consuming()
        return worker

    yield spawn
    for worker in started:
        worker.kill()


# --- a fake LLM of this test's own ----------------------------------------------------------------


@pytest.fixture
def private_llm() -> Iterator[FakeLLM]:
    """A fake of this test's own: `release()` on it cannot affect the session fake."""
    fake = FakeLLM().start()
    try:
        yield fake
    finally:
        fake.stop()
