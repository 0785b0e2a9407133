"""GET load: client threads on loopback asking for paths round-robin for a while."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections.abc import Sequence

from common.report import percentile


def get_load(
    port: int,
    paths: Sequence[str],
    seconds: float,
    keep_alive: bool = True,
    threads: int = 8,
) -> dict[str, float]:
    """GET `paths` on 127.0.0.1:`port` from `threads` client threads for `seconds` (each thread
    from its own offset, every 7th path; each answer must be 200): requests/s, p50 and p99 in ms.
    Without `keep_alive`, a new connection for every request."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(index: int) -> None:
        local: list[float] = []
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = index
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            connection.request("GET", paths[i % len(paths)])
            response = connection.getresponse()
            response.read()
            local.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"GET {paths[i % len(paths)]} answered {response.status}")
            if not keep_alive:
                connection.close()
            i += 7
        connection.close()
        with lock:
            latencies.extend(local)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    return {
        "rps": round(len(latencies) / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }
