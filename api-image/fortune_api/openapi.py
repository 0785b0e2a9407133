"""The OpenAPI 3.1 document. Schemas come from the same pydantic models the code validates with,
tightened with what the validators check beyond types (`schema_patterns`: calendar dates up to a
bound, time zone names, name characters), so the document tells the truth: a request it allows is
accepted, one it refuses is refused. Every status code each route answers is listed. Tests keep
the paths in step with the app's routes, and schemathesis fuzzes the app against it.

The birth-date patterns end at "yesterday in UTC-12", the last day that is over everywhere, so the
document is rebuilt when that day changes (cached per bound date).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from pydantic.json_schema import models_json_schema

from fortune_api.openapi_people import (
    REF,
    history_operations,
    people_paths,
    people_schemas,
    share_paths,
)
from fortune_api.openapi_people import (
    error_response as _error,
)
from fortune_api.openapi_people import (
    json_response as _json,
)
from fortune_api.openapi_people import (
    ref as _ref,
)
from fortune_api.schema_patterns import lunar_dates, name_pattern, solar_dates
from fortune_core import (
    MAX_TARGET_DATE,
    MIN_BIRTH_DATE,
    MIN_TARGET_DATE,
    NAME_MAX_LENGTH,
    WEBHOOK_HTTPS_PATTERN,
    WEBHOOK_PATTERN,
    DayAlmanac,
    DerivedProfile,
    FortuneRequest,
    FortuneResult,
    LuckAt,
    Status,
    system_clock,
    time_zones,
)

#: UTC-12: the last zone where a day ends; its yesterday is over in every zone.
_LATEST_ZONE = ZoneInfo("Etc/GMT+12")
_TIME_PATTERN = "^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9])?$"  # empty = unknown, like null

#: An event id of GET /v1/fortunes/{id}/events (`fortune_core.EVENT_ID`; empty means none).
_EVENT_ID_PATTERN = "^(?:[0-9]{1,19}-[0-9]{1,19})?$"


#: One server-sent event of GET /v1/fortunes/{id}/events (its `data` is JSON: docs/api.md).
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]{1,19}-[0-9]{1,19}$"},
        "event": {"type": "string", "enum": ["status", "delta", "reset", "error", "result"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


_ID_PARAM = {
    "name": "request_id",
    "in": "path",
    "required": True,
    "description": "The request id (a ULID) returned by POST /v1/fortunes",
    "schema": {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"},
}


def birth_date_bound(now: dt.datetime) -> dt.date:
    """The last birth date the document allows: yesterday in UTC-12 (past in every zone)."""
    return now.astimezone(_LATEST_ZONE).date() - dt.timedelta(days=1)


def _string_branch(node: dict[str, Any]) -> dict[str, Any]:
    """The `type: string` part of a property (itself, or its non-null `anyOf` variant)."""
    for variant in node.get("anyOf", []):
        if variant.get("type") == "string":
            found: dict[str, Any] = variant
            return found
    return node


def _tighten(schemas: dict[str, Any], bound: dt.date, allow_private_webhooks: bool) -> None:
    """Add the validators' rules to the request schemas."""
    hook = _string_branch(schemas["FortuneRequest"]["properties"]["webhook"])
    hook["pattern"] = (WEBHOOK_PATTERN if allow_private_webhooks else WEBHOOK_HTTPS_PATTERN) + "|^$"
    profile = schemas["BirthProfile"]
    props = profile["properties"]
    props["birthDate"]["description"] += (
        f". Solar dates from {MIN_BIRTH_DATE} that exist (leap years included); lunar dates that "
        "exist (the 30th only in long months, leapMonth only for the year's leap month); not in "
        "the future in the birth place's time zone (the document's patterns stop at a day that "
        "is past everywhere)"
    )
    _string_branch(props["birthTime"])["pattern"] = _TIME_PATTERN
    props["birthTime"]["description"] += (
        "; an empty string also means unknown. A clock time skipped by a daylight-saving change "
        "in that zone on that day, or still in the future, is refused (422)"
    )
    props["timezone"]["enum"] = sorted(time_zones())
    name = _string_branch(props["name"])
    name["maxLength"] = NAME_MAX_LENGTH
    name["pattern"] = name_pattern()
    props["name"]["description"] += (
        "; no control or format (invisible: zero-width, bidi) characters"
    )
    solar = solar_dates(MIN_BIRTH_DATE, bound)
    lunar, leap = lunar_dates(MIN_BIRTH_DATE.year, bound)
    profile["anyOf"] = [
        {
            "description": "Gregorian birth date",
            "properties": {
                "calendar": {"const": "solar"},
                "leapMonth": {"const": False},
                "birthDate": {"pattern": solar},
            },
        },
        {
            "description": "Chinese lunar birth date in a regular month",
            "required": ["calendar"],
            "properties": {
                "calendar": {"const": "lunar"},
                "leapMonth": {"const": False},
                "birthDate": {"pattern": lunar},
            },
        },
        {
            "description": "Chinese lunar birth date in the year's leap month",
            "required": ["calendar", "leapMonth"],
            "properties": {
                "calendar": {"const": "lunar"},
                "leapMonth": {"const": True},
                "birthDate": {"pattern": leap},
            },
        },
    ]
    target = solar_dates(MIN_TARGET_DATE, MAX_TARGET_DATE)
    target_or_empty = target[:-1] + "|^$"
    for holder in (schemas["FortuneRequest"], schemas["ProfileRequest"]):
        date = holder["properties"]["date"]
        _string_branch(date)["pattern"] = target_or_empty
        date["description"] = (
            f"The day the fortune or almanac is for, YYYY-MM-DD between {MIN_TARGET_DATE} and "
            f"{MAX_TARGET_DATE} (default, also when empty or null: today in the profile's time "
            "zone)"
        )


