"""The worker's test harness, shared by the worker tests and the fault matrix: the test's view of a
stack of real services (`Stack`: submit through the lifecycle, inspect MongoDB, Redis and the
queues), a worker in a thread (`running_worker`) and a worker process (`WorkerProcess`)."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pika
import redis
from fakes.fake_llm import FakeLLM

from fortune_core.conventions import ZiHourConvention
from fortune_core.ids import new_request_id
from fortune_core.lifecycle import Lifecycle, Submission
from fortune_core.profile import derive_profile
from fortune_core.queue import (
    REQUESTS_EXCHANGE,
    Publisher,
    dead_letter_queue,
    declare_topology,
    requests_queue,
)
from fortune_core.records import FortuneRecord, get_record
from fortune_core.request import validate_request
from fortune_core.settings import CoreSettings
from fortune_core.status import Status
from fortune_core.status_cache import StatusCache
from fortune_core.views import RequestView
from fortune_worker.consumer import ExitStatus, Worker
from fortune_worker.settings import ProviderName, SweepMode, WorkerSettings
from localservices.backends import RabbitMQServer, RedisServer
from localservices.programs import WorkerProgram
from localservices.supervisor import wait_for

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[1]
BODY: dict[str, Any] = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "career",
    "period": "day",
    "date": "2025-06-01",
    "language": "en",
}


# --- the test's view of the stack --------------------------------------------------------------


@dataclass
class Stack:
    """This test's backends, and helpers that act like the API and inspect the stores."""

    rabbitmq: RabbitMQServer
    redis_server: RedisServer
    mongo_uri: str
    pool: str
    redis: redis.Redis
    cache: StatusCache
    publisher: Publisher
    retention: int = 3600

    def lifecycle(self, publisher: Publisher | None = None) -> Lifecycle:
        """The lifecycle the API would use on these backends."""
        return Lifecycle(self.cache, publisher or self.publisher, retention_seconds=self.retention)

    def submit(self, body: dict[str, Any] | None = None, publisher: Publisher | None = None) -> str:
        """Submit a request with the lifecycle's submission, exactly as the API does."""
        fortune = validate_request(body or BODY).request
        assert fortune is not None
        fortune = fortune.with_resolved_date()
        profile = derive_profile(fortune.profile, ZiHourConvention.NEXT_DAY).to_json_dict()
        view = self.lifecycle(publisher).submit(
            Submission(new_request_id(), fortune, profile, self.pool, client="tests")
        )
        return view.id

    def cancel(self, request_id: str) -> None:
        """Cancel like the API's DELETE."""
        cancelled = self.lifecycle().cancel(request_id, "cancelled by the client")
        assert cancelled is not None, "the request had already finished"

    def status(self, request_id: str) -> str | None:
        record = get_record(request_id)
        return record.status if record is not None else None

    def wait_status(self, request_id: str, status: Status, timeout: float = 60.0) -> Any:
        """Wait until MongoDB has the record in `status`; the record."""

        def reached() -> Any:
            record = get_record(request_id)
            return record if record is not None and record.status == status.value else None

        return wait_for(reached, timeout, f"{request_id} to be {status.value}")

    def cached(self, request_id: str) -> RequestView | None:
        return self.cache.get(request_id)

    def view(self, request_id: str) -> RequestView:
        """The Redis view, which must exist."""
        view = self.cache.get(request_id)
        assert view is not None, f"Redis has no entry for {request_id}"
        return view

    def wait_view(self, request_id: str, status: str) -> RequestView:
        """Wait until Redis shows `status`; the view."""

        def shown() -> RequestView | None:
            view = self.cache.get(request_id)
            return view if view is not None and view.status == status else None

        return wait_for(shown, 60, f"Redis to show {request_id} {status}")

    def record(self, request_id: str) -> FortuneRecord:
        """The MongoDB record, which must exist."""
        record = get_record(request_id)
        assert record is not None, f"MongoDB has no record {request_id}"
        return record

    def _channel_do(self, action: Callable[[Any], T]) -> T:
        connection = pika.BlockingConnection(pika.URLParameters(self.rabbitmq.amqp_url))
        try:
            return action(connection.channel())
        finally:
            connection.close()

    def ready_messages(self, queue: str) -> int:
        """Ready (not delivered) messages in `queue`."""
        return int(
            self._channel_do(lambda ch: ch.queue_declare(queue, passive=True).method.message_count)
        )

    def deliver_unacked(self) -> None:
        """Take the pool's next message without acknowledging it and close the channel, as a
        worker that died holding it: the broker puts it back, flagged redelivered."""

        def take(channel: Any) -> None:
            method, _props, _body = channel.basic_get(requests_queue(self.pool), auto_ack=False)
            assert method is not None, "no message to take"

        self._channel_do(take)

    def take_dead_letters(self) -> list[tuple[Any, bytes]]:
        """Take (basic_get + ack) every message in the pool's dead-letter queue."""

        def take(channel: Any) -> list[tuple[Any, bytes]]:
            taken: list[tuple[Any, bytes]] = []
            while True:
                method, props, body = channel.basic_get(dead_letter_queue(self.pool))
                if method is None:
                    return taken
                taken.append((props, body))
                channel.basic_ack(method.delivery_tag)

        return self._channel_do(take)

    def declare(self) -> None:
        self._channel_do(lambda ch: declare_topology(ch, self.pool))

    def publish_raw(self, body: bytes) -> None:
        self._channel_do(
            lambda ch: ch.basic_publish(
                REQUESTS_EXCHANGE,
                self.pool,
                body,
                pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
            )
        )

    def core(self) -> CoreSettings:
        return CoreSettings(
            rabbitmq_url=self.rabbitmq.amqp_url,
            rabbitmq_management_url=self.rabbitmq.management_url,
            redis_url=self.redis_server.redis_url,
            mongodb_uri=self.mongo_uri,
            retention_seconds=self.retention,
            pool=self.pool,
        )

    def settings(self, llm: FakeLLM | None = None, **overrides: Any) -> WorkerSettings:
        """In-process worker settings: the almanac provider, or openai against `llm`."""
        values: dict[str, Any] = {
            "core": self.core(),
            "worker_id": f"thread-{uuid.uuid4().hex[:6]}",
            "concurrency": 4,
            "max_attempts": 4,
            "retry_max_delay_seconds": 1.0,
            "shutdown_grace_seconds": 30.0,
            "provider": ProviderName.OPENAI if llm else ProviderName.ALMANAC,
            "openai_base_url": llm.base_url if llm else None,
            "openai_api_key": "test-key" if llm else None,
            "llm_timeout_seconds": 30.0,
            "metrics_port": 0,
            "sweep_mode": SweepMode.OFF,  # a test that wants the sweep turns it on
        }
        values.update(overrides)
        return WorkerSettings(**values)


