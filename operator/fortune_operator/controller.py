"""The operator's wiring: kopf's watch streams in, our reconcile queue, pool loops and sweeps out.

kopf watches FortuneRequests and the labelled worker Deployments (initial listing included, so a
restarted operator sees everything again) and calls the event handlers below; they only route:

- FortuneRequests, unfinished ones only (a server-side field selector on the CRD's selectable
  `.status.phase`: the operator's memory follows the requests in flight, not the finished ones
  kept): those still to be queued go to the reconcile queue (a bounded number of workers, one
  reconcile per resource at a time, failures retried with jittered backoff). A resource leaving
  the watch did one of two things, which its record tells apart: it finished (the garbage
  collector schedules its deletion) or it was deleted unfinished (its request is cancelled, if
  the record is bound to this very resource's uid);
- labelled Deployments start, update or stop their pool's scaling loop.

Only event handlers are used (no kopf state-changing handlers, no daemons), so kopf writes nothing
to the watched objects: no progress annotations, no finalizers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import kopf

from fortune_core import (
    GROUP,
    PLURAL,
    UNFINISHED_SELECTOR,
    VERSION,
    KubeClient,
    Lifecycle,
    Sweep,
    get_record,
    jittered,
)
from fortune_operator import metrics
from fortune_operator.autoscaler import Autoscaler
from fortune_operator.collector import Collector, ttl_of
from fortune_operator.reconcile import Reconciler, bound_to, request_id_for
from fortune_operator.scaling import POOL_LABEL
from fortune_operator.settings import OperatorSettings

log = logging.getLogger(__name__)
Key = tuple[str, str]


class ReconcileQueue:
    """Resources waiting to be reconciled: deduplicated by key (the latest body wins), processed by
    `concurrency` workers, a failed one retried after a jittered, doubling delay (max 60 s)."""

    def __init__(self, handle: Callable[[dict[str, Any]], str], concurrency: int) -> None:
        self.handle = handle
        self.concurrency = concurrency
        self.pending: dict[Key, dict[str, Any]] = {}
        self.failures: dict[Key, int] = {}
        self.busy: set[Key] = set()
        self.queue: asyncio.Queue[Key] = asyncio.Queue()

    def add(self, key: Key, body: dict[str, Any]) -> None:
        """Schedule `key` with its latest body."""
        new = key not in self.pending
        self.pending[key] = body
        if new and key not in self.busy:
            self.queue.put_nowait(key)

    def drop(self, key: Key) -> None:
        """Forget `key` (the resource is gone)."""
        self.pending.pop(key, None)
        self.failures.pop(key, None)

    async def worker(self) -> None:
        """Process keys until cancelled."""
        while True:
            key = await self.queue.get()
            body = self.pending.pop(key, None)
            if body is None:
                continue
            self.busy.add(key)
            try:
                await asyncio.to_thread(self.handle, body)
                self.failures.pop(key, None)
            except Exception as exc:
                failures = self.failures.get(key, 0) + 1
                self.failures[key] = failures
                delay = jittered(failures + 1, 0.5, 60.0)
                log.warning("reconcile of %s/%s failed (%s); retrying in %.1f s", *key, exc, delay)
                asyncio.get_running_loop().call_later(delay, self._retry, key, body)
            finally:
                self.busy.discard(key)
                if key in self.pending:  # changed while it was being handled
                    self.queue.put_nowait(key)

    def _retry(self, key: Key, body: dict[str, Any]) -> None:
        if key not in self.pending and key in self.failures:
            self.add(key, body)


class Controller:
    """Everything the leader runs, fed by kopf's events."""

    def __init__(
        self,
        settings: OperatorSettings,
        lifecycle: Lifecycle,
        kube: KubeClient,
        reconciler: Reconciler,
        autoscaler: Autoscaler,
        sweep: Sweep,
    ) -> None:
        self.settings = settings
        self.lifecycle = lifecycle
        self.kube = kube
        self.reconciler = reconciler
        self.autoscaler = autoscaler
        self.sweep = sweep
        self.collector = Collector(kube, None if settings.cluster_wide else settings.namespaces)
        self.queue = ReconcileQueue(reconciler.reconcile, settings.concurrency)
        self.tasks: list[asyncio.Task[None]] = []
        for structure, size in {
            "reconcile_pending": lambda: len(self.queue.pending),
            "reconcile_failures": lambda: len(self.queue.failures),
            "collector_due": lambda: len(self.collector),
            "collector_heap": lambda: self.collector.heap_size,
            "pools": lambda: len(self.autoscaler.pools),
        }.items():
            metrics.TRACKED.labels(structure).set_function(size)

    def registry(self) -> kopf.OperatorRegistry:
        """The kopf registry with this controller's handlers."""
        registry = kopf.OperatorRegistry()

        @kopf.on.login(registry=registry)
        def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
            return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

        @kopf.on.startup(registry=registry)
        async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.posting.enabled = False  # our own Events only (events.py)
            # No cluster-wide observation of namespaces and CRDs: the namespaces are given and the
            # CRD is installed with the chart, so least privilege needs no cluster-wide rights.
            settings.scanning.disabled = True
            settings.watching.field_selectors[GROUP, PLURAL] = UNFINISHED_SELECTOR
            settings.watching.server_timeout = 300
            settings.watching.client_timeout = 330
            settings.networking.error_backoffs = [1, 2, 5, 10]
            self.start()

        @kopf.on.cleanup(registry=registry)
        async def cleanup(**_: Any) -> None:
            await self.stop()

        @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
        async def fortune_request(event: kopf.RawEvent, **_: Any) -> None:
            self.on_fortune_request(event)

        @kopf.on.event(
            "apps", "v1", "deployments", labels={POOL_LABEL: kopf.PRESENT}, registry=registry
        )
        async def worker_deployment(event: kopf.RawEvent, **_: Any) -> None:
            self.on_deployment(event)

        return registry

    def on_fortune_request(self, event: kopf.RawEvent) -> None:
        """Route one FortuneRequest event."""
        body: dict[str, Any] = dict(event["object"])
        meta = body["metadata"]
        key: Key = (meta["namespace"], meta["name"])
        if event["type"] == "DELETED":
            self.queue.drop(key)
            asyncio.get_running_loop().create_task(self._left(body))
            return
        if self.reconciler.needs_reconcile(body):
            self.queue.add(key, body)

    async def _left(self, body: dict[str, Any]) -> None:
        """A resource left the watch: it finished (schedule its deletion) or it was deleted
        unfinished (cancel its request). The event carries the resource as it was before, so
        the record decides."""
        meta = body["metadata"]
        request_id = (body.get("status") or {}).get("requestId") or request_id_for(body)
        try:
            record = await asyncio.to_thread(get_record, request_id)
        except Exception as exc:  # MongoDB down: the sweep cancels it, the relist collects it
            log.warning("could not look up %s: %s", request_id, exc)
            return
        if record is None or not bound_to(record.resource, body):
            return  # not this resource's request
        if record.state.terminal:
            completed = record.completed_at or record.updated_at
            due = completed.replace(tzinfo=dt.UTC).timestamp() + ttl_of(body)
            self.collector.schedule(meta["namespace"], meta["name"], meta["uid"], due)
            return
        try:
            cancelled = await asyncio.to_thread(
                self.lifecycle.cancel, request_id, "cancelled: its FortuneRequest was deleted"
            )
        except Exception as exc:  # the sweep and the workers catch it later
            log.warning("could not cancel %s: %s", request_id, exc)
            return
        if cancelled is not None:
            log.info("cancelled: its FortuneRequest was deleted", extra={"request_id": request_id})

    def on_deployment(self, event: kopf.RawEvent) -> None:
        """Route one labelled Deployment event."""
        body: dict[str, Any] = dict(event["object"])
        meta = body["metadata"]
        if event["type"] == "DELETED" or POOL_LABEL not in (meta.get("labels") or {}):
            self.autoscaler.forget(meta["namespace"], meta["name"])
        else:
            self.autoscaler.observe(body)

    def start(self) -> None:
        """Start the reconcile workers, the collector and the sweeps."""
        loop = asyncio.get_running_loop()
        for n in range(self.settings.concurrency):
            self.tasks.append(loop.create_task(self.queue.worker(), name=f"reconcile-{n}"))
        self.tasks.append(loop.create_task(self.collector.run(), name="collector"))
        self.tasks.append(loop.create_task(self.collector.relist_forever(), name="relist"))
        self.tasks.append(loop.create_task(self._sweep_forever(), name="sweeps"))

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep.sweep_seconds)
            try:
                report = await asyncio.to_thread(self.sweep.run)
            except Exception as exc:  # a backend is down: next time
                log.warning("sweep failed: %s", exc)
                continue
            for kind, count in report.counts.items():
                metrics.SWEPT.labels(kind).inc(count)

    async def stop(self) -> None:
        """Stop everything started here."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        await self.autoscaler.stop()
