"""Chaos run (not a test): the standalone stack under load while its parts fail, with figures.

Starts real RabbitMQ, Redis and SecantusDB on free ports, the fake OpenAI-compatible LLM (a process,
fixed latency), the API under gunicorn and two workers (openai provider against the fake), then for
each scenario submits a steady load through the HTTP API while injecting its fault:

- ``worker-kill9``: SIGKILL a random worker at random moments (every 0.5–3 s, ``--kills``
  times), starting a replacement at once;
- ``rabbitmq-restart``: stop RabbitMQ cleanly and start it again (``--repeats`` times);
- ``redis-flush``: FLUSHALL (status cache, LLM slots, idempotency keys gone);
- ``redis-restart``: restart Redis (no persistence: it comes back empty);
- ``mongodb-stop``: stop SecantusDB for 10 s, then start it again;
- ``llm-errors``: the fake answers a seeded mix of ok, 429, 500, timeouts and invalid JSON.

A request counts for the scenario during which it was accepted (202). After each scenario the run
waits until every accepted request is finished, then counts: succeeded, failed (by error code),
lost (accepted but never finished, or no record: must be 0), duplicated results (a result that
changed after the client first saw it succeeded: must be 0), LLM calls per succeeded request
(the fake's count for those ids), refused submissions (503: not accepted, so nothing to lose), and
the time to recover: from the end of each fault until a probe request submitted at that moment has
succeeded end to end.

Writes the table to stdout and, with ``--write``, to docs/reliability.md (between markers).
Usage: .venv/bin/python benchmarks/chaos.py [--kills 100] [--repeats 3] [--write]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from common import ROOT
from common.report import DocsSection, load_average, measured_on
from common.stack import Stack

from localservices.jsonhttp import http_json
from localservices.programs import WorkerProgram
from localservices.supervisor import wait_for

SECTION = DocsSection(ROOT / "docs" / "reliability.md", "chaos")
FINISHED = {"succeeded", "failed", "cancelled"}
LLM_MIX = {"ok": 0.6, "429": 0.1, "500": 0.1, "timeout": 0.1, "invalid_json": 0.1}
TOPICS = ["overall", "career", "love", "wealth", "health", "study"]


def _body(rng: random.Random) -> dict[str, Any]:
    """A request with a varying birth date and topic."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
    return {
        "profile": {"birthDate": born.isoformat(), "birthTime": f"{rng.randrange(24):02d}:30"},
        "topic": rng.choice(TOPICS),
        "period": "day",
        "language": rng.choice(["en", "zh-CN"]),
    }


def _call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    try:
        return http_json(method, url, body, timeout=30)
    except OSError:
        return 0, None  # the API itself unreachable: counted as refused


@dataclass
class Tally:
    """What happened to the submissions made during one scenario."""

    name: str
    faults: int = 0
    accepted: list[str] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)  # HTTP status → count
    recoveries: list[float] = field(default_factory=list)
    first_result: dict[str, Any] = field(default_factory=dict)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    llm_calls: int = 0
    submissions: list[concurrent.futures.Future[None]] = field(default_factory=list)
    api_final: Counter[int] = field(default_factory=Counter)  # GET status after settling


class Load:
    """Submits requests at `rate` per second from a thread until stopped."""

    def __init__(self, api: str, rate: float, seed: int) -> None:
        self.api, self.rate = api, rate
        self.rng = random.Random(seed)
        self.tally: Tally | None = None
        self._stop = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(8)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def _submit(self, tally: Tally, body: dict[str, Any]) -> None:
        status, answer = _call("POST", f"{self.api}/v1/fortunes", body)
        with self._lock:
            if status == 202:
                tally.accepted.append(answer["id"])
            else:
                tally.refused[status] += 1

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            tally = self.tally
            if tally is not None:
                tally.submissions.append(self._pool.submit(self._submit, tally, _body(self.rng)))
            next_at += 1 / self.rate
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)


