"""API settings from environment variables (every one is in docs/configuration.md)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from fortune_api.cors import parse_origins
from fortune_core import BudgetSettings, CoreSettings, Settings, WeChatSettings, group, setting


def parse_api_keys(raw: str) -> dict[str, str]:
    """`name:key,name2:key2` (or bare keys) → {key: client name}."""
    keys: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, key = item.partition(":")
        if not sep:
            name, key = "key-" + hashlib.sha256(item.encode()).hexdigest()[:8], item
        if not key:
            raise ValueError(f"FORTUNE_API_KEYS: empty key for client {name!r}")
        keys[key] = name
    return keys


def parse_session_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """`kid:secret,kid2:secret2` → ((kid, secret), ...); the first signs, all verify (rotation:
    put the new key first, keep the old one until its tokens expired)."""
    keys: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        if not sep or not kid or not secret:
            raise ValueError("FORTUNE_SESSION_KEYS: each entry is kid:secret")
        if len(secret) < 32:
            raise ValueError(f"FORTUNE_SESSION_KEYS: the secret of {kid!r} is under 32 characters")
        if any(kid == known for known, _ in keys):
            raise ValueError(f"FORTUNE_SESSION_KEYS: the key id {kid!r} appears twice")
        keys.append((kid, secret.encode()))
    return tuple(keys)


def parse_identity_key(raw: str) -> bytes:
    """The key of the identity hash: at least 32 characters."""
    if len(raw) < 32:
        raise ValueError("FORTUNE_IDENTITY_KEY must be at least 32 characters")
    return raw.encode()


REMOVED = {
    "FORTUNE_TRUST_PROXY_HEADERS": "FORTUNE_TRUST_PROXY_HEADERS was replaced by "
    "FORTUNE_TRUSTED_PROXY_HOPS (the number of proxies in front of the API); unset it",
}


@dataclass(frozen=True)
class ApiSettings(Settings):
    """What the API reads besides the shared settings."""

    core: CoreSettings = group(CoreSettings)
    wechat: WeChatSettings = group(WeChatSettings)
    api_keys: dict[str, str] = setting(
        "FORTUNE_API_KEYS",
        factory=dict,
        parse=parse_api_keys,
        shown_default="empty (auth off)",
        doc="comma-separated client:key pairs (or bare keys)",
    )
    #: Daily token budgets, FORTUNE_DAILY_TOKEN_BUDGET and per client (by the names above)
    #: FORTUNE_CLIENT_TOKEN_BUDGETS; the workers read the same two variables.
    budgets: BudgetSettings = group(BudgetSettings)
    rate_limit_per_minute: int = setting(
        "FORTUNE_RATE_LIMIT_PER_MINUTE", 60, minimum=0, doc="starts and cancels per client"
    )
    poll_rate_limit_per_minute: int = setting(
        "FORTUNE_POLL_RATE_LIMIT_PER_MINUTE", 1200, minimum=0, doc="queries per client"
    )
    profile_rate_limit_per_minute: int = setting(
        "FORTUNE_PROFILE_RATE_LIMIT_PER_MINUTE", 60, minimum=0, doc="POST /v1/profiles per client"
    )
    max_body_bytes: int = setting(
        "FORTUNE_MAX_BODY_BYTES", 16 * 1024, minimum=1024, doc="larger bodies get 413"
    )
    idempotency_ttl_seconds: int = setting(
        "FORTUNE_IDEMPOTENCY_TTL_SECONDS",
        24 * 3600,
        minimum=60,
        doc="how long an Idempotency-Key maps to its request",
    )
    retry_after_seconds: int = setting(
        "FORTUNE_POLL_INTERVAL_SECONDS", 2, minimum=1, doc="the Retry-After hint"
    )
    poll_wait_max_seconds: int = setting(
        "FORTUNE_POLL_WAIT_MAX_SECONDS",
        30,
        minimum=0,
        doc="longest wait a query may ask for with `Prefer: wait=N` (0 = long polling off)",
    )
    poll_wait_slots: int = setting(
        "FORTUNE_POLL_WAIT_SLOTS",
        6,
        minimum=1,
        doc="long polls one API process holds at once (each holds a thread)",
    )
    stream_slots: int = setting(
        "FORTUNE_STREAM_SLOTS",
        1000,
        minimum=1,
        doc="event streams (GET /v1/fortunes/{id}/events) one API process holds at once; each "
        "holds a greenlet and a Redis connection, no thread; beyond it 503 with Retry-After",
    )
    stream_keepalive_seconds: float = setting(
        "FORTUNE_STREAM_KEEPALIVE_SECONDS",
        15.0,
        minimum=0.1,
        doc="an idle event stream gets a comment line this often (proxies close silent streams)",
    )
    stream_max_seconds: float = setting(
        "FORTUNE_STREAM_MAX_SECONDS",
        600.0,
        minimum=1,
        doc="longest an event stream stays open; the client resumes from its last id",
    )
    trusted_proxy_hops: int = setting(
        "FORTUNE_TRUSTED_PROXY_HOPS",
        0,
        minimum=0,
        doc="proxies in front of the API that append to X-Forwarded-For (0: the peer address)",
    )
    backend_wait_seconds: int = setting(
        "FORTUNE_BACKEND_WAIT_SECONDS", 30, minimum=0, doc="how long to wait for the backends"
    )
    cors_origins: tuple[str, ...] = setting(
        "FORTUNE_CORS_ORIGINS",
        (),
        parse=parse_origins,
        shown_default="empty (CORS off)",
        doc="origins allowed to call the API from a browser",
    )
    resource_ttl_seconds: int = setting(
        "FORTUNE_RESOURCE_TTL_SECONDS",
        60,
        minimum=0,
        doc="Kubernetes mode: how long a FortuneRequest the API created stays after it finished "
        "(its spec.ttlSecondsAfterFinished; the reading stays in MongoDB for the retention)",
    )
    webapp_dir: str = setting(
        "FORTUNE_WEBAPP_DIR", "", shown_default="empty (no /app/)", doc="served at /app/"
    )

    session_keys: tuple[tuple[str, bytes], ...] = setting(
        "FORTUNE_SESSION_KEYS",
        (),
        parse=parse_session_keys,
        shown_default="empty (sessions off)",
        doc="kid:secret pairs signing session tokens (the first signs, all verify)",
    )
    identity_key: bytes = setting(
        "FORTUNE_IDENTITY_KEY",
        b"",
        parse=parse_identity_key,
        shown_default="empty (WeChat login off)",
        doc="the key of the identity hash of an openid (never rotate: identities would change)",
    )
    session_ttl_seconds: int = setting(
        "FORTUNE_SESSION_TTL_SECONDS", 7200, minimum=60, doc="how long a session token is valid"
    )
    session_refresh_seconds: int = setting(
        "FORTUNE_SESSION_REFRESH_SECONDS",
        30 * 86400,
        minimum=60,
        doc="how long after its login a session can be refreshed (then log in again)",
    )
    device_sessions: bool = setting(
        "FORTUNE_DEVICE_SESSIONS",
        True,
        doc="anonymous device sessions (the H5 build, which has no wx.login)",
    )
    session_rate_limit_per_minute: int = setting(
        "FORTUNE_SESSION_RATE_LIMIT_PER_MINUTE",
        10,
        minimum=0,
        doc="logins, device sessions and refreshes per address",
    )
    content_check: bool = setting(
        "FORTUNE_WECHAT_CONTENT_CHECK",
        True,
        doc="check the name with msgSecCheck (only when the WeChat app is configured)",
    )
    content_check_unavailable: str = setting(
        "FORTUNE_WECHAT_CONTENT_CHECK_UNAVAILABLE",
        "allow",
        parse=str.lower,
        doc="a name the check cannot judge: allow (accepted, counted) or refuse (503)",
    )

    def check(self) -> None:
        super().check()
        if self.content_check_unavailable not in {"allow", "refuse"}:
            raise ValueError("FORTUNE_WECHAT_CONTENT_CHECK_UNAVAILABLE must be allow or refuse")
        if self.wechat.configured and not (self.session_keys and self.identity_key):
            raise ValueError(
                "WeChat login needs FORTUNE_SESSION_KEYS and FORTUNE_IDENTITY_KEY: set both"
            )

    @property
    def sessions(self) -> bool:
        """Whether session tokens can be issued and verified."""
        return bool(self.session_keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if environ is None else environ
        for name, why in REMOVED.items():
            if env.get(name, "").strip():
                raise ValueError(why)
        return super().from_env(env)
