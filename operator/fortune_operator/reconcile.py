"""Reconciling one FortuneRequest: from a new resource to a queued request with a status.

Level-triggered and restart-safe: every step is derived from what the cluster and MongoDB hold, so
running it again (after a crash, a retry, a restart) continues where it stopped:

1. The request id: the `cyberfortune.io/request-id` annotation the API sets (the id it already
   answered with), or one derived from the resource's creation time and uid, so a restarted operator
   finds the same id (and the same record) again.
2. No record yet: validate the spec (what the API server's schema cannot check: real dates, time
   zones, DST gaps); an invalid one becomes a failed record whose message names the fields. A valid
   one goes through the submission protocol (fortune_core.submission): record, cache, dispatch.
3. A record that is pending, or queued while the resource never showed Queued (the operator stopped
   before confirming), is dispatched again; the dispatch id makes a message that was published
   before the stop stale, so no request is processed twice.
4. The resource's status is written from the record (resource.status_from_record), never newer
   over older.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from typing import Any

from pymongo.errors import PyMongoError

from fortune_core.ids import is_request_id, request_id_from
from fortune_core.kube import KubeClient, ResourceRef
from fortune_core.profile import derive_profile
from fortune_core.records import FortuneRecord, get_record, status_view
from fortune_core.request import validate_request
from fortune_core.resource import (
    CLIENT_ANNOTATION,
    FINISHED_PHASES,
    REQUEST_ID_ANNOTATION,
    status_from_record,
)
from fortune_core.settings import CoreSettings
from fortune_core.status import Status
from fortune_core.submission import Channels, DispatchLostError, dispatch, reject, submit
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
    """Where the resource lives."""
    return ResourceRef(body["metadata"]["namespace"], body["metadata"]["name"])


class Reconciler:
    """Runs in worker threads (MongoDB, Redis, RabbitMQ and the API server are blocking clients)."""

    def __init__(
        self,
        core: CoreSettings,
        channels: Channels,
        kube: KubeClient,
        post_event: EventPoster,
    ) -> None:
        self.core = core
        self.channels = channels
        self.kube = kube
        self.post_event = post_event

    def needs_reconcile(self, body: dict[str, Any]) -> bool:
        """Whether a listed or changed resource still has to be queued (only new ones do; the
        rest is kept right by the workers' writes and the status repair)."""
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
        if record is not None and record.resource and record.resource != ref.as_dict():
            # The annotation named another resource's request: never take it over.
            request_id = derived_request_id(body)
            record = get_record(request_id)
        extra = {"request_id": request_id, "resource": f"{ref.namespace}/{ref.name}"}
        outcome = "status"
        if record is None:
            record, outcome = self._accept(body, ref, request_id)
        elif record.status == Status.PENDING.value or (
            record.status == Status.QUEUED.value and not status.get("phase")
        ):
            record = self._dispatch_again(record)
            outcome = "resumed"
        self.kube.write_status(
            ref, status_from_record(status_view(record), body["metadata"].get("generation"))
        )
        if outcome == "queued":
            # Posted whether or not the Queued status landed: a fast worker's Running (a newer
            # record version) may already have replaced it, and the Event tells what was done.
            self.post_event(
                body, "Normal", "Queued", f"request {request_id} queued in pool {record.pool}"
            )
        metrics.RECONCILES.labels(outcome).inc()
        if outcome in ("queued", "invalid"):
            metrics.RECONCILE_SECONDS.observe(time.monotonic() - start)
        log.info("reconciled: %s (%s)", outcome, record.status, extra=extra)
        return outcome

    def _accept(
        self, body: dict[str, Any], ref: ResourceRef, request_id: str
    ) -> tuple[FortuneRecord, str]:
        spec = dict(body.get("spec") or {})
        pool = str(spec.pop("pool", "default"))
        spec.pop("ttlSecondsAfterFinished", None)
        validated = validate_request(spec)
        if validated.request is None:
            text = "invalid spec: " + "; ".join(
                f"spec.{path}: {message.en}" for path, message in validated.errors.items()
            )
            record = reject(
                self.channels,
                request_id=request_id,
                request=spec,
                pool=pool,
                message=text,
                resource=ref,
            )
            self.post_event(body, "Warning", "InvalidSpec", text)
            return record, "invalid"
        fortune = validated.request.with_resolved_date()
        profile = derive_profile(fortune.profile, self.core.conventions()).to_json_dict()
        record = submit(
            self.channels,
            request_id=request_id,
            request=fortune,
            profile=profile,
            pool=pool,
            client=client_of(body),
            resource=ref,
            abandon_on_failure=False,
        )
        return record, "queued"

    def _dispatch_again(self, record: FortuneRecord) -> FortuneRecord:
        try:
            return dispatch(self.channels, record, {Status(record.status)})
        except DispatchLostError:
            reloaded = get_record(record.id)
            if reloaded is None:
                raise PyMongoError(f"record {record.id} vanished") from None
            return reloaded
