"""The FortuneRequest custom resource: its definition (generated from the request schema, so the
API, the queue message and the CRD share one source) and its status, derived from the MongoDB
record by one function that every status writer (operator, worker) uses.

The full reading never goes to etcd: the status carries the phase, timestamps, the summary and the
scores; `GET /v1/fortunes/{status.requestId}` serves the rest from MongoDB.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fortune_core.request import spec_openapi_schema
from fortune_core.result import SCORE_KEYS
from fortune_core.status import Status
from fortune_core.views import RequestView, as_utc

GROUP = "cyberfortune.io"
VERSION = "v1alpha1"
KIND = "FortuneRequest"
PLURAL = "fortunerequests"
SINGULAR = "fortunerequest"
SHORT_NAMES = ("fr",)
CATEGORIES = ("cyberfortune",)
CRD_NAME = f"{PLURAL}.{GROUP}"
API_VERSION = f"{GROUP}/{VERSION}"
REQUEST_ID_ANNOTATION = f"{GROUP}/request-id"
CLIENT_ANNOTATION = f"{GROUP}/client"  # the API client that asked (its key's name or address)
SUMMARY_MAX_LENGTH = 200
MESSAGE_MAX_LENGTH = 1000

PHASES = ("Pending", "Queued", "Running", "Succeeded", "Failed", "Cancelled")
FINISHED_PHASES = frozenset({"Succeeded", "Failed", "Cancelled"})
#: The field selector of unfinished resources (the CRD's selectable `.status.phase`).
UNFINISHED_SELECTOR = ",".join(f"status.phase!={phase}" for phase in sorted(FINISHED_PHASES))
#: What the API server answers a status write derived from an older record version.
OLDER_STATUS_MESSAGE = "status.recordVersion may not go back: a newer status is shown"
#: The spec is immutable (a CEL rule), so every FortuneRequest's generation is 1.
SPEC_GENERATION = 1


def resource_name(request_id: str) -> str:
    """The name the API gives the FortuneRequest of a request (lowercase: a DNS subdomain)."""
    return f"fr-{request_id.lower()}"


def phase_of(status: Status | str) -> str:
    """The CR phase of a request status (pending → Pending, …)."""
    return Status(status).value.capitalize()


def _field(type_: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "description": description, **extra}


def _status_schema() -> dict[str, Any]:
    condition = {
        "type": "object",
        "description": "A condition in the standard Kubernetes shape.",
        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
        "properties": {
            "type": _field("string", "Accepted (in the queue) or Complete (finished)."),
            "status": _field(
                "string", "True, False or Unknown.", enum=["True", "False", "Unknown"]
            ),
            "reason": _field("string", "A CamelCase word saying why, e.g. Queued or Succeeded."),
            "message": _field("string", "A human-readable explanation.", maxLength=1000),
            "lastTransitionTime": _field(
                "string", "When the condition last changed.", format="date-time"
            ),
            "observedGeneration": _field(
                "integer", "The spec generation the condition describes.", format="int64"
            ),
        },
    }
    scores = {
        "type": "object",
        "description": "Scores of the reading, 0-100: overall and per aspect.",
        "properties": {
            key: _field("integer", f"{key} score, 0-100", minimum=0, maximum=100)
            for key in SCORE_KEYS
        },
    }
    return {
        "type": "object",
        "description": "Observed state, written by the operator and the workers.",
        # Writers patch without reading first; the API server keeps them in order: a status
        # derived from an older record version is refused (a 422 the writer takes as "a newer
        # one is shown").
        "x-kubernetes-validations": [
            {
                "rule": "!has(oldSelf.recordVersion) || !has(self.recordVersion) "
                "|| self.recordVersion >= oldSelf.recordVersion",
                "message": OLDER_STATUS_MESSAGE,
            }
        ],
        "properties": {
            "phase": _field("string", "Lifecycle phase of the request.", enum=list(PHASES)),
            "requestId": _field(
                "string",
                "The request id: GET /v1/fortunes/{requestId} on the HTTP API gives the reading.",
            ),
            "attempts": _field("integer", "Processing attempts so far.", minimum=0),
            "queuedAt": _field("string", "When it entered the queue.", format="date-time"),
            "startedAt": _field("string", "When a worker last started it.", format="date-time"),
            "completedAt": _field("string", "When it finished.", format="date-time"),
            "worker": _field("string", "The worker that last processed it."),
            "summary": _field(
                "string", "One-sentence summary of the reading.", maxLength=SUMMARY_MAX_LENGTH
            ),
            "scores": scores,
            "message": _field(
                "string",
                "Why it failed, is retried or was cancelled.",
                maxLength=MESSAGE_MAX_LENGTH,
            ),
            "observedGeneration": _field(
                "integer", "The spec generation this status describes.", format="int64"
            ),
            "recordVersion": _field(
                "integer",
                "Version of the MongoDB record this status was derived from; a writer never "
                "replaces a newer one.",
                format="int64",
            ),
            "conditions": {
                "type": "array",
                "description": "Accepted and Complete conditions.",
                "items": condition,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        },
    }


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition of FortuneRequest."""
    spec = spec_openapi_schema()
    spec["x-kubernetes-validations"] = [
        {
            "rule": "self == oldSelf",
            "message": "spec is immutable: create a new FortuneRequest instead",
        },
        {
            "rule": "!has(self.profile.leapMonth) || !self.profile.leapMonth "
            "|| self.profile.calendar == 'lunar'",
            "message": "profile.leapMonth applies only to calendar lunar",
            "fieldPath": ".profile.leapMonth",
        },
    ]
    columns = [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Topic", "type": "string", "jsonPath": ".spec.topic"},
        {"name": "Attempts", "type": "integer", "jsonPath": ".status.attempts"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Request", "type": "string", "jsonPath": ".status.requestId", "priority": 1},
        {"name": "Summary", "type": "string", "jsonPath": ".status.summary", "priority": 1},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {
                "app.kubernetes.io/name": "cyberfortune",
                "app.kubernetes.io/part-of": "cyberfortune",
            },
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    # The operator watches only unfinished resources (a field selector), so its
                    # memory follows the requests in flight, not the finished ones kept.
                    "selectableFields": [{"jsonPath": ".status.phase"}],
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A request for a fortune reading: the person's birth "
                            "data and what the reading is about. The operator derives the chart, "
                            "queues it for a worker and keeps status up to date; the reading "
                            "itself is served by the HTTP API at /v1/fortunes/{status.requestId}.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": _field("string", "APIVersion of the object."),
                                "kind": _field("string", "Kind of the object."),
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": _status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(
    type_: str, status: str, reason: str, message: str, at: str, generation: int | None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message[:MESSAGE_MAX_LENGTH],
        "lastTransitionTime": at,
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def status_of(view: RequestView, generation: int | None = None) -> dict[str, Any]:
    """The CR status showing `view` (made from the record, so with its queue and start times and
    its worker). Pure: the same view always gives the same status."""
    status = view.status
    phase = phase_of(status)
    now_ish = _iso(view.updated_at) or ""
    out: dict[str, Any] = {
        "phase": phase,
        "requestId": view.id,
        "attempts": view.attempts,
        "recordVersion": view.version,
        "message": view.message[:MESSAGE_MAX_LENGTH],
    }
    if generation is not None:
        out["observedGeneration"] = generation
    for key, value in (
        ("queuedAt", view.queued_at),
        ("startedAt", view.started_at),
        ("completedAt", view.completed_at),
    ):
        if value is not None:
            out[key] = _iso(value)
    if view.worker:
        out["worker"] = view.worker
    result = view.result
    if status == Status.SUCCEEDED and isinstance(result, dict):
        out["summary"] = str(result.get("summary", ""))[:SUMMARY_MAX_LENGTH]
        scores = result.get("scores")
        if isinstance(scores, dict):
            out["scores"] = {k: int(scores[k]) for k in SCORE_KEYS if k in scores}
    conditions = []
    if status != Status.PENDING:
        accepted_at = out.get("queuedAt") or now_ish
        if status == Status.FAILED and not out.get("queuedAt"):
            conditions.append(
                _condition("Accepted", "False", "NotAccepted", out["message"], now_ish, generation)
            )
        else:
            conditions.append(
                _condition("Accepted", "True", "Queued", "in the queue", accepted_at, generation)
            )
    if status.terminal:
        done_at = out.get("completedAt") or now_ish
        complete = "True" if status == Status.SUCCEEDED else "False"
        text = out.get("summary") or out["message"] or phase.lower()
        conditions.append(_condition("Complete", complete, phase, text, done_at, generation))
    out["conditions"] = conditions
    return out
