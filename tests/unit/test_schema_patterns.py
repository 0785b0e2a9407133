"""The OpenAPI document's patterns say exactly what the validators accept (pure code)."""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import Any

from fortune_api.openapi import birth_date_bound, openapi_document
from fortune_api.schema_patterns import lunar_dates, name_pattern, solar_dates
from fortune_core.request import MIN_BIRTH_DATE, time_zones, validate_request

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
BOUND = birth_date_bound(NOW)


TODAY_SOMEWHERE = {dt.date(2025, 6, 1), dt.date(2025, 6, 2)}  # today in UTC-12 … UTC+14


def _accepted(**profile: Any) -> bool:
    return validate_request({"profile": profile}, now=NOW).ok


def _agree(pattern: re.Pattern[str], **profile: Any) -> None:
    """The pattern matches what the validator accepts, except on a day that is already today
    somewhere: the document stops a day short of that (accepted, not in the pattern)."""
    outcome = validate_request({"profile": profile}, now=NOW)
    matched = bool(pattern.fullmatch(profile["birthDate"]))
    if outcome.request is not None and outcome.request.profile.solar_birth_date() > BOUND:
        assert outcome.request.profile.solar_birth_date() in TODAY_SOMEWHERE, profile
        assert not matched, profile
    else:
        assert matched == outcome.ok, profile


def test_the_bound_is_past_in_every_time_zone() -> None:
    assert dt.date(2025, 5, 31) == BOUND  # 2025-06-01 00:00 in UTC-12, minus a day
    assert _accepted(birthDate=BOUND.isoformat(), birthTime="23:59", timezone="Etc/GMT+12")


def test_solar_pattern_matches_exactly_the_accepted_dates() -> None:
    pattern = re.compile(solar_dates(MIN_BIRTH_DATE, BOUND))
    rng = random.Random(11)
    candidates = [f"{y:04d}-{m:02d}-{d:02d}" for y in (1599, 1600, 1700, 1900, 2000, 2024, 2025)
                  for m in range(0, 14) for d in range(0, 33)]  # fmt: skip
    candidates += [
        f"{rng.randint(1590, 2030):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 31):02d}"
        for _ in range(3000)
    ]
    for text in candidates:
        _agree(pattern, birthDate=text)


def test_lunar_patterns_match_exactly_the_accepted_dates() -> None:
    regular, leap = (re.compile(p) for p in lunar_dates(MIN_BIRTH_DATE.year, BOUND))
    for year in (1599, 1600, 1601, 1700, 1899, 1984, 2020, 2023, 2025):
        for month in range(0, 14):
            for day in range(0, 32):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                for is_leap, pattern in ((False, regular), (True, leap)):
                    _agree(pattern, birthDate=text, calendar="lunar", leapMonth=is_leap)


def test_name_pattern_matches_exactly_the_accepted_names() -> None:
    pattern = re.compile(name_pattern())
    for code in [*range(0, 0x3000, 7), 0x200B, 0x202E, 0xFEFF, 0xE000, 0x0378, 0xE0001,
                 0x1F600, 0x10FFFD]:  # fmt: skip
        name = f"a{chr(code)}b"
        assert bool(pattern.fullmatch(name)) == _accepted(birthDate="1990-05-17", name=name), code


def test_time_zones_in_the_document_are_the_accepted_ones() -> None:
    profile = openapi_document(NOW)["components"]["schemas"]["BirthProfile"]
    assert set(profile["properties"]["timezone"]["enum"]) == time_zones()
    for name in ("localtime", "posixrules", "right/UTC", "asia/shanghai"):
        assert not _accepted(birthDate="1990-05-17", timezone=name), name
    assert _accepted(birthDate="1990-05-17", timezone="America/Argentina/Buenos_Aires")


def test_every_route_declares_each_status_it_answers() -> None:
    paths = openapi_document(NOW)["paths"]
    assert set(paths["/v1/fortunes"]["post"]["responses"]) == {
        "202", "400", "401", "409", "413", "415", "422", "429", "503",
    }  # fmt: skip
    item = paths["/v1/fortunes/{request_id}"]
    assert set(item["get"]["responses"]) == {"200", "401", "404", "410", "429", "503"}
    assert set(item["delete"]["responses"]) == {
        "202", "204", "401", "404", "409", "410", "422", "429", "503",
    }  # fmt: skip
    assert set(paths["/v1/fortunes"]["get"]["responses"]) == {"200", "401", "422", "429", "503"}
    assert set(paths["/v1/fortunes"]["delete"]["responses"]) == {"200", "401", "429", "503"}
    assert set(paths["/v1/sessions/wechat"]["post"]["responses"]) == {
        "200", "400", "401", "403", "404", "413", "415", "422", "429", "503",
    }  # fmt: skip
    assert set(paths["/v1/profiles"]["post"]["responses"]) == {
        "200", "400", "401", "413", "415", "422", "429",
    }  # fmt: skip
