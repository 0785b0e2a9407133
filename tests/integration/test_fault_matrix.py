"""The fault matrix (docs/reliability.md): each transition of the request lifecycle × each fault
between its steps, against real RabbitMQ, Redis and SecantusDB and the fake LLM. Every test shows
the request ends in a terminal state (or is recovered by the sweep within its interval) and counts
its LLM calls.

Faults are real: a broker that refuses publishes (a RabbitMQ policy `max-length 0,
reject-publish` on the queue), a stopped and restarted RabbitMQ, a purged queue, a Redis that is
stopped or refuses writes (`min-replicas-to-write`), a stopped SecantusDB, and a process killed
with SIGKILL between two steps of a transition (`FORTUNE_FAILPOINTS`, fortune_core.failpoints).
Each test has its own Redis and SecantusDB (stopped and started at will) and its own worker pool
on the session's RabbitMQ, or a broker of its own where the broker itself is restarted. The sweep
runs in the workers (standalone mode) with a 0.5 s interval and a 1 s lost-message threshold.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pika
import pytest
import redis
import requests
from fakes.fake_llm import FakeLLM
from flask.testing import FlaskClient
from worker_testing import BODY, Stack, WorkerProcess, running_worker

from fortune_api.app import create_app
from fortune_api.backends import Backends
from fortune_api.settings import ApiSettings
from fortune_core.ids import new_request_id
from fortune_core.lifecycle import Lifecycle, Submission
from fortune_core.queue import Publisher, requests_queue, retry_queue
from fortune_core.records import (
    FortuneRecord,
    connect_records,
    create_pending,
    disconnect_records,
    ensure_ttl_index,
    utcnow,
)
from fortune_core.request import validate_request
from fortune_core.settings import SweepSettings
from fortune_core.status import Status
from fortune_core.status_cache import StatusCache
from fortune_core.sweep import STANDALONE_SCOPE, Sweep
from fortune_worker.settings import SweepMode, WorkerSettings
from localservices.backends import RabbitMQServer, RedisServer, SecantusDBServerProcess
from localservices.programs import ApiProgram
from localservices.supervisor import free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FAST_SWEEP = SweepSettings(sweep_seconds=0.5, lost_message_seconds=1.0, stale_running_seconds=600)
SWEEP_ENV = {
    "FORTUNE_WORKER_SWEEP": "on",
    "FORTUNE_SWEEP_SECONDS": "0.5",
    "FORTUNE_LOST_MESSAGE_SECONDS": "1",
}


# --- the stack: own Redis and SecantusDB, a pool of its own ------------------------------------


class FaultStack(Stack):
    """A `Stack` whose Redis and MongoDB belong to the test (stopped and started at will)."""

    mongodb: SecantusDBServerProcess
    tmp_path: Path
    llm_url: str
    started: list[Any]

    def sweeping(self, llm: FakeLLM | None = None, **overrides: Any) -> WorkerSettings:
        """In-process worker settings with the fast sweep on."""
        return self.settings(llm, sweep_mode=SweepMode.ON, sweep=FAST_SWEEP, **overrides)

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a worker or API process on this stack."""
        return {
            **os.environ,
            "RABBITMQ_URL": self.rabbitmq.amqp_url,
            "REDIS_URL": self.redis_server.redis_url,
            "MONGODB_URI": self.mongo_uri,
            "FORTUNE_POOL": self.pool,
            "FORTUNE_LLM_PROVIDER": "openai",
            "OPENAI_BASE_URL": self.llm_url,
            "OPENAI_API_KEY": "test-key",
            "FORTUNE_WORKER_METRICS_PORT": "0",
            "FORTUNE_WORKER_CONCURRENCY": "4",
            "FORTUNE_RETRY_BASE_SECONDS": "0.2",
            "FORTUNE_RETRY_MAX_DELAY_SECONDS": "0.5",
            "FORTUNE_WORKER_SWEEP": "off",
            "FORTUNE_REUSE": "off",  # every request of the same body is its own call here
            "FORTUNE_RATE_LIMIT_PER_MINUTE": "0",
            **overrides,
        }

    def spawn(self, name: str, **overrides: str) -> WorkerProcess:
        """A worker process (stopped by the fixture's teardown if still running)."""
        env = self.env(FORTUNE_WORKER_ID=name, **overrides)
        worker = WorkerProcess(env, self.tmp_path / f"{name}.log").start()
        self.started.append(worker)
        worker.wait_consuming()
        return worker

    def api_settings(self) -> ApiSettings:
        return ApiSettings(core=self.core(), rate_limit_per_minute=0, poll_rate_limit_per_minute=0)

    def only_record(self) -> FortuneRecord:
        """The one request this test made (its id was never answered)."""
        record = wait_for(FortuneRecord.objects.first, 30, "the request's record")
        assert FortuneRecord.objects.count() == 1
        return record

    def refuse_publishes(self, pattern: str) -> None:
        """The broker refuses (basic.nack) every publish to queues matching `pattern`."""
        self.rabbitmq.ctl(
            "set_policy", "--apply-to", "queues", f"refuse-{self.pool}", pattern,
            '{"max-length": 0, "overflow": "reject-publish"}',
        )  # fmt: skip

    def refuse_requests(self) -> None:
        """The broker refuses every publish to the pool's request queue. A quorum queue enforces
        its length before an append (one message gets past a limit of 0), so the queue is
        filled with one malformed filler message first (later dead-lettered by a worker)."""
        self.refuse_publishes("^" + requests_queue(self.pool).replace(".", r"\.") + "$")
        self.publish_raw(b"filler")

    def accept_publishes(self) -> None:
        self.rabbitmq.ctl("clear_policy", f"refuse-{self.pool}")

    def refuse_redis_writes(self, refuse: bool = True) -> None:
        """Redis refuses every write (NOREPLICAS) while reads go on answering."""
        self.redis.config_set("min-replicas-to-write", 1 if refuse else 0)

    def retry_queue_of(self, request_id: str) -> str:
        """The delay queue a queued retry waits in, from its status message (`retrying in N s`:
        the queue's TTL, so its name)."""
        message = self.record(request_id).message or ""
        match = re.match(r"retrying in ([\d.]+) s", message)
        assert match is not None, message
        return retry_queue(self.pool, round(float(match.group(1)) * 1000))

    def purge(self) -> int:
        """Purge the pool's request queue; how many messages went."""
        return int(
            self._channel_do(
                lambda ch: ch.queue_purge(requests_queue(self.pool)).method.message_count
            )
        )

    def recovered(self, request_id: str, timeout: float = 60.0) -> FortuneRecord:
        """Wait until the request succeeded and Redis shows it; the record."""
        record = self.wait_status(request_id, Status.SUCCEEDED, timeout)
        self.wait_view(request_id, "succeeded")
        return record


