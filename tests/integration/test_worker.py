"""The worker against real RabbitMQ, Redis and SecantusDB, and the fake LLM.

Requests are submitted by the lifecycle's own submission, exactly as the API does it (the record
queued with its dispatch id → Redis → confirmed publish). The worker runs in a thread of this
process where that is enough, and as a real `python -m fortune_worker` process for the kill -9
and SIGTERM tests (processes are stopped by PID).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from fakes.fake_llm import FakeLLM, count_tokens
from worker_testing import BODY, REPO_ROOT, Stack, WorkerProcess, running_worker

from fortune_core.ids import new_request_id
from fortune_core.queue import (
    Publisher,
    QueueMessage,
    dead_letter_queue,
    requests_queue,
)
from fortune_core.records import (
    FortuneRecord,
    create_pending,
    get_record,
    transition,
    utcnow,
)
from fortune_core.request import validate_request
from fortune_core.status import ACTIVE, Status
from fortune_worker.consumer import ExitStatus
from fortune_worker.llm_leases import LlmLeases
from localservices.backends import RabbitMQServer, RedisServer
from localservices.supervisor import Program, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

# --- full flows --------------------------------------------------------------------------------


def test_almanac_provider_full_flow(stack: Stack, llm: FakeLLM) -> None:
    with running_worker(stack.settings()):
        request_id = stack.submit()
        record = stack.wait_status(request_id, Status.SUCCEEDED)
        cached = stack.wait_view(request_id, "succeeded")
    assert record.result["provider"] == "almanac"
    assert record.attempts == 1 and record.error is None
    assert cached.result == record.result and cached.attempts == 1
    assert stack.ready_messages(requests_queue(stack.pool)) == 0
    assert stack.take_dead_letters() == []
    assert llm.stats()["total"] == 0


def test_openai_provider_full_flow(stack: Stack, llm: FakeLLM) -> None:
    with running_worker(stack.settings(llm)):
        request_id = stack.submit()
        record = stack.wait_status(request_id, Status.SUCCEEDED)
        cached = stack.wait_view(request_id, "succeeded")
    result = record.result
    assert result["provider"] == "openai" and result["model"] == "gpt-4o-mini"
    assert result["usage"]["promptTokens"] > 0 and result["usage"]["completionTokens"] > 0
    assert "fake reading" in result["summary"]
    assert cached.result == result and record.attempts == 1
    assert llm.calls(request_id) == 1
    [call] = llm.requests()
    assert call["authorization"] == "Bearer test-key"
    body = call["body"]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "fortune"
    assert stack.ready_messages(requests_queue(stack.pool)) == 0


def test_redelivered_finished_request_is_acked_without_a_second_call(
    stack: Stack, llm: FakeLLM
) -> None:
    with running_worker(stack.settings(llm)) as worker:
        request_id = stack.submit()
        record = stack.wait_status(request_id, Status.SUCCEEDED)
        wait_for(lambda: worker.settled == 1, what="the first delivery to be settled")
        stack.redis.delete(f"cf:req:{request_id}")  # so we can see the redelivery handled
        stack.publisher.publish_request(
            QueueMessage(request_id, record.request, stack.pool, record.dispatch_id)
        )
        cached = wait_for(lambda: stack.cached(request_id), what="the redelivery to refresh Redis")
        assert cached is not None
        wait_for(lambda: worker.settled == 2, what="the redelivery to be settled")
    assert cached.status == "succeeded" and cached.result == record.result
    assert llm.calls(request_id) == 1
    assert stack.record(request_id).version == record.version  # nothing changed in MongoDB
    assert stack.ready_messages(requests_queue(stack.pool)) == 0  # acked, not requeued
    assert stack.take_dead_letters() == []


# --- cancellation ------------------------------------------------------------------------------


def test_cancelled_before_processing_never_reaches_the_llm(stack: Stack, llm: FakeLLM) -> None:
    request_id = stack.submit()
    stack.cancel(request_id)
    with running_worker(stack.settings(llm)) as worker:
        wait_for(lambda: worker.settled == 1, what="the worker to settle the message")
    assert stack.ready_messages(requests_queue(stack.pool)) == 0
    assert stack.take_dead_letters() == []
    assert llm.calls(request_id) == 0
    record = stack.record(request_id)
    assert record.status == "cancelled" and record.attempts == 0 and record.result is None
    assert stack.view(request_id).status == "cancelled"


def test_cancelled_while_running_keeps_cancelled_and_drops_the_result(
    stack: Stack, private_llm: FakeLLM
) -> None:
    private_llm.configure(latency=120)
    with running_worker(stack.settings(private_llm)) as worker:
        request_id = stack.submit()
        wait_for(lambda: private_llm.calls(request_id) == 1, what="the LLM call to start")
        stack.cancel(request_id)
        private_llm.release()  # the LLM answers now, after the cancellation
        wait_for(lambda: worker.settled == 1, what="the worker to settle the message")
    record = stack.record(request_id)
    assert record.status == "cancelled" and record.result is None
    assert record.message == "cancelled by the client"
    assert stack.view(request_id).status == "cancelled"
    assert stack.view(request_id).result is None
    assert private_llm.calls(request_id) == 1
    assert stack.ready_messages(requests_queue(stack.pool)) == 0
    assert stack.take_dead_letters() == []


# --- retries and failures ----------------------------------------------------------------------


def test_429_with_retry_after_then_ok(stack: Stack, llm: FakeLLM) -> None:
    request_id = stack.submit()
    llm.script(request_id, {"outcome": "429", "retryAfter": 5}, "ok")
    with running_worker(stack.settings(llm)):
        # Only a retry puts a claimed request (attempts 1) back to queued.
        def retry_scheduled() -> FortuneRecord | None:
            record = stack.record(request_id)
            return record if record.attempts == 1 and record.status == "queued" else None

        waiting = wait_for(retry_scheduled, what="the retry to be scheduled")
        cached_waiting = stack.wait_view(request_id, "queued")
        record = stack.wait_status(request_id, Status.SUCCEEDED)
    # Retry-After 5 is a minimum; up to half of it is added as jitter.
    match = re.fullmatch(
        r"retrying in ([\d.]+) s after HTTP 429 \(attempt 1 failed\)", waiting.message
    )
    assert match is not None and 5.0 <= float(match.group(1)) <= 7.5, waiting.message
    assert cached_waiting.message == waiting.message
    assert record.attempts == 2 and record.message == ""
    assert llm.calls(request_id) == 2
    assert stack.view(request_id).status == "succeeded"
    assert stack.ready_messages(requests_queue(stack.pool)) == 0
    assert stack.take_dead_letters() == []


def test_server_errors_beyond_max_attempts_fail_and_dead_letter(stack: Stack, llm: FakeLLM) -> None:
    request_id = stack.submit()
    llm.script(request_id, "500", "500", "500", "500", "ok")
    with running_worker(stack.settings(llm, max_attempts=3)):
        record = stack.wait_status(request_id, Status.FAILED)
        dead = wait_for(stack.take_dead_letters, what="the dead letter")
    assert record.attempts == 3 and llm.calls(request_id) == 3
    assert record.error["code"] == "llm_unavailable"
    assert record.error["message"].startswith("gave up after 3 attempts")
    assert "HTTP 500" in record.error["message"]
    assert stack.view(request_id).status == "failed"
    assert stack.view(request_id).error == record.error
    [(props, body)] = dead
    assert json.loads(body)["id"] == request_id and props.message_id == request_id
    assert stack.ready_messages(requests_queue(stack.pool)) == 0


def test_invalid_json_is_repaired_in_the_same_attempt(stack: Stack, llm: FakeLLM) -> None:
    request_id = stack.submit()
    llm.script(request_id, "invalid_json", "ok")
    with running_worker(stack.settings(llm)):
        record = stack.wait_status(request_id, Status.SUCCEEDED)
    assert record.attempts == 1 and llm.calls(request_id) == 2
    first, repair = (r["body"] for r in llm.requests() if r["requestId"] == request_id)
    assert [m["role"] for m in repair["messages"]] == ["system", "user", "assistant", "user"]
    assert repair["messages"][2]["content"].startswith("Here is your fortune")
    assert "not valid JSON" in repair["messages"][3]["content"]
    assert first["messages"] == repair["messages"][:2]
    # The usage covers both calls (the fake counts tokens of the messages it was sent).
    assert record.result["usage"]["promptTokens"] == sum(
        count_tokens(json.dumps(body["messages"], ensure_ascii=False)) for body in (first, repair)
    )


def test_answer_still_invalid_after_repair_fails_permanently(stack: Stack, llm: FakeLLM) -> None:
    request_id = stack.submit()
    llm.script(request_id, "wrong_schema", "wrong_schema", "ok")
    with running_worker(stack.settings(llm)):
        record = stack.wait_status(request_id, Status.FAILED)
        dead = wait_for(stack.take_dead_letters, what="the dead letter")
    assert record.attempts == 1 and llm.calls(request_id) == 2  # no retry for this
    assert record.error["code"] == "invalid_output"
    assert "still invalid after one repair attempt" in record.error["message"]
    assert [json.loads(body)["id"] for _, body in dead] == [request_id]


def test_malformed_and_orphan_messages_are_dead_lettered(stack: Stack, llm: FakeLLM) -> None:
    invalid_id = new_request_id()
    bad_request = {"profile": {"birthDate": "not a date"}, "topic": "career"}
    create_pending(
        request_id=invalid_id,
        request=bad_request,
        profile={},
        pool=stack.pool,
        client="tests",
        created_at=utcnow(),
        dispatch_id="d1",
    )
    valid = validate_request(BODY).request
    assert valid is not None
    orphan = QueueMessage(new_request_id(), valid.to_json_dict(), "x", "d0")
    with running_worker(stack.settings(llm)) as worker:
        stack.publish_raw(b"this is not json")
        stack.publish_raw(QueueMessage(invalid_id, bad_request, stack.pool, "d1").body())
        stack.publish_raw(QueueMessage(orphan.request_id, orphan.request, stack.pool, "d0").body())
        wait_for(lambda: worker.settled == 3, what="three messages settled")
        wait_for(
            lambda: stack.ready_messages(dead_letter_queue(stack.pool)) == 3,
            what="three dead letters",
        )
    bodies = {body for _, body in stack.take_dead_letters()}
    assert bodies == {
        b"this is not json",
        QueueMessage(invalid_id, bad_request, stack.pool, "d1").body(),
        QueueMessage(orphan.request_id, orphan.request, stack.pool, "d0").body(),
    }
    record = stack.record(invalid_id)
    assert record.status == "failed" and record.error["code"] == "invalid_request"
    assert "profile.birthDate" in record.error["message"]
    assert get_record(orphan.request_id) is None
    assert llm.stats()["total"] == 0
    assert stack.ready_messages(requests_queue(stack.pool)) == 0


# --- worker processes: kill -9, SIGTERM --------------------------------------------------------


def test_kill9_mid_request_completes_exactly_once(
    stack: Stack, private_llm: FakeLLM, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    private_llm.configure(latency=120)
    first = spawn_worker(OPENAI_BASE_URL=private_llm.base_url)
    request_id = stack.submit()
    stack.wait_status(request_id, Status.RUNNING)
    wait_for(lambda: private_llm.calls(request_id) == 1, what="the LLM call to be in flight")
    first.signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    private_llm.configure(latency=0)  # the next call answers at once

    second = spawn_worker(OPENAI_BASE_URL=private_llm.base_url)
    record = stack.wait_status(request_id, Status.SUCCEEDED)
    second.signal(signal.SIGTERM)
    assert second.wait(60) == 0
    assert record.attempts == 2 and record.worker == "proc-2"
    assert record.result["provider"] == "openai"
    # The call in flight when the first worker died counts: the fake saw two calls.
    assert private_llm.calls(request_id) == 2
    assert stack.view(request_id).status == "succeeded"
    assert stack.ready_messages(requests_queue(stack.pool)) == 0
    assert stack.take_dead_letters() == []


def test_kill9_after_the_result_is_stored_but_before_the_ack(
    stack: Stack, llm: FakeLLM, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    """The worker dies (SIGKILL, at a failpoint) right after MongoDB stored the result, before
    the status cache shows it and before the ack: the broker redelivers the message, and the next
    worker only shows the stored result, without a second call."""
    first = spawn_worker(FORTUNE_FAILPOINTS="succeed.after_record")
    request_id = stack.submit()
    stored = stack.wait_status(request_id, Status.SUCCEEDED)  # MongoDB written
    assert first.wait(30) == -signal.SIGKILL
    assert stack.view(request_id).status == "running"  # the projection never happened

    second = spawn_worker()
    wait_for(
        lambda: stack.view(request_id).status == "succeeded",
        what="the redelivery to refresh Redis",
    )
    second.signal(signal.SIGTERM)
    assert second.wait(60) == 0
    assert llm.calls(request_id) == 1
    record = stack.record(request_id)
    assert record.attempts == 1 and record.version == stored.version
    assert stack.view(request_id).result == stored.result
    assert stack.ready_messages(requests_queue(stack.pool)) == 0
    assert stack.take_dead_letters() == []


def test_sigterm_drains_in_flight_work(
    stack: Stack, private_llm: FakeLLM, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    private_llm.configure(latency=120)
    worker = spawn_worker(OPENAI_BASE_URL=private_llm.base_url)
    request_ids = [stack.submit() for _ in range(3)]
    wait_for(
        lambda: all(private_llm.calls(r) == 1 for r in request_ids),
        what="three LLM calls in flight",
    )
    worker.signal(signal.SIGTERM)
    wait_for(lambda: worker.logged("stopping: no new messages"), what="the worker to drain")
    assert worker.process.poll() is None  # still finishing its work
    private_llm.release()
    assert worker.wait(60) == 0
    for request_id in request_ids:
        record = stack.record(request_id)
        assert record.status == "succeeded" and record.attempts == 1
        assert stack.view(request_id).status == "succeeded"
    assert stack.ready_messages(requests_queue(stack.pool)) == 0  # all acked
    assert stack.take_dead_letters() == []
    assert worker.logged("worker stopped (drained)")


def _one_calling_one_waiting(
    stack: Stack, private_llm: FakeLLM, spawn_worker: Callable[..., WorkerProcess]
) -> tuple[WorkerProcess, str, str]:
    """A worker with one call slot and a prefetch of two: one request in its (held) LLM call,
    the other claimed and waiting for the slot. (worker, calling id, waiting id)"""
    private_llm.configure(latency=120)
    worker = spawn_worker(
        OPENAI_BASE_URL=private_llm.base_url,
        FORTUNE_WORKER_CONCURRENCY="1",
        FORTUNE_WORKER_PREFETCH="2",
    )
    first, second = stack.submit(), stack.submit()
    calling = wait_for(
        lambda: next((r for r in (first, second) if private_llm.calls(r) == 1), None),
        what="one LLM call in flight",
    )
    waiting = second if calling == first else first
    stack.wait_status(waiting, Status.RUNNING)  # claimed, waiting for the call slot
    return worker, calling, waiting


def test_sigterm_gives_back_claims_waiting_for_a_call_slot(
    stack: Stack, private_llm: FakeLLM, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    worker, calling, waiting = _one_calling_one_waiting(stack, private_llm, spawn_worker)
    worker.signal(signal.SIGTERM)
    returned = stack.wait_status(waiting, Status.QUEUED)
    assert returned.attempts == 0  # the claim was given back, its attempt not counted
    assert stack.wait_view(waiting, "queued").attempts == 0
    wait_for(lambda: stack.ready_messages(requests_queue(stack.pool)) == 1, what="requeue")
    private_llm.release()
    assert worker.wait(60) == 0  # the call in flight finished and was acked
    assert stack.record(calling).status == "succeeded"
    assert private_llm.calls(waiting) == 0

    private_llm.reset()
    second = spawn_worker(OPENAI_BASE_URL=private_llm.base_url)
    record = stack.wait_status(waiting, Status.SUCCEEDED)
    second.signal(signal.SIGTERM)
    assert second.wait(60) == 0
    assert record.attempts == 1 and private_llm.calls(waiting) == 1
    assert stack.ready_messages(requests_queue(stack.pool)) == 0


def test_cancelled_while_waiting_for_a_call_slot_is_never_called(
    stack: Stack, private_llm: FakeLLM, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    worker, calling, waiting = _one_calling_one_waiting(stack, private_llm, spawn_worker)
    stack.cancel(waiting)
    private_llm.release()
    stack.wait_status(calling, Status.SUCCEEDED)
    wait_for(lambda: worker.logged("cancelled before its call"), what="the skip")
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0
    assert private_llm.calls(waiting) == 0
    assert stack.record(waiting).status == "cancelled"
    assert stack.view(waiting).status == "cancelled"
    assert stack.ready_messages(requests_queue(stack.pool)) == 0


def test_global_llm_limit_across_workers(
    stack: Stack, private_llm: FakeLLM, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    private_llm.configure(latency=0.5)
    workers = [
        spawn_worker(
            OPENAI_BASE_URL=private_llm.base_url,
            FORTUNE_LLM_GLOBAL_CONCURRENCY="2",
            FORTUNE_WORKER_CONCURRENCY="4",
        )
        for _ in range(2)
    ]
    request_ids = [stack.submit() for _ in range(8)]
    for request_id in request_ids:
        stack.wait_status(request_id, Status.SUCCEEDED)
    for worker in workers:
        worker.signal(signal.SIGTERM)
    assert [worker.wait(60) for worker in workers] == [0, 0]
    assert private_llm.stats()["total"] == 8
    assert private_llm.stats()["maxConcurrent"] == 2
    assert {stack.record(r).worker for r in request_ids} == {"proc-1", "proc-2"}
    assert LlmLeases(stack.redis, 2, 60).holders() == 0  # every lease was given back


def test_sigterm_while_starting_is_kept_and_stops_the_worker(
    backend_env: dict[str, str], tmp_path: Path
) -> None:
    """A SIGTERM that arrives while the worker process still starts (its imports done, its
    worker not built yet) is replayed once the worker exists: it drains at once and exits 0 with
    its last words. Without the early handler the signal kills it (and in a container, as PID 1,
    it would be ignored until the grace period ends)."""
    last_words = tmp_path / "termination-log"
    last_words.touch()
    code = (
        "import os, pathlib, signal, sys\n"
        "import fortune_worker.__main__ as entry\n"
        "entry.TERMINATION_LOG = pathlib.Path(sys.argv[1])\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "sys.exit(entry.main())\n"
    )
    env = {
        **os.environ,
        **backend_env,
        "FORTUNE_WORKER_ID": "early",
        "FORTUNE_WORKER_METRICS_PORT": "0",
    }
    ended = subprocess.run(
        [sys.executable, "-c", code, str(last_words)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ended.returncode == 0, ended.stderr
    assert last_words.read_text() == (
        "SIGTERM received: finishing in-flight work, then exiting\nworker stopped (drained)\n"
    )
    assert "consuming " not in ended.stderr + ended.stdout  # it never took a message


def test_sigterm_grace_over_leaves_work_for_redelivery(
    stack: Stack, private_llm: FakeLLM, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    private_llm.configure(latency=120)
    first = spawn_worker(
        OPENAI_BASE_URL=private_llm.base_url, FORTUNE_WORKER_SHUTDOWN_GRACE_SECONDS="1"
    )
    request_id = stack.submit()
    wait_for(lambda: private_llm.calls(request_id) == 1, what="the LLM call to be in flight")
    first.signal(signal.SIGTERM)
    assert first.wait(60) == ExitStatus.ABANDONED  # gave up waiting, settled nothing
    assert first.logged("grace period over with 1 messages unsettled")
    assert stack.record(request_id).status == "running"
    # The broker put the unacknowledged message back.
    wait_for(lambda: stack.ready_messages(requests_queue(stack.pool)) == 1, what="requeue")

    private_llm.configure(latency=0)
    second = spawn_worker(OPENAI_BASE_URL=private_llm.base_url)
    record = stack.wait_status(request_id, Status.SUCCEEDED)
    second.signal(signal.SIGTERM)
    assert second.wait(60) == 0
    assert record.attempts == 2 and private_llm.calls(request_id) == 2
    assert stack.ready_messages(requests_queue(stack.pool)) == 0


def test_waits_for_rabbitmq_at_start(stack: Stack, tmp_path: Path) -> None:
    broker = RabbitMQServer(tmp_path / "late-rabbitmq", free_port())
    worker = WorkerProcess(
        {
            "RABBITMQ_URL": broker.amqp_url,
            "REDIS_URL": stack.redis_server.redis_url,
            "MONGODB_URI": stack.mongo_uri,
            "FORTUNE_POOL": stack.pool,
            "FORTUNE_LLM_PROVIDER": "almanac",
            "FORTUNE_WORKER_ID": "early",
            "FORTUNE_WORKER_METRICS_PORT": "0",
        },
        tmp_path / "early-worker.log",
    ).start()
    try:
        wait_for(lambda: worker.logged("RabbitMQ not reachable"), what="connection attempts")
        assert worker.process.poll() is None  # still waiting, not crashed
        broker.start()
        worker.wait_consuming()
        publisher = Publisher(broker.amqp_url)
        try:
            request_id = stack.submit(publisher=publisher)
        finally:
            publisher.close()
        record = stack.wait_status(request_id, Status.SUCCEEDED)
        assert record.worker == "early" and record.result["provider"] == "almanac"
        worker.signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        worker.kill()
        broker.stop()


def test_reconnects_after_the_connection_drops(
    stack: Stack, llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    with running_worker(stack.settings(llm)):
        stack.rabbitmq.ctl("close_all_connections", "test: connection drop")
        wait_for(lambda: "RabbitMQ connection lost" in caplog.text, what="the drop")
        request_id = stack.submit()
        record = stack.wait_status(request_id, Status.SUCCEEDED)
    assert record.attempts == 1 and llm.calls(request_id) == 1
    assert stack.ready_messages(requests_queue(stack.pool)) == 0


def test_request_whose_workers_kept_dying_fails_instead_of_looping(
    stack: Stack, llm: FakeLLM
) -> None:
    request_id = stack.submit()
    for _ in range(4):  # four workers claimed it and died ...
        assert transition(request_id, ACTIVE, Status.RUNNING, increment_attempts=True)
    stack.deliver_unacked()  # ... so the broker redelivers its message
    with running_worker(stack.settings(llm, max_attempts=4)):
        record = stack.wait_status(request_id, Status.FAILED)
        dead = wait_for(stack.take_dead_letters, what="the dead letter")
    assert record.error["code"] == "too_many_attempts"
    assert record.error["message"].startswith("gave up after 4 attempts")
    assert llm.calls(request_id) == 0
    assert [json.loads(body)["id"] for _, body in dead] == [request_id]


# --- the LLM semaphore on real Redis -----------------------------------------------------------

_HOLDER = """
import sys, redis
from fortune_worker.llm_leases import LlmLeases
slots = LlmLeases(redis.Redis.from_url(sys.argv[1]), 1, 60.0, key=sys.argv[2], owner="holder",
                 renew_seconds=0.1)
