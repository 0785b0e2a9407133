"""The sweep: finds the requests the lifecycle recorded for it, and the ones that got stuck, and
sends them on through the lifecycle (`fortune_core.lifecycle`).

One run, in order (each kind at most `FORTUNE_SWEEP_BATCH` requests; the rest waits one interval):

1. `undelivered`: queued, their publish was not confirmed → published again (what is left of a
   retry's delay kept);
2. `unprojected`: a projection (status cache, FortuneRequest status) failed → written again;
3. pending for `FORTUNE_STALE_PENDING_SECONDS` (an operator that stopped between the record and
   the dispatch) → dispatched;
4. running without a change for `FORTUNE_STALE_RUNNING_SECONDS` (its worker and its message are
   gone: a message dead-lettered by the broker's delivery limit, a hung worker) → dispatched
   afresh (a late result of the old attempt still wins if it comes first: the store is
   conditional on `running`, not on the dispatch);
5. queued whose message was due `FORTUNE_LOST_MESSAGE_SECONDS` ago while their pool's queue has
   no ready message → the message is lost (purged, or its publisher died before publishing):
   published again; and queued past `FORTUNE_STALE_QUEUED_SECONDS` whatever the queue holds →
   published again (the same dispatch: if the original still waits in the queue, whichever
   copy comes first claims and the other is dropped, so a request never loses its place).

In Kubernetes mode (the operator's sweep) a stuck request whose FortuneRequest is gone is
cancelled instead. A request stuck for any reason is therefore recovered within: its threshold
(30 s for a lost message once its pool's queue is empty, 600 s in a deep queue, 900 s running)
plus one sweep interval plus, in standalone mode, up to one lease period when the sweeping worker
died (docs/reliability.md has the measured figures).

Every query reads an index (records.ensure_indexes) and acts only on what it finds, so a sweep of
a quiet system reads next to nothing, whatever the number of finished requests.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fortune_core.clock import Clock, system_clock
from fortune_core.kube import ResourceRef
from fortune_core.lifecycle import DispatchLostError, Lifecycle
from fortune_core.queue import PublishError
from fortune_core.records import FortuneRecord
from fortune_core.settings import SweepSettings
from fortune_core.status import Status

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one sweep did, by kind."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


#: The standalone scope: requests that belong to no FortuneRequest.
STANDALONE_SCOPE: dict[str, Any] = {"resource": None}


def namespaces_scope(namespaces: Iterable[str] | None) -> dict[str, Any]:
    """The operator's scope: requests of FortuneRequests in `namespaces` (None: every one)."""
    if namespaces is None:
        return {"resource__ne": None}
    return {"resource__namespace__in": list(namespaces)}


class Sweep:
    """The sweep over the requests of `scope` (mongoengine filter keywords).

    `queue_depth(pool)`: ready messages in the pool's queue (PublishError when unknown);
    `resource_gone(ref)`: whether a request's FortuneRequest no longer exists (Kubernetes mode).
    """

    def __init__(
        self,
        lifecycle: Lifecycle,
        settings: SweepSettings,
        *,
        scope: dict[str, Any],
        queue_depth: Callable[[str], int],
        resource_gone: Callable[[ResourceRef], bool] | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.lifecycle = lifecycle
        self.settings = settings
        self.scope = scope
        self.queue_depth = queue_depth
        self.resource_gone = resource_gone
        self.clock = clock

    def _records(self, **conditions: Any) -> Any:
        return FortuneRecord.objects(**self.scope, **conditions).exclude("profile")

    def run(self) -> SweepReport:
        """One sweep; PyMongoError or redis errors abort it (the next one tries again)."""
        report = SweepReport()
        now = self.clock().astimezone(dt.UTC).replace(tzinfo=None)
        batch = self.settings.batch
        for record in self._records(undelivered=True).limit(batch):
            if record.state == Status.QUEUED:
                self._republish(record, "publish not confirmed", "undelivered", report)
        for record in self._records(unprojected=True).limit(batch):
            if FortuneRecord.objects(id=record.id, version=record.version).update_one(
                unset__unprojected=True
            ):
                self.lifecycle.repair(record)  # a projection failing again flags it again
                report.add("reprojected")
        for status, seconds in (
            (Status.PENDING, self.settings.stale_pending_seconds),
            (Status.RUNNING, self.settings.stale_running_seconds),
        ):
            before = now - dt.timedelta(seconds=seconds)
            stale = self._records(status=status.value, updated_at__lt=before)
            for record in stale.order_by("updated_at").limit(batch):
                self._dispatch(record, status, seconds, report)
        self._queued(now, report)
        if report.total:
            log.info("sweep: %s", report.counts)
        return report

    def _queued(self, now: dt.datetime, report: SweepReport) -> None:
        lost_before = now - dt.timedelta(seconds=self.settings.lost_message_seconds)
        stale_before = now - dt.timedelta(seconds=self.settings.stale_queued_seconds)
        pools = self._records(status=Status.QUEUED.value, due_at__lt=lost_before).distinct("pool")
        for pool in pools:
            try:
                empty = self.queue_depth(pool) == 0
            except PublishError as exc:
                log.warning("sweep: the depth of pool %s is unknown (%s)", pool, exc)
                empty = False
            before = lost_before if empty else stale_before
            found = self._records(status=Status.QUEUED.value, pool=pool, due_at__lt=before)
            for record in found.order_by("due_at").limit(self.settings.batch):
                if record.undelivered:
                    continue  # published again above
                if empty:
                    reason, kind = "its message was lost", "lost"
                else:
                    seconds = self.settings.stale_queued_seconds
                    reason, kind = f"not picked up for {seconds:g} s", "stale_queued"
                self._republish(record, reason, kind, report)

    def _gone(self, record: FortuneRecord, report: SweepReport) -> bool:
        """Kubernetes mode: cancel a request whose FortuneRequest is gone (then True)."""
        ref = ResourceRef.from_dict(record.resource)
        if self.resource_gone is None or ref is None or not self.resource_gone(ref):
            return False
        if self.lifecycle.cancel(record.id, "cancelled: its FortuneRequest was deleted"):
            report.add("cancelled_orphan")
        return True

    def _republish(
        self, record: FortuneRecord, reason: str, kind: str, report: SweepReport
    ) -> None:
        if self._gone(record, report):
            return
        try:
            self.lifecycle.republish(record, f"published again: {reason}")
        except DispatchLostError:
            return  # it moved on meanwhile
        log.warning("published again: %s", reason, extra={"request_id": record.id})
        report.add(kind)

    def _dispatch(
        self, record: FortuneRecord, status: Status, seconds: float, report: SweepReport
    ) -> None:
        if self._gone(record, report):
            return
        text = f"queued again: no progress while {status.value} for {seconds:g} s"
        try:
            self.lifecycle.dispatch(record, {status}, message=text)
        except DispatchLostError:
            return
        log.warning("%s", text, extra={"request_id": record.id})
        report.add(f"stale_{status.value}")
