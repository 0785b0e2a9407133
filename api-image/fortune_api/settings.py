"""API settings from environment variables (every one is in docs/configuration.md)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from fortune_api.cors import parse_origins
from fortune_core.settings import CoreSettings, env_int, env_str


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


@dataclass(frozen=True)
class ApiSettings:
    core: CoreSettings = field(default_factory=CoreSettings)
    api_keys: dict[str, str] = field(default_factory=dict)
    rate_limit_per_minute: int = 60
    poll_rate_limit_per_minute: int = 1200
    profile_rate_limit_per_minute: int = 60
    max_body_bytes: int = 16 * 1024
    idempotency_ttl_seconds: int = 24 * 3600
    retry_after_seconds: int = 2
    #: Longest wait a query may ask for with `Prefer: wait=N` (0 = long polling off).
    poll_wait_max_seconds: int = 30
    #: Long polls one API process holds at once (each holds a thread; keep it below the threads).
    poll_wait_slots: int = 6
    #: Proxies in front of the API that append to X-Forwarded-For; 0 = use the peer address.
    trusted_proxy_hops: int = 0
    backend_wait_seconds: int = 30
    log_level: str = "INFO"
    cors_origins: tuple[str, ...] = ()
    webapp_dir: str = ""

    @classmethod
    def from_env(cls) -> ApiSettings:
        if os.environ.get("FORTUNE_TRUST_PROXY_HEADERS", "").strip():
            raise ValueError(
                "FORTUNE_TRUST_PROXY_HEADERS was replaced by FORTUNE_TRUSTED_PROXY_HOPS "
                "(the number of proxies in front of the API); unset it"
            )
        return cls(
            core=CoreSettings.from_env(),
            api_keys=parse_api_keys(os.environ.get("FORTUNE_API_KEYS", "")),
            rate_limit_per_minute=env_int("FORTUNE_RATE_LIMIT_PER_MINUTE", 60),
            poll_rate_limit_per_minute=env_int("FORTUNE_POLL_RATE_LIMIT_PER_MINUTE", 1200),
            profile_rate_limit_per_minute=env_int("FORTUNE_PROFILE_RATE_LIMIT_PER_MINUTE", 60),
            max_body_bytes=env_int("FORTUNE_MAX_BODY_BYTES", 16 * 1024, 1024),
            idempotency_ttl_seconds=env_int("FORTUNE_IDEMPOTENCY_TTL_SECONDS", 24 * 3600, 60),
            retry_after_seconds=env_int("FORTUNE_POLL_INTERVAL_SECONDS", 2, 1),
            poll_wait_max_seconds=env_int("FORTUNE_POLL_WAIT_MAX_SECONDS", 30),
            poll_wait_slots=env_int("FORTUNE_POLL_WAIT_SLOTS", 6, 1),
            trusted_proxy_hops=env_int("FORTUNE_TRUSTED_PROXY_HOPS", 0),
            backend_wait_seconds=env_int("FORTUNE_BACKEND_WAIT_SECONDS", 30),
            log_level=env_str("FORTUNE_LOG_LEVEL", "INFO"),
            cors_origins=parse_origins(env_str("FORTUNE_CORS_ORIGINS", "")),
            webapp_dir=env_str("FORTUNE_WEBAPP_DIR", ""),
        )