@pytest.fixture
def fstack(
    rabbitmq: RabbitMQServer, fake_llm: FakeLLM, tmp_path: Path, pool: str
) -> Iterator[FaultStack]:
    """Own Redis and SecantusDB on free ports, the session's broker, a fresh pool."""
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(_fault_stack(rabbitmq, fake_llm, tmp_path, pool))


@contextlib.contextmanager
def _fault_stack(
    rabbitmq: RabbitMQServer, fake_llm: FakeLLM, tmp_path: Path, pool: str
) -> Iterator[FaultStack]:
    own_redis = RedisServer(tmp_path / "redis", free_port()).start()
    own_mongo = SecantusDBServerProcess(
        tmp_path / "mongodb", free_port(), ttl_sweep_seconds=1
    ).start()
    mongo_uri = f"{own_mongo.mongodb_uri}/faults"
    connect_records(mongo_uri, None)
    client = redis.Redis.from_url(own_redis.redis_url, socket_timeout=5)
    publisher = Publisher(rabbitmq.amqp_url)
    stack = FaultStack(
        rabbitmq, own_redis, mongo_uri, pool, client, StatusCache(client, 3600), publisher
    )
    stack.mongodb, stack.tmp_path, stack.llm_url = own_mongo, tmp_path, fake_llm.base_url
    stack.started = []
    stack.declare()
    try:
        yield stack
    finally:
        for process in stack.started:
            process.kill()
        with contextlib.suppress(Exception):
            stack.accept_publishes()
        publisher.close()
        client.close()
        disconnect_records()
        own_mongo.stop()
        own_redis.stop()