print(slots.acquire(), flush=True)
sys.stdin.read()  # hold the slot (the heartbeat renews it) until killed
"""


def _redis_now_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def test_slots_limit_and_release(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    client = redis.Redis.from_url(redis_server.redis_url)
    slots = LlmLeases(client, 2, 60, key="cf:test:slots")
    a, b, c = (slots.new_token() for _ in range(3))
    assert slots.try_acquire(a) and slots.try_acquire(b)
    assert not slots.try_acquire(c)
    assert slots.holders() == 2
    assert slots.try_acquire(a)  # a holder re-acquiring just renews
    slots.release(a)
    assert slots.try_acquire(c)
    assert slots.holders() == 2
    slots.release(b)
    slots.release(c)
    assert slots.holders() == 0
    with slots.hold() as held:
        assert client.zscore("cf:test:slots", held) is not None
    assert client.zscore("cf:test:slots", held) is None
    client.close()


def test_slot_of_a_killed_holder_is_reclaimed(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """A live holder's heartbeat keeps its lease; once it is killed its lease runs out and the
    slot is reclaimed. Expiry is decided by an injected clock 61 s ahead, not by waiting for a
    lease that a loaded machine might fail to renew in time."""
    key = "cf:test:slots"
    client = redis.Redis.from_url(redis_server.redis_url)
    holder = Program(
        [sys.executable, "-c", _HOLDER, redis_server.redis_url, key],
        ready=lambda: client.zcard(key) == 1,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ).start()
    try:
        assert holder.output() is not None
        token = holder.output().readline().strip()
        assert token.startswith("holder:")
        slots = LlmLeases(client, 1, 60.0, key=key)
        mine = slots.new_token()
        assert not slots.try_acquire(mine)
        first_expiry = client.zscore(key, token)
        assert first_expiry is not None
        wait_for(lambda: (client.zscore(key, token) or 0) > first_expiry, what="a renewal")

        holder.kill()
        later = LlmLeases(client, 1, 60.0, key=key, clock_ms=lambda: _redis_now_ms(client) + 61_000)
        assert not slots.try_acquire(mine)  # now: the dead holder's lease still runs
        assert later.holders() == 0  # 61 s on: it has expired
        assert later.try_acquire(mine)  # and the slot is reclaimed
        assert client.zscore(key, token) is None
        assert client.zrange(key, 0, -1) == [mine.encode()]
    finally:
        holder.kill()
        client.close()


def test_a_lease_not_renewed_in_time_is_lost(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Lease arithmetic on an injected clock (a 10-minute lease, so the key's own real-time
    expiry never interferes)."""
    client = redis.Redis.from_url(redis_server.redis_url)
    base = _redis_now_ms(client)
    now = {"ms": base}
    slots = LlmLeases(client, 1, 600.0, key="cf:test:lease", clock_ms=lambda: now["ms"])
    token = slots.new_token()
    assert slots.try_acquire(token)
    now["ms"] = base + 540_000
    assert slots.renew(token)  # renewed before expiry: 10 minutes from now
    now["ms"] = base + 1_080_000
    assert slots.renew(token)
    now["ms"] = base + 1_680_001
    assert not slots.renew(token)  # too late: lost, and removed
    assert client.zscore("cf:test:lease", token) is None
    client.close()
