"""Garbage collection of finished FortuneRequests, `spec.ttlSecondsAfterFinished` after completion.

A heap ordered by due time, fed by the watch events; one task sleeps until the earliest entry is
due and deletes what is due (with the resource's uid as a precondition, so a newer object of the
same name is never deleted). Its cost is per deletion, never per live resource: no timer per
FortuneRequest, no periodic listing. The request's result stays in MongoDB (and readable through
the HTTP API) until the request's retention ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
from typing import Any

from fortune_core import (
    DEFAULT_TTL_SECONDS_AFTER_FINISHED,
    FINISHED_PHASES,
    KubeClient,
    KubeError,
    fortune_requests_path,
)
from fortune_operator import metrics

log = logging.getLogger(__name__)


def due_time(body: dict[str, Any]) -> float | None:
    """When a finished resource is due for deletion (unix seconds); None while unfinished."""
    status = body.get("status") or {}
    if status.get("phase") not in FINISHED_PHASES:
        return None
    completed = status.get("completedAt") or body["metadata"].get("creationTimestamp")
    if not completed:
        return None
    spec = body.get("spec") or {}
    ttl = spec.get("ttlSecondsAfterFinished", DEFAULT_TTL_SECONDS_AFTER_FINISHED)
    finished = dt.datetime.fromisoformat(str(completed).replace("Z", "+00:00"))
    return finished.timestamp() + float(ttl)


class Collector:
    """Deletes finished FortuneRequests when their TTL is over."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self._heap: list[tuple[float, str, str, str]] = []
        self._due: dict[tuple[str, str], tuple[float, str]] = {}
        self._changed = asyncio.Event()

    def observe(self, body: dict[str, Any]) -> None:
        """Track a resource from its latest event."""
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        due = due_time(body)
        if due is None:
            self._due.pop(key, None)
            return
        entry = (due, meta["uid"])
        if self._due.get(key) == entry:
            return
        self._due[key] = entry
        heapq.heappush(self._heap, (due, *key, meta["uid"]))
        self._changed.set()

    def forget(self, namespace: str, name: str) -> None:
        """The resource is gone."""
        self._due.pop((namespace, name), None)

    def __len__(self) -> int:
        return len(self._due)

    async def run(self) -> None:
        """Delete what is due, sleeping until the next due time or a new entry."""
        loop = asyncio.get_running_loop()
        while True:
            now = dt.datetime.now(dt.UTC).timestamp()
            while self._heap and self._heap[0][0] <= now:
                due, namespace, name, uid = heapq.heappop(self._heap)
                if self._due.get((namespace, name)) != (due, uid):
                    continue  # superseded or forgotten
                try:
                    await loop.run_in_executor(None, self._delete, namespace, name, uid)
                except KubeError as exc:
                    log.warning("could not delete %s/%s: %s; retrying", namespace, name, exc)
                    heapq.heappush(self._heap, (now + 5.0, namespace, name, uid))
                    self._due[(namespace, name)] = (now + 5.0, uid)
            self._changed.clear()
            timeout = self._heap[0][0] - now if self._heap else None
            with contextlib.suppress(TimeoutError):  # woken by the clock, not by a new entry
                await asyncio.wait_for(self._changed.wait(), timeout)

    def _delete(self, namespace: str, name: str, uid: str) -> None:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid}}
        try:
            self.kube.request("DELETE", fortune_requests_path(namespace, name), body)
        except KubeError as exc:
            if exc.status not in (404, 409):  # gone already, or a new object of that name
                raise
            return
        self._due.pop((namespace, name), None)
        metrics.GARBAGE_COLLECTED.inc()
        log.info("deleted finished fortunerequest %s/%s (TTL over)", namespace, name)
