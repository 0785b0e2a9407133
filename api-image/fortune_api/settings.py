"""API settings from environment variables (every one is in docs/configuration.md)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from fortune_api.cors import parse_origins
from fortune_core import BudgetSettings, CoreSettings, Settings, group, setting


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


REMOVED = {
    "FORTUNE_TRUST_PROXY_HEADERS": "FORTUNE_TRUST_PROXY_HEADERS was replaced by "
    "FORTUNE_TRUSTED_PROXY_HOPS (the number of proxies in front of the API); unset it",
}


@dataclass(frozen=True)
class ApiSettings(Settings):
    """What the API reads besides the shared settings."""

    core: CoreSettings = group(CoreSettings)
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if environ is None else environ
        for name, why in REMOVED.items():
            if env.get(name, "").strip():
                raise ValueError(why)
        return super().from_env(env)
