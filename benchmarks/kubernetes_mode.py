"""Kubernetes benchmark (not a test): the local cluster, and the operator's figures on it.

    .venv/bin/python benchmarks/kubernetes_mode.py [--finished 10000] [--write]      (as root)

Starts a local cluster in a temp dir (so `make cluster-up` must be down), then measures

1. the cluster: `up` from an empty state directory and again from a kept one, until the node is
   Ready and CoreDNS serves; `kubectl scale` of a Deployment 1 → 4 until the new replicas are
   Ready; 4 → 1 until the stopped containers have exited;
2. the chart: `helm install` with the local values until every pod is Ready;
3. scaling: a burst of requests on a pool at zero replicas: from the first request to the
   operator's scale patch, and to the first reading started by a new worker;
4. the FortuneRequest path: FortuneRequests created at once, from creation to Queued (client
   clocks: create call → status seen through a watch), p50/p99 and FortuneRequests/s, and end to
   end with a fast fake LLM;
5. the operator's memory (RSS of its process) with `--finished` finished FortuneRequests in the
   cluster, and the etcd object count under a steady load with a short TTL (it stays flat).

Prints a Markdown section and, with --write, replaces it in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from common import ROOT
from common.report import DocsSection, load_average, measured_on, percentile
from common.sampling import container_pid, cpu_seconds, rss_mb
from e2e_cluster import Cluster, Release, install
from fakes.fake_llm import FakeLLM
from kubernetes import client, watch

from controlplane import images
from controlplane.cluster import LocalCluster
from controlplane.network import NODE_IP, Ports
from fortune_core.resource import GROUP, PLURAL, VERSION
from localservices.supervisor import wait_for

SECTION = DocsSection(
    ROOT / "docs" / "benchmarks.md",
    "kubernetes-benchmark",
    "Kubernetes (`benchmarks/kubernetes_mode.py`)",
)
SPEC = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "career",
    "language": "en",
}


def fr(name: str, ttl: int = 3600) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "FortuneRequest",
        "metadata": {"name": name},
        "spec": {**SPEC, "ttlSecondsAfterFinished": ttl},
    }


def measure_cluster(state: Path) -> dict[str, float]:
    """Seconds: cold and warm `up`, scale up to Ready, scale down to exit."""
    figures = {}
    local = LocalCluster(state, Ports.free())
    figures["up_cold"] = local.up()
    local.down()
    figures["up_warm"] = local.up()
    cluster = Cluster(local.kubeconfig, state / "kubectl-cache", local)
    ns = "bench-scale"
    cluster.kubectl("create", "namespace", ns)
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, lambda *_: exit(0)); time.sleep(9999)"
    )
    cluster.kubectl(
        "-n",
        ns,
        "create",
        "deployment",
        "sleeper",
        "--image=cyberfortune/api:dev",
        "--",
        "python",
        "-c",
        code,
    )
    cluster.kubectl("-n", ns, "rollout", "status", "deployment/sleeper", "--timeout=120s")
    start = time.monotonic()
    cluster.kubectl("-n", ns, "scale", "deployment/sleeper", "--replicas=4")
    cluster.kubectl("-n", ns, "rollout", "status", "deployment/sleeper", "--timeout=120s")
    figures["scale_up_ready"] = time.monotonic() - start
    start = time.monotonic()
    cluster.kubectl("-n", ns, "scale", "deployment/sleeper", "--replicas=1")
    wait_for(lambda: len(cluster.containers(ns)) == 1, 120, "3 containers to exit", 0.05)
    figures["scale_down_exit"] = time.monotonic() - start
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
    return figures


def install_chart(cluster: Cluster, llm: FakeLLM, workdir: Path) -> tuple[Release, float]:
    values = workdir / "bench-values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "api": {"rateLimitPerMinute": 1000000, "pollRateLimitPerMinute": 1000000},
                "operator": {"concurrency": 8},
                "llm": {
                    "provider": "openai",
                    "baseUrl": llm.base_url,
                    "apiKey": "sk-bench",
                    "globalConcurrency": 64,
                    "reuse": False,  # one LLM call per reading of the same body, as measured
                },
                "workers": {
                    "pools": [
                        {
                            "name": "default",
                            "concurrency": 8,
                            "minReplicas": 0,
                            "maxReplicas": 4,
                            "scaleDownDelaySeconds": 10,
                            "pollSeconds": 1,
                        }
                    ]
                },
            }
        )
    )
    start = time.monotonic()
    release = install(cluster, "cyberfortune", "bench", values=[values])
    return release, time.monotonic() - start


def objects(release: Release) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(release.cluster.admin_client())


def create_all(
    release: Release, names: list[str], ttl: int = 3600, threads: int = 8
) -> dict[str, float]:
    """Create FortuneRequests concurrently; name -> monotonic time the create call returned."""
    api = objects(release)
    created: dict[str, float] = {}

    def one(name: str) -> None:
        api.create_namespaced_custom_object(
            GROUP, VERSION, release.namespace, PLURAL, fr(name, ttl)
        )
        created[name] = time.monotonic()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, names))
    return created


def watch_phases(
    release: Release, wanted: set[str], phases: set[str], stop: threading.Event
) -> dict[str, dict[str, float]]:
    """Start a watch; name -> {phase: monotonic time first seen}, filled in the background."""
    seen: dict[str, dict[str, float]] = {}

    def run() -> None:
        stream = watch.Watch().stream(
            objects(release).list_namespaced_custom_object,
            GROUP,
            VERSION,
            release.namespace,
            PLURAL,
            timeout_seconds=900,
        )
        for event in stream:
            obj = event["object"]
            name = obj["metadata"]["name"]
            phase = (obj.get("status") or {}).get("phase")
            if name in wanted and phase in phases:
                seen.setdefault(name, {}).setdefault(phase, time.monotonic())
            if stop.is_set():
                return

    threading.Thread(target=run, daemon=True).start()
    return seen


def measure_scaling(release: Release, llm: FakeLLM, count: int = 64) -> dict[str, float]:
    """Burst on a sleeping pool: to the scale patch, and to the first new worker's first start."""
    apps = client.AppsV1Api(release.cluster.admin_client())
    name = release.component("worker-default")

    def asleep() -> bool:  # a scale of 0 replicas comes without the field
        return not apps.read_namespaced_deployment_scale(name, release.namespace).spec.replicas

    wait_for(asleep, 120, "the pool asleep", 0.5)
    llm.configure(latency=1.0)
    patched: list[float] = []
    stop = threading.Event()

    def watch_scale() -> None:
        for event in watch.Watch().stream(
            apps.list_namespaced_deployment,
            release.namespace,
            field_selector=f"metadata.name={name}",
            timeout_seconds=120,
        ):
            if (event["object"].spec.replicas or 0) > 0:
                patched.append(time.monotonic())
                return
            if stop.is_set():
                return

    threading.Thread(target=watch_scale, daemon=True).start()
    names = [f"burst-{i}" for i in range(count)]
    seen = watch_phases(release, set(names), {"Running", "Succeeded"}, stop)
    first = time.monotonic()
    create_all(release, names)
    wait_for(
        lambda: len(seen) == count and all("Succeeded" in s for s in seen.values()),
        600,
        "the burst",
        0.25,
    )
    stop.set()
    started = min(s.get("Running", s.get("Succeeded", 0.0)) for s in seen.values())
    return {"to_scale_patch": patched[0] - first, "to_first_start": started - first}


