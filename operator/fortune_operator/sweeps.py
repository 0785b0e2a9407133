"""Cluster-level sweeps over MongoDB, each costing what it finds, not the number of live resources:

- stale requests: active requests of watched namespaces that made no progress for their status's
  stale timeout (a queued message lost with a purged queue, a worker and its message gone) are
  dispatched again (a new dispatch id, so a late original is dropped), or cancelled when their
  FortuneRequest no longer exists (deleted while the operator was down);
- status repair: records changed since the last sweep whose resource does not show them yet (a
  worker's status patch failed) get their status written from the record.

Both read indexed ranges of `updated_at` (records.ensure_indexes), so a sweep over a quiet cluster
reads nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from fortune_core.kube import KubeClient, KubeError, ResourceRef, Written, fortune_requests_path
from fortune_core.records import FortuneRecord, status_view, utcnow
from fortune_core.resource import status_from_record
from fortune_core.status import Status
from fortune_core.submission import Channels, DispatchLostError, cancel, dispatch
from fortune_operator import metrics
from fortune_operator.settings import OperatorSettings

log = logging.getLogger(__name__)
REPAIR_OVERLAP = dt.timedelta(seconds=5)  # writers' clocks and commit order: look back a little
REPAIR_START_WINDOW = dt.timedelta(minutes=10)


class Sweeper:
    """The periodic sweeps (called from a thread every sweep_seconds)."""

    def __init__(
        self,
        settings: OperatorSettings,
        channels: Channels,
        kube: KubeClient,
        shown: Callable[[ResourceRef], int | None],
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.channels = channels
        self.kube = kube
        self.shown = shown
        self.clock = clock
        self.checkpoint = clock() - REPAIR_START_WINDOW

    def _watched(self, record: FortuneRecord) -> ResourceRef | None:
        ref = ResourceRef.from_dict(record.resource)
        if ref is None:
            return None
        if self.settings.cluster_wide or ref.namespace in self.settings.namespaces:
            return ref
        return None

    def stale(self) -> int:
        """Dispatch again (or cancel) the stale requests; how many."""
        now = self.clock()
        limits = {
            Status.PENDING: self.settings.stale_pending_seconds,
            Status.QUEUED: self.settings.stale_queued_seconds,
            Status.RUNNING: self.settings.stale_running_seconds,
        }
        acted = 0
        for status, seconds in limits.items():
            before = now - dt.timedelta(seconds=seconds)
            for record in FortuneRecord.objects(status=status.value, updated_at__lt=before):
                ref = self._watched(record)
                if ref is not None and self._requeue(record, ref, status, seconds):
                    acted += 1
        return acted

    def _requeue(
        self, record: FortuneRecord, ref: ResourceRef, status: Status, seconds: float
    ) -> bool:
        extra = {"request_id": record.id}
        try:
            self.kube.request("GET", fortune_requests_path(ref.namespace, ref.name))
        except KubeError as exc:
            if exc.status != 404:
                raise
            cancel(self.channels, record.id, "cancelled: its FortuneRequest was deleted")
            log.info(
                "cancelled: the FortuneRequest %s/%s is gone", ref.namespace, ref.name, extra=extra
            )
            return True
        text = f"queued again: no progress while {status.value} for {seconds:g} s"
        try:
            queued = dispatch(self.channels, record, {status}, message=text)
        except DispatchLostError:
            return False  # it moved on meanwhile
        metrics.REQUEUED.labels(status.value).inc()
        log.warning("%s", text, extra=extra)
        self._write(ref, queued)
        return True

    def repair(self) -> int:
        """Write the status of resources whose record changed and that do not show it; how many."""
        since = self.checkpoint - REPAIR_OVERLAP
        newest = self.checkpoint
        written = 0
        for record in self._changed_since(since):
            newest = max(newest, record.updated_at)
            ref = self._watched(record)
            if ref is None:
                continue
            shown = self.shown(ref)
            if shown is not None and shown >= record.version:
                continue
            if self._write(ref, record) == Written.WRITTEN:
                written += 1
                metrics.STATUS_REPAIRS.inc()
        self.checkpoint = newest
        return written

    def _changed_since(self, since: dt.datetime) -> Iterable[FortuneRecord]:
        records: Iterable[FortuneRecord] = FortuneRecord.objects(
            updated_at__gte=since, resource__ne=None
        ).order_by("updated_at")
        return records

    def _write(self, ref: ResourceRef, record: FortuneRecord) -> Written:
        return self.kube.write_status(ref, status_from_record(status_view(record)))
