"""Side-by-side benchmark (not a test): CyberFortune standalone against Celery, Dramatiq and a bare
thread pool, on one machine, in one run, with the same LLM workload.

Every system does the same job for the same requests: one chat completion from the same fake
OpenAI-compatible server (fixed latency, 1.0 s by default) with at most 8 calls in flight, and the
~1 KB answer stored where the client can fetch it. The systems:

- ``direct``: a ``ThreadPoolExecutor(8)`` in this process calling the fake LLM (the physical limit);
- ``cyberfortune``: the full path, HTTP submit → RabbitMQ → worker (openai provider, 1 worker × 8)
  → MongoDB (SecantusDB) + Redis → HTTP poll (``GET /v1/fortunes/{id}`` with ``Prefer: wait``; a
  server that does not apply the preference is polled every ``--poll-interval`` seconds);
- ``celery``: Celery 5, thread pool 8, ``acks_late``, prefetch 1, RabbitMQ broker, Redis results;
- ``dramatiq``: Dramatiq 2, RabbitMQ broker, Redis results, 8 threads.

The peers run from the benchmark-only environment (.local/bench-venv), CyberFortune from
.local/bench-venv-cf, which holds core, the API and the worker with their own dependencies only,
as the images do (both made by `benchmarks/bench-venv.sh`). The job of the peers and the direct
baseline is `benchmarks/peers/llm_call.py` (the openai SDK, as our worker uses).

Measured per system:

- efficiency = ideal makespan (requests × latency ÷ 8) ÷ measured makespan, for N requests
  submitted at once (from 8 client threads) and awaited in submission order, `--runs` times;
- overhead = client-observed end-to-end (submit → result in hand) minus the LLM latency, p50/p99,
  over bursts of 8 requests (each submitted and awaited by its own client thread);
- worker RSS (peak of the process that runs the jobs, and the whole worker tree at the end);
- CPU seconds per request of the whole system during the makespan runs (broker, stores, API,
  workers; not this client, not the fake LLM);
- submit rate (requests accepted per second while the N are submitted).

Also checked: every request succeeded, the fake LLM got exactly one call per request and never
more than 8 at once. Writes `benchmarks/results/compare.json`, a plot (docs/benchmarks-compare.png)
and, with --write, the table into docs/benchmarks.md.

Usage: `make bench-compare` or `$(bash benchmarks/bench-venv.sh) benchmarks/compare.py [--write]`
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import random
import resource
import signal
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import ROOT
from common.http_load import get_load
from common.report import DocsSection, load_average, measured_on, percentile
from common.sampling import cmdline, cpu_seconds, descendants, peak_rss_mb, rss_mb
from common.stack import Stack

from localservices.programs import ApiProgram, WorkerProgram
from localservices.supervisor import Program, free_port

PEERS = ROOT / "benchmarks" / "peers"
sys.path.insert(0, str(PEERS))  # the peers' modules, imported by the systems that run them

SYSTEMS = ("direct", "cyberfortune", "celery", "dramatiq")
RESULTS = ROOT / "benchmarks" / "results" / "compare.json"
PLOT = ROOT / "docs" / "benchmarks-compare.png"
SECTION = DocsSection(
    ROOT / "docs" / "benchmarks.md", "compare-benchmark", "Side by side (`make bench-compare`)"
)
TERMINAL = {"succeeded", "failed", "cancelled"}
# The deployables' dependencies only, as in the images (benchmarks/bench-venv.sh).
CF_PYTHON = ROOT / ".local" / "bench-venv-cf" / "bin" / "python"
TOPICS = ("overall", "career", "love", "wealth", "health", "study")
PERIODS = ("day", "day", "day", "week", "month", "year")


def workload(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` request bodies with varied birth dates, times, topics, periods and languages."""
    rng = random.Random(seed)
    first = dt.date(1940, 1, 1).toordinal()
    last = dt.date(2012, 12, 31).toordinal()
    bodies = []
    for _ in range(count):
        profile: dict[str, Any] = {
            "birthDate": dt.date.fromordinal(rng.randint(first, last)).isoformat(),
            "gender": rng.choice(("female", "male")),
        }
        if rng.random() < 0.8:
            profile["birthTime"] = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"
        bodies.append(
            {
                "profile": profile,
                "topic": rng.choice(TOPICS),
                "period": rng.choice(PERIODS),
                "language": rng.choice(("en", "zh-CN")),
            }
        )
    return bodies


