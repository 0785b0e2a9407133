"""Soak benchmark (not a test): the chart with its default values under a steady load, for long.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--rate 5] [--latency 5] [--write]  (root)

Starts a local cluster in a temp dir (so `make cluster-up` must be down) and installs the chart
with its *default* values; only what cannot be the default here is changed: our images (tag dev,
built by `make images`), the backends' local stand-ins (RabbitMQ and Redis from Debian packages,
SecantusDB for MongoDB, whose images run as other users and which has no authentication), the
LLM endpoint (the fake LLM on the node address, answering after `--latency` seconds, like a real
one), and the API keys of the load's clients: the load is `--clients` people (20 by default),
each with a key of their own, because the default rate limit (60 starts a minute per client) is
per person and a soak of one client would measure the limiter.

The load: `--rate` readings a second (open loop, evenly spaced, spread over the clients) for
`--minutes`, each submitted through the HTTP API and polled to its end (long polls). Every minute
it records the RSS of each component (API, operator, workers, Redis, RabbitMQ, MongoDB: all pods
of each summed; the operator's leader alone, with the blocks Python's allocator holds and the
entries of its per-object structures, from its /metrics), Redis `used_memory`, RabbitMQ's own
memory breakdown (the quorum queues' Raft WAL, the management statistics), the pool's queue
depth, the objects in etcd by resource (`apiserver_storage_objects`), the workers running and
the end-to-end latency p50/p99 of the readings that finished in that minute. At the end:
accepted, succeeded, failed (by reason), lost (accepted but unfinished two minutes after the load
stopped: must be 0), and duplicated LLM calls (a reading called more than once: must be 0).
Writes the table and an SVG plot (docs/benchmarks/soak.svg) into docs/benchmarks.md with --write.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis
import yaml
from common import ROOT
from common.report import DocsSection, load_average, measured_on, percentile
from common.sampling import rss_mb
from e2e_cluster import Cluster, Release, install
from fakes.fake_llm import FakeLLM
from kubernetes import client

from controlplane import images
from controlplane.cluster import LocalCluster
from controlplane.network import NODE_IP, Ports
from localservices.supervisor import ProcessError, wait_for

SECTION = DocsSection(ROOT / "docs" / "benchmarks.md", "soak", "Soak (`benchmarks/soak.py`)")
PLOT = ROOT / "docs" / "benchmarks" / "soak.svg"
BODY = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "career",
    "language": "en",
}
COMPONENTS = ("api", "operator", "worker", "redis", "rabbitmq", "mongodb")
ACTIVE = {"pending", "queued", "running"}
T = TypeVar("T")


def soak_values(llm: FakeLLM, keys_secret: str) -> dict[str, Any]:
    """The chart's defaults plus what this machine needs (see the module docstring)."""
    return {
        "image": {"tag": "dev", "pullPolicy": "IfNotPresent"},
        "api": {"apiKeys": {"existingSecret": keys_secret, "key": "api-keys"}},
        # The endpoint's own limit: the default (16 calls at once) would cap a 5 s endpoint at
        # 3.2 readings/s, below the load; a real endpoint's limit is its provider's.
        "llm": {
            "provider": "openai",
            "baseUrl": llm.base_url,
            "apiKey": "sk-soak",
            "globalConcurrency": 64,
            "reuse": False,  # every reading of the soak's one body is its own LLM call
        },
        "rabbitmq": {
            "image": {"repository": "cyberfortune/rabbitmq", "tag": "dev"},
            "podSecurityContext": {"runAsUser": 10003, "runAsGroup": 10003, "fsGroup": 10003},
        },
        "redis": {
            "image": {"repository": "cyberfortune/redis", "tag": "dev"},
            "podSecurityContext": {"runAsUser": 10002, "runAsGroup": 10002, "fsGroup": 10002},
        },
        "mongodb": {
            "image": {"repository": "cyberfortune/secantusdb", "tag": "dev"},
            "podSecurityContext": {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001},
            "auth": False,
        },
    }


