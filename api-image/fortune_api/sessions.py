"""Session tokens: short-lived, HMAC-signed, verified without a store.

    cfs1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "cfs1." + claims part))>

Claims: `sub` (the identity, see `fortune_api.identity`), `typ` (`wechat` or `device`), `kid`
(which key signed), `iat` and `exp` (unix seconds: valid until then) and `auth` (when the user
logged in: a refresh keeps it, so a session can be refreshed only until `auth` plus the refresh
window, then the user logs in again). Nothing in a token is secret (it holds no openid and no
`session_key`): the signature is what makes it trusted.

Keys rotate: `FORTUNE_SESSION_KEYS` lists `kid:secret` pairs, the first signs and every one
verifies; put a new key first and drop the old one once its tokens can no longer be refreshed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from flask import Flask

SESSION_PREFIX = "cfs1."
SIGNER = "cyberfortune.sessions"
#: Longest token accepted (a real one is about 250 characters).
MAX_TOKEN_LENGTH = 1024


@dataclass(frozen=True)
class Claims:
    subject: str
    kind: str
    issued_at: int
    expires_at: int
    authenticated_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issue and verify session tokens with `keys` ((kid, secret), ...; the first signs)."""

    def __init__(
        self,
        keys: tuple[tuple[str, bytes], ...],
        ttl_seconds: int,
        refresh_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("no session keys")
        self._keys = dict(keys)
        self._signing_kid = keys[0][0]
        self.ttl_seconds = ttl_seconds
        self.refresh_seconds = refresh_seconds
        self._clock = clock

    def _sign(self, kid: str, body: str) -> str:
        return _b64(hmac.new(self._keys[kid], body.encode(), hashlib.sha256).digest())

    def issue(self, subject: str, kind: str, authenticated_at: int | None = None) -> str:
        """A new token for `subject` (a login: `authenticated_at` is now; a refresh keeps it)."""
        now = int(self._clock())
        claims = {
            "sub": subject,
            "typ": kind,
            "kid": self._signing_kid,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "auth": now if authenticated_at is None else authenticated_at,
        }
        body = SESSION_PREFIX + _b64(json.dumps(claims, separators=(",", ":")).encode())
        return body + "." + self._sign(self._signing_kid, body)

    def _decode(self, token: str) -> Claims | None:
        raw = self._signed_claims(token)
        if raw is None:
            return None
        try:
            return Claims(
                subject=str(raw["sub"]),
                kind=str(raw["typ"]),
                issued_at=int(raw["iat"]),
                expires_at=int(raw["exp"]),
                authenticated_at=int(raw["auth"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def _signed_claims(self, token: str) -> dict[str, Any] | None:
        """The claims object of a token signed by one of the keys (None: anything else)."""
        body, dot, signature = token.rpartition(".")
        if len(token) > MAX_TOKEN_LENGTH or not dot or not body.startswith(SESSION_PREFIX):
            return None
        try:
            raw = json.loads(_unb64(body[len(SESSION_PREFIX) :]))
        except (binascii.Error, ValueError):
            return None
        kid = raw.get("kid") if isinstance(raw, dict) else None
        if not isinstance(kid, str) or kid not in self._keys:
            return None
        if not hmac.compare_digest(self._sign(kid, body), signature):
            return None
        return cast(dict[str, Any], raw)

    def verify(self, token: str) -> Claims | None:
        """The claims of a valid, unexpired token signed by one of the keys; None otherwise."""
        claims = self._decode(token)
        if claims is None or claims.expires_at <= self._clock():
            return None
        return claims

    def refreshable(self, token: str) -> Claims | None:
        """The claims of a token that may be refreshed: signed by one of the keys, expired or
        not, and within the refresh window of its login."""
        claims = self._decode(token)
        if claims is None or claims.authenticated_at + self.refresh_seconds <= self._clock():
            return None
        return claims


def signer_of(app: Flask) -> SessionSigner | None:
    """The app's signer (None when sessions are off), installed by `fortune_api.logins`."""
    signer: SessionSigner | None = app.extensions.get(SIGNER)
    return signer
