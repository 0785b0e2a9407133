"""The OpenAPI 3.1 document. Schemas come from the same pydantic models the code validates with;
tests keep the paths in step with the app's routes."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from fortune_core.profile import DayAlmanac, DerivedProfile
from fortune_core.request import FortuneRequest
from fortune_core.result import FortuneResult
from fortune_core.status import Status

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ID_PARAM = {
    "name": "request_id",
    "in": "path",
    "required": True,
    "description": "The request id (a ULID) returned by POST /v1/fortunes",
    "schema": {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"},
}


def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [
            (FortuneRequest, "validation"),
            (FortuneResult, "serialization"),
            (DerivedProfile, "serialization"),
            (DayAlmanac, "serialization"),
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
            "request": _ref("FortuneRequest"),
            "result": _ref("FortuneResult"),
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "links": {"type": "object", "properties": {"self": {"type": "string"}}},
        },
    }
    schemas["ProfileRequest"] = {
        "type": "object",
        "required": ["profile"],
        "properties": {
            "profile": _ref("BirthProfile"),
            "date": {"type": "string", "format": "date", "description": "Almanac day"},
        },
    }
    schemas["ProfileResponse"] = {
        "type": "object",
        "properties": {"profile": _ref("DerivedProfile"), "almanac": _ref("DayAlmanac")},
    }
    return schemas


def _health(summary: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": {"description": "OK"}}}}


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    common = {
        "401": _error("API key missing or wrong (when API keys are configured)"),
        "429": _error("Rate limited; see Retry-After"),
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
                    "summary": "Start a fortune request",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Same key and body within 24 h → same id",
                            "schema": {"type": "string", "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("FortuneRequest")}},
                    },
                    "responses": {
                        "202": _json(_ref("Accepted"), "Accepted; poll the Location"),
                        "400": _error("Malformed JSON"),
                        "413": _error("Body over the size limit"),
                        "415": _error("Body is not JSON"),
                        "422": _error("Invalid fields, or Idempotency-Key reused"),
                        "503": _error("A backend is down; nothing was accepted"),
                        **common,
                    },
                }
            },
            "/v1/fortunes/{request_id}": {
                "parameters": [_ID_PARAM],
                "get": {
                    "summary": "Query a request: status and, when done, the result",
                    "responses": {
                        "200": _json(_ref("FortuneStatus"), "The request"),
                        "404": _error("Unknown id"),
                        "410": _error("Past its retention"),
                        "503": _error("Backends down"),
                        **common,
                    },
                },
                "delete": {
                    "summary": "Cancel a request",
                    "responses": {
                        "202": _json(_ref("Accepted"), "Cancelled"),
                        "404": _error("Unknown id"),
                        "409": _error("Already finished"),
                        "410": _error("Past its retention"),
                        "503": _error("Backends down"),
                        **common,
                    },
                },
            },
            "/v1/profiles": {
                "post": {
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
                        "200": {"description": "Ready"},
                        "503": {"description": "A backend is down"},
                    },
                }
            },
            "/metrics": _health("Prometheus metrics"),
            "/openapi.json": _health("This document"),
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