@dataclass
class Reading:
    """One submitted reading, as the load saw it."""

    submitted: float
    request_id: str | None = None
    refused: int | None = None  # HTTP status of a refused submission
    finished: float | None = None
    status: str | None = None
    error: str | None = None


@dataclass
class Load:
    """The open-loop load and its polling, over keep-alive connections to the API."""

    host: str
    port: int
    keys: list[str]
    readings: list[Reading] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def _call(self, method: str, path: str, key: str, body: Any = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=60
                )
            try:
                payload = json.dumps(body).encode() if body is not None else None
                all_headers = {"Authorization": f"Bearer {key}", **(headers or {})}
                if payload is not None:
                    all_headers["Content-Type"] = "application/json"
                conn.request(method, path, body=payload, headers=all_headers)
                response = conn.getresponse()
                return response.status, json.loads(response.read() or b"null")
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def submit(self, n: int) -> None:
        key = self.keys[n % len(self.keys)]
        reading = Reading(submitted=time.monotonic())
        with self.lock:
            self.readings.append(reading)
        status, body = self._call("POST", "/v1/fortunes", key, BODY)
        if status != 202:
            reading.refused = status
            return
        reading.request_id = body["id"]
        while True:  # poll to its end: long polls, held by the API until it finishes
            status, view = self._call(
                "GET", f"/v1/fortunes/{reading.request_id}", key, headers={"Prefer": "wait=25"}
            )
            if status == 200 and view["status"] not in ACTIVE:
                reading.finished = time.monotonic()
                reading.status = view["status"]
                reading.error = (view.get("error") or {}).get("code")
                return
            if status != 200:
                time.sleep(2)


def apiserver_metric(cluster: Cluster, name: str) -> dict[str, float]:
    """One metric family of the kube-apiserver: label text → value."""
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) :].rsplit(" ", 1)
            found[labels] = float(value)
    return found


def storage_objects(cluster: Cluster) -> dict[str, int]:
    """Objects in etcd, by resource (`apiserver_storage_objects`)."""
    counts = {}
    for labels, value in apiserver_metric(cluster, "apiserver_storage_objects").items():
        resource = labels.split('resource="', 1)[1].split('"', 1)[0]
        counts[resource] = int(value)
    return counts


def component_rss(release: Release) -> dict[str, float]:
    """RSS (MB) of each component: all its containers summed."""
    local = release.cluster.local
    assert local is not None
    total = dict.fromkeys(COMPONENTS, 0.0)
    for found in release.cluster.containers(release.namespace):
        name = found["metadata"]["name"]
        if name not in total:
            continue
        info = json.loads(local.node.crictl("inspect", found["id"]).stdout or "{}")
        pid = (info.get("info") or {}).get("pid")
        if pid:
            total[name] += rss_mb(int(pid), tree=True)  # gunicorn, beam: all their processes
    return total


def backend_clients(release: Release) -> tuple[redis.Redis, str]:
    """A Redis client and the management API's base URL, through the Services' ClusterIPs."""

    def service_ip(component: str) -> str:
        return release.kubectl(
            "get", "service", release.component(component), "-o", "jsonpath={.spec.clusterIP}"
        ).stdout

    password = release.secret_value(f"{release.fullname}-backends", "redis-password")
    cache = redis.Redis(host=service_ip("redis"), port=6379, password=password, socket_timeout=5)
    management = release.secret_value(f"{release.fullname}-backends", "rabbitmq-management-url")
    return cache, management.replace(f"{release.fullname}-rabbitmq", service_ip("rabbitmq"))


def management_get(management_url: str, path: str) -> Any:
    """One GET of RabbitMQ's management API, as the URL's user; the decoded JSON."""
    parts = urllib.parse.urlsplit(management_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 15672, timeout=10)
    token = base64.b64encode(
        f"{parts.username}:{urllib.parse.unquote(parts.password or '')}".encode()
    ).decode()
    conn.request("GET", path, headers={"Authorization": f"Basic {token}"})
    return json.loads(conn.getresponse().read() or b"{}")


