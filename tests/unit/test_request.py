"""Request schema: every invalid input is a field error with English and Chinese text."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fortune_core.request import (
    FortuneRequest,
    spec_openapi_schema,
    validate_profile,
    validate_request,
)


def _request(**profile: Any) -> dict[str, Any]:
    return {"profile": {"birthDate": "1990-05-17", **profile}}


def test_minimal_request_gets_documented_defaults() -> None:
    outcome = validate_request(_request())
    assert outcome.ok and outcome.request is not None
    body = outcome.request.to_json_dict()
    assert body == {
        "profile": {
            "calendar": "solar",
            "leapMonth": False,
            "timezone": "Asia/Shanghai",
            "birthDate": "1990-05-17",
            "gender": "unspecified",
        },
        "topic": "overall",
        "period": "day",
        "language": "zh-CN",
    }


def test_json_round_trip_is_stable() -> None:
    outcome = validate_request(
        {
            "profile": {
                "birthDate": "2023-02-15",
                "calendar": "lunar",
                "leapMonth": True,
                "birthTime": "23:30",
                "longitude": 116.4,
                "gender": "female",
                "name": "小满",
            },
            "topic": "love",
            "period": "month",
            "date": "2026-11-24",
            "language": "en",
        }
    )
    assert outcome.request is not None
    again = FortuneRequest.model_validate(outcome.request.to_json_dict())
    assert again == outcome.request


def test_lunar_leap_month_converts_to_the_right_solar_date() -> None:
    leap = validate_request(_request(birthDate="2023-02-15", calendar="lunar", leapMonth=True))
    plain = validate_request(_request(birthDate="2023-02-15", calendar="lunar"))
    assert leap.request is not None and plain.request is not None
    # 2023 has a leap second month: 闰二月十五 is 2023-04-05, 二月十五 is 2023-03-06.
    assert leap.request.profile.solar_birth_date() == dt.date(2023, 4, 5)
    assert plain.request.profile.solar_birth_date() == dt.date(2023, 3, 6)


NOW = dt.datetime(2025, 6, 1, 11, 30, tzinfo=dt.UTC)  # 2025-06-02 01:30 in Kiritimati (UTC+14)


def test_target_date_defaults_to_today_in_the_profile_zone() -> None:
    outcome = validate_request(_request(timezone="Pacific/Kiritimati"), now=NOW)
    assert outcome.request is not None
    assert outcome.request.target_date(NOW) == dt.date(2025, 6, 2)
    assert outcome.request.with_resolved_date(NOW).date == "2025-06-02"
    shanghai = validate_request(_request(), now=NOW).request
    assert shanghai is not None and shanghai.target_date(NOW) == dt.date(2025, 6, 1)


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("bad date format", _request(birthDate="1990/05/17"), "profile.birthDate"),
    ("impossible solar date", _request(birthDate="1990-02-30"), "profile.birthDate"),
    ("before 1600", _request(birthDate="1599-12-31"), "profile.birthDate"),
    (
        "lunar year before 1600",
        _request(birthDate="1599-12-01", calendar="lunar"),
        "profile.birthDate",
    ),
    ("future date", _request(birthDate="2999-01-01"), "profile.birthDate"),
    (
        "leap month the year lacks",
        _request(birthDate="2023-03-15", calendar="lunar", leapMonth=True),
        "profile.birthDate",
    ),
    (
        "day 30 of a 29-day lunar month",
        _request(birthDate="2023-01-30", calendar="lunar"),
        "profile.birthDate",
    ),
    ("lunar month 13", _request(birthDate="2023-13-01", calendar="lunar"), "profile.birthDate"),
    ("leapMonth on a solar date", _request(leapMonth=True), "profile.birthDate"),
    ("hour 24", _request(birthTime="24:00"), "profile.birthTime"),
    ("time without leading zero", _request(birthTime="8:30"), "profile.birthTime"),
    (
        "clock time skipped by China's 1988 daylight saving",
        _request(birthDate="1988-04-17", birthTime="02:30"),
        "profile.birthTime",
    ),
    ("unknown time zone", _request(timezone="Mars/Olympus"), "profile.timezone"),
    ("longitude out of range", _request(longitude=181), "profile.longitude"),
    ("longitude not a number", _request(longitude="east"), "profile.longitude"),
    ("unknown gender", _request(gender="x"), "profile.gender"),
    ("name too long", _request(name="名" * 33), "profile.name"),
    ("name with a control character", _request(name="ab\x07c"), "profile.name"),
    ("name with a zero-width character", _request(name="a\u200bb"), "profile.name"),
    ("unknown profile field", _request(birthplace="x"), "profile.birthplace"),
    ("missing birthDate", {"profile": {}}, "profile.birthDate"),
    ("profile not an object", {"profile": "1990-05-17"}, "profile"),
    ("missing profile", {"topic": "love"}, "profile"),
    ("unknown topic", {**_request(), "topic": "luck"}, "topic"),
    ("unknown period", {**_request(), "period": "decade"}, "period"),
    ("unknown language", {**_request(), "language": "fr"}, "language"),
    ("bad target date", {**_request(), "date": "2026-13-01"}, "date"),
    ("target date out of range", {**_request(), "date": "2150-01-01"}, "date"),
    ("unknown top-level field", {**_request(), "pool": "gpu"}, "pool"),
]


@pytest.mark.parametrize(("case", "body", "path"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_input_is_a_field_error(case: str, body: dict[str, Any], path: str) -> None:
    outcome = validate_request(body)
    assert outcome.request is None, case
    assert path in outcome.errors, outcome.errors
    message = outcome.errors[path]
    assert message.en and message.zh and message.en != message.zh


def test_future_birth_time_today_is_rejected() -> None:
    # NOW is 19:30 in Shanghai: 19:00 today is past, 20:00 is still to come.
    past = validate_request(_request(birthDate="2025-06-01", birthTime="19:00"), now=NOW)
    assert past.ok, past.errors
    future = validate_request(_request(birthDate="2025-06-01", birthTime="20:00"), now=NOW)
    assert set(future.errors) == {"profile.birthTime"}
    assert future.errors["profile.birthTime"].en == "cannot be in the future"
    tomorrow = validate_request(_request(birthDate="2025-06-02"), now=NOW)
    assert tomorrow.errors["profile.birthDate"].en == "cannot be in the future"
    # Already 2025-06-02 in Kiritimati, so that date is not in the future there.
    assert validate_request(_request(birthDate="2025-06-02", timezone="Pacific/Kiritimati"), NOW).ok


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_non_object_body_is_a_body_error(body: Any) -> None:
    outcome = validate_request(body)
    assert outcome.request is None and set(outcome.errors) == {"body"}


def test_several_errors_are_reported_together() -> None:
    outcome = validate_request(
        {"profile": {"birthDate": "x", "gender": "?"}, "topic": "?", "language": "?"}
    )
    assert {"profile.birthDate", "profile.gender", "topic", "language"} <= set(outcome.errors)


def test_validate_profile_reports_under_profile_prefix() -> None:
    profile, errors = validate_profile({"birthDate": "1990-02-30"})
    assert profile is None and "profile.birthDate" in errors
    profile, errors = validate_profile({"birthDate": "1990-02-03"})
    assert profile is not None and not errors


def _walk(node: dict[str, Any], path: str, problems: list[str]) -> None:
    for banned in ("$ref", "anyOf", "oneOf", "allOf", "$defs"):
        if banned in node:
            problems.append(f"{path}: {banned}")
    if "type" not in node:
        problems.append(f"{path}: no type")
    if "description" not in node:
        problems.append(f"{path}: no description")
    for name, child in node.get("properties", {}).items():
        _walk(child, f"{path}.{name}", problems)


def test_spec_schema_is_structural_and_described() -> None:
    schema = spec_openapi_schema()
    problems: list[str] = []
    _walk(schema, "spec", problems)
    assert problems == []
    props = schema["properties"]
    assert props["topic"]["enum"] == ["overall", "career", "love", "wealth", "health", "study"]
    assert props["profile"]["properties"]["birthTime"]["pattern"]
    assert props["date"]["format"] == "date"
    assert props["pool"]["default"] == "default"
    assert props["ttlSecondsAfterFinished"]["default"] == 3600
    assert schema["required"] == ["profile"]