def measure_cr_path(release: Release, llm: FakeLLM, count: int) -> dict[str, float]:
    llm.configure(latency=0.0)
    names = [f"path-{i}" for i in range(count)]
    stop = threading.Event()
    seen = watch_phases(release, set(names), {"Queued", "Running", "Succeeded"}, stop)
    start = time.monotonic()
    created = create_all(release, names)
    wait_for(lambda: all("Succeeded" in seen.get(n, {}) for n in names), 900, "all succeeded", 0.5)
    stop.set()
    first_seen = {n: min(seen[n].values()) for n in names}  # Queued, or later when it was quicker
    latencies = [first_seen[n] - created[n] for n in names]
    last_queued = max(first_seen.values())
    last_done = max(seen[n]["Succeeded"] for n in names)
    return {
        "count": count,
        "queued_per_s": count / (last_queued - start),
        "e2e_per_s": count / (last_done - start),
        "reconcile_p50": percentile(latencies, 50),
        "reconcile_p99": percentile(latencies, 99),
    }


def apiserver_requests(cluster: Cluster) -> dict[tuple[str, str, str, str], float]:
    """`apiserver_request_total` by (verb, resource, subresource, code), summed over the rest."""
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    totals: dict[tuple[str, str, str, str], float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, value = line[len("apiserver_request_total") :].rsplit(" ", 1)
        labels = dict(
            part.split("=", 1) for part in labels_text.strip("{}").replace('"', "").split(",")
        )
        key = (labels.get("verb", ""), labels.get("resource", ""),
               labels.get("subresource", ""), labels.get("code", ""))  # fmt: skip
        totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def component_cpu(release: Release, local: LocalCluster) -> dict[str, float]:
    """CPU seconds so far of each component (its containers summed), the API server and etcd."""
    node = local.node
    cpu: dict[str, float] = {}
    for found in release.cluster.containers(release.namespace):
        info = json.loads(node.crictl("inspect", found["id"]).stdout or "{}")
        pid = (info.get("info") or {}).get("pid")
        if pid:
            name = found["metadata"]["name"]
            cpu[name] = cpu.get(name, 0.0) + cpu_seconds(int(pid))
    for daemon in ("kube-apiserver", "etcd"):
        pid = local.status().get(daemon)
        if pid:
            cpu[daemon] = cpu_seconds(pid)
    return cpu


def measure_api_cost(
    release: Release, llm: FakeLLM, local: LocalCluster, count: int = 600
) -> dict[str, Any]:
    """Readings through the HTTP API with warm workers and an instant LLM: API server requests
    per reading (apiserver_request_total) by kind, CPU per reading by component, readings/s."""
    llm.configure(latency=0.0)
    deployment = release.component("worker-default")
    release.kubectl("annotate", "deployment", deployment, "--overwrite",
                    "cyberfortune.io/min-replicas=4")  # fmt: skip
    wait_for(
        lambda: (
            len(
                [
                    c
                    for c in release.cluster.containers(release.namespace)
                    if c["metadata"]["name"] == "worker"
                ]
            )
            == 4
        ),
        180,
        "4 warm workers",
        1,
    )
    host, port = release.api_url.removeprefix("http://").split(":")

    def submit(_: int) -> str:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("POST", "/v1/fortunes", body=json.dumps(SPEC),
                     headers={"Content-Type": "application/json"})  # fmt: skip
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 202, body
        return str(body["id"])

    def done(request_id: str) -> bool:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("GET", f"/v1/fortunes/{request_id}", headers={"Prefer": "wait=20"})
        return json.loads(conn.getresponse().read())["status"] == "succeeded"

    before, cpu_before = apiserver_requests(release.cluster), component_cpu(release, local)
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(submit, range(count)))
        pending = list(ids)
        while pending:
            answers = list(pool.map(done, pending))
            pending = [i for i, ok in zip(pending, answers, strict=True) if not ok]
    seconds = time.monotonic() - start
    # The finished ones are deleted a TTL later (60 s): wait for the deletes, they are a reading's.
    wait_for(lambda: count_fortune_requests(release, "fr-") == 0, 300, "the TTL deletes", 2)
    after, cpu_after = apiserver_requests(release.cluster), component_cpu(release, local)
    release.kubectl("annotate", "deployment", deployment, "--overwrite",
                    "cyberfortune.io/min-replicas=0")  # fmt: skip
    per_kind: dict[str, float] = {}
    for key, value in after.items():
        verb, resource, subresource, code = key
        if resource not in ("fortunerequests", "events"):
            continue
        delta = value - before.get(key, 0.0)
        if delta and verb not in ("WATCH", "LIST"):
            name = f"{verb} {resource}{'/' + subresource if subresource else ''} {code}"
            per_kind[name] = delta / count
    cpu = {name: (cpu_after.get(name, 0.0) - cpu_before.get(name, 0.0)) / count * 1000
           for name in cpu_after}  # fmt: skip
    return {"count": count, "per_s": count / seconds, "requests": per_kind, "cpu_ms": cpu}


