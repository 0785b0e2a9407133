"""Who is asking: the one `client` identity every per-client rule keys on.

`g.client_id` is set once per HTTP request, before any route runs, and is then the key of the
rate limits, the Idempotency-Key scope, the ownership of requests, the per-client budgets and, in
Kubernetes mode, the `cyberfortune.io/client` annotation the operator copies into the record.
Its forms:

- `user:<32 hex>`: a WeChat login, the keyed hash (HMAC-SHA256 with `FORTUNE_IDENTITY_KEY`) of
  the AppID and the openid. The same person on two phones is the same identity; two people behind
  one carrier NAT address are two. The openid itself is never the identity (it would be in logs,
  metrics, records and FortuneRequests);
- `device:<22 chars>`: an anonymous device session (the H5 build, which has no `wx.login`);
- `key:<name>`: an API key's client name (`FORTUNE_API_KEYS`);
- `ip:<address>`: nobody in particular (no session, no key).

Ownership: a request made by a personal identity (`user:`, `device:`) is visible only to that
identity (404 for everyone else, as for an unknown id), with or without API keys. Other requests
keep the rule they had: with API keys, only their key sees them; without, the id is the
capability.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import request

from fortune_api.errors import ApiError
from fortune_api.sessions import SESSION_PREFIX, SessionSigner
from fortune_api.settings import ApiSettings

USER_PREFIX = "user:"
DEVICE_PREFIX = "device:"
PERSONAL_PREFIXES = (USER_PREFIX, DEVICE_PREFIX)


def user_identity(identity_key: bytes, app_id: str, openid: str) -> str:
    """The identity of a WeChat user: a keyed hash of the app and the openid (stable across
    logins and devices, meaningless without the key)."""
    digest = hmac.new(identity_key, f"wechat\0{app_id}\0{openid}".encode(), hashlib.sha256)
    return USER_PREFIX + digest.hexdigest()[:32]


def new_device_identity() -> str:
    """A fresh anonymous device identity (128 random bits)."""
    return DEVICE_PREFIX + secrets.token_urlsafe(16)


def is_personal(client: str | None) -> bool:
    """Whether `client` is a person's identity (a login or a device session)."""
    return bool(client) and str(client).startswith(PERSONAL_PREFIXES)


def owns(viewer: str, owner: str | None, api_keys_on: bool) -> bool:
    """Whether `viewer` may see and change a request made by `owner` (see the module doc).
    Requests created with kubectl (`k8s:<namespace>`) belong to no key: their ids are
    capabilities."""
    if is_personal(owner):
        return viewer == owner
    if not api_keys_on or owner == viewer:
        return True
    return bool(owner and owner.startswith("k8s:"))


def address_identity() -> str:
    """The peer address (behind trusted proxies, ProxyFix has already put the real one here)."""
    return "ip:" + (request.remote_addr or "unknown")


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="cyberfortune"'})


def resolve_client(settings: ApiSettings, signer: SessionSigner | None) -> str:
    """The identity of this HTTP request: a session token, else an API key (when keys are
    configured: then one of the two is required), else the address. A token that looks like a
    session but does not verify is a 401, never a silent fall back to the address."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith(SESSION_PREFIX):
        if signer is None:
            raise _unauthorized("invalid_session", "sessions are not enabled on this server")
        claims = signer.verify(token)
        if claims is None:
            raise _unauthorized(
                "invalid_session",
                "the session is invalid or expired: refresh it (POST /v1/sessions/refresh) "
                "or log in again",
            )
        return claims.subject
    if not settings.api_keys:
        return address_identity()
    if scheme.lower() == "bearer" and token:
        for key, name in settings.api_keys.items():
            if hmac.compare_digest(key.encode(), token.encode()):
                return "key:" + name
    raise _unauthorized(
        "unauthorized", "a valid API key or session is required: Authorization: Bearer <key>"
    )
