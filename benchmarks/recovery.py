"""Recovery benchmark (not a test): how long the standalone sweep takes to recover lost messages,
with the default sweep settings (`FORTUNE_SWEEP_SECONDS` 10, `FORTUNE_LOST_MESSAGE_SECONDS` 30).

    .venv/bin/python benchmarks/recovery.py [--requests 100] [--latency 1] [--write]

The scenario of issue 16, on the standalone stack (RabbitMQ, Redis, SecantusDB, the fake LLM at
`--latency` s, the API under gunicorn, two workers with their sweep): `--requests` readings are
accepted while no worker consumes, their queue is purged, then the workers start. Before the
lifecycle rewrite nothing recovered them without the operator (79 of 100 stayed queued). Then
the same with the worker holding the sweep lease killed (SIGKILL) just before the purge: the
other one takes the lease over when it expires (three sweep intervals).

Reports, from the purge: the time until the first and the last request succeeded, LLM calls per
request (must be 1) and, with --write, replaces its section of docs/reliability.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import signal
import time
from typing import Any

import pika
import redis
from common import ROOT
from common.report import DocsSection, load_average, measured_on
from common.stack import Stack

from localservices.jsonhttp import http_json
from localservices.supervisor import wait_for

SECTION = DocsSection(ROOT / "docs" / "reliability.md", "recovery", "Recovery of lost messages")
BODY = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "overall",
    "language": "en",
}


def scenario(stack: Stack, requests: int, kill_lease_holder: bool) -> dict[str, Any]:
    """Accept `requests` readings while no worker consumes their pool, purge its queue, start
    two workers (with `kill_lease_holder`: the worker holding the sweep lease, of another pool,
    is killed at once); the recovery figures."""
    name = f"recovery{int(kill_lease_holder)}"
    env = stack.env(FORTUNE_POOL=name)
    elsewhere = stack.worker(stack.env(FORTUNE_POOL=f"{name}-other"), log=f"{name}-other.log")
    cache = redis.Redis.from_url(stack.redis.redis_url)
    holder = wait_for(lambda: cache.get("cf:lease:sweep"), 60, "a sweep lease holder", 0.2)
    api = stack.api(env, log=f"{name}-api.log")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: http_json("POST", f"{api.url}/v1/fortunes", BODY),
                                range(requests)))  # fmt: skip
    ids = [body["id"] for status, body in answers if status == 202]
    assert len(ids) == requests, answers[:3]
    connection = pika.BlockingConnection(pika.URLParameters(stack.rabbitmq.amqp_url))
    try:
        purged = connection.channel().queue_purge(f"cyberfortune.requests.{name}")
    finally:
        connection.close()
    purged_at = time.monotonic()
    workers = [stack.worker(env, log=f"{name}-{n}.log") for n in (1, 2)]
    if kill_lease_holder:
        assert elsewhere.pid is not None and str(elsewhere.pid).encode() in holder
        elsewhere.signal(signal.SIGKILL)
    done: dict[str, float] = {}

    def all_done() -> bool:
        for request_id in ids:
            if request_id in done:
                continue
            status, body = http_json("GET", f"{api.url}/v1/fortunes/{request_id}")
            if status == 200 and body["status"] == "succeeded":
                done[request_id] = time.monotonic()
        return len(done) == len(ids)

    wait_for(all_done, 900, "every purged request to succeed", 0.5)
    stats = stack.llm.stats()
    calls = [int(stats["calls"].get(i, 0)) for i in ids]
    for program in (*workers, elsewhere, api):
        program.stop()
    return {
        "purged": purged.method.message_count,
        "first": min(done.values()) - purged_at,
        "last": max(done.values()) - purged_at,
        "calls": sum(calls) / len(calls),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    before = load_average()
    with Stack("recovery", llm_latency=args.latency) as stack:
        plain = scenario(stack, args.requests, kill_lease_holder=False)
        killed = scenario(stack, args.requests, kill_lease_holder=True)
    command = f".venv/bin/python benchmarks/recovery.py --requests {args.requests} --write"
    rows = [
        ("queue purged, then two workers start", plain),
        ("the same, the sweep lease's holder (a worker of another pool) killed at once", killed),
    ]
    table = "\n".join(
        f"| {name} | {r['purged']} | {r['first']:.1f} s | {r['last']:.1f} s | {r['calls']:.2f} |"
        for name, r in rows
    )
    body = (
        f"{measured_on(command, (before, load_average()))} Standalone stack, the fake LLM at "
        f"{args.latency:g} s, two workers × 8, the default sweep settings (interval 10 s, a lost "
        "message after 30 s); no operator.\n\n"
        "| scenario | purged | first succeeded after | last succeeded after | LLM calls / "
        "request |\n|---|---|---|---|---|\n" + table + "\n"
    )
    print(SECTION.text(body))
    if args.write:
        SECTION.write(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