class Chaos:
    """The stack and the scenarios."""

    def __init__(self, stack: Stack, args: argparse.Namespace) -> None:
        self.stack, self.args = stack, args
        self.rng = random.Random(args.seed)
        self.rabbitmq, self.redis, self.mongodb = stack.rabbitmq, stack.redis, stack.mongodb
        self.llm = stack.llm
        self.env = stack.env(
            FORTUNE_WORKER_CONCURRENCY="4",
            FORTUNE_LLM_TIMEOUT_SECONDS="1",
            FORTUNE_LLM_SLOT_LEASE_SECONDS=str(args.slot_lease),
            FORTUNE_RETRY_BASE_SECONDS="0.5",
            FORTUNE_RETRY_MAX_DELAY_SECONDS="2",
            FORTUNE_MAX_ATTEMPTS="4",
        )
        self.api = stack.api(self.env, workers=2, threads=8)
        self._worker_count = 0
        self.workers: list[WorkerProgram] = [self._new_worker() for _ in range(2)]

    def _new_worker(self) -> WorkerProgram:
        """A worker, started (and stopped with the stack)."""
        self._worker_count += 1
        env = {**self.env, "FORTUNE_WORKER_ID": f"chaos-{self._worker_count}"}
        return self.stack.worker(env, log=f"worker-{self._worker_count}.log")

    # --- measuring ---------------------------------------------------------------------------
    def probe(self, tally: Tally, deadline: float = 300.0) -> None:
        """Time from now until a fresh request has succeeded end to end (submission retried)."""
        began = time.monotonic()
        request_id = None
        while request_id is None:
            status, answer = _call("POST", f"{self.api.url}/v1/fortunes", _body(self.rng))
            if status == 202:
                request_id = answer["id"]
            elif time.monotonic() - began > deadline:
                raise RuntimeError(f"{tally.name}: no submission accepted in {deadline:.0f} s")
            else:
                time.sleep(0.2)

        def succeeded() -> bool:
            status, body = _call("GET", f"{self.api.url}/v1/fortunes/{request_id}")
            return status == 200 and body["status"] == "succeeded"

        wait_for(succeeded, deadline, f"{tally.name}: a probe to succeed", interval=0.1)
        tally.recoveries.append(time.monotonic() - began)

    def settle(self, tally: Tally, timeout: float = 600.0) -> None:
        """Wait until every accepted request is finished (or the timeout), noting each result."""
        pending = set(tally.accepted)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for request_id in list(pending):
                status, body = _call("GET", f"{self.api.url}/v1/fortunes/{request_id}")
                if status == 200 and body["status"] in FINISHED:
                    tally.first_result[request_id] = body.get("result")
                    pending.discard(request_id)
            if pending:
                time.sleep(0.5)
        for request_id in tally.accepted:  # what a client reading now gets
            tally.api_final[_call("GET", f"{self.api.url}/v1/fortunes/{request_id}")[0]] += 1
        # The final word comes from MongoDB, the system of record (not from an API under load).
        records = self.stack.records(tally.accepted)
        for request_id in tally.accepted:
            record = records.get(request_id)
            tally.final[request_id] = (
                {"status": record["status"], "result": record.get("result"),
                 "error": record.get("error")}
                if record is not None
                else {"status": "no record"}
            )  # fmt: skip
        calls = self.llm.stats()["calls"]
        tally.llm_calls = sum(int(calls.get(request_id, 0)) for request_id in tally.accepted)

    @contextmanager
    def scenario(self, name: str, load: Load) -> Iterator[Tally]:
        tally = Tally(name)
        load.tally = tally
        began = time.monotonic()
        try:
            yield tally
        finally:
            load.tally = None
            # Submissions still on their way belong to this scenario: wait for their answers.
            concurrent.futures.wait(tally.submissions)
            print(f"chaos: {name}: faults done in {time.monotonic() - began:.0f} s, settling",
                  flush=True)  # fmt: skip
        self.settle(tally)

    # --- faults ------------------------------------------------------------------------------
    def kill_workers(self, tally: Tally, kills: int) -> None:
        for n in range(kills):
            time.sleep(self.rng.uniform(0.5, 3.0))
            victim = self.rng.choice([w for w in self.workers if w.running()])
            victim.kill()
            self.workers.remove(victim)
            self.workers.append(self._new_worker())
            tally.faults += 1
            if n % 10 == 9:
                self.probe(tally)

    def repeat(self, tally: Tally, fault: Callable[[], None]) -> None:
        for _ in range(self.args.repeats):
            time.sleep(self.args.calm)
            fault()
            tally.faults += 1
            self.probe(tally)
            time.sleep(self.args.calm)

    def restart_rabbitmq(self) -> None:
        self.rabbitmq.restart()

    def flush_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis.redis_url)
        client.flushall()
        client.close()

    def restart_redis(self) -> None:
        self.redis.restart()

    def stop_mongodb(self) -> None:
        self.mongodb.stop()
        time.sleep(10)
        self.mongodb.start()

    def llm_errors(self, tally: Tally) -> None:
        self.llm.control(mix=LLM_MIX, seed=self.args.seed, hold_seconds=2)
        time.sleep(self.args.llm_seconds)
        self.llm.control(mix={})
        tally.faults += 1
        self.probe(tally)