def _schemas(bound: dt.date, allow_private_webhooks: bool) -> dict[str, Any]:
    _, top = models_json_schema(
        [
            (FortuneRequest, "validation"),
            (FortuneResult, "serialization"),
            (DerivedProfile, "serialization"),
            (DayAlmanac, "serialization"),
            (LuckAt, "serialization"),
        ],
        by_alias=True,
        ref_template=REF,
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable machine-readable code"},
                    "message": {"type": "string", "description": "What went wrong (English)"},
                    "fields": {
                        "type": "object",
                        "description": "Field path → {en, zh} message (422 only)",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"en": {"type": "string"}, "zh": {"type": "string"}},
                        },
                    },
                    "backend": {"type": "string", "description": "The backend down (503)"},
                    "status": {"type": "string", "description": "The final status (409)"},
                    "traceId": {
                        "type": "string",
                        "description": "This request's trace id (X-Request-Id); the log has the "
                        "details under it",
                    },
                },
            }
        },
    }
    schemas["Accepted"] = {
        "type": "object",
        "required": ["id", "status", "links"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in Status]},
            "links": {"type": "object", "properties": {"self": {"type": "string"}}},
        },
    }
    schemas["FortuneStatus"] = {
        "type": "object",
        "required": ["id", "status", "attempts", "links"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in Status]},
            "attempts": {"type": "integer", "description": "Times a worker started on it"},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
            "completedAt": {"type": "string", "format": "date-time"},
            "message": {"type": "string", "description": "Human-readable status detail"},
            "request": {
                "type": "object",
                "description": "The request as accepted (FortuneRequest, with date resolved)",
            },
            "result": _ref("FortuneResult"),
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "webhook": {
                "type": "object",
                "description": "A finished request's webhook delivery (when it has a webhook)",
                "required": ["state", "attempts"],
                "properties": {
                    "state": {
                        "type": "string",
                        "enum": ["pending", "delivered", "gone", "refused", "failed"],
                    },
                    "attempts": {"type": "integer"},
                    "lastStatus": {"type": "integer"},
                    "lastError": {"type": "string"},
                    "nextTryAt": {"type": "string", "format": "date-time"},
                },
            },
            "links": {"type": "object", "properties": {"self": {"type": "string"}}},
        },
    }
    schemas["ProfileRequest"] = {
        "type": "object",
        "required": ["profile"],
        "description": "Other keys are ignored",
        "properties": {
            "profile": _ref("BirthProfile"),
            "date": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }
    schemas["ProfileResponse"] = {
        "type": "object",
        "properties": {
            "profile": _ref("DerivedProfile"),
            "luck": {
                **_ref("LuckAt"),
                "description": "The luck of `date`: the 大运 and 流年 containing it, the next nine "
                "流年, the twelve 流月 of its 流年, 小运, and their relations with the chart",
            },
            "almanac": _ref("DayAlmanac"),
        },
    }
    schemas.update(people_schemas())
    _tighten(schemas, bound, allow_private_webhooks)
    return schemas


def _health(summary: str, content_type: str = "application/json") -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "responses": {"200": {"description": "OK", "content": {content_type: {"schema": {}}}}},
        }
    }


