"""Reconciling one FortuneRequest: from a new resource to a queued request with a status.

Level-triggered and restart-safe: every step is derived from what the cluster and MongoDB hold, so
running it again (after a crash, a retry, a restart) continues where it stopped:

1. The request id: the `cyberfortune.io/request-id` annotation the API sets (the id it already
   answered with), or one derived from the resource's creation time and uid, so a restarted operator
   finds the same id (and the same record) again.
2. No record yet: validate the spec (what the API server's schema cannot check: real dates, time
   zones, DST gaps); an invalid one becomes a failed record whose message names the fields. A valid
   one is accepted by the lifecycle (fortune_core.lifecycle): record, dispatch, publish; the
   dispatch's projection writes the resource's Queued status.
3. A record that is pending is dispatched; one queued while the resource never showed Queued (the
   operator stopped before its projection) has its dispatch published again: whichever copy
   comes first claims it, so no request is processed twice.
4. Anything further along only has its status written again from the record (never newer over
   older).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from fortune_core import (
    CLIENT_ANNOTATION,
    FINISHED_PHASES,
    REQUEST_ID_ANNOTATION,
    CoreSettings,
    DispatchLostError,
    Lifecycle,
    RequestView,
    ResourceRef,
    Status,
    Submission,
    derive_profile,
    get_record,
    is_request_id,
    request_id_from,
    validate_request,
)
from fortune_operator import metrics
from fortune_operator.events import EventPoster

log = logging.getLogger(__name__)


def request_id_for(body: dict[str, Any]) -> str:
    """The resource's request id (see the module docstring, step 1)."""
    meta = body["metadata"]
    annotated = (meta.get("annotations") or {}).get(REQUEST_ID_ANNOTATION, "")
    if is_request_id(annotated):
        return str(annotated)
    return derived_request_id(body)


def derived_request_id(body: dict[str, Any]) -> str:
    """The id derived from creation time and uid (ignores the annotation)."""
    meta = body["metadata"]
    created = dt.datetime.fromisoformat(str(meta["creationTimestamp"]).replace("Z", "+00:00"))
    entropy = hashlib.sha256(str(meta["uid"]).encode()).digest()[:10]
    return request_id_from(int(created.timestamp() * 1000), entropy)


def client_of(body: dict[str, Any]) -> str:
    """Who asked: the API client named in the annotation, else `k8s:<namespace>` (kubectl)."""
    annotated = (body["metadata"].get("annotations") or {}).get(CLIENT_ANNOTATION)
    return str(annotated) if annotated else f"k8s:{body['metadata']['namespace']}"


def ref_of(body: dict[str, Any]) -> ResourceRef:
    """Which resource: namespace, name and uid."""
    meta = body["metadata"]
    return ResourceRef(meta["namespace"], meta["name"], meta.get("uid"))


def bound_to(record_resource: Any, body: dict[str, Any]) -> bool:
    """Whether a record belongs to this very resource (the uid the record was made for, where
    it has one): a resource never takes over, cancels or is served another's request."""
    bound = ResourceRef.from_dict(record_resource)
    return bound is not None and bound.same_resource(ref_of(body))


class Reconciler:
    """Runs in worker threads (MongoDB, Redis, RabbitMQ and the API server are blocking clients)."""

    def __init__(
        self,
        core: CoreSettings,
        lifecycle: Lifecycle,
        post_event: EventPoster,
        pool_served: Callable[[str], bool],
    ) -> None:
        self.core = core
        self.lifecycle = lifecycle
        self.post_event = post_event
        self.pool_served = pool_served

    def needs_reconcile(self, body: dict[str, Any]) -> bool:
        """Whether a listed or changed resource still has to be queued (only new ones do; the
        rest is kept right by the workers' writes and the sweep)."""
        status = body.get("status") or {}
        return status.get("phase") in (None, "", "Pending") and not body["metadata"].get(
            "deletionTimestamp"
        )

    def reconcile(self, body: dict[str, Any]) -> str:
        """Bring one resource along; the outcome (for metrics and logs). Exceptions: retried."""
        start = time.monotonic()
        ref = ref_of(body)
        status = body.get("status") or {}
        if status.get("phase") in FINISHED_PHASES:
            return "finished"
        request_id = str(status.get("requestId") or request_id_for(body))
        record = get_record(request_id)
        if record is not None and not bound_to(record.resource, body):
            # The annotation named another resource's request: never take it over.
            request_id = derived_request_id(body)
            record = get_record(request_id)
        extra = {"request_id": request_id, "resource": f"{ref.namespace}/{ref.name}"}
        if record is None:
            view, outcome = self._accept(body, ref, request_id)
        elif record.state == Status.PENDING or (
            record.state == Status.QUEUED and not status.get("phase")
        ):
            try:
                view = self.lifecycle.dispatch_again(record).view
            except DispatchLostError:  # it moved on meanwhile: show where it is
                view = self._shown_again(request_id)
            outcome = "resumed"
        else:
            self.lifecycle.repair(record)
            view, outcome = self._shown_again(request_id), "status"
        metrics.RECONCILES.labels(outcome).inc()
        if outcome in ("queued", "invalid"):
            metrics.RECONCILE_SECONDS.observe(time.monotonic() - start)
        log.info("reconciled: %s (%s)", outcome, view.status.value, extra=extra)
        return outcome

    def _shown_again(self, request_id: str) -> RequestView:
        view = self.lifecycle.stored(request_id)
        if view is None:
            raise RuntimeError(f"record {request_id} vanished")
        return view

    def _accept(
        self, body: dict[str, Any], ref: ResourceRef, request_id: str
    ) -> tuple[RequestView, str]:
        spec = dict(body.get("spec") or {})
        pool = str(spec.pop("pool", "default"))
        spec.pop("ttlSecondsAfterFinished", None)
        if not self.pool_served(pool):
            # Its queue would have no consumer: fail now, with the reason, rather than wait.
            text = (
                f"spec.pool: no worker pool {pool!r} here: no watched Deployment is labelled "
                f"cyberfortune.io/pool={pool}"
            )
            view = self.lifecycle.reject(
                request_id=request_id, request=spec, pool=pool, message=text, resource=ref
            )
            self.post_event(body, "Warning", "UnservedPool", text)
            return view, "invalid"
        validated = validate_request(spec)
        if validated.request is None:
            text = "invalid spec: " + "; ".join(
                f"spec.{path}: {message.en}" for path, message in validated.errors.items()
            )
            view = self.lifecycle.reject(
                request_id=request_id, request=spec, pool=pool, message=text, resource=ref
            )
            self.post_event(body, "Warning", "InvalidSpec", text)
            return view, "invalid"
        fortune = validated.request.with_resolved_date()
        profile = derive_profile(fortune.profile, self.core.conventions()).to_json_dict()
        view = self.lifecycle.accept(
            Submission(
                request_id=request_id,
                request=fortune,
                profile=profile,
                pool=pool,
                client=client_of(body),
                resource=ref,
            )
        )
        return view, "queued"
