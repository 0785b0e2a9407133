"""What the API tells its client when the API server refuses to create a FortuneRequest: the
client's mistake as a 4xx naming the field, never a 503 (pure: the API server's Status)."""

from __future__ import annotations

from fortune_api.fortunes import refusal_of
from fortune_core.kube import KubeError

INVALID = KubeError(
    422,
    "Invalid",
    'FortuneRequest.cyberfortune.io "fr-x" is invalid: spec.profile.birthDate: Invalid value',
    [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: '１９９０-05-17': should match '^[0-9]{4}-...'",
            "field": "spec.profile.birthDate",
        }
    ],
)


def test_a_schema_refusal_is_a_422_naming_the_body_field() -> None:
    error = refusal_of(INVALID)
    assert (error.status, error.code) == (422, "invalid_request")
    assert error.fields is not None and set(error.fields) == {"profile.birthDate"}
    assert "should match" in error.fields["profile.birthDate"]["en"]


def test_a_refusal_without_causes_still_names_the_request() -> None:
    error = refusal_of(KubeError(400, "BadRequest", "the object could not be decoded"))
    assert error.status == 422 and error.fields == {
        "request": {
            "en": "the object could not be decoded",
            "zh": "the object could not be decoded",
        }
    }


def test_a_full_quota_is_429_and_our_own_trouble_is_503() -> None:
    quota = KubeError(
        403,
        "Forbidden",
        'fortunerequests.cyberfortune.io "fr-x" is forbidden: exceeded quota: frs, requested: '
        "count/fortunerequests.cyberfortune.io=1, used: 10, limited: 10",
    )
    full = refusal_of(quota)
    assert (full.status, full.code, full.headers["Retry-After"]) == (429, "quota_exceeded", "30")
    for status, reason in ((403, "Forbidden"), (0, "Unreachable"), (500, "InternalError")):
        assert refusal_of(KubeError(status, reason, "rbac or outage")).status == 503
