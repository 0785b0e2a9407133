"""The standalone stack for a benchmark: RabbitMQ, Redis, SecantusDB and the fake OpenAI-compatible
LLM (a process) on free ports in a work directory, and our programs (the API under gunicorn,
workers) started against them, all stopped by PID at the end."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Self, TypeVar

from localservices.backends import RabbitMQServer, RedisServer, SecantusDBServerProcess
from localservices.programs import ApiProgram, FakeLLMProgram, WorkerProgram
from localservices.supervisor import Program, free_port

P = TypeVar("P", bound=Program)


class Stack:
    """The backing services and the fake LLM (answering after `llm_latency` seconds) of one
    benchmark run; `start()` (or `with`) starts them, `stop()` stops whatever was started through
    it, in reverse order. MongoDB's database is `database`; the work directory a new temp dir
    unless given."""

    def __init__(
        self,
        database: str,
        llm_latency: float = 0.0,
        workdir: Path | None = None,
        ttl_sweep_seconds: float = 60.0,
    ) -> None:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"cf-{database}-"))
        self.rabbitmq = RabbitMQServer(self.workdir / "rabbitmq", free_port())
        self.redis = RedisServer(self.workdir / "redis", free_port())
        self.mongodb = SecantusDBServerProcess(
            self.workdir / "mongodb", free_port(), ttl_sweep_seconds=ttl_sweep_seconds
        )
        self.llm = FakeLLMProgram(free_port(), self.workdir / "fake_llm.log", llm_latency)
        self.mongodb_uri = f"{self.mongodb.mongodb_uri}/{database}"
        self._started: list[Program] = []

    def start(self) -> Self:
        """Start the backing services and the fake LLM."""
        for program in (self.rabbitmq, self.redis, self.mongodb, self.llm):
            self.run(program)
        return self

    def run(self, program: P) -> P:
        """Start `program` (to be stopped by `stop()`); the program."""
        program.start()
        if program not in self._started:
            self._started.append(program)
        return program

    def stop(self) -> None:
        """Stop everything started through this stack, the last started first."""
        for program in reversed(self._started):
            program.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of our programs against this stack, `overrides` on top: the backends,
        the fake LLM as the openai provider, no rate limits, no reuse of identical readings,
        warnings only, no worker metrics port, gunicorn's metrics in the work directory."""
        prometheus = self.workdir / "prometheus"
        prometheus.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "RABBITMQ_URL": self.rabbitmq.amqp_url,
            "REDIS_URL": self.redis.redis_url,
            "MONGODB_URI": self.mongodb_uri,
            "FORTUNE_RATE_LIMIT_PER_MINUTE": "0",
            "FORTUNE_POLL_RATE_LIMIT_PER_MINUTE": "0",
            "FORTUNE_LOG_LEVEL": "WARNING",
            "FORTUNE_WORKER_METRICS_PORT": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(prometheus),
            "FORTUNE_LLM_PROVIDER": "openai",
            "OPENAI_BASE_URL": self.llm.base_url,
            "OPENAI_API_KEY": "bench",
            # The pipeline benchmarks send one body many times and measure one LLM call each;
            # benchmarks/reuse.py turns reuse on.
            "FORTUNE_REUSE": "off",
        }
        return {**env, **overrides}

    def api(
        self, env: dict[str, str], workers: int = 2, threads: int = 8, log: str = "api.log"
    ) -> ApiProgram:
        """The API under gunicorn against this stack, started (ready: `/readyz` answers 200)."""
        return self.run(ApiProgram(free_port(), env, self.workdir / log, workers, threads))

    def worker(self, env: dict[str, str], log: str = "worker.log") -> WorkerProgram:
        """A worker against this stack, started."""
        return self.run(WorkerProgram(env, self.workdir / log))

    def records(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The MongoDB documents of these requests, by id (the system of record)."""
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(self.mongodb_uri)
        try:
            found = client.get_default_database()["fortunes"].find({"_id": {"$in": ids}})
            return {doc["_id"]: doc for doc in found}
        finally:
            client.close()
