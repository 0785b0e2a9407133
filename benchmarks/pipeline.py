"""Pipeline benchmark (not a test): throughput, per-request overhead and query speed.

Starts real RabbitMQ, Redis and SecantusDB on free ports, the fake OpenAI-compatible server with a
fixed latency, the API under gunicorn and one worker, then:

1. throughput: submits N requests at once and waits until all succeeded; compares with the ideal
   (concurrency / LLM latency);
2. overhead: M requests one at a time; end-to-end (record created → completed, server clocks)
   minus the LLM latency, p50/p99; and claimed → completed minus LLM (a worker claims a message
   when it arrives and may hold it up to one call's time until a call slot frees);
3. queries: GET /v1/fortunes/<id> on finished requests from T client threads for S seconds.

Prints a Markdown section and, with --write, replaces the pipeline section of
docs/benchmarks.md. Usage: .venv/bin/python benchmarks/pipeline.py [--requests 400] [--write]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dev"))

from localservices.backends import RabbitMQServer, RedisServer, SecantusDBServerProcess  # noqa: E402
from localservices.jsonhttp import http_json as _http  # noqa: E402
from localservices.programs import ApiProgram, FakeLLMProgram  # noqa: E402
from localservices.supervisor import Program, free_port, wait_for  # noqa: E402

BODY = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "overall",
    "period": "day",
    "language": "en",
}
MARK_BEGIN = "<!-- pipeline-benchmark:begin -->"
MARK_END = "<!-- pipeline-benchmark:end -->"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _records(mongodb_uri: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri)
    try:
        found = client.get_default_database()["fortunes"].find({"_id": {"$in": ids}})
        return {doc["_id"]: doc for doc in found}
    finally:
        client.close()


def _wait_all_done(api: str, ids: list[str], timeout: float) -> None:
    pending = set(ids)

    def done() -> bool:
        for request_id in list(pending):
            status, body = _http("GET", f"{api}/v1/fortunes/{request_id}")
            if status == 200 and body["status"] in {"succeeded", "failed", "cancelled"}:
                if body["status"] != "succeeded":
                    raise RuntimeError(f"{request_id} ended {body['status']}: {body}")
                pending.discard(request_id)
        return not pending

    wait_for(done, timeout=timeout, interval=0.5, what=f"{len(ids)} requests to finish")


def run(requests: int, sequential: int, latency: float, concurrency: int, query_s: float) -> str:
    """Run the three measurements; return the Markdown section."""
    workdir = Path(tempfile.mkdtemp(prefix="cf-bench-"))
    services = [
        RabbitMQServer(workdir / "rabbitmq", free_port()),
        RedisServer(workdir / "redis", free_port()),
        SecantusDBServerProcess(workdir / "mongodb", free_port(), ttl_sweep_seconds=60),
    ]
    processes: list[Program] = []
    try:
        for service in services:
            service.start()
        rabbitmq, redis_server, mongodb = services
        llm_port, api_port = free_port(), free_port()
        mongodb_uri = f"{mongodb.mongodb_uri}/bench"  # type: ignore[attr-defined]
        env = {
            **os.environ,
            "RABBITMQ_URL": rabbitmq.amqp_url,  # type: ignore[attr-defined]
            "REDIS_URL": redis_server.redis_url,  # type: ignore[attr-defined]
            "MONGODB_URI": mongodb_uri,
            "FORTUNE_LLM_PROVIDER": "openai",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
            "OPENAI_API_KEY": "bench",
            "FORTUNE_WORKER_CONCURRENCY": str(concurrency),
            "FORTUNE_RATE_LIMIT_PER_MINUTE": "0",
            "FORTUNE_POLL_RATE_LIMIT_PER_MINUTE": "0",
            "FORTUNE_LOG_LEVEL": "WARNING",
            "FORTUNE_WORKER_METRICS_PORT": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
        }
        (workdir / "prometheus").mkdir()
        fake = FakeLLMProgram(llm_port, workdir / "fake_llm.log", latency)
        processes.append(fake.start())
        api_program = ApiProgram(api_port, env, workdir / "api.log", workers=2, threads=8)
        processes.append(api_program.start())
        worker = Program(
            [sys.executable, "-m", "fortune_worker"], env=env, log_path=workdir / "worker.log"
        )
        processes.append(worker.start())
        api = api_program.url

        # warm-up: one request through the whole path
        warm = _http("POST", f"{api}/v1/fortunes", BODY)[1]["id"]
        _wait_all_done(api, [warm], 60)

        # 1. throughput
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(lambda _: _http("POST", f"{api}/v1/fortunes", BODY),
                                      range(requests)))  # fmt: skip
        submit_s = time.perf_counter() - started
        assert all(status == 202 for status, _ in responses), responses[:3]
        ids = [body["id"] for _, body in responses]
        _wait_all_done(api, ids, timeout=requests * latency / concurrency * 3 + 60)
        records = _records(mongodb_uri, ids)
        first = min(r["created_at"] for r in records.values())
        last = max(r["completed_at"] for r in records.values())
        span = (last - first).total_seconds()
        throughput = requests / span
        ideal = concurrency / latency
        worker_overhead = [
            (r["completed_at"] - r["started_at"]).total_seconds() - latency
            for r in records.values()
        ]

        # 2. overhead, one at a time
        lone: list[float] = []
        for _ in range(sequential):
            request_id = _http("POST", f"{api}/v1/fortunes", BODY)[1]["id"]
            _wait_all_done(api, [request_id], 60)
            record = _records(mongodb_uri, [request_id])[request_id]
            lone.append((record["completed_at"] - record["created_at"]).total_seconds() - latency)

        # 3. queries
        count = 0
        latencies: list[float] = []
        lock = threading.Lock()
        stop_at = time.perf_counter() + query_s

        def poll(worker_index: int) -> None:
            nonlocal count
            local: list[float] = []
            i = worker_index
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                status, _ = _http("GET", f"{api}/v1/fortunes/{ids[i % len(ids)]}")
                local.append(time.perf_counter() - t0)
                assert status == 200
                i += 7
            with lock:
                count += len(local)
                latencies.extend(local)

        threads = [threading.Thread(target=poll, args=(n,)) for n in range(8)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        query_rps = count / (time.perf_counter() - t0)

        ms = 1000.0
        today = dt.date.today().isoformat()
        return "\n".join(
            [
                MARK_BEGIN,
                f"Measured {today} on this machine ({os.cpu_count()} cores, "
                f"{platform.python_implementation()} {platform.python_version()}), command "
                f"`.venv/bin/python benchmarks/pipeline.py --requests {requests} --write`. "
                f"Fake LLM latency {latency:g} s; 1 worker × {concurrency} concurrency; API under "
                "gunicorn (2 workers × 8 threads); RabbitMQ, Redis, SecantusDB all local.",
                "",
                "| measure | value |",
                "|---|---|",
                f"| requests | {requests} (submitted in {submit_s:.2f} s by 16 client threads) |",
                f"| throughput | **{throughput:.2f} req/s** (ideal {ideal:.2f}: "
                f"{throughput / ideal:.1%} of ideal; first accepted → last completed "
                f"{span:.1f} s) |",
                f"| claimed → completed − LLM (includes the wait for a call slot) | p50 "
                f"{statistics.median(worker_overhead) * ms:.1f} ms, p99 "
                f"{_percentile(worker_overhead, 99) * ms:.1f} ms |",
                f"| end-to-end overhead, lone requests (accepted → completed − LLM), n="
                f"{sequential} | p50 {statistics.median(lone) * ms:.1f} ms, p99 "
                f"{_percentile(lone, 99) * ms:.1f} ms |",
                f"| GET /v1/fortunes/{{id}}, 8 client threads, {query_s:g} s | "
                f"**{query_rps:.0f} req/s**, p50 {statistics.median(latencies) * ms:.1f} ms, "
                f"p99 {_percentile(latencies, 99) * ms:.1f} ms |",
                MARK_END,
            ]
        )
    finally:
        for process in reversed(processes):
            process.stop()
        for service in reversed(services):
            service.stop()


def _write(section: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if MARK_BEGIN in text:
        head, rest = text.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n## Pipeline\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--query-seconds", type=float, default=10.0)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    section = run(args.requests, args.sequential, args.latency, args.concurrency,
                  args.query_seconds)  # fmt: skip
    print(section)
    if args.write:
        _write(section)


if __name__ == "__main__":
    main()