@contextlib.contextmanager
def running_worker(settings: WorkerSettings) -> Iterator[Worker]:
    """A worker consuming in a thread of this process; stopped (drained) on exit."""
    worker = Worker(settings)
    outcome: dict[str, ExitStatus] = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault("status", worker.run()), name="worker", daemon=True
    )
    thread.start()
    wait_for(worker.consuming.is_set, 60, "the worker to consume")
    try:
        yield worker
    finally:
        worker.request_stop()
        thread.join(60)
        assert not thread.is_alive(), "the worker did not stop"
    assert outcome.get("status") == ExitStatus.DRAINED


# --- worker processes --------------------------------------------------------------------------


class WorkerProcess(WorkerProgram):
    """A worker process (`WorkerProgram`) whose JSON log the test reads; signalled and stopped by
    PID. `env` is its whole environment."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        super().__init__(env, log_path)
        self.log_path = log_path

    def logs(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def logged(self, prefix: str) -> bool:
        return any(str(e.get("msg", "")).startswith(prefix) for e in self.logs())

    def wait_consuming(self) -> None:
        def consuming() -> bool:
            # The log first: a worker told to die at its first claim may be gone by now.
            if self.logged("consuming "):
                return True
            if self.process is None or self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log_path.read_text()}")
            return False

        wait_for(consuming, 60, f"worker {self.pid} to consume")
