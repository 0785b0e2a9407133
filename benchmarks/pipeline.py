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
import statistics
import time

from common import ROOT
from common.http_load import get_load
from common.report import DocsSection, measured_on, percentile
from common.stack import Stack

from localservices.jsonhttp import http_json as _http
from localservices.supervisor import wait_for

BODY = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "overall",
    "period": "day",
    "language": "en",
}
SECTION = DocsSection(ROOT / "docs" / "benchmarks.md", "pipeline-benchmark", "Pipeline")


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
    """Run the three measurements; return the Markdown section's body."""
    with Stack("bench", llm_latency=latency) as stack:
        env = stack.env(FORTUNE_WORKER_CONCURRENCY=str(concurrency))
        api_program = stack.api(env, workers=2, threads=8)
        api = api_program.url
        stack.worker(env)

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
        records = stack.records(ids)
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
            record = stack.records([request_id])[request_id]
            lone.append((record["completed_at"] - record["created_at"]).total_seconds() - latency)

        # 3. queries, a new connection for each
        paths = [f"/v1/fortunes/{i}" for i in ids]
        queries = get_load(api_program.port, paths, query_s, keep_alive=False)

    ms = 1000.0
    command = f".venv/bin/python benchmarks/pipeline.py --requests {requests} --write"
    return "\n".join(
        [
            f"{measured_on(command)} Fake LLM latency {latency:g} s; 1 worker × {concurrency} "
            "concurrency; API under gunicorn (2 workers × 8 threads); RabbitMQ, Redis, "
            "SecantusDB all local.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| requests | {requests} (submitted in {submit_s:.2f} s by 16 client threads) |",
            f"| throughput | **{throughput:.2f} req/s** (ideal {ideal:.2f}: "
            f"{throughput / ideal:.1%} of ideal; first accepted → last completed "
            f"{span:.1f} s) |",
            f"| claimed → completed − LLM (includes the wait for a call slot) | p50 "
            f"{statistics.median(worker_overhead) * ms:.1f} ms, p99 "
            f"{percentile(worker_overhead, 99) * ms:.1f} ms |",
            f"| end-to-end overhead, lone requests (accepted → completed − LLM), n="
            f"{sequential} | p50 {statistics.median(lone) * ms:.1f} ms, p99 "
            f"{percentile(lone, 99) * ms:.1f} ms |",
            f"| GET /v1/fortunes/{{id}}, 8 client threads, {query_s:g} s | "
            f"**{queries['rps']:.0f} req/s**, p50 {queries['p50_ms']:.1f} ms, "
            f"p99 {queries['p99_ms']:.1f} ms |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--query-seconds", type=float, default=10.0)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    body = run(args.requests, args.sequential, args.latency, args.concurrency,
               args.query_seconds)  # fmt: skip
    print(SECTION.text(body))
    if args.write:
        SECTION.write(body)


if __name__ == "__main__":
    main()