# --- the systems ----------------------------------------------------------------------------------


class System:
    """One system under test: start, submit one request, wait for one result, stop."""

    name = "system"

    def __init__(self, backbone: Stack, concurrency: int) -> None:
        self.backbone = backbone
        self.concurrency = concurrency
        self.programs: list[Program] = []

    def start(self) -> None:
        """Start the system's own processes (the backbone is running)."""

    def stop(self) -> None:
        for program in reversed(self.programs):
            program.stop()

    def submit(self, request_id: str, body: dict[str, Any]) -> Any:
        """Submit one request; a handle for `wait`."""
        raise NotImplementedError

    def wait(self, handle: Any, timeout: float) -> None:
        """Block until the request's result is in the client's hands; raise if it failed."""
        raise NotImplementedError

    def cpu_parts(self) -> dict[str, int]:
        """Root PIDs whose CPU counts as this system's (with their descendants), by part."""
        return {"rabbitmq": self.backbone.rabbitmq.pid or 0, "redis": self.backbone.redis.pid or 0}

    def worker_pid(self) -> int:
        """The process that runs the jobs."""
        raise NotImplementedError

    def worker_root_pid(self) -> int:
        return self.worker_pid()

    def describe(self) -> str:
        return self.name


class Direct(System):
    """A thread pool in this process calling the fake LLM: the physical limit."""

    name = "direct"

    def start(self) -> None:
        os.environ["BENCH_LLM_BASE_URL"] = self.backbone.llm.base_url
        from llm_call import call_llm

        self._call = call_llm
        self._pool = concurrent.futures.ThreadPoolExecutor(self.concurrency)

    def stop(self) -> None:
        self._pool.shutdown()

    def submit(self, request_id: str, body: dict[str, Any]) -> Any:
        return self._pool.submit(self._call, {"id": request_id, "request": body})

    def wait(self, handle: Any, timeout: float) -> None:
        handle.result(timeout)

    def cpu_parts(self) -> dict[str, int]:
        return {"pool": os.getpid()}

    def worker_pid(self) -> int:
        return os.getpid()

    def describe(self) -> str:
        return f"ThreadPoolExecutor({self.concurrency}) in the client process, openai SDK"