@contextlib.contextmanager
def _api(stack: FaultStack, settings: ApiSettings | None = None) -> Iterator[FlaskClient]:
    """The API in-process on this stack (its MongoDB connection is the test's own)."""
    backends = Backends(settings or stack.api_settings())
    try:
        yield create_app(settings or stack.api_settings(), backends).test_client()
    finally:
        backends.close()


def _post(client: FlaskClient) -> Any:
    return client.post("/v1/fortunes", json=BODY)


# --- submit ------------------------------------------------------------------------------------


def test_submit_publish_refused_is_503_and_nothing_is_left(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    fstack.refuse_requests()
    with _api(fstack) as client:
        refused = _post(client)
    # The broker's refusal is a full queue (reject-publish): 503 queue_full, retry later.
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "queue_full"
    record = fstack.only_record()
    assert record.status == "failed" and record.error["code"] == "not_accepted"
    assert fstack.view(record.id).status == "failed"
    fstack.accept_publishes()
    with running_worker(fstack.sweeping(llm)) as worker:
        wait_for(lambda: worker.sweeper is not None and worker.sweeper.runs >= 2, 30, "sweeps")
    assert llm.calls(record.id) == 0 and fstack.record(record.id).status == "failed"


def test_submit_with_redis_down_is_503_and_the_request_failed(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    with _api(fstack) as client:
        fstack.redis_server.stop()
        refused = _post(client)
        fstack.redis_server.start()
    assert refused.status_code == 503 and refused.get_json()["error"]["backend"] == "redis"
    record = fstack.only_record()
    assert record.status == "failed" and record.error["code"] == "not_accepted"
    assert fstack.ready_messages(requests_queue(fstack.pool)) == 0  # never published
    assert llm.calls(record.id) == 0


def test_submit_with_mongodb_down_is_503_and_nothing_is_recorded(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    with _api(fstack) as client:
        fstack.mongodb.stop()
        refused = _post(client)
        fstack.mongodb.start()
        accepted = _post(client)
    assert refused.status_code == 503 and refused.get_json()["error"]["backend"] == "mongodb"
    assert accepted.status_code == 202
    assert FortuneRecord.objects.count() == 1  # only the accepted one
    assert fstack.ready_messages(requests_queue(fstack.pool)) == 1


@pytest.mark.parametrize("point", ["submit.after_record", "submit.after_projection"])
def test_api_killed_before_its_publish_is_recovered_by_the_sweep(
    fstack: FaultStack, llm: FakeLLM, point: str
) -> None:
    """The API process dies (SIGKILL) after the record (and its cache entry) exist and before
    the publish: its client got no answer, the request has no message; the sweep finds it once
    the pool's queue is empty and publishes it."""
    api = ApiProgram(
        free_port(), fstack.env(FORTUNE_FAILPOINTS=point), fstack.tmp_path / "api.log", 1, 2
    ).start()
    fstack.started.append(api)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{api.url}/v1/fortunes", json=BODY, timeout=30)
    record = fstack.only_record()
    assert record.status == "queued" and fstack.ready_messages(requests_queue(fstack.pool)) == 0
    with running_worker(fstack.sweeping(llm)):
        done = fstack.recovered(record.id)
    assert llm.calls(record.id) == 1 and done.attempts == 1


def test_purged_messages_are_recovered_by_the_sweep(fstack: FaultStack, llm: FakeLLM) -> None:
    """The issue's reproduction in small: requests accepted, their queue purged before a worker
    took them; without the operator, every one still succeeds, with one LLM call each."""
    ids = [fstack.submit() for _ in range(20)]
    assert fstack.purge() == 20
    with running_worker(fstack.sweeping(llm)):
        for request_id in ids:
            fstack.recovered(request_id)
    assert [llm.calls(request_id) for request_id in ids] == [1] * 20
    assert fstack.ready_messages(requests_queue(fstack.pool)) == 0


def test_accept_publish_refused_is_published_by_the_sweep(fstack: FaultStack, llm: FakeLLM) -> None:
    """The operator's acceptance (a request that must be served: its FortuneRequest exists)
    whose publish is refused: the request stays queued, flagged `undelivered`, and the sweep
    publishes it once the broker takes it."""
    fstack.refuse_requests()
    fortune = validate_request(BODY).request
    assert fortune is not None
    view = fstack.lifecycle().accept(
        Submission(new_request_id(), fortune.with_resolved_date(), {}, fstack.pool, "tests")
    )
    assert view.status == Status.QUEUED and fstack.record(view.id).undelivered
    fstack.accept_publishes()
    with running_worker(fstack.sweeping(llm)):
        done = fstack.recovered(view.id)
    assert done.attempts == 1 and llm.calls(view.id) == 1


# --- dispatch: a retry -------------------------------------------------------------------------


def test_retry_publish_refused_is_published_again_by_the_sweep(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    """The lost request of the issue: an attempt fails, the retry's publish is refused. The
    record is queued under the retry's new dispatch and flagged `undelivered`; the old message is
    acknowledged (it is stale now); the sweep publishes the retry once the broker takes it."""
    fstack.refuse_publishes(rf"^cyberfortune\.retry\.{fstack.pool}\.")
    request_id = fstack.submit()
    llm.script(request_id, "500", "ok")
    with running_worker(fstack.sweeping(llm)):
        flagged = wait_for(
            lambda: FortuneRecord.objects(id=request_id, undelivered=True).first(),
            60,
            "the undelivered retry to be flagged",
        )
        assert flagged.status == "queued" and flagged.attempts == 1
        fstack.accept_publishes()
        done = fstack.recovered(request_id)
    assert done.attempts == 2 and llm.calls(request_id) == 2
    assert fstack.take_dead_letters() == []


def test_worker_killed_between_the_retry_record_and_its_publish(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    """The worker dies after recording the retry's dispatch and before publishing it: its old
    message is redelivered and dropped as stale; the sweep publishes the retry."""
    request_id = fstack.submit()
    llm.script(request_id, "500", "ok")
    first = fstack.spawn("dies", FORTUNE_FAILPOINTS="dispatch.after_record")
    assert first.wait(60) == -signal.SIGKILL
    record = fstack.record(request_id)
    assert record.status == "queued" and record.attempts == 1 and not record.undelivered
    fstack.spawn("sweeps", **SWEEP_ENV)
    done = fstack.recovered(request_id)
    assert done.attempts == 2 and llm.calls(request_id) == 2


def _holds_one(stack: FaultStack, queue: str) -> bool:
    """Whether `queue` holds one ready message (False while it does not exist yet: a delay
    queue is declared by the first publish to it)."""
    try:
        return stack.ready_messages(queue) == 1
    except pika.exceptions.ChannelClosedByBroker:
        return False


def test_a_purged_retry_queue_is_recovered_by_the_sweep(fstack: FaultStack, llm: FakeLLM) -> None:
    """A retry waits in its delay queue, which is purged: once its delay is over and its pool's
    queue is empty, the sweep publishes it again."""
    request_id = fstack.submit()
    llm.script(request_id, {"outcome": "429", "retryAfter": 10}, "ok")  # time enough to purge
    with running_worker(fstack.sweeping(llm)):
        wait_for(lambda: fstack.record(request_id).attempts == 1
                 and fstack.record(request_id).status == "queued", 60, "the retry")  # fmt: skip
        delay_queue = fstack.retry_queue_of(request_id)
        # The record is queued before the retry's publish: wait for the message itself.
        wait_for(lambda: _holds_one(fstack, delay_queue), 30, "the retry's message in its queue")
        purged = fstack._channel_do(lambda ch: ch.queue_purge(delay_queue).method.message_count)
        assert purged == 1
        done = fstack.recovered(request_id)
    assert done.attempts == 2 and llm.calls(request_id) == 2


def test_retry_with_mongodb_down_waits_and_then_retries(fstack: FaultStack, llm: FakeLLM) -> None:
    request_id = fstack.submit()
    llm.script(request_id, "500", "ok")
    llm.configure(latency=60)
    with running_worker(fstack.settings(llm)):
        wait_for(lambda: llm.calls(request_id) == 1, 60, "the first call")
        fstack.mongodb.stop()
        llm.configure(latency=0)
        llm.release()  # the first attempt fails now, while MongoDB is down
        fstack.mongodb.start()
        done = fstack.recovered(request_id)
    assert done.attempts == 2 and llm.calls(request_id) == 2


def test_retry_with_redis_refusing_writes_is_projected_and_goes_on(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    """The retry's projection fails (flagged); its publish does not depend on Redis, but the
    next attempt's LLM lease does: it waits, and everything is put right once Redis writes."""
    request_id = fstack.submit()
    llm.script(request_id, "500", "ok")
    llm.configure(latency=60)
    with running_worker(fstack.sweeping(llm)):
        wait_for(lambda: llm.calls(request_id) == 1, 60, "the first call")
        fstack.refuse_redis_writes()
        try:
            llm.configure(latency=0)
            llm.release()
            wait_for(
                lambda: FortuneRecord.objects(id=request_id, unprojected=True).first(),
                60,
                "the retry's failed projection",
            )
        finally:
            fstack.refuse_redis_writes(False)
        done = fstack.recovered(request_id)
    assert done.attempts == 2 and llm.calls(request_id) == 2


def test_a_retry_waiting_in_its_delay_queue_survives_a_broker_restart(
    llm: FakeLLM, tmp_path: Path, pool: str
) -> None:
    """The broker restarts while a retry waits in its delay queue. Its message comes back with the
    durable queue, or, when its delay ran out during the restart, RabbitMQ's at-most-once
    dead-lettering from a classic queue may drop it on its way back to the pool's queue: then the
    sweep publishes it again once it is due. Either way the request succeeds, with two calls."""
    broker = RabbitMQServer(tmp_path / "own-rabbitmq", free_port()).start()
    try:
        with _fault_stack(broker, llm, tmp_path, pool) as stack:
            request_id = stack.submit()
            llm.script(request_id, {"outcome": "429", "retryAfter": 5}, "ok")
            with running_worker(stack.sweeping(llm)):
                wait_for(lambda: stack.record(request_id).status == "queued"
                         and stack.record(request_id).attempts == 1, 60, "the retry")  # fmt: skip
                broker.restart()
                done = stack.recovered(request_id, timeout=90)
            assert done.attempts == 2 and llm.calls(request_id) == 2
    finally:
        broker.stop()


# --- claim -------------------------------------------------------------------------------------


def test_worker_killed_between_its_claim_and_the_projection(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    request_id = fstack.submit()
    first = fstack.spawn("dies", FORTUNE_FAILPOINTS="claim.after_record")
    assert first.wait(60) == -signal.SIGKILL
    assert fstack.record(request_id).status == "running"
    assert fstack.view(request_id).status == "queued"  # the projection never happened
    fstack.spawn("second")
    done = fstack.recovered(request_id)
    assert done.attempts == 2 and done.worker == "second"
    assert llm.calls(request_id) == 1  # the first worker died before its call


def test_claim_with_mongodb_down_waits_and_finishes(fstack: FaultStack, llm: FakeLLM) -> None:
    request_id = fstack.submit()
    fstack.mongodb.stop()
    worker = fstack.spawn("waits")
    wait_for(lambda: worker.logged("could not claim the request"), 60, "a failed claim")
    fstack.mongodb.start()
    done = fstack.recovered(request_id)
    assert done.attempts == 1 and llm.calls(request_id) == 1


def test_claim_with_redis_refusing_writes_is_projected_by_the_sweep(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    """The claim's projection fails (Redis refuses writes): the record is flagged and the call
    waits (its global LLM lease is a Redis write too); once Redis takes writes again the
    request finishes and shows it, the flag cleared."""
    request_id = fstack.submit()
    fstack.refuse_redis_writes()
    try:
        with running_worker(fstack.sweeping(llm)):
            flagged = wait_for(
                lambda: FortuneRecord.objects(id=request_id, unprojected=True).first(),
                60,
                "the failed projection to be flagged",
            )
            assert flagged.status == "running"
            assert fstack.view(request_id).status == "queued"  # Redis kept the old view
            assert llm.calls(request_id) == 0  # waiting for its LLM lease
            fstack.refuse_redis_writes(False)
            done = fstack.recovered(request_id)
            wait_for(lambda: not fstack.record(request_id).unprojected, 30, "the flag to clear")
    finally:
        fstack.refuse_redis_writes(False)
    assert done.attempts == 1 and llm.calls(request_id) == 1


def test_rabbitmq_restarted_while_a_claim_runs(llm: FakeLLM, tmp_path: Path, pool: str) -> None:
    """The broker restarts (cleanly) while a claimed request's call runs: the worker reconnects,
    the unacknowledged message comes back flagged redelivered and takes the claim over; of the two
    calls the first result stored wins, and the request succeeds once."""
    broker = RabbitMQServer(tmp_path / "own-rabbitmq", free_port()).start()
    try:
        with _fault_stack(broker, llm, tmp_path, pool) as stack:
            # Both calls are held until released, whatever the restart takes (a loaded machine
            # may take a minute): the redelivery always meets the first call still running.
            llm.configure(latency=900)
            request_id = stack.submit()
            with running_worker(stack.settings(llm, llm_timeout_seconds=900)):
                wait_for(lambda: llm.calls(request_id) == 1, 60, "the first call")
                broker.restart()
                wait_for(lambda: llm.calls(request_id) == 2, 180, "the redelivery's call")
                llm.release()
                done = stack.recovered(request_id)
            assert done.attempts == 2 and llm.calls(request_id) == 2
            assert stack.ready_messages(requests_queue(stack.pool)) == 0
    finally:
        broker.stop()


# --- give back ---------------------------------------------------------------------------------


def _calling_and_waiting(
    fstack: FaultStack, llm: FakeLLM, **env: str
) -> tuple[WorkerProcess, str, str]:
    """A worker (one call slot, prefetch 2) with one request in its held call and one claimed,
    waiting for the slot: (the worker, the calling id, the waiting id)."""
    llm.configure(latency=60)
    worker = fstack.spawn(
        "stops", FORTUNE_WORKER_CONCURRENCY="1", FORTUNE_WORKER_PREFETCH="2", **env
    )
    calling, waiting = fstack.submit(), fstack.submit()
    wait_for(lambda: llm.calls(calling) + llm.calls(waiting) == 1, 60, "one call in flight")
    if llm.calls(waiting):
        calling, waiting = waiting, calling
    fstack.wait_status(waiting, Status.RUNNING)
    return worker, calling, waiting


def test_worker_killed_while_giving_a_claim_back(fstack: FaultStack, llm: FakeLLM) -> None:
    """SIGTERM with a claim waiting for its call slot: the claim goes back (queued) and the
    worker dies right after that record, before requeueing the message; the broker redelivers
    it and the next worker runs the request once."""
    first, calling, waiting = _calling_and_waiting(
        fstack, llm, FORTUNE_FAILPOINTS="give_back.after_record"
    )
    first.signal(signal.SIGTERM)
    assert first.wait(60) == -signal.SIGKILL
    assert fstack.record(waiting).status == "queued"
    llm.configure(latency=0)
    fstack.spawn("second")
    for request_id in (calling, waiting):
        fstack.recovered(request_id)
    assert llm.calls(waiting) == 1
    assert llm.calls(calling) == 2  # its call was in flight when the first worker died


def test_give_back_with_mongodb_down_leaves_the_message_for_redelivery(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    """SIGTERM while a claim waits for its call slot and MongoDB is down: the give-back cannot be
    written, the grace period ends, the worker exits leaving the message unsettled; the next
    worker takes the redelivered claim over and runs it once."""
    first, calling, waiting = _calling_and_waiting(
        fstack, llm, FORTUNE_WORKER_SHUTDOWN_GRACE_SECONDS="3"
    )
    fstack.mongodb.stop()
    first.signal(signal.SIGTERM)
    assert first.wait(60) == 1  # ExitStatus.ABANDONED: work left for the broker
    fstack.mongodb.start()
    llm.configure(latency=0)
    llm.release()
    fstack.spawn("second")
    for request_id in (calling, waiting):
        fstack.recovered(request_id)
    assert llm.calls(waiting) == 1


# --- store -------------------------------------------------------------------------------------


def test_store_with_redis_refusing_writes_is_projected_by_the_sweep(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    request_id = fstack.submit()
    llm.configure(latency=60)
    with running_worker(fstack.sweeping(llm)):
        wait_for(lambda: llm.calls(request_id) == 1, 60, "the call to start")
        fstack.wait_view(request_id, "running")
        fstack.refuse_redis_writes()
        try:
            llm.release()
            stored = fstack.wait_status(request_id, Status.SUCCEEDED)
            wait_for(lambda: fstack.record(request_id).unprojected, 30, "the flag")
            assert fstack.view(request_id).status == "running"  # what Redis still shows
        finally:
            fstack.refuse_redis_writes(False)
        fstack.wait_view(request_id, "succeeded")
    assert stored.attempts == 1 and llm.calls(request_id) == 1


def test_store_with_mongodb_down_waits_and_finishes(fstack: FaultStack, llm: FakeLLM) -> None:
    request_id = fstack.submit()
    llm.configure(latency=60)
    with running_worker(fstack.settings(llm)):
        wait_for(lambda: llm.calls(request_id) == 1, 60, "the call to start")
        fstack.mongodb.stop()
        llm.release()
        fstack.mongodb.start()
        done = fstack.recovered(request_id)
    assert done.attempts == 1 and llm.calls(request_id) == 1


# --- fail --------------------------------------------------------------------------------------


def test_worker_killed_after_recording_a_failure(fstack: FaultStack, llm: FakeLLM) -> None:
    request_id = fstack.submit()
    llm.script(request_id, "wrong_schema", "wrong_schema")  # the answer and its repair: final
    first = fstack.spawn("dies", FORTUNE_FAILPOINTS="fail.after_record")
    assert first.wait(60) == -signal.SIGKILL
    assert fstack.record(request_id).status == "failed"
    fstack.spawn("second")
    view = fstack.wait_view(request_id, "failed")  # the redelivery shows the failure
    assert view.error is not None and view.error["code"] == "invalid_output"
    assert llm.calls(request_id) == 2  # the answer and its repair, never again


def test_fail_with_redis_refusing_writes_is_projected_by_the_sweep(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    request_id = fstack.submit()
    llm.script(request_id, "wrong_schema", "wrong_schema")
    llm.configure(latency=60)
    with running_worker(fstack.sweeping(llm)):
        wait_for(lambda: llm.calls(request_id) == 1, 60, "the first call")
        fstack.wait_view(request_id, "running")
        fstack.refuse_redis_writes()
        try:
            llm.configure(latency=0)
            llm.release()
            failed = fstack.wait_status(request_id, Status.FAILED)
            wait_for(lambda: fstack.record(request_id).unprojected, 30, "the flag")
            assert fstack.view(request_id).status == "running"
        finally:
            fstack.refuse_redis_writes(False)
        fstack.wait_view(request_id, "failed")
    assert failed.error["code"] == "invalid_output" and llm.calls(request_id) == 2


def test_fail_with_mongodb_down_waits_and_records_the_failure(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    request_id = fstack.submit()
    llm.script(request_id, "wrong_schema", "wrong_schema")
    llm.configure(latency=60)
    with running_worker(fstack.settings(llm)):
        wait_for(lambda: llm.calls(request_id) == 1, 60, "the first call")
        fstack.mongodb.stop()
        llm.configure(latency=0)
        llm.release()
        wait_for(lambda: llm.calls(request_id) == 2, 60, "the repair call")
        fstack.mongodb.start()
        failed = fstack.wait_status(request_id, Status.FAILED)
        fstack.wait_view(request_id, "failed")
    assert failed.error["code"] == "invalid_output" and llm.calls(request_id) == 2


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_with_redis_refusing_writes_is_projected_by_the_sweep(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    request_id = fstack.submit()
    fstack.refuse_redis_writes()
    try:
        with _api(fstack) as client:
            assert client.delete(f"/v1/fortunes/{request_id}").status_code == 202
        assert fstack.record(request_id).status == "cancelled"
        assert fstack.record(request_id).unprojected
        assert fstack.view(request_id).status == "queued"
    finally:
        fstack.refuse_redis_writes(False)
    with running_worker(fstack.sweeping(llm)):
        fstack.wait_view(request_id, "cancelled")
        wait_for(lambda: not fstack.record(request_id).unprojected, 30, "the flag to clear")
    assert llm.calls(request_id) == 0


def test_cancel_with_mongodb_down_is_503(fstack: FaultStack, llm: FakeLLM) -> None:
    request_id = fstack.submit()
    with _api(fstack) as client:
        fstack.mongodb.stop()
        refused = client.delete(f"/v1/fortunes/{request_id}")
        fstack.mongodb.start()
        accepted = client.delete(f"/v1/fortunes/{request_id}")
    assert refused.status_code == 503 and refused.get_json()["error"]["backend"] == "mongodb"
    assert accepted.status_code == 202
    assert fstack.record(request_id).status == "cancelled"


def test_api_killed_after_recording_a_cancellation(fstack: FaultStack, llm: FakeLLM) -> None:
    """The API process dies after the cancellation's record, before its projection: the
    request's message then shows it (its claim finds the request finished), without a call."""
    request_id = fstack.submit()
    api = ApiProgram(
        free_port(), fstack.env(FORTUNE_FAILPOINTS="cancel.after_record"),
        fstack.tmp_path / "api.log", 1, 2,
    ).start()  # fmt: skip
    fstack.started.append(api)
    with pytest.raises(requests.ConnectionError):
        requests.delete(f"{api.url}/v1/fortunes/{request_id}", timeout=30)
    assert fstack.record(request_id).status == "cancelled"
    assert fstack.view(request_id).status == "queued"
    fstack.spawn("second")
    fstack.wait_view(request_id, "cancelled")
    assert llm.calls(request_id) == 0


# --- expire ------------------------------------------------------------------------------------


def test_a_lost_request_past_its_retention_expires_and_is_not_swept(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    fstack.retention, fstack.cache = 3, StatusCache(fstack.redis, 3)
    ensure_ttl_index(3)  # as the API makes it
    request_id = fstack.submit()
    assert fstack.purge() == 1
    wait_for(lambda: FortuneRecord.objects(id=request_id).first() is None, 60, "the TTL sweep")
    settings = replace(fstack.api_settings(), core=replace(fstack.core(), retention_seconds=3))
    with _api(fstack, settings) as client:
        assert client.get(f"/v1/fortunes/{request_id}").status_code == 410
    sweep = Sweep(
        Lifecycle(fstack.cache, fstack.publisher, retention_seconds=3),
        FAST_SWEEP,
        scope=STANDALONE_SCOPE,
        queue_depth=fstack.publisher.ready_messages,
    )
    assert sweep.run().total == 0
    assert llm.calls(request_id) == 0


# --- repair: the sweep itself ------------------------------------------------------------------


def test_the_sweeping_worker_killed_is_replaced_within_its_lease(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    """Two workers sweep under one Redis lease; the holder is killed (SIGKILL); its lease
    expires (three intervals) and the other worker, now holding it, recovers a request whose
    message never existed (the record a publisher killed before its publish leaves)."""
    first = fstack.spawn("one", **SWEEP_ENV)
    second = fstack.spawn("two", **SWEEP_ENV)
    holder = wait_for(lambda: fstack.redis.get("cf:lease:sweep"), 30, "a lease holder").decode()
    dying, surviving = (first, second) if holder == "one" else (second, first)
    survivor = "two" if holder == "one" else "one"
    dying.kill()
    request_id = new_request_id()
    create_pending(
        request_id=request_id,
        request=_resolved_body(),
        profile={},
        pool=fstack.pool,
        client="tests",
        created_at=utcnow(),
        dispatch_id="never-published",
    )
    done = fstack.recovered(request_id)
    assert fstack.redis.get("cf:lease:sweep") == survivor.encode()
    assert done.worker == survivor and done.attempts == 1
    assert llm.calls(request_id) == 1
    assert surviving.process is not None and surviving.process.poll() is None


def _resolved_body() -> dict[str, Any]:
    fortune = validate_request(BODY).request
    assert fortune is not None
    return fortune.with_resolved_date().to_json_dict()


def test_repair_while_redis_still_refuses_writes_stays_flagged(
    fstack: FaultStack, llm: FakeLLM
) -> None:
    request_id = fstack.submit()
    fstack.refuse_redis_writes()
    lifecycle = fstack.lifecycle()
    try:
        assert lifecycle.cancel(request_id, "cancelled by the test") is not None
        sweep = Sweep(lifecycle, FAST_SWEEP, scope=STANDALONE_SCOPE,
                      queue_depth=fstack.publisher.ready_messages)  # fmt: skip
        assert sweep.run().counts.get("reprojected") == 1
        assert fstack.record(request_id).unprojected  # flagged again: Redis still refuses
    finally:
        fstack.refuse_redis_writes(False)
    assert sweep.run().counts.get("reprojected") == 1
    assert not fstack.record(request_id).unprojected
    assert fstack.view(request_id).status == "cancelled"
    assert llm.calls(request_id) == 0
