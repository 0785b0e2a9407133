"""Worker settings: every environment variable the worker reads, declared once with its default
and meaning (`fortune_core.settings`; all of them are listed in docs/configuration.md)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from enum import StrEnum

from fortune_core import CoreSettings, Settings, SweepSettings, WeChatSettings, group, setting


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


#: Time a drained call needs after its answer: the store, the projections, the ack.
DRAIN_MARGIN_SECONDS = 10.0


class SweepMode(StrEnum):
    """Whether this worker takes part in the stale sweep."""

    AUTO = "auto"  # in standalone mode (in Kubernetes mode the operator sweeps)
    ON = "on"
    OFF = "off"


@dataclass(frozen=True)
class WorkerSettings(Settings):
    """How one worker process consumes, calls the provider and retries."""

    core: CoreSettings = group(CoreSettings)
    sweep: SweepSettings = group(SweepSettings)
    wechat: WeChatSettings = group(WeChatSettings)
    worker_id: str = setting(
        "FORTUNE_WORKER_ID",
        factory=default_worker_id,
        shown_default="<hostname>-<pid>",
        doc="name recorded on the requests it runs",
    )
    concurrency: int = setting(
        "FORTUNE_WORKER_CONCURRENCY", 8, minimum=1, doc="provider calls this worker makes at once"
    )
    prefetch: int = setting(
        "FORTUNE_WORKER_PREFETCH",
        0,
        minimum=0,
        shown_default="0",
        doc="messages taken from the broker at once (0: twice the concurrency); those beyond "
        "the concurrency wait claimed for a call slot, so a finished call is followed at once",
    )
    max_attempts: int = setting(
        "FORTUNE_MAX_ATTEMPTS", 4, minimum=1, doc="attempts per request before it fails"
    )
    shutdown_grace_seconds: float = setting(
        "FORTUNE_WORKER_SHUTDOWN_GRACE_SECONDS",
        0.0,
        minimum=0,
        shown_default="0",
        doc="on SIGTERM, how long in-flight work may take before the worker exits unsettled "
        "(0: its longest possible call, twice the LLM timeout, plus 10 s to store and ack)",
    )
    retry_base_seconds: float = setting(
        "FORTUNE_RETRY_BASE_SECONDS", 1.0, minimum=0, doc="first retry delay (doubles, jittered)"
    )
    retry_max_delay_seconds: float = setting(
        "FORTUNE_RETRY_MAX_DELAY_SECONDS", 300.0, minimum=0, doc="longest backoff delay"
    )
    provider: ProviderName = setting(
        "FORTUNE_LLM_PROVIDER",
        ProviderName.AUTO,
        doc="auto (openai with an API key, else almanac), almanac or openai",
    )
    openai_base_url: str | None = setting(
        "OPENAI_BASE_URL", None, shown_default="the SDK's default", doc="the endpoint"
    )
    openai_api_key: str | None = setting(
        "OPENAI_API_KEY", None, shown_default="unset", doc="API key for the endpoint"
    )
    llm_model: str = setting("FORTUNE_LLM_MODEL", "gpt-4o-mini", doc="model name")
    llm_timeout_seconds: float = setting(
        "FORTUNE_LLM_TIMEOUT_SECONDS", 60.0, minimum=0.1, doc="timeout of one LLM call"
    )
    llm_global_concurrency: int = setting(
        "FORTUNE_LLM_GLOBAL_CONCURRENCY",
        16,
        minimum=1,
        doc="LLM calls in flight across all workers (the Redis leases)",
    )
    llm_slot_lease_seconds: float = setting(
        "FORTUNE_LLM_SLOT_LEASE_SECONDS",
        60.0,
        minimum=1.0,
        doc="an LLM lease, renewed while its call runs; a dead worker's frees after it",
    )
    metrics_port: int = setting(
        "FORTUNE_WORKER_METRICS_PORT", 9100, minimum=0, doc="Prometheus port (0 = off)"
    )
    sweep_mode: SweepMode = setting(
        "FORTUNE_WORKER_SWEEP",
        SweepMode.AUTO,
        doc="auto (sweep in standalone mode, where no operator does), on or off",
    )

    def __post_init__(self) -> None:
        # `auto` is resolved once, here: the rest of the worker sees almanac or openai.
        object.__setattr__(
            self, "provider", resolve_provider(str(self.provider), self.openai_api_key)
        )

    @property
    def drain_seconds(self) -> float:
        """How long a stopping worker lets in-flight work finish: the configured grace, or the
        longest an admitted call can take (its answer and one repair call, each up to the LLM
        timeout) plus the store and the ack, so a scale-down never abandons a paid call."""
        if self.shutdown_grace_seconds > 0:
            return self.shutdown_grace_seconds
        return 2 * self.llm_timeout_seconds + DRAIN_MARGIN_SECONDS

    @property
    def prefetch_count(self) -> int:
        """Messages taken at once: `prefetch`, or twice the concurrency; never below it."""
        return max(self.prefetch or 2 * self.concurrency, self.concurrency)

    @property
    def sweep_enabled(self) -> bool:
        """Whether this worker takes part in the stale sweep."""
        if self.sweep_mode == SweepMode.AUTO:
            return not self.core.kubernetes
        return self.sweep_mode == SweepMode.ON
