"""`POST /v1/profiles`: derive the profile and a day's almanac synchronously (no queue, no LLM).

A derivation costs tens of milliseconds of CPU, so this route has its own rate limit (checked
before the body is read) and repeated inputs are answered from a per-process LRU cache keyed by
the normalised input: a flood of the same body costs one derivation, a flood of different bodies
stops at the limit.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from fortune_api.backends import Backends
from fortune_api.fortunes import json_body, rate_limit, validated
from fortune_core import BirthProfile, ZiHourConvention, day_almanac, derive_profile

bp = Blueprint("profiles", __name__)

CACHE_SIZE = 2048


@lru_cache(maxsize=CACHE_SIZE)
def _derived(profile_json: str, convention: ZiHourConvention) -> dict[str, Any]:
    profile = BirthProfile.model_validate_json(profile_json)
    return derive_profile(profile, convention).to_json_dict()


@lru_cache(maxsize=CACHE_SIZE)
def _almanac(day: dt.date) -> dict[str, Any]:
    return day_almanac(day).to_json_dict()


def cache_info() -> dict[str, Any]:
    """Hits and misses of the two caches (for tests and benchmarks)."""
    return {"profiles": _derived.cache_info()._asdict(), "almanac": _almanac.cache_info()._asdict()}


@bp.post("/v1/profiles")
def derive_profile_route() -> Response:
    """Derive the profile (and the almanac of `date`, default today) synchronously."""
    backends: Backends = current_app.extensions["cyberfortune"]
    rate_limit("profile", backends.settings.profile_rate_limit_per_minute)
    body = json_body()
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key in {"profile", "date"}}
    now = backends.clock()
    fortune = validated(body)
    normalised = json.dumps(fortune.profile.model_dump(mode="json"), sort_keys=True)
    profile = _derived(normalised, backends.settings.core.zi_hour_convention)
    return jsonify({"profile": profile, "almanac": _almanac(fortune.target_date(now))})
