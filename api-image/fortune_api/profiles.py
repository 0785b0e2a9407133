"""`POST /v1/profiles`: derive the profile, the luck of `date` (大运, 流年, 流月, 小运) and the
day's almanac synchronously (no queue, no LLM).

A derivation costs tens of milliseconds of CPU, so this route has its own rate limit (checked
before the body is read) and repeated inputs are answered from per-process LRU caches keyed by
the normalised input (and the date for the luck): a flood of the same body costs one
derivation, a flood of different bodies stops at the limit.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from fortune_api.backends import Backends
from fortune_api.fortunes import json_body, rate_limit, validated
from fortune_core import (
    BirthProfile,
    Conventions,
    DerivedProfile,
    day_almanac,
    derive_profile,
    luck_for,
)

bp = Blueprint("profiles", __name__)

CACHE_SIZE = 2048
#: how many 流年 the route lists: the target date's and the nine after it
LIU_NIAN_YEARS = 10


@lru_cache(maxsize=CACHE_SIZE)
def _profile(profile_json: str, conventions: Conventions) -> DerivedProfile:
    return derive_profile(BirthProfile.model_validate_json(profile_json), conventions)


@lru_cache(maxsize=CACHE_SIZE)
def _derived(profile_json: str, conventions: Conventions) -> dict[str, Any]:
    return _profile(profile_json, conventions).to_json_dict()


@lru_cache(maxsize=CACHE_SIZE)
def _luck(profile_json: str, conventions: Conventions, day: dt.date) -> dict[str, Any]:
    luck = luck_for(_profile(profile_json, conventions), day, LIU_NIAN_YEARS)
    return luck.model_dump(mode="json", by_alias=True)


@lru_cache(maxsize=CACHE_SIZE)
def _almanac(day: dt.date) -> dict[str, Any]:
    return day_almanac(day).to_json_dict()


def cache_info() -> dict[str, Any]:
    """Hits and misses of the caches (for tests and benchmarks)."""
    return {
        "profiles": _derived.cache_info()._asdict(),
        "luck": _luck.cache_info()._asdict(),
        "almanac": _almanac.cache_info()._asdict(),
    }


@bp.post("/v1/profiles")
def derive_profile_route() -> Response:
    """Derive the profile (with the luck and the almanac of `date`, default today)."""
    backends: Backends = current_app.extensions["cyberfortune"]
    rate_limit("profile", backends.settings.profile_rate_limit_per_minute)
    body = json_body()
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key in {"profile", "date"}}
    now = backends.clock()
    fortune = validated(body)
    normalised = json.dumps(fortune.profile.model_dump(mode="json"), sort_keys=True)
    conventions = backends.settings.core.conventions()
    day = fortune.target_date(now)
    return jsonify(
        {
            "profile": _derived(normalised, conventions),
            "luck": _luck(normalised, conventions, day),
            "almanac": _almanac(day),
        }
    )
