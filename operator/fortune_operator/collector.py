"""Garbage collection of finished FortuneRequests, `spec.ttlSecondsAfterFinished` after completion.

The operator watches only unfinished resources (a field selector on the CRD's selectable
`.status.phase`), so a finished resource costs it no watch memory: what the collector keeps of it
is one heap entry (due time, namespace, name, uid: about 200 bytes). Entries come from two places:

- the controller, when a watched resource leaves the selection because its request finished
  (the due time from the record's completion time: the watch's last word is the resource as it
  was before it finished);
- a paginated LIST of each finished phase (`fieldSelector=status.phase=Succeeded`, …) at start
  and every `RELIST_SECONDS`, for resources that finished while the operator was away.

One task sleeps until the earliest entry is due and deletes what is due (with the uid as a
precondition, so a newer object of the same name is never deleted; a resource already gone is
fine). The request's result stays in MongoDB (and readable through the HTTP API) until the
request's retention ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fortune_core import (
    DEFAULT_TTL_SECONDS_AFTER_FINISHED,
    FINISHED_PHASES,
    GROUP,
    PLURAL,
    VERSION,
    KubeClient,
    KubeError,
    fortune_requests_path,
)
from fortune_operator import metrics

log = logging.getLogger(__name__)

#: How often finished resources are listed again (the safety net behind the watch).
RELIST_SECONDS = 300.0
LIST_PAGE = 500


def ttl_of(body: dict[str, Any]) -> float:
    """The resource's `spec.ttlSecondsAfterFinished`."""
    spec = body.get("spec") or {}
    return float(spec.get("ttlSecondsAfterFinished", DEFAULT_TTL_SECONDS_AFTER_FINISHED))


def due_time(body: dict[str, Any]) -> float | None:
    """When a finished resource is due for deletion (unix seconds); None while unfinished."""
    status = body.get("status") or {}
    if status.get("phase") not in FINISHED_PHASES:
        return None
    completed = status.get("completedAt") or body["metadata"].get("creationTimestamp")
    if not completed:
        return None
    finished = dt.datetime.fromisoformat(str(completed).replace("Z", "+00:00"))
    return finished.timestamp() + ttl_of(body)


class Collector:
    """Deletes finished FortuneRequests when their TTL is over."""

    def __init__(self, kube: KubeClient, namespaces: Iterable[str] | None) -> None:
        self.kube = kube
        self.namespaces = list(namespaces) if namespaces is not None else None
        self._heap: list[tuple[float, str, str, str]] = []
        self._due: dict[tuple[str, str], tuple[float, str]] = {}
        self._changed = asyncio.Event()

    def schedule(self, namespace: str, name: str, uid: str, due: float) -> None:
        """Delete the resource (`uid`) at `due` (unix seconds)."""
        key, entry = (namespace, name), (due, uid)
        if self._due.get(key) == entry:
            return
        self._due[key] = entry
        heapq.heappush(self._heap, (due, namespace, name, uid))
        self._changed.set()

    def observe(self, body: dict[str, Any]) -> None:
        """Schedule a finished resource from its body (a listing), unless this very resource is
        scheduled already (by the event of its finish, from the record's completion time, which
        differs from the status' by its rounding): one entry per resource, not one per relist."""
        due = due_time(body)
        if due is None:
            return
        meta = body["metadata"]
        known = self._due.get((meta["namespace"], meta["name"]))
        if known is not None and known[1] == meta["uid"]:
            return
        self.schedule(meta["namespace"], meta["name"], meta["uid"], due)

    def forget(self, namespace: str, name: str) -> None:
        """The resource is gone."""
        self._due.pop((namespace, name), None)

    def __len__(self) -> int:
        return len(self._due)

    @property
    def heap_size(self) -> int:
        """Entries in the deletion heap (superseded ones leave it at their due time)."""
        return len(self._heap)

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

    async def relist_forever(self) -> None:
        """List the finished resources now and every RELIST_SECONDS (errors: next time)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                count = await asyncio.to_thread(self._relist, loop)
                log.info("finished fortunerequests listed: %d scheduled for deletion", count)
            except KubeError as exc:
                log.warning("could not list finished fortunerequests: %s", exc)
            await asyncio.sleep(RELIST_SECONDS)

    def _relist(self, loop: asyncio.AbstractEventLoop) -> int:
        seen = 0
        for body in self._finished():
            seen += 1
            loop.call_soon_threadsafe(self.observe, body)  # the heap is the event loop's
        return seen

    def _finished(self) -> Iterator[dict[str, Any]]:
        """Every finished resource of the watched namespaces, a page at a time (only what a
        listing returns is held: one page)."""
        paths = (
            [f"/apis/{GROUP}/{VERSION}/{PLURAL}"]
            if self.namespaces is None
            else [fortune_requests_path(namespace) for namespace in self.namespaces]
        )
        for path in paths:
            for phase in sorted(FINISHED_PHASES):
                token = ""
                while True:
                    query = {"fieldSelector": f"status.phase={phase}", "limit": str(LIST_PAGE)}
                    if token:
                        query["continue"] = token
                    page = self.kube.request("GET", path, query=query)
                    yield from page.get("items") or []
                    token = (page.get("metadata") or {}).get("continue") or ""
                    if not token:
                        break

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
