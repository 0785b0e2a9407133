"""Worker settings, every environment variable the worker reads, in one place (all of them are
listed in docs/configuration.md)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from enum import StrEnum

from fortune_core.settings import CoreSettings, env_float, env_int, env_str


class ProviderName(StrEnum):
    """Which provider writes the readings."""

    AUTO = "auto"
    ALMANAC = "almanac"
    OPENAI = "openai"


def resolve_provider(requested: str, api_key: str | None) -> ProviderName:
    """`auto` means openai when an API key is configured, else the offline almanac."""
    try:
        name = ProviderName(requested.strip().lower())
    except ValueError as exc:
        choices = ", ".join(p.value for p in ProviderName)
        raise ValueError(
            f"FORTUNE_LLM_PROVIDER must be one of {choices}, got {requested!r}"
        ) from exc
    if name == ProviderName.AUTO:
        return ProviderName.OPENAI if api_key else ProviderName.ALMANAC
    if name == ProviderName.OPENAI and not api_key:
        raise ValueError("FORTUNE_LLM_PROVIDER=openai needs OPENAI_API_KEY")
    return name


def default_worker_id() -> str:
    """Host name (the pod name on Kubernetes) and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class WorkerSettings:
    """How one worker process consumes, calls the provider and retries."""

    core: CoreSettings = field(default_factory=CoreSettings)
    worker_id: str = field(default_factory=default_worker_id)
    concurrency: int = 8
    #: Messages taken from the broker at once (0: twice the concurrency). Those beyond the
    #: concurrency wait unclaimed for a call slot, so a finished call is followed at once.
    prefetch: int = 0
    max_attempts: int = 4
    shutdown_grace_seconds: float = 25.0
    retry_base_seconds: float = 1.0
    retry_max_delay_seconds: float = 300.0
    provider: ProviderName = ProviderName.ALMANAC
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = 60.0
    llm_global_concurrency: int = 16
    llm_slot_lease_seconds: float = 60.0
    #: Port of the Prometheus endpoint (0 = none).
    metrics_port: int = 9100
    log_level: str = "INFO"

    @property
    def prefetch_count(self) -> int:
        """Messages taken at once: `prefetch`, or twice the concurrency; never below it."""
        return max(self.prefetch or 2 * self.concurrency, self.concurrency)

    @classmethod
    def from_env(cls) -> WorkerSettings:
        api_key = os.environ.get("OPENAI_API_KEY", "").strip() or None
        return cls(
            core=CoreSettings.from_env(),
            worker_id=env_str("FORTUNE_WORKER_ID", default_worker_id()),
            concurrency=env_int("FORTUNE_WORKER_CONCURRENCY", 8, 1),
            prefetch=env_int("FORTUNE_WORKER_PREFETCH", 0),
            max_attempts=env_int("FORTUNE_MAX_ATTEMPTS", 4, 1),
            shutdown_grace_seconds=env_float("FORTUNE_WORKER_SHUTDOWN_GRACE_SECONDS", 25.0),
            retry_base_seconds=env_float("FORTUNE_RETRY_BASE_SECONDS", 1.0),
            retry_max_delay_seconds=env_float("FORTUNE_RETRY_MAX_DELAY_SECONDS", 300.0),
            provider=resolve_provider(env_str("FORTUNE_LLM_PROVIDER", "auto"), api_key),
            openai_base_url=os.environ.get("OPENAI_BASE_URL", "").strip() or None,
            openai_api_key=api_key,
            llm_model=env_str("FORTUNE_LLM_MODEL", "gpt-4o-mini"),
            llm_timeout_seconds=env_float("FORTUNE_LLM_TIMEOUT_SECONDS", 60.0, 0.1),
            llm_global_concurrency=env_int("FORTUNE_LLM_GLOBAL_CONCURRENCY", 16, 1),
            llm_slot_lease_seconds=env_float("FORTUNE_LLM_SLOT_LEASE_SECONDS", 60.0, 1.0),
            metrics_port=env_int("FORTUNE_WORKER_METRICS_PORT", 9100),
            log_level=env_str("FORTUNE_LOG_LEVEL", "INFO"),
        )
