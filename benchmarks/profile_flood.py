"""Profile flood (not a test): how much of a core one client flooding POST /v1/profiles can take.

Starts RabbitMQ, Redis and SecantusDB and the API under gunicorn (1 process × 8 threads, so its
CPU time is one number), then for each case floods `POST /v1/profiles` from 8 client threads on
127.0.0.1 for `--seconds`, while a well-behaved client on 127.0.0.2 (another address, so another
rate-limit bucket) sends one request every 0.5 s:

- ``no limit, distinct inputs``: what one client could take before this route had its own limit;
- ``limit 60/min, distinct inputs``: the flood as it is now (every body a new birth date);
- ``no limit, one repeated input``: the cache alone.

Reports per case: answers per second (200 and 429), the API's CPU time over the flood as a share
of one core, and the other client's latency. Usage:
.venv/bin/python benchmarks/profile_flood.py [--seconds 20] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import random
import statistics
import threading
import time
from typing import Any

from common import ROOT
from common.report import DocsSection, load_average, measured_on, percentile
from common.sampling import cpu_seconds
from common.stack import Stack

from localservices.programs import ApiProgram
from localservices.supervisor import free_port

SECTION = DocsSection(ROOT / "docs" / "benchmarks.md", "profile-flood", "Profile flood")


def _body(rng: random.Random | None) -> bytes:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55) if rng else 12345)
    hour = rng.randrange(24) if rng else 8
    return json.dumps(
        {"profile": {"birthDate": born.isoformat(), "birthTime": f"{hour:02d}:30"}}
    ).encode()


def _post(conn: http.client.HTTPConnection, body: bytes) -> int:
    conn.request("POST", "/v1/profiles", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status


def _flood(port: int, seconds: float, distinct: bool) -> tuple[dict[int, int], list[float]]:
    """8 flooding threads from 127.0.0.1, one polite client from 127.0.0.2."""
    stop_at = time.monotonic() + seconds
    counts: dict[int, int] = {}
    lock = threading.Lock()

    def flooder(seed: int) -> None:
        rng = random.Random(seed) if distinct else None
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: dict[int, int] = {}
        while time.monotonic() < stop_at:
            status = _post(conn, _body(rng))
            local[status] = local.get(status, 0) + 1
        with lock:
            for status, n in local.items():
                counts[status] = counts.get(status, 0) + n

    polite: list[float] = []

    def polite_client() -> None:
        rng = random.Random(99)
        conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=("127.0.0.2", 0)
        )
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            assert _post(conn, _body(rng)) == 200
            polite.append(time.perf_counter() - began)
            time.sleep(0.5)

    threads = [threading.Thread(target=flooder, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=polite_client))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts, polite


def run(seconds: float) -> str:
    """The three cases; the Markdown section's body."""
    rows = []
    load_before = load_average()
    with Stack("flood") as stack:
        cases = [
            ("no limit, distinct inputs", "0", True),
            ("limit 60/min, distinct inputs", "60", True),
            ("no limit, one repeated input", "0", False),
        ]
        for name, limit, distinct in cases:
            env = stack.env(FORTUNE_PROFILE_RATE_LIMIT_PER_MINUTE=limit)
            port = free_port()
            with ApiProgram(port, env, stack.workdir / "api.log", workers=1, threads=8) as api:
                assert api.pid is not None
                cpu_before, wall_before = cpu_seconds(api.pid), time.monotonic()
                counts, polite = _flood(port, seconds, distinct)
                cpu = cpu_seconds(api.pid) - cpu_before
                wall = time.monotonic() - wall_before
            rows.append(
                f"| {name} | {counts.get(200, 0) / wall:.0f} | {counts.get(429, 0) / wall:.0f} "
                f"| **{cpu / wall:.0%}** | {statistics.median(polite) * 1000:.0f} ms / "
                f"{percentile(polite, 99) * 1000:.0f} ms ({len(polite)}) |"
            )
    command = f".venv/bin/python benchmarks/profile_flood.py --seconds {seconds:g} --write"
    return "\n".join(
        [
            f"{measured_on(command, (load_before, load_average()))} API: gunicorn, 1 process × "
            f"8 threads; 8 flooding client threads on the same cores for {seconds:g} s each "
            "case; the other client on 127.0.0.2, every 0.5 s.",
            "",
            "| case | 200/s (flooder) | 429/s (flooder) | API CPU, share of one core | other "
            "client p50 / p99 (n) |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args: Any = parser.parse_args()
    body = run(args.seconds)
    print(SECTION.text(body))
    if args.write:
        SECTION.write(body)


if __name__ == "__main__":
    main()