_ACCEPTED_HEADERS = {
    "Location": {"description": "The request's URL", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds until polling is useful", "schema": {"type": "string"}},
}
_LINKS = {
    "GetFortune": {
        "operationId": "getFortune",
        "parameters": {"request_id": "$response.body#/id"},
        "description": "Poll the request",
    },
    "CancelFortune": {
        "operationId": "cancelFortune",
        "parameters": {"request_id": "$response.body#/id"},
        "description": "Cancel the request (it stays readable, status cancelled)",
    },
    "StreamFortuneEvents": {
        "operationId": "streamFortuneEvents",
        "parameters": {"request_id": "$response.body#/id"},
        "description": "Follow the request's events as they happen (SSE)",
    },
}


def openapi_document(
    now: dt.datetime | None = None, allow_private_webhooks: bool = False
) -> dict[str, Any]:
    """The whole document as of `now` (built once per birth-date bound)."""
    return _document(birth_date_bound(now or system_clock()), allow_private_webhooks)


@lru_cache(maxsize=4)
def _document(bound: dt.date, allow_private_webhooks: bool) -> dict[str, Any]:
    common = {
        "401": _error(
            "API key missing or wrong (when API keys are configured), or an invalid "
            "or expired session"
        ),
        "429": _error(
            "Rate limited (rate_limited), or the daily token budget used up (budget_exhausted);"
            " see Retry-After"
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CyberFortune API",
            "version": "1",
            "description": "Start a fortune request, poll it, cancel it; derive a profile.",
        },
        "paths": {
            "/v1/fortunes": {
                "post": {
                    "operationId": "startFortune",
                    "summary": "Start a fortune request",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Same key and body within 24 h → same id (the key is "
                            "trimmed; empty means none)",
                            "schema": {"type": "string", "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("FortuneRequest")}},
                    },
                    "responses": {
                        "202": {
                            **_json(_ref("Accepted"), "Accepted; poll the Location"),
                            "headers": _ACCEPTED_HEADERS,
                            "links": _LINKS,
                        },
                        "400": _error("Malformed JSON, or an Idempotency-Key over 255 characters"),
                        "413": _error("Body over the size limit"),
                        "415": _error("Body is not JSON"),
                        "409": _error("Idempotency-Key already used with another body"),
                        "422": _error("Invalid fields"),
                        "503": _error("A backend is down; nothing was accepted"),
                        **common,
                    },
                },
                **history_operations(common),
            },
            "/v1/fortunes/{request_id}": {
                "parameters": [_ID_PARAM],
                "get": {
                    "operationId": "getFortune",
                    "summary": "Query a request: status and, when done, the result",
                    "responses": {
                        "200": {
                            **_json(_ref("FortuneStatus"), "The request"),
                            "links": {"CancelFortune": _LINKS["CancelFortune"]},
                        },
                        "404": _error("Unknown id (or another API key's request)"),
                        "410": _error("Past its retention"),
                        "503": _error("Backends down"),
                        **common,
                    },
                },
                "delete": {
                    "operationId": "cancelFortune",
                    "summary": "Cancel an unfinished request (it stays readable with status "
                    "cancelled); delete a finished one",
                    "parameters": [
                        {
                            "name": "onlyIfActive",
                            "in": "query",
                            "required": False,
                            "description": "true: cancel only; a finished request is a 409 "
                            "instead of being deleted",
                            "schema": {"type": "boolean"},
                        }
                    ],
                    "responses": {
                        "202": _json(_ref("Accepted"), "Cancelled"),
                        "204": {"description": "Deleted (it had finished)"},
                        "404": _error("Unknown id (or another client's request)"),
                        "409": _error("Already finished (with onlyIfActive=true)"),
                        "422": _error("onlyIfActive is neither true nor false"),
                        "410": _error("Past its retention"),
                        "503": _error("Backends down"),
                        **common,
                    },
                },
            },
            "/v1/fortunes/{request_id}/events": {
                "parameters": [_ID_PARAM],
                "get": {
                    "operationId": "streamFortuneEvents",
                    "summary": "The request's events as server-sent events (status, delta, reset, "
                    "error, result), resumable",
                    "description": "Each frame has an `id:` (increasing), an `event:` and JSON "
                    "`data:`; resume with `Last-Event-ID` or `?after=<id>` to get only later "
                    "events. A finished request replays its events (or its status and result) "
                    "and the stream closes after the last one; an idle stream gets a comment "
                    "line every 15 s. See docs/api.md for each event's data.",
                    "parameters": [
                        {
                            "name": "after",
                            "in": "query",
                            "required": False,
                            "description": "Only events after this id (wins over Last-Event-ID)",
                            "schema": {"type": "string", "pattern": _EVENT_ID_PATTERN},
                        },
                        {
                            "name": "Last-Event-ID",
                            "in": "header",
                            "required": False,
                            "description": "Only events after this id (sent by EventSource)",
                            "schema": {"type": "string", "pattern": _EVENT_ID_PATTERN},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The event stream",
                            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
                        },
                        "404": _error("Unknown id (or another API key's request)"),
                        "410": _error("Past its retention"),
                        "422": _error("A malformed event id (after or Last-Event-ID)"),
                        "503": _error("Backends down, or this server holds all the streams it may"),
                        **common,
                    },
                },
            },
            **people_paths(common),
            **share_paths(_ID_PARAM, common),
            "/v1/profiles": {
                "post": {
                    "operationId": "deriveProfile",
                    "summary": "Derive the profile and the day's almanac (no LLM)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ProfileRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("ProfileResponse"), "The derived profile"),
                        "400": _error("Malformed JSON"),
                        "413": _error("Body over the size limit"),
                        "415": _error("Body is not JSON"),
                        "422": _error("Invalid fields"),
                        **common,
                    },
                }
            },
            "/healthz": _health("Liveness"),
            "/readyz": {
                "get": {
                    "summary": "Readiness: MongoDB, Redis and RabbitMQ answer",
                    "responses": {
                        "200": {"description": "Ready", "content": {"application/json": {}}},
                        "503": {
                            "description": "A backend is down",
                            "content": {"application/json": {}},
                        },
                    },
                }
            },
            "/metrics": _health("Prometheus metrics", "text/plain"),
            "/openapi.json": _health("This document"),
        },
        "components": {
            "schemas": _schemas(bound, allow_private_webhooks),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
