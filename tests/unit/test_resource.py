"""The FortuneRequest resource: the committed CRD is the generator's output (one source with the
API's request schema), the chart carries the same file, and the status is derived from the record
alone."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from fortune_core.ids import is_request_id, request_id_time
from fortune_core.request import spec_openapi_schema
from fortune_core.resource import CRD_NAME, crd, status_of
from fortune_core.status import Status
from fortune_core.views import RequestView
from fortune_operator import crd as crd_file
from fortune_operator.reconcile import derived_request_id, request_id_for

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "crds" / f"{CRD_NAME}.yaml"
CHART_CRD_PATH = ROOT / "charts" / "cyberfortune" / "crds" / f"{CRD_NAME}.yaml"


def test_committed_crd_is_the_generators_output_and_the_chart_has_the_same_file() -> None:
    assert crd_file.main(["--root", str(ROOT), "--check"]) == 0, (
        "run: python -m fortune_operator.crd"
    )
    assert CRD_PATH.read_text() == CHART_CRD_PATH.read_text()
    assert yaml.safe_load(CRD_PATH.read_text()) == crd()


def test_crd_spec_is_the_request_schema_and_immutable() -> None:
    version = crd()["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = {rule["rule"] for rule in spec["x-kubernetes-validations"]}
    assert "self == oldSelf" in rules
    without_rules = {k: v for k, v in spec.items() if k != "x-kubernetes-validations"}
    assert without_rules == spec_openapi_schema()
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c.get("priority", 0) for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Phase": 0,
        "Topic": 0,
        "Attempts": 0,
        "Age": 0,
        "Request": 1,
        "Summary": 1,
    }


def _described(schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of schema nodes without a description (kubectl explain shows them)."""
    missing = [] if schema.get("description") or path == "metadata" else [path or "<root>"]
    for name, child in (schema.get("properties") or {}).items():
        if name in {"metadata"}:
            continue
        missing += _described(child, f"{path}.{name}".lstrip("."))
    if "items" in schema:
        missing += _described(schema["items"], f"{path}[]")
    return missing


def test_every_field_is_described() -> None:
    schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _described(schema) == []


T0 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
VIEW = RequestView(
    id="01KB4ZB2X3V4W5X6Y7Z8A9B0C1",
    status=Status.QUEUED,
    version=2,
    client="",
    attempts=0,
    message="",
    request={},
    created_at=T0,
    updated_at=T0 + dt.timedelta(milliseconds=120),
    queued_at=T0 + dt.timedelta(milliseconds=120),
)


def test_status_of_a_queued_request() -> None:
    status = status_of(VIEW, generation=1)
    assert status["phase"] == "Queued"
    assert status["requestId"] == VIEW.id
    assert status["recordVersion"] == 2 and status["observedGeneration"] == 1
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("Accepted", "True", "Queued")
    ]
    assert "summary" not in status and "completedAt" not in status


def test_status_of_a_succeeded_request_carries_summary_and_scores_but_not_the_reading() -> None:
    result = {
        "summary": "稳中求进",
        "scores": {
            "overall": 81,
            "career": 70,
            "love": 60,
            "wealth": 75,
            "health": 88,
            "study": 90,
        },
        "text": "a long narrative " * 100,
        "aspects": {"career": "..."},
    }
    view = replace(
        VIEW,
        status=Status.SUCCEEDED,
        version=4,
        attempts=1,
        result=result,
        started_at=T0 + dt.timedelta(milliseconds=200),
        completed_at=T0 + dt.timedelta(milliseconds=1300),
        worker="worker-abc",
    )
    status = status_of(view)
    assert status["phase"] == "Succeeded"
    assert status["summary"] == "稳中求进"
    assert status["scores"] == result["scores"]
    assert status["worker"] == "worker-abc" and status["attempts"] == 1
    # The reading itself never goes to etcd; the status has only the CRD's status fields.
    assert "a long narrative" not in json.dumps(status, ensure_ascii=False)
    status_fields = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert set(status) <= set(status_fields["status"]["properties"])
    complete = status["conditions"][-1]
    assert (complete["type"], complete["status"], complete["reason"]) == (
        "Complete",
        "True",
        "Succeeded",
    )


def test_status_of_a_request_failed_before_it_was_queued() -> None:
    view = replace(VIEW, status=Status.FAILED, queued_at=None, message="invalid spec: date")
    status = status_of(view)
    assert status["phase"] == "Failed"
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("Accepted", "False"),
        ("Complete", "False"),
    ]
    assert status["message"] == "invalid spec: date"


def _body(uid: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "x",
            "namespace": "ns",
            "uid": uid,
            "creationTimestamp": "2026-11-25T08:00:00Z",
            "annotations": annotations or {},
        }
    }


def test_request_id_is_derived_from_the_resource_and_stable_across_restarts() -> None:
    first = request_id_for(_body("3f6c1c9e-0d1a-4c8e-9a7e-0b1c2d3e4f50"))
    again = request_id_for(_body("3f6c1c9e-0d1a-4c8e-9a7e-0b1c2d3e4f50"))
    other = request_id_for(_body("9a7e0b1c-2d3e-4f50-3f6c-1c9e0d1a4c8e"))
    assert first == again != other
    assert is_request_id(first)
    assert request_id_time(first) == dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)


def test_the_api_s_request_id_annotation_wins_when_it_is_a_request_id() -> None:
    given = "01KB4ZB2X3V4W5X6Y7Z8A9B0C1"
    body = _body("u-1", {"cyberfortune.io/request-id": given})
    assert request_id_for(body) == given
    assert derived_request_id(body) != given
    assert request_id_for(_body("u-1", {"cyberfortune.io/request-id": "not-an-id"})) == (
        derived_request_id(body)
    )
