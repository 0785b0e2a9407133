"""Micro-measurements of the hot paths issue 11 names (not a test): profile derivation, the day's
almanac, the answer schema, the worker's prompt and, with --publisher, confirmed publishes from 8
threads against a real RabbitMQ.

Run it on this tree, then on a baseline checkout for the before figures:

    .venv/bin/python benchmarks/hot_paths.py [--publisher]
    PYTHONPATH=<checkout>/core .venv/bin/python benchmarks/hot_paths.py [--publisher]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from common.report import percentile

from fortune_core.profile import day_almanac, derive_profile
from fortune_core.prompt import build_messages
from fortune_core.request import FortuneRequest, validate_request
from fortune_core.result import content_json_schema

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def _requests() -> list[FortuneRequest]:
    rng = random.Random(5)
    requests = []
    for year in range(1940, 2010):  # 70 birth years
        day = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
        body = {
            "profile": {
                "birthDate": day.isoformat(),
                "birthTime": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
                "gender": "female",
            },
            "topic": "love",
            "period": "day",
            "language": "en",
        }
        request = validate_request(body).request
        assert request is not None
        requests.append(request.with_resolved_date(NOW))
    return requests


def _ms(action: Callable[[Any], object], items: Iterable[Any]) -> str:
    took = []
    for item in items:
        started = time.perf_counter()
        action(item)
        took.append((time.perf_counter() - started) * 1000)
    return f"p50 {statistics.median(took):6.2f} ms  max {max(took):6.2f} ms"


def calendar() -> None:
    requests = _requests()
    today = NOW.date()
    print(
        "derive_profile, 70 birth years, first time:",
        _ms(lambda r: derive_profile(r.profile), requests),
    )
    print(
        "derive_profile, the same 70 again:         ",
        _ms(lambda r: derive_profile(r.profile), requests),
    )
    print(
        "derive + today's almanac (profile route):  ",
        _ms(lambda r: (derive_profile(r.profile), day_almanac(today)), requests),
    )
    print(
        "content_json_schema():                     ",
        _ms(lambda _: content_json_schema(), range(30)),
    )
    print("build_messages (deriving):                 ", _ms(build_messages, requests))
    try:
        stored = {id(r): derive_profile(r.profile).to_json_dict() for r in requests}
        print(
            "build_messages (stored profile):           ",
            _ms(lambda r: build_messages(r, profile=stored[id(r)]), requests),
        )  # type: ignore[call-arg]
    except TypeError:
        pass  # a baseline without the stored-profile parameter


def publisher() -> None:
    from fortune_core.queue import Publisher, QueueMessage
    from localservices.backends import RabbitMQServer
    from localservices.supervisor import free_port

    with RabbitMQServer(Path(tempfile.mkdtemp()) / "rabbitmq", free_port()) as server:
        publisher = Publisher(server.amqp_url)
        pool = "hotpaths"
        publisher.publish_request(QueueMessage("warm", {"topic": "love"}, pool, "d0"))
        took: list[float] = []

        def publish(index: int) -> None:
            started = time.perf_counter()
            publisher.publish_request(QueueMessage(f"r{index}", {"x": "y" * 300}, pool, "d0"))
            took.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(8) as threads:
            list(threads.map(publish, range(400)))
        rate = 400 / (time.perf_counter() - began)
        publisher.close()
        p50, p99 = statistics.median(took), percentile(took, 99)
        print(f"400 confirmed publishes from 8 threads: {rate:.0f}/s, "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--publisher", action="store_true", help="also time the publisher")
    args = parser.parse_args()
    calendar()
    if args.publisher:
        publisher()


if __name__ == "__main__":
    main()
