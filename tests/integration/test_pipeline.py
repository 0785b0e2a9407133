"""The whole standalone pipeline over HTTP: gunicorn-served API + worker processes + real
RabbitMQ, Redis and SecantusDB, including broker and cache restarts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from fortune_core.result import FortuneResult
from fortune_core.status_cache import cache_key
from localservices.backends import RabbitMQServer, RedisServer
from localservices.jsonhttp import http_json as http
from localservices.programs import ApiProgram, WorkerProgram
from localservices.supervisor import Program, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
BODY: dict[str, Any] = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "name": "小满"},
    "topic": "wealth",
    "period": "week",
    "language": "zh-CN",
}
FINISHED = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def env(backend_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    (tmp_path / "prometheus").mkdir()
    return {
        **os.environ,
        **backend_env,
        "FORTUNE_RATE_LIMIT_PER_MINUTE": "0",
        "FORTUNE_POLL_RATE_LIMIT_PER_MINUTE": "0",
        "FORTUNE_RETRY_MAX_DELAY_SECONDS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }


@pytest.fixture
def start(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """start("api") → base URL; start("worker", **env) → Process."""
    started: list[Program] = []

    def launch(kind: str, **overrides: str) -> Any:
        child_env = {**env, **overrides}
        log = tmp_path / f"{kind}-{len(started)}.log"
        if kind == "api":
            program = ApiProgram(free_port(), child_env, log)
            started.append(program.start())
            return program.url
        worker = WorkerProgram(
            child_env, log, ready=lambda: b'"consuming ' in log.read_bytes(), stop_timeout=40
        )
        started.append(worker.start())
        return worker

    yield launch
    for process in reversed(started):
        process.stop()


def poll_until_finished(base: str, request_id: str, timeout: float = 90) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        status, body = http("GET", f"{base}/v1/fortunes/{request_id}")
        assert status == 200, body
        return body if body["status"] in FINISHED else None

    result: dict[str, Any] = wait_for(finished, timeout, f"{request_id} to finish")
    return result


def test_start_then_query_with_the_almanac_provider(start: Callable[..., Any]) -> None:
    base = start("api")
    start("worker", FORTUNE_LLM_PROVIDER="almanac")
    status, accepted = http("POST", f"{base}/v1/fortunes", BODY)
    assert status == 202 and accepted["status"] == "queued"
    done = poll_until_finished(base, accepted["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 1
    result = FortuneResult.model_validate(done["result"])
    assert result.provider == "almanac"
    assert "小满" in result.text  # the name, as data, in the reading
    assert done["request"]["period"] == "week" and done["completedAt"]


def test_start_then_query_with_the_openai_provider(start: Callable[..., Any], llm: Any) -> None:
    base = start("api")
    start("worker")  # backend_env selects openai against the fake
    ids = [http("POST", f"{base}/v1/fortunes", {**BODY, "language": lang})[1]["id"]
           for lang in ("zh-CN", "en")]  # fmt: skip
    for request_id in ids:
        done = poll_until_finished(base, request_id)
        assert done["status"] == "succeeded"
        assert done["result"]["provider"] == "openai"
        assert done["result"]["usage"]["promptTokens"] > 0
    calls = llm.stats()["calls"]
    assert [calls.get(request_id) for request_id in ids] == [1, 1]


def test_rabbitmq_restart_loses_no_queued_request(
    start: Callable[..., Any], rabbitmq: RabbitMQServer
) -> None:
    base = start("api")
    ids = [http("POST", f"{base}/v1/fortunes", BODY)[1]["id"] for _ in range(5)]
    rabbitmq.stop()
    down, body = http("POST", f"{base}/v1/fortunes", BODY)
    assert down == 503 and body["error"]["backend"] == "rabbitmq"
    rabbitmq.start()
    # the API reconnects by itself; the queued messages survived the restart
    status, after = http("POST", f"{base}/v1/fortunes", BODY)
    assert status == 202
    start("worker", FORTUNE_LLM_PROVIDER="almanac")
    for request_id in [*ids, after["id"]]:
        assert poll_until_finished(base, request_id)["status"] == "succeeded"


def test_redis_restart_answers_from_mongodb_and_refills(
    start: Callable[..., Any], redis_server: RedisServer
) -> None:
    base = start("api")
    start("worker", FORTUNE_LLM_PROVIDER="almanac")
    request_id = http("POST", f"{base}/v1/fortunes", BODY)[1]["id"]
    before = poll_until_finished(base, request_id)
    redis_server.restart()  # no persistence: the cache comes back empty
    client = redis.Redis.from_url(redis_server.redis_url)
    assert client.exists(cache_key(request_id)) == 0

    def answered() -> dict[str, Any] | None:
        try:
            status, body = http("GET", f"{base}/v1/fortunes/{request_id}")
        except OSError:
            return None
        return body if status == 200 else None

    after = wait_for(answered, 30, "the API to answer after the Redis restart")
    assert after["status"] == "succeeded" and after["result"] == before["result"]
    assert client.exists(cache_key(request_id)) == 1  # refilled from MongoDB
    # and the pipeline keeps working on the restarted Redis
    again = http("POST", f"{base}/v1/fortunes", BODY)[1]["id"]
    assert poll_until_finished(base, again)["status"] == "succeeded"
