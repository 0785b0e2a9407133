"""Leader election with a coordination.k8s.io Lease, so several operator replicas never act twice.

The same protocol client-go's leaderelection uses: a replica becomes leader by writing its identity
into the Lease when the Lease is free or its holder stopped renewing for leaseDurationSeconds, and
stays leader by renewing it. Every write carries the read resourceVersion, so of two candidates only
one wins. A leader that cannot renew in time stops acting (the caller exits, the pod restarts as a
standby); a leader that shuts down releases the Lease so a standby takes over at once.

Why not kopf's peering: it needs its own cluster-wide CRDs, decides by priority rather than by
holding a lease, and pauses rather than fences a replica that lost contact.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping

from fortune_core import KubeClient, KubeError

log = logging.getLogger(__name__)


def _micro_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class LeaderElector:
    """Acquire and renew one Lease for `identity`."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: int = 15,
        renew_seconds: float = 5.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.client, self.namespace, self.name = client, namespace, name
        self.identity = identity
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.clock = clock
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self._last_renewed = 0.0

    def try_acquire(self) -> bool:
        """One attempt to take or keep the Lease; True if this replica holds it now."""
        now = self.clock()
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_seconds,
            "renewTime": _micro_time(now),
        }
        try:
            lease = self.client.request("GET", self.path)
        except KubeError as exc:
            if exc.status != 404:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {**spec, "acquireTime": _micro_time(now), "leaseTransitions": 0},
            }
            path = self.path.rsplit("/", 1)[0]
            return self._write("POST", path, body)
        current = lease.get("spec") or {}
        holder = current.get("holderIdentity") or ""
        renewed = _parse(current.get("renewTime")) or _parse(current.get("acquireTime"))
        duration = int(current.get("leaseDurationSeconds") or self.lease_seconds)
        expired = renewed is None or now - renewed > dt.timedelta(seconds=duration)
        if holder and holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec["acquireTime"] = _micro_time(now)
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        else:
            spec["acquireTime"] = current.get("acquireTime") or _micro_time(now)
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0)
        lease["spec"] = spec
        return self._write("PUT", self.path, lease)

    def _write(self, method: str, path: str, body: Mapping[str, object]) -> bool:
        try:
            self.client.request(method, path, body)
        except KubeError as exc:
            if exc.status in (409, 422):  # another replica wrote first
                return False
            raise
        self._last_renewed = time.monotonic()
        return True

    def wait_for_leadership(self, stop: threading.Event) -> bool:
        """Block until this replica leads (True) or `stop` is set (False)."""
        announced = False
        while not stop.is_set():
            try:
                if self.try_acquire():
                    log.info("leading (lease %s/%s)", self.namespace, self.name)
                    return True
            except KubeError as exc:
                log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            if not announced:
                log.info("standing by: lease %s/%s is held", self.namespace, self.name)
                announced = True
            stop.wait(self.renew_seconds)
        return False

    def keep_renewing(self, stop: threading.Event, on_lost: Callable[[], None]) -> None:
        """Renew every renew_seconds until `stop`; call `on_lost` once if the lease runs out
        (no renewal for lease_seconds minus one renew interval, to stop before a standby starts)."""
        deadline_seconds = self.lease_seconds - self.renew_seconds
        while not stop.wait(self.renew_seconds):
            try:
                if not self.try_acquire():
                    log.error("lease %s/%s taken by another replica", self.namespace, self.name)
                    on_lost()
                    return
            except KubeError as exc:
                log.warning("could not renew lease %s/%s: %s", self.namespace, self.name, exc)
                if time.monotonic() - self._last_renewed > deadline_seconds:
                    log.error("lease %s/%s not renewed in time", self.namespace, self.name)
                    on_lost()
                    return

    def release(self) -> None:
        """Give the Lease up (on shutdown), so a standby takes over without waiting it out."""
        try:
            lease = self.client.request("GET", self.path)
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["renewTime"] = _micro_time(self.clock() - dt.timedelta(days=1))
            self.client.request("PUT", self.path, lease)
            log.info("released lease %s/%s", self.namespace, self.name)
        except KubeError as exc:
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, exc)