class _Http:
    """One keep-alive HTTP connection per client thread."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._local = threading.local()

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=120)
                self._local.connection = connection
            try:
                connection.request(method, path, data, all_headers)
                response = connection.getresponse()
                payload = response.read()
                return (
                    response.status,
                    {k.lower(): v for k, v in response.getheaders()},
                    json.loads(payload or b"null"),
                )
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class CyberFortune(System):
    """The standalone stack: API under gunicorn, one worker (openai provider against the fake)."""

    name = "cyberfortune"

    def __init__(
        self,
        backbone: Stack,
        concurrency: int,
        poll_interval: float,
        api_workers: int,
        api_threads: int,
        source: Path = ROOT,
    ) -> None:
        super().__init__(backbone, concurrency)
        self.poll_interval = poll_interval
        self.api_workers = api_workers
        self.api_threads = api_threads
        self.pool = f"bench{os.getpid()}"
        self.applied_wait = False
        self.source = source
        self.metrics_port = free_port()

    def start(self) -> None:
        workdir = self.backbone.workdir / "cyberfortune"
        env = self.backbone.env(
            FORTUNE_POOL=self.pool,
            FORTUNE_LLM_MODEL="fake-gpt",
            FORTUNE_WORKER_CONCURRENCY=str(self.concurrency),
            FORTUNE_WORKER_METRICS_PORT=str(self.metrics_port),
        )
        env.pop("PYTHONPATH", None)
        if self.source != ROOT:  # another checkout (a baseline): its packages first on the path
            env["PYTHONPATH"] = ":".join(
                str(self.source / d) for d in ("core", "api-image", "worker-image")
            )
        self.api = ApiProgram(
            free_port(), env, workdir / "api.log", self.api_workers, self.api_threads, CF_PYTHON
        )
        self.programs.append(self.api.start())
        self.worker = WorkerProgram(env, workdir / "worker.log", python=CF_PYTHON)
        self.programs.append(self.worker.start())
        self.http = _Http("127.0.0.1", self.api.port)

    def submit(self, request_id: str, body: dict[str, Any]) -> Any:
        status, _, answer = self.http.call("POST", "/v1/fortunes", body)
        if status != 202:
            raise RuntimeError(f"POST answered {status}: {answer}")
        return answer["id"]

    def wait(self, handle: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        path = f"/v1/fortunes/{handle}"
        while True:
            left = max(1, min(30, int(deadline - time.monotonic())))
            prefer = {"Prefer": f"wait={left}"}
            status, headers, answer = self.http.call("GET", path, headers=prefer)
            if status != 200:
                raise RuntimeError(f"GET answered {status}: {answer}")
            waited = "wait" in headers.get("preference-applied", "")
            self.applied_wait = self.applied_wait or waited
            if answer["status"] in TERMINAL:
                if answer["status"] != "succeeded":
                    raise RuntimeError(f"{handle} ended {answer['status']}: {answer}")
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{handle} still {answer['status']}")
            if not waited:
                time.sleep(self.poll_interval)

    def queries(self, ids: list[str], seconds: float, keep_alive: bool) -> dict[str, float]:
        """GET /v1/fortunes/{id} on finished requests from 8 client threads for `seconds`:
        requests/s, p50 and p99 (ms). Without `keep_alive`, a new connection per request (as
        benchmarks/pipeline.py measures)."""
        return get_load(self.api.port, [f"/v1/fortunes/{i}" for i in ids], seconds, keep_alive)

    def settle_delay(self) -> dict[str, float]:
        """From the worker's metrics: how long finished deliveries waited for their ack to be
        sent (mean, and the bucket bound that 99% stayed under), in ms."""
        import urllib.request

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        name = "cyberfortune_worker_settle_delay_seconds"
        buckets: list[tuple[float, float]] = []
        total = count = 0.0
        for line in text.splitlines():
            if line.startswith(f"{name}_bucket"):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
            elif line.startswith(f"{name}_sum"):
                total = float(line.rsplit(" ", 1)[1])
            elif line.startswith(f"{name}_count"):
                count = float(line.rsplit(" ", 1)[1])
        if not count:
            return {}
        p99 = next(bound for bound, seen in buckets if seen >= 0.99 * count)
        return {"mean_ms": round(total / count * 1000, 3), "p99_under_ms": p99 * 1000, "n": count}

    def cpu_parts(self) -> dict[str, int]:
        return {
            **super().cpu_parts(),
            "mongodb": self.backbone.mongodb.pid or 0,
            "api": self.api.pid or 0,
            "worker": self.worker.pid or 0,
        }

    def worker_pid(self) -> int:
        return self.worker.pid or 0

    def describe(self) -> str:
        waiting = (
            "GET with `Prefer: wait` (long poll)"
            if self.applied_wait
            else f"GET polled every {self.poll_interval * 1000:g} ms"
        )
        source = "" if self.source == ROOT else f" (source: {self.source})"
        return (
            f"API gunicorn {self.api_workers}×{self.api_threads} threads, 1 worker × "
            f"{self.concurrency}, quorum queue, MongoDB (SecantusDB) + Redis; {waiting}{source}"
        )


class Celery(System):
    """Celery 5 worker (threads 8, acks_late, prefetch multiplier 1)."""

    name = "celery"

    def start(self) -> None:
        env = self.backbone_env()
        workdir = self.backbone.workdir / "celery"
        worker = Program(
            [sys.executable, "-m", "celery", "-A", "celery_peer", "worker", "-P", "threads",
             "-c", str(self.concurrency), "--prefetch-multiplier", "1", "-Q", "cfbench.celery",
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            env=env,
            cwd=PEERS,
            log_path=workdir / "worker.log",
        )  # fmt: skip
        worker.start()
        self.programs.append(worker)
        self.worker = worker
        os.environ.update(env)
        import celery_peer

        self.task = celery_peer.llm

    def backbone_env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "BENCH_RABBITMQ_URL": self.backbone.rabbitmq.amqp_url,
            "BENCH_REDIS_URL": self.backbone.redis.redis_url.rsplit("/", 1)[0] + "/1",
            "BENCH_LLM_BASE_URL": self.backbone.llm.base_url,
            "PYTHONPATH": str(PEERS),
        }
        return env

    def submit(self, request_id: str, body: dict[str, Any]) -> Any:
        return self.task.delay({"id": request_id, "request": body})

    def wait(self, handle: Any, timeout: float) -> None:
        handle.get(timeout=timeout)

    def worker_pid(self) -> int:
        return self.worker.pid or 0

    def cpu_parts(self) -> dict[str, int]:
        return {**super().cpu_parts(), "worker": self.worker.pid or 0}

    def describe(self) -> str:
        import celery

        return (
            f"Celery {celery.__version__}: -P threads -c {self.concurrency}, acks_late, prefetch "
            "multiplier 1, RabbitMQ broker (classic queue), Redis result backend"
        )


class Dramatiq(Celery):
    """Dramatiq 2 worker (1 process × 8 threads)."""

    name = "dramatiq"

    def start(self) -> None:
        env = self.backbone_env()
        env["BENCH_REDIS_URL"] = env["BENCH_REDIS_URL"].rsplit("/", 1)[0] + "/2"
        workdir = self.backbone.workdir / "dramatiq"
        worker = Program(
            [sys.executable, "-m", "dramatiq", "dramatiq_peer", "--processes", "1",
             "--threads", str(self.concurrency)],
            env=env,
            cwd=PEERS,
            log_path=workdir / "worker.log",
        )  # fmt: skip
        worker.start()
        self.programs.append(worker)
        self.worker = worker
        os.environ.update(env)
        import dramatiq_peer

        self.actor = dramatiq_peer.llm

    def submit(self, request_id: str, body: dict[str, Any]) -> Any:
        return self.actor.send({"id": request_id, "request": body})

    def wait(self, handle: Any, timeout: float) -> None:
        handle.get_result(block=True, timeout=int(timeout * 1000))

    def worker_pid(self) -> int:
        # `dramatiq` is a supervisor process; the jobs run in its worker child.
        children = descendants(self.worker.pid or 0)
        workers = [pid for pid in children if "dramatiq" in " ".join(cmdline(pid))]
        return workers[0] if workers else self.worker.pid or 0

    def worker_root_pid(self) -> int:
        return self.worker.pid or 0

    def describe(self) -> str:
        import dramatiq

        return (
            f"Dramatiq {dramatiq.__version__}: 1 process × {self.concurrency} threads, RabbitMQ "
            "broker (classic queue), Redis results backend"
        )


# --- measurements ---------------------------------------------------------------------------------


@dataclass
class Measured:
    """What one system showed."""

    name: str
    description: str = ""
    efficiency: list[float] = field(default_factory=list)
    makespan_s: list[float] = field(default_factory=list)
    submit_rate: list[float] = field(default_factory=list)
    cpu_s_per_request: list[float] = field(default_factory=list)
    overhead_ms: list[float] = field(default_factory=list)
    rss_mb: float = 0.0
    rss_tree_mb: float = 0.0
    llm_calls_per_request: list[float] = field(default_factory=list)
    llm_max_in_flight: int = 0
    load: list[str] = field(default_factory=list)
    queries: dict[str, dict[str, float]] = field(default_factory=dict)
    settle: dict[str, float] = field(default_factory=dict)
    cpu_ms_by_part: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "efficiency": [round(e, 4) for e in self.efficiency],
            "makespan_s": [round(m, 2) for m in self.makespan_s],
            "overhead_ms": {
                "p50": round(statistics.median(self.overhead_ms), 1),
                "p99": round(percentile(self.overhead_ms, 99), 1),
                "n": len(self.overhead_ms),
            },
            "rss_mb": round(self.rss_mb, 1),
            "rss_tree_mb": round(self.rss_tree_mb, 1),
            "cpu_s_per_request": round(statistics.mean(self.cpu_s_per_request), 4),
            "cpu_ms_per_request_by_part": {
                part: round(statistics.mean(values), 2)
                for part, values in self.cpu_ms_by_part.items()
            },
            "submit_rate": round(statistics.mean(self.submit_rate), 1),
            "llm_calls_per_request": self.llm_calls_per_request,
            "llm_max_in_flight": self.llm_max_in_flight,
            "load_average": self.load,
            **({"get": self.queries} if self.queries else {}),
            **({"settle_delay": self.settle} if self.settle else {}),
        }


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i:05d}-{os.urandom(3).hex()}" for i in range(count)]


def run_bursts(
    system: System, bodies: list[dict[str, Any]], bursts: int, size: int, latency: float
) -> list[float]:
    """`bursts` rounds of `size` requests, each submitted and awaited by its own thread."""
    overheads: list[float] = []
    with concurrent.futures.ThreadPoolExecutor(size) as clients:
        for burst in range(bursts):
            chunk = bodies[burst * size : (burst + 1) * size]

            def one(item: tuple[str, dict[str, Any]]) -> float:
                request_id, body = item
                started = time.perf_counter()
                system.wait(system.submit(request_id, body), timeout=120)
                return time.perf_counter() - started - latency

            items = list(zip(_ids(f"b{burst}", len(chunk)), chunk, strict=True))
            overheads.extend(clients.map(one, items))
    return [o * 1000 for o in overheads]


def run_makespan(
    system: System, bodies: list[dict[str, Any]], latency: float, concurrency: int
) -> tuple[float, float, dict[str, float], list[Any]]:
    """Submit all at once (8 client threads), await each in order: (makespan s, submit s, CPU s)."""
    parts = system.cpu_parts()
    self_cpu = system.name == "direct"
    cpu_before = {"pool": _self_cpu()} if self_cpu else _cpu_by_part(parts)
    ids = _ids("m", len(bodies))
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as clients:
        items = zip(ids, bodies, strict=True)
        handles = list(clients.map(lambda item: system.submit(*item), items))
    submitted = time.perf_counter() - started
    ideal = len(bodies) * latency / concurrency
    for handle in handles:
        system.wait(handle, timeout=ideal * 3 + 120)
    makespan = time.perf_counter() - started
    cpu_after = {"pool": _self_cpu()} if self_cpu else _cpu_by_part(parts)
    spent = {part: cpu_after[part] - cpu_before[part] for part in cpu_after}
    return makespan, submitted, spent, handles


def _cpu_by_part(parts: dict[str, int]) -> dict[str, float]:
    return {part: cpu_seconds(pid) for part, pid in parts.items()}


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(
    system: System,
    backbone: Stack,
    args: argparse.Namespace,
    bodies: list[dict[str, Any]],
    profile_dir: Path | None,
) -> Measured:
    result = Measured(system.name)
    result.load.append(load_average())
    system.start()
    try:
        # warm-up: a burst through every thread of the system
        run_bursts(system, bodies[: args.concurrency], 1, args.concurrency, args.latency)
        backbone.llm.reset()
        burst_bodies = bodies[: args.bursts * args.concurrency]
        result.overhead_ms = run_bursts(
            system, burst_bodies, args.bursts, args.concurrency, args.latency
        )
        calls = backbone.llm.stats()["total"]
        result.llm_calls_per_request.append(round(calls / len(burst_bodies), 3))
        for run in range(args.runs):
            backbone.llm.reset()
            result.load.append(load_average())
            with _profiles(system, profile_dir if run == 0 else None):
                makespan, submitted, spent, handles = run_makespan(
                    system, bodies[: args.requests], args.latency, args.concurrency
                )
            cpu = sum(spent.values())
            for part, seconds in spent.items():
                result.cpu_ms_by_part.setdefault(part, []).append(seconds / args.requests * 1000)
            stats = backbone.llm.stats()
            result.llm_calls_per_request.append(round(stats["total"] / args.requests, 3))
            result.llm_max_in_flight = max(result.llm_max_in_flight, stats["maxConcurrent"])
            ideal = args.requests * args.latency / args.concurrency
            result.efficiency.append(ideal / makespan)
            result.makespan_s.append(makespan)
            result.submit_rate.append(args.requests / submitted)
            result.cpu_s_per_request.append(cpu / args.requests)
            print(
                f"  {system.name} run {run + 1}: makespan {makespan:.2f} s (efficiency "
                f"{ideal / makespan:.4f}), submitted in {submitted:.2f} s, CPU {cpu:.1f} s",
                flush=True,
            )
        if isinstance(system, CyberFortune):
            with contextlib.suppress(OSError, StopIteration):  # a baseline without the metric
                result.settle = system.settle_delay()
        if isinstance(system, CyberFortune) and args.query_seconds:
            for keep_alive in (True, False):
                result.load.append(load_average())
                mode = "keep_alive" if keep_alive else "new_connection"
                result.queries[mode] = system.queries(handles, args.query_seconds, keep_alive)
                print(f"  GET ({mode}): {result.queries[mode]}", flush=True)
        if system.name != "direct":  # the direct pool lives in this client process
            result.rss_mb = peak_rss_mb(system.worker_pid())
            result.rss_tree_mb = rss_mb(system.worker_root_pid(), tree=True)
        result.description = system.describe()
    finally:
        system.stop()
    result.load.append(load_average())
    return result


@contextmanager
def _profiles(system: System, directory: Path | None) -> Iterator[None]:
    """py-spy profiles of CyberFortune's worker, API and MongoDB stand-in during a makespan run:
    flame graphs (`name.svg`), or with BENCH_PROFILE_FORMAT=raw collapsed stacks (`name.txt`, one
    stack and its sample count a line, to add up by function)."""
    if directory is None or not isinstance(system, CyberFortune):
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    pyspy = str(Path(sys.executable).parent / "py-spy")
    # --gil: only samples holding the GIL, i.e. where the CPU goes (not threads waiting on I/O)
    raw = os.environ.get("BENCH_PROFILE_FORMAT") == "raw"
    suffix = "txt" if raw else "svg"
    options = ["record", "--nonblocking", "--gil", "--rate", "100"]
    options += ["--format", "raw" if raw else "flamegraph"]
    recorders = [
        Program(
            [
                pyspy,
                *options,
                "--output",
                str(directory / f"{name}.{suffix}"),
                "--pid",
                str(pid),
                *extra,
            ],
            log_path=system.backbone.workdir / f"py-spy-{name}.log",
            death_signal=signal.SIGINT,
        )
        for name, pid, extra in (
            ("worker", system.worker_pid(), []),
            ("api", system.api.pid or 0, ["--subprocesses"]),
            ("mongodb", system.backbone.mongodb.pid or 0, []),
        )
    ]
    for recorder in recorders:
        recorder.start()
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.stop(stop_signal=signal.SIGINT)
        for name in ("worker", "api", "mongodb"):
            print(f"  profile: {directory / f'{name}.{suffix}'}", flush=True)


def make_system(name: str, backbone: Stack, args: argparse.Namespace) -> System:
    if name == "direct":
        return Direct(backbone, args.concurrency)
    if name == "cyberfortune":
        return CyberFortune(
            backbone,
            args.concurrency,
            args.poll_interval,
            args.api_workers,
            args.api_threads,
            args.cf_source.resolve(),
        )
    if name == "celery":
        return Celery(backbone, args.concurrency)
    if name == "dramatiq":
        return Dramatiq(backbone, args.concurrency)
    raise ValueError(name)


# --- reporting ------------------------------------------------------------------------------------


def table(results: dict[str, Measured]) -> list[str]:
    lines = [
        "| system | efficiency (run 1, run 2) | overhead p50 / p99 | worker RSS (tree) | "
        "CPU per request | submit rate |",
        "|---|---|---|---|---|---|",
    ]
    for name, measured in results.items():
        s = measured.summary()
        lines.append(
            f"| {name} | {', '.join(f'{e:.3f}' for e in s['efficiency'])} | "
            f"{s['overhead_ms']['p50']:.1f} / {s['overhead_ms']['p99']:.1f} ms | "
            f"{_rss(s)} | "
            f"{s['cpu_s_per_request'] * 1000:.1f} ms | {s['submit_rate']:.0f}/s |"
        )
    return lines


def _rss(summary: dict[str, Any]) -> str:
    if not summary["rss_mb"]:
        return "n/a (in the client)"
    return f"{summary['rss_mb']:.0f} MB ({summary['rss_tree_mb']:.0f} MB)"


def section(results: dict[str, Measured], args: argparse.Namespace, command: str) -> str:
    loads = "; ".join(f"{name}: {' → '.join(m.load)}" for name, m in results.items())
    described = [f"- `{name}`: {m.description}" for name, m in results.items()]
    gets = [
        f"- `{name}` GET /v1/fortunes/{{id}} on finished requests, 8 client threads, "
        f"{args.query_seconds:g} s per mode: "
        + "; ".join(
            f"{mode.replace('_', ' ')}: **{q['rps']:.0f} req/s**, p50 {q['p50_ms']:.1f} ms, "
            f"p99 {q['p99_ms']:.1f} ms"
            for mode, q in m.queries.items()
        )
        for name, m in results.items()
        if m.queries
    ]
    parts = [
        f"- `{name}` CPU per request by part: "
        + ", ".join(
            f"{part} {ms:.1f} ms" for part, ms in m.summary()["cpu_ms_per_request_by_part"].items()
        )
        for name, m in results.items()
    ]
    settles = [
        f"- `{name}`: a finished delivery waited for its ack {m.settle['mean_ms']:.2f} ms on "
        f"average (99% under {m.settle['p99_under_ms']:g} ms; n={m.settle['n']:.0f}), from the "
        "worker's `cyberfortune_worker_settle_delay_seconds`"
        for name, m in results.items()
        if m.settle
    ]
    checks = [
        f"- `{name}`: LLM calls per request {m.llm_calls_per_request} (bursts, then each run), "
        f"at most {m.llm_max_in_flight} in flight"
        for name, m in results.items()
    ]
    return "\n".join(
        [
            f"{measured_on(command)} Workload: {args.requests} requests submitted at once by 8 "
            f"client threads ({args.runs} runs) and {args.bursts} bursts of {args.concurrency}; "
            f"the fake LLM answers after {args.latency:g} s; 8 LLM calls in flight at most; "
            "birth dates, times, topics, periods and languages vary (seeded). Ideal makespan "
            f"{args.requests * args.latency / args.concurrency:g} s.",
            "",
            *table(results),
            "",
            f"Load average (1, 5, 15 min) before, between runs and after, per system: {loads}.",
            "",
            *described,
            *parts,
            *gets,
            *settles,
            "",
            "Checks (every request succeeded; the fake LLM counted the calls):",
            *checks,
            "",
            "![efficiency, overhead, RSS and CPU per request](benchmarks-compare.png)",
        ]
    )


def plot(results: dict[str, Measured], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    summaries = [results[n].summary() for n in names]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    ax = axes[0]
    for run in range(max(len(s["efficiency"]) for s in summaries)):
        values = [s["efficiency"][run] if run < len(s["efficiency"]) else 0 for s in summaries]
        positions = [i + run * 0.4 for i in range(len(names))]
        ax.bar(positions, values, width=0.4, label=f"run {run + 1}")
    ax.set_ylim(min(min(s["efficiency"]) for s in summaries) - 0.02, 1.0)
    ax.set_title("efficiency (ideal ÷ makespan)")
    ax.legend()
    ax = axes[1]
    ax.bar([i - 0.2 for i in range(len(names))], [s["overhead_ms"]["p50"] for s in summaries],
           width=0.4, label="p50")  # fmt: skip
    ax.bar([i + 0.2 for i in range(len(names))], [s["overhead_ms"]["p99"] for s in summaries],
           width=0.4, label="p99")  # fmt: skip
    ax.set_title("overhead per request (ms)")
    ax.legend()
    axes[2].bar(range(len(names)), [s["rss_mb"] for s in summaries])
    axes[2].set_title("worker peak RSS (MB)")
    axes[3].bar(range(len(names)), [s["cpu_s_per_request"] * 1000 for s in summaries])
    axes[3].set_title("CPU per request, whole system (ms)")
    for ax in axes:
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=15)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--runs", type=int, default=2, help="makespan runs per system")
    parser.add_argument("--bursts", type=int, default=16, help="bursts of 8 for the overhead")
    parser.add_argument("--latency", type=float, default=1.0, help="fake LLM latency, seconds")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.05,
        help="CyberFortune's polling interval when the server does not long-poll",
    )
    parser.add_argument("--query-seconds", type=float, default=10.0,
                        help="CyberFortune GET load per connection mode (0: none)")  # fmt: skip
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--api-threads", type=int, default=8)
    parser.add_argument(
        "--cf-source",
        type=Path,
        default=ROOT,
        help="run CyberFortune from this checkout (e.g. a baseline commit)",
    )
    parser.add_argument("--profile", type=Path, help="py-spy flame graphs of CyberFortune here")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md + plot")
    args = parser.parse_args()
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    bodies = workload(max(args.requests, (args.bursts + 1) * args.concurrency), args.seed)
    command = (
        "make bench-compare"
        if os.environ.get("BENCH_VIA_MAKE")
        else ("benchmarks/compare.py " + " ".join(sys.argv[1:]))
    )
    results: dict[str, Measured] = {}
    failures: dict[str, str] = {}
    with Stack("bench", llm_latency=args.latency) as backbone:
        for name in names:
            print(f"{name}: load average {load_average()}", flush=True)
            system = make_system(name, backbone, args)
            try:
                results[name] = measure(system, backbone, args, bodies, args.profile)
            except Exception as exc:  # report the others; say which one failed and why
                print(f"  {name} FAILED: {exc!r}", flush=True)
                failures[name] = repr(exc)
    print("\n".join(table(results)))
    text = section(results, args, command)
    data = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "workload": {
            "requests": args.requests,
            "runs": args.runs,
            "bursts": args.bursts,
            "latency_s": args.latency,
            "concurrency": args.concurrency,
            "seed": args.seed,
        },
        "systems": {name: m.summary() for name, m in results.items()},
        "failed": failures,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"results: {args.json}")
    if failures:
        sys.exit(f"failed: {', '.join(failures)} (docs not updated)")
    if args.write:
        plot(results, PLOT)
        SECTION.write(text)
        print(f"docs/benchmarks.md and {PLOT.relative_to(ROOT)} updated")


if __name__ == "__main__":
    main()