def operator_rss_mb(release: Release) -> float:
    """RSS of the operator's process (its container's main process)."""
    return rss_mb(container_pid(release, "operator"))


def count_fortune_requests(release: Release, prefix: str = "") -> int:
    items = objects(release).list_namespaced_custom_object(
        GROUP, VERSION, release.namespace, PLURAL
    )["items"]
    return sum(item["metadata"]["name"].startswith(prefix) for item in items)


def measure_memory(release: Release, finished: int) -> dict[str, float]:
    before = operator_rss_mb(release)
    names = [f"mem-{i}" for i in range(finished)]
    create_all(release, names, ttl=7200, threads=16)

    def done() -> bool:
        items = objects(release).list_namespaced_custom_object(
            GROUP, VERSION, release.namespace, PLURAL, label_selector=None
        )["items"]
        finished_now = sum(
            (i.get("status") or {}).get("phase") == "Succeeded"
            for i in items
            if i["metadata"]["name"].startswith("mem-")
        )
        return finished_now == finished

    wait_for(done, 3600, f"{finished} finished FortuneRequests", 5)
    return {
        "rss_before": before,
        "rss_with_finished": operator_rss_mb(release),
        "finished": finished,
        "objects": count_fortune_requests(release),
    }


def measure_steady(release: Release, seconds: int = 120, rate: float = 4.0) -> list[int]:
    """FortuneRequests with a 5 s TTL at `rate`/s; the object count every 10 s."""
    api = objects(release)
    samples = []
    start = time.monotonic()
    n = 0
    next_sample = start
    while time.monotonic() - start < seconds:
        api.create_namespaced_custom_object(
            GROUP, VERSION, release.namespace, PLURAL, fr(f"steady-{n}", ttl=5)
        )
        n += 1
        if time.monotonic() >= next_sample:
            samples.append(count_fortune_requests(release, "steady-"))
            next_sample += 10
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--finished", type=int, default=10000)
    parser.add_argument("--path-count", type=int, default=200)
    parser.add_argument("--api-count", type=int, default=600)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root (the local cluster's node)", file=sys.stderr)
        return 1
    load_before = load_average()
    images.build_all()
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as tmp:
        work = Path(tmp)
        cluster_figures = measure_cluster(work / "cluster")
        local = LocalCluster(work / "cluster")
        cluster = Cluster(local.kubeconfig, work / "kubectl-cache", local)
        try:
            with FakeLLM(host=NODE_IP, latency=1.0) as llm:
                release, install_seconds = install_chart(cluster, llm, work)
                scaling = measure_scaling(release, llm)
                path = measure_cr_path(release, llm, args.path_count)
                cost = measure_api_cost(release, llm, local, args.api_count)
                memory = measure_memory(release, args.finished)
                steady = measure_steady(release)
        finally:
            local.down()
    load_after = load_average()
    body = render(
        cluster_figures,
        install_seconds,
        scaling,
        path,
        memory,
        steady,
        args,
        load_before,
        load_after,
        cost,
    )
    print(SECTION.text(body))
    if args.write:
        SECTION.write(body)
    return 0


def render(
    cl: dict[str, float],
    install_s: float,
    scaling: dict[str, float],
    path: dict[str, float],
    memory: dict[str, float],
    steady: list[int],
    args: argparse.Namespace,
    load_before: str,
    load_after: str,
    cost: dict[str, Any],
) -> str:
    rows = [
        ("`cluster up`, empty state dir → node Ready, CoreDNS serving", f"{cl['up_cold']:.1f} s"),
        ("`cluster up`, kept state dir", f"{cl['up_warm']:.1f} s"),
        ("`kubectl scale` 1 → 4 → all new replicas Ready", f"{cl['scale_up_ready']:.1f} s"),
        ("`kubectl scale` 4 → 1 → the 3 containers exited", f"{cl['scale_down_exit']:.1f} s"),
        (
            "`helm install --wait` (values-local, bundled stand-ins) → all pods Ready",
            f"{install_s:.1f} s",
        ),
        (
            "burst of 64 on a pool at 0: first request → scale patch",
            f"{scaling['to_scale_patch']:.2f} s",
        ),
        ("… → first reading started by a new worker", f"{scaling['to_first_start']:.2f} s"),
        (
            f"{int(path['count'])} FortuneRequests created at once → Queued",
            f"{path['queued_per_s']:.1f} FortuneRequests/s",
        ),
        (
            "reconcile latency (create call → status seen), p50 / p99",
            f"{path['reconcile_p50'] * 1000:.0f} / {path['reconcile_p99'] * 1000:.0f} ms",
        ),
        ("end to end, fake LLM without latency", f"{path['e2e_per_s']:.1f} readings/s"),
        ("operator RSS, fresh", f"{memory['rss_before']:.0f} MB"),
        (
            f"operator RSS with {int(memory['finished'])} finished FortuneRequests in the cluster",
            f"{memory['rss_with_finished']:.0f} MB ({int(memory['objects'])} objects)",
        ),
        (
            "steady load (4 created/s, TTL 5 s): its FortuneRequests in etcd, every 10 s",
            " → ".join(str(s) for s in steady),
        ),
    ]
    total = sum(cost["requests"].values())
    rows.append(
        (
            f"{cost['count']} readings through the HTTP API (almanac-fast fake LLM, 4 warm "
            "workers): end to end",
            f"{cost['per_s']:.1f} readings/s",
        )
    )
    rows.append(
        (
            "API server requests per reading (apiserver_request_total, watches aside)",
            f"{total:.2f}: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(cost["requests"].items())),
        )
    )
    rows.append(
        (
            "CPU per reading, by component (ms)",
            ", ".join(f"{k} {v:.1f}" for k, v in sorted(cost["cpu_ms"].items()))
            + f"; all {sum(cost['cpu_ms'].values()):.1f}",
        )
    )
    table = "\n".join(f"| {a} | {b} |" for a, b in rows)
    command = f".venv/bin/python benchmarks/kubernetes_mode.py --finished {args.finished} --write"
    return (
        f"{measured_on(command, (load_before, load_after))} (As root.) One-node local cluster "
        "(docs/testing.md); chart with values-local.yaml; pool 0-4 replicas × 8, poll 1 s, "
        "scale-down delay 10 s; the fake LLM on the node address.\n\n"
        "| measure | value |\n|---|---|\n" + table
    )


if __name__ == "__main__":
    sys.exit(main())
