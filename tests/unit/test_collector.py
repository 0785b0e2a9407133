"""The operator's collector of finished FortuneRequests (fortune_operator.collector): what it keeps
per resource, without a cluster (scheduling never calls the API server)."""

from __future__ import annotations

from typing import Any, cast

from fortune_core import KubeClient
from fortune_operator.collector import Collector


def finished(name: str, uid: str, completed: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name, "uid": uid},
        "spec": {"ttlSecondsAfterFinished": 60},
        "status": {"phase": "Succeeded", "completedAt": completed},
    }


def collector() -> Collector:
    return Collector(cast(KubeClient, None), ["ns"])  # scheduling never uses the client


def test_a_relist_of_a_scheduled_resource_adds_nothing() -> None:
    """Its finish event scheduled it from the record's time; every relist sees the status' time
    (rounded to the second): still one entry, not one more per relist."""
    c = collector()
    c.schedule("ns", "a", "uid-1", 1_700_000_060.437)
    for _ in range(3):
        c.observe(finished("a", "uid-1", "2023-11-14T22:13:20Z"))
    assert (len(c), c.heap_size) == (1, 1)


def test_a_new_resource_of_the_same_name_replaces_the_old_entry() -> None:
    c = collector()
    c.schedule("ns", "a", "uid-1", 1_700_000_060.0)
    c.observe(finished("a", "uid-2", "2023-11-14T22:13:20Z"))
    assert len(c) == 1
    assert c._due[("ns", "a")] == (1_700_000_060.0, "uid-2")


def test_an_unfinished_resource_is_not_scheduled() -> None:
    c = collector()
    body = finished("a", "uid-1", "2023-11-14T22:13:20Z")
    body["status"] = {"phase": "Running"}
    c.observe(body)
    assert (len(c), c.heap_size) == (0, 0)