def queue_depth(management_url: str) -> int:
    """Messages (ready + unacknowledged) of the default pool's queue."""
    body = management_get(management_url, "/api/queues/%2F/cyberfortune.requests.default")
    return int(body.get("messages") or 0)


def rabbitmq_memory(management_url: str) -> dict[str, float]:
    """The broker's own memory breakdown (MB): what its quorum queues hold of the Raft WAL
    (`quorum_ets`), the management statistics (`mgmt_db`), binaries, and its total."""
    node = management_get(management_url, "/api/nodes")[0]["name"]
    path = f"/api/nodes/{urllib.parse.quote(node, safe='')}/memory"
    memory = management_get(management_url, path)["memory"]
    total = memory.get("total") or {}
    return {
        "quorum_ets": memory.get("quorum_ets", 0) / 2**20,
        "mgmt_db": memory.get("mgmt_db", 0) / 2**20,
        "binary": memory.get("binary", 0) / 2**20,
        "total": (total.get("erlang") or total.get("rss") or 0) / 2**20,
    }


OPERATOR_METRICS = (
    "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/metrics')"
    ".read().decode())"
)


def operator_pods(release: Release) -> list[dict[str, Any]]:
    """Each operator replica: leader or not, its RSS (MB), Python's allocated blocks and the
    sizes of its per-object structures (its own /metrics, read inside the pod)."""
    local = release.cluster.local
    assert local is not None
    pods = []
    for found in release.cluster.containers(release.namespace):
        if found["metadata"]["name"] != "operator":
            continue
        pod = found["labels"]["io.kubernetes.pod.name"]
        info = json.loads(local.node.crictl("inspect", found["id"]).stdout or "{}")
        pid = (info.get("info") or {}).get("pid")
        text = release.kubectl("exec", pod, "--", "python", "-c", OPERATOR_METRICS).stdout
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("cyberfortune_operator_"):
                name, _, value = line.rpartition(" ")
                values[name.removeprefix("cyberfortune_operator_")] = float(value)
        pods.append({
            "leader": values.get("leader") == 1.0,
            "rss": rss_mb(int(pid)) if pid else 0.0,
            "blocks": int(values.get("python_allocated_blocks", 0)),
            "tracked": {name.split('"')[1]: int(v) for name, v in values.items()
                        if name.startswith("tracked{")},
        })  # fmt: skip
    return sorted(pods, key=lambda p: not p["leader"])


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    images.build_all()
    local = LocalCluster(work / "cluster", Ports.free())
    local.up()
    cluster = Cluster(local.kubeconfig, work / "kubectl-cache", local)
    try:
        keys = [secrets.token_hex(16) for _ in range(args.clients)]
        namespace = "soak"
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl("-n", namespace, "create", "secret", "generic", "soak-keys",
                        "--from-literal=api-keys=" + ",".join(f"c{i}:{k}" for i, k in
                                                              enumerate(keys)))  # fmt: skip
        with FakeLLM(host=NODE_IP, latency=args.latency) as llm:
            path = work / "soak-values.yaml"
            path.write_text(yaml.safe_dump(soak_values(llm, "soak-keys")))
            release = install(cluster, "cyberfortune", namespace, values=[path],
                              local_values=False)  # fmt: skip
            return soak(release, llm, keys, args)
    finally:
        local.down()


def soak(
    release: Release, llm: FakeLLM, keys: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    url = urllib.parse.urlsplit(release.api_url)
    load = Load(url.hostname or "", url.port or 80, keys)
    cache, management = backend_clients(release)
    apps = client.AppsV1Api(release.cluster.admin_client())
    pool = ThreadPoolExecutor(max_workers=int(args.rate * (args.latency + 30)) + 16)
    rows: list[dict[str, Any]] = []
    start = time.monotonic()
    stop_at = start + args.minutes * 60
    done = threading.Event()

    def sample() -> None:  # every minute, beside the load (a slow sample never delays it)
        at = start + 60
        while not done.wait(max(0.0, at - time.monotonic())):
            row = minute_row(release, load, cache, management, apps, start, at)
            rows.append(row)
            print(json.dumps(row), flush=True)  # a run cut short still leaves its rows
            at += 60

    sampler = threading.Thread(target=sample, name="soak-sampler", daemon=True)
    sampler.start()
    n = 0
    while time.monotonic() < stop_at:
        pool.submit(load.submit, n)
        n += 1
        time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
    done.set()
    sampler.join()
    # The load stops; whatever was accepted gets two minutes to finish, then counts as lost.
    with contextlib.suppress(ProcessError):
        wait_for(
            lambda: all(r.finished or r.refused for r in list(load.readings)),
            120, "the readings in flight", 1.0,
        )  # fmt: skip
    rows.append(minute_row(release, load, cache, management, apps, start, time.monotonic()))
    pool.shutdown(wait=False, cancel_futures=True)
    readings = list(load.readings)
    accepted = [r for r in readings if r.request_id]
    calls = llm.stats()["calls"]
    return {
        "rows": rows,
        "submitted": len(readings),
        "accepted": len(accepted),
        "refused": Counter(r.refused for r in readings if r.refused),
        "succeeded": sum(r.status == "succeeded" for r in accepted),
        "failed": Counter(r.error for r in accepted if r.status == "failed"),
        "lost": sum(r.finished is None for r in accepted),
        "duplicated": sum(max(0, int(calls.get(r.request_id or "", 0)) - 1) for r in accepted),
        "calls": sum(int(v) for v in calls.values()),
    }


def sampled(what: str, read: Callable[[], T], default: T) -> T:
    """A diagnostic sample, or `default` (said on stderr) when it fails: one failed read never
    ends a soak of hours."""
    try:
        return read()
    except Exception as exc:
        print(f"sampling {what} failed: {exc}", file=sys.stderr, flush=True)
        return default


def minute_row(release: Release, load: Load, cache: redis.Redis, management: str,
               apps: client.AppsV1Api, start: float, at: float) -> dict[str, Any]:  # fmt: skip
    finished = [r for r in list(load.readings) if r.finished and at - 60 <= r.finished < at]
    latencies = [r.finished - r.submitted for r in finished if r.finished]
    objects = storage_objects(release.cluster)
    scale = apps.read_namespaced_deployment_scale(release.component("worker-default"),
                                                  release.namespace)  # fmt: skip
    return {
        "minute": round((at - start) / 60),
        "rss": component_rss(release),
        "operators": sampled("the operators", lambda: operator_pods(release), []),
        "rabbitmq_memory": sampled("RabbitMQ's memory", lambda: rabbitmq_memory(management), {}),
        "redis_used_mb": int(cache.info("memory")["used_memory"]) / 2**20,
        "queue": queue_depth(management),
        "fortunerequests": objects.get("fortunerequests.cyberfortune.io", 0),
        "events": objects.get("events", 0),
        "workers": int(scale.spec.replicas or 0),
        "done": len(finished),
        "p50": percentile(latencies, 50) if latencies else None,
        "p99": percentile(latencies, 99) if latencies else None,
    }


def plot(rows: list[dict[str, Any]]) -> str:
    """An SVG of the memory curves (MB per component and Redis used_memory) over the minutes."""
    width, height, pad = 760, 320, 50
    series = {name: [row["rss"][name] for row in rows] for name in COMPONENTS}
    series["redis used_memory"] = [row["redis_used_mb"] for row in rows]
    series["operator leader"] = [
        next((p["rss"] for p in row["operators"] if p["leader"]), 0.0) for row in rows
    ]
    top = max(max(values) for values in series.values()) * 1.1 or 1.0
    last = max(rows[-1]["minute"], 1)
    colors = [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
    ]

    def xy(minute: float, value: float) -> str:
        x = pad + (width - 2 * pad) * minute / last
        y = height - pad - (height - 2 * pad) * value / top
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#999"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>',
        f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">minutes</text>',
        f'<text x="12" y="{pad - 12}">MB (max {top / 1.1:.0f})</text>',
    ]
    for i, (name, values) in enumerate(series.items()):
        points = " ".join(xy(row["minute"], value) for row, value in zip(rows, values, strict=True))
        color = colors[i % len(colors)]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        parts.append(f'<text x="{width - pad + 4}" y="{pad + 14 * i}" fill="{color}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def render(result: dict[str, Any], args: argparse.Namespace, load: tuple[str, str]) -> str:
    rows = result["rows"]
    head = ("| min | API | operator | leader (blocks, tracked) | workers (n) | Redis (used) | "
            "RabbitMQ (WAL, stats) | MongoDB | queue | FRs in etcd | Events | done | "
            "p50 / p99 |")  # fmt: skip
    lines = [head, "|" + "---|" * 13]
    for row in rows:
        rss = row["rss"]
        latency = f"{row['p50']:.1f} / {row['p99']:.1f} s" if row["p50"] is not None else "–"
        leader = next((p for p in row["operators"] if p["leader"]), None)
        lead = (f"{leader['rss']:.0f} ({leader['blocks'] / 1000:.0f} k, "
                f"{sum(leader['tracked'].values())})" if leader else "–")  # fmt: skip
        broker = row["rabbitmq_memory"]
        wal = f"{broker['quorum_ets']:.1f}, {broker['mgmt_db']:.1f}" if broker else "–"
        lines.append(
            f"| {row['minute']} | {rss['api']:.0f} | {rss['operator']:.0f} | {lead} | "
            f"{rss['worker']:.0f} ({row['workers']}) | {rss['redis']:.0f} "
            f"({row['redis_used_mb']:.1f}) | {rss['rabbitmq']:.0f} ({wal}) | "
            f"{rss['mongodb']:.0f} | "
            f"{row['queue']} | {row['fortunerequests']} | {row['events']} | {row['done']} | "
            f"{latency} |"
        )
    failed = ", ".join(f"{k}: {v}" for k, v in result["failed"].items()) or "0"
    refused = ", ".join(f"{k}: {v}" for k, v in result["refused"].items()) or "0"
    command = (f".venv/bin/python benchmarks/soak.py --minutes {args.minutes} --rate {args.rate} "
               f"--latency {args.latency} --write")  # fmt: skip
    return (
        f"{measured_on(command, load)} (As root.) The chart's default values on the local "
        "one-node cluster (only images, the backends' stand-ins, the fake LLM at "
        f"{args.latency:g} s latency with a global limit of 64 calls, and {args.clients} clients' "
        "API keys set); "
        f"{args.rate:g} readings/s submitted "
        f"through the HTTP API for {args.minutes} minutes, each long-polled to its end. RSS in MB "
        "(all pods of a component summed), every minute; the operator's leader alone, with "
        "the thousands of blocks Python's allocator holds and the entries of its per-object "
        "structures (its /metrics); RabbitMQ's own breakdown: what its quorum queues hold of "
        "the Raft WAL (`quorum_ets`) and its management statistics (`mgmt_db`), MB.\n\n"
        + "\n".join(lines)
        + f"\n\nSubmitted {result['submitted']}, accepted {result['accepted']}, refused "
        f"{refused}; succeeded {result['succeeded']}, failed {failed}; **lost "
        f"{result['lost']}**, **duplicated LLM calls {result['duplicated']}** "
        f"({result['calls']} calls in all).\n\n![memory over the soak](benchmarks/soak.svg)\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root (the local cluster's node)", file=sys.stderr)
        return 1
    before = load_average()
    with tempfile.TemporaryDirectory(prefix="cf-soak-") as tmp:
        result = run(args, Path(tmp))
    body = render(result, args, (before, load_average()))
    print(SECTION.text(body))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, default=dict))
    if args.write:
        PLOT.parent.mkdir(parents=True, exist_ok=True)
        PLOT.write_text(plot(result["rows"]))
        SECTION.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
