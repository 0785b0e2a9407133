"""Reuse benchmark (not a test): a day of mini-program traffic replayed with and without reuse.

A seeded day of asks: `clients` users (one API key each) ask for readings of the day; about a
third of the asks (`--repeat`) repeat one of the same user's earlier asks that day exactly (the
mini-program's "again", a refreshed page, a second device), the rest are new (another person,
topic or period). The same asks, in the same order, are sent from 16 client threads to the
standalone stack (API under gunicorn, two workers, the fake LLM as a process) twice: once with
`FORTUNE_REUSE=off`, once with it on; every reading must succeed. Reported: LLM calls and tokens
(prompt + completion, from the fake's answers) per 1,000 readings, and how many readings were
reused.

Prints a Markdown section and, with --write, replaces the reuse section of docs/benchmarks.md.
Usage: .venv/bin/python benchmarks/reuse.py [--readings 1000] [--write]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import random
import urllib.error
import urllib.request
from typing import Any

from common import ROOT
from common.report import DocsSection, measured_on
from common.stack import Stack

from localservices.supervisor import wait_for

SECTION = DocsSection(
    ROOT / "docs" / "benchmarks.md",
    "reuse-benchmark",
    "Reuse of identical readings (`make bench-reuse`)",
)
TOPICS = ("overall", "career", "love", "wealth", "health", "study")
PERIODS = ("day", "day", "day", "week", "month", "year")  # most asks are for the day


def day_of_asks(readings: int, clients: int, repeat: float, seed: int) -> list[tuple[int, dict]]:
    """(client number, body) for each ask of the day, in order; `repeat` of them repeat an
    earlier ask of the same client exactly."""
    rng = random.Random(seed)
    day = dt.date(2026, 12, 3).isoformat()
    asked: dict[int, list[dict[str, Any]]] = {}
    asks: list[tuple[int, dict[str, Any]]] = []
    for _ in range(readings):
        client = rng.randrange(clients)
        earlier = asked.get(client)
        if earlier and rng.random() < repeat:
            asks.append((client, rng.choice(earlier)))
            continue
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
        body = {
            "profile": {
                "birthDate": birth.isoformat(),
                "birthTime": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
                "gender": rng.choice(("female", "male")),
            },
            "topic": rng.choice(TOPICS),
            "period": rng.choice(PERIODS),
            "date": day,
            "language": rng.choice(("zh-CN", "zh-CN", "en")),
        }
        asked.setdefault(client, []).append(body)
        asks.append((client, body))
    return asks


def _post(url: str, body: dict[str, Any], key: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def replay(asks: list[tuple[int, dict]], clients: int, reuse: bool) -> dict[str, float]:
    """Send the asks to a fresh stack; its figures."""
    keys = ",".join(f"user{i}:key-{i}" for i in range(clients))
    with Stack(f"reuse{int(reuse)}", llm_latency=0.2) as stack:
        env = stack.env(
            FORTUNE_API_KEYS=keys,
            FORTUNE_REUSE="on" if reuse else "off",
            FORTUNE_WORKER_CONCURRENCY="16",
            FORTUNE_LLM_GLOBAL_CONCURRENCY="32",
        )
        api = stack.api(env, workers=2, threads=8).url
        stack.worker(env, "worker-1.log")
        stack.worker(env, "worker-2.log")

        def send(ask: tuple[int, dict[str, Any]]) -> str:
            client, body = ask
            status, answer = _post(f"{api}/v1/fortunes", body, f"key-{client}")
            if status != 202:
                raise RuntimeError(f"submission refused: {status} {answer}")
            return str(answer["id"])

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(send, asks))

        def finished() -> bool:
            records = stack.records(ids)
            return len(records) == len(ids) and all(
                r["status"] in ("succeeded", "failed") for r in records.values()
            )

        wait_for(finished, 900, f"{len(ids)} readings", 1.0)
        records = stack.records(ids)
        failed = [r["_id"] for r in records.values() if r["status"] != "succeeded"]
        if failed:
            raise RuntimeError(f"{len(failed)} readings failed, e.g. {records[failed[0]]}")
        calls = stack.llm.stats()["total"]
        tokens = sum(
            r["result"]["usage"]["promptTokens"] + r["result"]["usage"]["completionTokens"]
            for r in records.values()
        )
        reused = sum(1 for r in records.values() if r["result"].get("reusedFrom"))
    per = 1000 / len(ids)
    return {
        "readings": len(ids),
        "calls_per_1000": calls * per,
        "tokens_per_1000": tokens * per,
        "reused": reused,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--readings", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--repeat", type=float, default=0.4, help="chance an ask repeats")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    asks = day_of_asks(args.readings, args.clients, args.repeat, args.seed)
    distinct = len({(c, json.dumps(b, sort_keys=True)) for c, b in asks})
    without = replay(asks, args.clients, reuse=False)
    with_reuse = replay(asks, args.clients, reuse=True)
    command = (
        f".venv/bin/python benchmarks/reuse.py --readings {args.readings} --clients "
        f"{args.clients} --repeat {args.repeat:g} --seed {args.seed} --write"
    )
    saved_calls = 1 - with_reuse["calls_per_1000"] / without["calls_per_1000"]
    saved_tokens = 1 - with_reuse["tokens_per_1000"] / without["tokens_per_1000"]
    repeats = args.readings - distinct
    body = "\n".join(
        [
            f"{measured_on(command)} A seeded day: {args.readings} asks of {args.clients} "
            f"users, {repeats} of them ({repeats / args.readings:.0%}) "
            "exact repeats of an earlier ask of the same user, sent in order by 16 client "
            "threads; API under gunicorn, two workers, the fake LLM (0.2 s per answer; its "
            "token counts). Every reading succeeded in both runs.",
            "",
            "| per 1,000 readings | reuse off | reuse on (per client) | saved |",
            "|---|---|---|---|",
            f"| LLM calls | {without['calls_per_1000']:.0f} | {with_reuse['calls_per_1000']:.0f} "
            f"| {saved_calls:.0%} |",
            f"| LLM tokens (prompt + completion) | {without['tokens_per_1000']:,.0f} | "
            f"{with_reuse['tokens_per_1000']:,.0f} | {saved_tokens:.0%} |",
            f"| readings answered by reuse | {without['reused']} | {with_reuse['reused']} | |",
        ]
    )
    print(SECTION.text(body))
    if args.write:
        SECTION.write(body)


if __name__ == "__main__":
    main()