def _row(tally: Tally) -> dict[str, Any]:
    statuses = Counter(str(body.get("status")) for body in tally.final.values())
    failed = Counter(
        str((body.get("error") or {}).get("code"))
        for body in tally.final.values()
        if body.get("status") == "failed"
    )
    lost = sum(n for status, n in statuses.items() if status not in FINISHED)
    duplicated = sum(
        1
        for request_id, body in tally.final.items()
        if body.get("status") == "succeeded"
        and request_id in tally.first_result
        and tally.first_result[request_id] != body.get("result")
    )
    succeeded = statuses.get("succeeded", 0)
    return {
        "scenario": tally.name,
        "unfinished": {k: v for k, v in statuses.items() if k not in FINISHED},
        "api_final": dict(tally.api_final),
        "faults": tally.faults,
        "accepted": len(tally.accepted),
        "refused": dict(tally.refused),
        "succeeded": succeeded,
        "failed": dict(failed),
        "lost": lost,
        "duplicated": duplicated,
        "llm_calls_per_success": tally.llm_calls / succeeded if succeeded else None,
        "recovery_s": tally.recoveries,
    }


def _table(rows: list[dict[str, Any]], header: str) -> str:
    lines = [
        header,
        "",
        "| scenario | faults | accepted | succeeded | failed (reason: n) | lost | duplicated "
        "| LLM calls / success | refused (503) | recovery p50 / max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        failed = ", ".join(f"{k}: {v}" for k, v in sorted(r["failed"].items())) or "0"
        refused = sum(r["refused"].values())
        rec = r["recovery_s"]
        recovery = f"{statistics.median(rec):.1f} s / {max(rec):.1f} s" if rec else "–"
        calls = r["llm_calls_per_success"]
        lines.append(
            f"| {r['scenario']} | {r['faults']} | {r['accepted']} | {r['succeeded']} | {failed} "
            f"| **{r['lost']}** | **{r['duplicated']}** | "
            f"{'–' if calls is None else f'{calls:.2f}'} | {refused} | {recovery} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> tuple[str, list[dict[str, Any]]]:
    """Every scenario (or those of `--only`); the Markdown section's body and the rows."""
    load_before = load_average()
    started = time.monotonic()
    with Stack("chaos", llm_latency=args.latency) as stack:
        chaos = Chaos(stack, args)
        load = Load(chaos.api.url, args.rate, args.seed)
        load.start()
        tallies: list[Tally] = []
        plan: list[tuple[str, Callable[[Tally], None]]] = [
            ("worker-kill9", lambda t: chaos.kill_workers(t, args.kills)),
            ("rabbitmq-restart", lambda t: chaos.repeat(t, chaos.restart_rabbitmq)),
            ("redis-flush", lambda t: chaos.repeat(t, chaos.flush_redis)),
            ("redis-restart", lambda t: chaos.repeat(t, chaos.restart_redis)),
            ("mongodb-stop-10s", lambda t: chaos.repeat(t, chaos.stop_mongodb)),
            ("llm-errors", chaos.llm_errors),
        ]
        for name, inject in plan:
            if args.only and name not in args.only:
                continue
            with chaos.scenario(name, load) as tally:
                inject(tally)
            tallies.append(tally)
            print(json.dumps(_row(tally)), flush=True)
        load.stop()
    minutes = (time.monotonic() - started) / 60
    rows = [_row(t) for t in tallies]
    command = (
        f".venv/bin/python benchmarks/chaos.py --kills {args.kills} --repeats {args.repeats} "
        "--write"
    )
    header = (
        f"{measured_on(command, (load_before, load_average()))} {minutes:.0f} min. Load "
        f"{args.rate:g} requests/s with varying birth dates and topics; fake LLM latency "
        f"{args.latency:g} s; 2 workers × 4, LLM timeout 1 s, 4 attempts, retry delays 0.5–2 s "
        f"(jittered), LLM slot lease {args.slot_lease:g} s; API 2 × 8 threads; RabbitMQ, Redis "
        "(no persistence), SecantusDB local."
    )
    return _table(rows, header), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=3.0, help="submissions per second")
    parser.add_argument("--latency", type=float, default=0.3, help="fake LLM latency (s)")
    parser.add_argument("--slot-lease", type=float, default=10.0)
    parser.add_argument("--calm", type=float, default=5.0, help="seconds of load around a fault")
    parser.add_argument("--llm-seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--only", nargs="*", help="run only these scenarios")
    parser.add_argument("--write", action="store_true", help="update docs/reliability.md")
    args = parser.parse_args()
    body, rows = run(args)
    print(SECTION.text(body))
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "chaos.json").write_text(json.dumps(rows, indent=1) + "\n")
    if args.write:
        SECTION.write(body)


if __name__ == "__main__":
    main()
