"""The OpenAPI paths and schemas of the routes for people: sessions (`fortune_api.logins`),
history (`fortune_api.history`) and shares (`fortune_api.shares`). Merged into the document by
`fortune_api.openapi`."""

from __future__ import annotations

from typing import Any

from fortune_api.history import MAX_PAGE
from fortune_core import Status

REF = "#/components/schemas/{model}"
ID_PATTERN = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema (shared with openapi.py)."""
    return {"$ref": REF.format(model=name)}


def error_response(description: str) -> dict[str, Any]:
    """A response whose body is the Error schema."""
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A JSON response of `schema`."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def people_schemas() -> dict[str, Any]:
    """Schemas of the sessions, history and shares."""
    return {
        "WeChatLogin": {
            "type": "object",
            "required": ["code"],
            "properties": {
                "code": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9_-]{1,128}$",
                    "description": "The code wx.login gave the phone (usable once)",
                }
            },
        },
        "Session": {
            "type": "object",
            "required": ["token", "expiresIn", "kind"],
            "properties": {
                "token": {"type": "string", "description": "Send as Authorization: Bearer"},
                "expiresIn": {"type": "integer", "description": "Seconds it is valid"},
                "kind": {"type": "string", "enum": ["wechat", "device"]},
            },
        },
        "HistoryItem": {
            "type": "object",
            "required": ["id", "status", "createdAt", "links"],
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": [s.value for s in Status]},
                "createdAt": {"type": "string", "format": "date-time"},
                "completedAt": {"type": "string", "format": "date-time"},
                "topic": {"type": ["string", "null"]},
                "period": {"type": ["string", "null"]},
                "date": {"type": ["string", "null"]},
                "language": {"type": ["string", "null"]},
                "summary": {"type": "string"},
                "overall": {"type": "integer"},
                "links": {"type": "object", "properties": {"self": {"type": "string"}}},
            },
        },
        "History": {
            "type": "object",
            "required": ["items", "next"],
            "properties": {
                "items": {"type": "array", "items": ref("HistoryItem")},
                "next": {
                    "type": ["string", "null"],
                    "description": "The cursor of the next page (null: this was the last)",
                },
            },
        },
        "Share": {
            "type": "object",
            "required": ["token", "links"],
            "properties": {
                "token": {"type": "string"},
                "links": {"type": "object", "properties": {"public": {"type": "string"}}},
            },
        },
        "SharedReading": {
            "type": "object",
            "description": "The redacted public view: no name, birth data or place",
            "properties": {
                "topic": {"type": ["string", "null"]},
                "period": {"type": ["string", "null"]},
                "date": {"type": ["string", "null"]},
                "language": {"type": "string"},
                "result": {"type": "object", "description": "The reading, the name taken out"},
                "pillars": {
                    "type": "object",
                    "description": "Pillar → 干支",
                    "additionalProperties": {"type": "string"},
                },
            },
        },
        "Deleted": {
            "type": "object",
            "required": ["deleted", "more"],
            "properties": {
                "deleted": {"type": "integer"},
                "more": {"type": "boolean", "description": "Call again: more are left"},
            },
        },
    }


_SESSION_ERRORS = {
    "404": error_response("This server issues no sessions (or has no WeChat login)"),
    "429": error_response("Rate limited per address; see Retry-After"),
    "503": error_response("WeChat or Redis unavailable"),
}


def people_paths(common: dict[str, Any]) -> dict[str, Any]:
    """Paths of the sessions and the history (`common`: the 401 and 429 of every route)."""
    return {
        "/v1/sessions/wechat": {
            "post": {
                "operationId": "loginWeChat",
                "summary": "Log in with a wx.login code (exchanged once at jscode2session)",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("WeChatLogin")}},
                },
                "responses": {
                    "200": json_response(ref("Session"), "A session of the user's identity"),
                    "400": error_response("Malformed JSON"),
                    "401": error_response("WeChat refused the code (wrong, expired or used)"),
                    "403": error_response("WeChat refuses this account"),
                    "413": error_response("Body over the size limit"),
                    "415": error_response("Body is not JSON"),
                    "422": error_response("Invalid fields"),
                    **_SESSION_ERRORS,
                },
            }
        },
        "/v1/sessions/device": {
            "post": {
                "operationId": "startDeviceSession",
                "summary": "An anonymous device session (for a client without wx.login)",
                "security": [],
                "responses": {
                    "200": json_response(ref("Session"), "A session of a new device identity"),
                    "403": error_response("Device sessions are turned off"),
                    **_SESSION_ERRORS,
                },
            }
        },
        "/v1/sessions/refresh": {
            "post": {
                "operationId": "refreshSession",
                "summary": "A new token for a session (expired or not) within its refresh window",
                "responses": {
                    "200": json_response(ref("Session"), "A new token of the same identity"),
                    "401": error_response("Not a session, or its login is too old: log in again"),
                    **_SESSION_ERRORS,
                },
            }
        },
    }


def share_paths(id_param: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    """Share tokens of a request and the public view they open."""
    return {
        "/v1/fortunes/{request_id}/share": {
            "parameters": [id_param],
            "post": {
                "operationId": "shareFortune",
                "summary": "A share token opening the redacted public view of a reading",
                "responses": {
                    "201": json_response(ref("Share"), "The token"),
                    "404": error_response("Unknown id (or another client's request)"),
                    "409": error_response("Not a succeeded reading, or too many share tokens"),
                    "503": error_response("MongoDB unavailable"),
                    **common,
                },
            },
            "delete": {
                "operationId": "revokeShares",
                "summary": "Revoke every share token of the request",
                "responses": {
                    "204": {"description": "Revoked"},
                    "404": error_response("Unknown id (or another client's request)"),
                    "503": error_response("MongoDB unavailable"),
                    **common,
                },
            },
        },
        "/v1/fortunes/{request_id}/subscription": {
            "parameters": [id_param],
            "post": {
                "operationId": "subscribeFortune",
                "summary": "Send the caller a WeChat subscribe message when the request finishes",
                "responses": {
                    "201": json_response(
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "subscribed": {"type": "boolean"},
                            },
                        },
                        "Recorded",
                    ),
                    "403": error_response("Not a WeChat login"),
                    "404": error_response(
                        "Unknown id (or another client's request), or no template"
                    ),
                    "409": error_response("Already finished"),
                    "410": error_response("Past its retention"),
                    "503": error_response("Redis unavailable"),
                    **common,
                },
            },
        },
        "/v1/shared/{token}": {
            "parameters": [
                {
                    "name": "token",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{24}$"},
                }
            ],
            "get": {
                "operationId": "openShare",
                "summary": "The redacted public view of a shared reading (no session needed)",
                "security": [],
                "responses": {
                    "200": json_response(
                        ref("SharedReading"), "The reading, without personal data"
                    ),
                    "404": error_response("Unknown or revoked token"),
                    "503": error_response("MongoDB unavailable"),
                    "429": common["429"],
                },
            },
        },
    }


def history_operations(common: dict[str, Any]) -> dict[str, Any]:
    """GET and DELETE of /v1/fortunes (the caller's own requests)."""
    return {
        "get": {
            "operationId": "listFortunes",
            "summary": "The caller's requests, newest first (a session or an API key)",
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "required": False,
                    "description": "The next of the previous page",
                    "schema": {"type": "string", "pattern": ID_PATTERN},
                },
            ],
            "responses": {
                "200": json_response(ref("History"), "A page of the caller's requests"),
                "422": error_response("Invalid limit or cursor"),
                "503": error_response("MongoDB unavailable"),
                **common,
                "401": error_response("No session or API key: an address has no history"),
            },
        },
        "delete": {
            "operationId": "deleteFortunes",
            "summary": "Delete all the caller's requests (unfinished ones are cancelled first)",
            "responses": {
                "200": json_response(ref("Deleted"), "How many were deleted"),
                "503": error_response("MongoDB or Redis unavailable"),
                **common,
                "401": error_response("No session or API key: an address has no history"),
            },
        },
    }
