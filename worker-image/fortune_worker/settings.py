"""Worker settings: every environment variable the worker reads, declared once with its default
and meaning (`fortune_core.settings`; all of them are listed in docs/configuration.md)."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from fortune_core import (
    BudgetSettings,
    CoreSettings,
    ReuseScope,
    Settings,
    SweepSettings,
    WeChatSettings,
    answer_token_bound,
    group,
    setting,
)
from fortune_worker.endpoints import EndpointSpec, parse_endpoints, resolve_keys


class ProviderName(StrEnum):
    """Which provider writes the readings."""

    AUTO = "auto"
    ALMANAC = "almanac"
    OPENAI = "openai"


def resolve_provider(requested: str, api_key: str | bool | None) -> ProviderName:
    """`auto` means openai when an API key (or an endpoint list) is configured, else the offline
    almanac."""
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
        raise ValueError(
            "FORTUNE_LLM_PROVIDER=openai needs OPENAI_API_KEY or FORTUNE_LLM_ENDPOINTS"
        )
    return name


def parse_prices(raw: str) -> dict[str, tuple[float, float]]:
    """`FORTUNE_LLM_PRICES`: {"<model>": {"prompt": p, "completion": c}} in money per million
    tokens → {model: (p, c)}."""
    try:
        table = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"FORTUNE_LLM_PRICES is not valid JSON: {exc}") from exc
    if not isinstance(table, dict):
        raise ValueError("FORTUNE_LLM_PRICES must be a JSON object of model → prices")
    prices: dict[str, tuple[float, float]] = {}
    for model, price in table.items():
        if not isinstance(price, dict) or set(price) - {"prompt", "completion"}:
            raise ValueError(
                f'FORTUNE_LLM_PRICES[{model!r}] must be {{"prompt": n, "completion": n}}'
            )
        values = [price.get("prompt", 0), price.get("completion", 0)]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                   for v in values):  # fmt: skip
            raise ValueError(f"FORTUNE_LLM_PRICES[{model!r}]: prices must be numbers >= 0")
        prices[str(model)] = (float(values[0]), float(values[1]))
    return prices


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
        "(0: its longest possible calls, twice the LLM timeout per endpoint, plus 10 s to store "
        "and ack)",
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
    llm_endpoints: tuple[EndpointSpec, ...] = setting(
        "FORTUNE_LLM_ENDPOINTS",
        factory=tuple,
        parse=parse_endpoints,
        shown_default="empty (one endpoint: OPENAI_BASE_URL, OPENAI_API_KEY, FORTUNE_LLM_MODEL)",
        doc='ordered JSON list of OpenAI-compatible endpoints, [{"baseUrl", "apiKeyEnv", '
        '"model"}, ...] (optional "name", "concurrency"); a call falls back to the next on 429, '
        "5xx, a timeout or a connection failure before the first token",
    )
    llm_max_tokens: int = setting(
        "FORTUNE_LLM_MAX_TOKENS",
        0,
        minimum=0,
        shown_default="0 (from the result schema's limits)",
        doc="max_tokens of every LLM call, the repair call included",
    )
    breaker_failures: int = setting(
        "FORTUNE_LLM_BREAKER_FAILURES",
        5,
        minimum=1,
        doc="consecutive failures of an endpoint that open its circuit breaker",
    )
    breaker_cooldown_seconds: float = setting(
        "FORTUNE_LLM_BREAKER_COOLDOWN_SECONDS",
        30.0,
        minimum=0.1,
        doc="how long an open breaker keeps calls away before one probe call",
    )
    reuse: bool = setting(
        "FORTUNE_REUSE",
        True,
        doc="answer a request from an identical stored reading (and make identical requests in "
        "flight share one call) instead of calling the LLM again",
    )
    reuse_scope: ReuseScope = setting(
        "FORTUNE_REUSE_SCOPE",
        ReuseScope.CLIENT,
        doc="client (only the same client's readings are reused) or global",
    )
    reuse_ttl_seconds: int = setting(
        "FORTUNE_REUSE_TTL_SECONDS",
        86400,
        minimum=1,
        doc="how long a reading stays reusable (never longer than the retention)",
    )
    llm_prices: dict[str, tuple[float, float]] = setting(
        "FORTUNE_LLM_PRICES",
        factory=dict,
        parse=parse_prices,
        shown_default="empty (no cost metric)",
        doc='price table for the cost metric: {"<model>": {"prompt": p, "completion": c}}, '
        "money per million tokens",
    )
    budgets: BudgetSettings = group(BudgetSettings)
    llm_timeout_seconds: float = setting(
        "FORTUNE_LLM_TIMEOUT_SECONDS", 60.0, minimum=0.1, doc="timeout of one LLM call"
    )
    almanac_sentence_seconds: float = setting(
        "FORTUNE_ALMANAC_SENTENCE_SECONDS",
        0.0,
        minimum=0.0,
        doc="pause between the almanac provider's narrative deltas (a sentence each), so that "
        "its reading appears as it would from an LLM; 0 tells them at once",
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
    webhook_secret: str | None = setting(
        "FORTUNE_WEBHOOK_SECRET",
        None,
        shown_default="unset (webhooks wait)",
        doc="the Standard Webhooks signing secret, whsec_ + base64 of the key; unset, this worker "
        "delivers no webhooks (they wait in their queue)",
    )
    webhook_threads: int = setting(
        "FORTUNE_WEBHOOK_THREADS",
        2,
        minimum=0,
        doc="webhook deliveries this worker makes at once (0: none)",
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
        configured = bool(self.openai_api_key) or bool(self.llm_endpoints)
        object.__setattr__(self, "provider", resolve_provider(str(self.provider), configured))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings, with each endpoint's API key read from its `apiKeyEnv`."""
        env = os.environ if environ is None else environ
        settings = super().from_env(env)
        if settings.llm_endpoints:
            resolved = resolve_keys(settings.llm_endpoints, env)
            settings = dataclasses.replace(settings, llm_endpoints=resolved)
        return settings

    @property
    def endpoint_specs(self) -> tuple[EndpointSpec, ...]:
        """The LLM endpoints, in order: FORTUNE_LLM_ENDPOINTS, or the single endpoint of
        OPENAI_BASE_URL, OPENAI_API_KEY and FORTUNE_LLM_MODEL."""
        if self.llm_endpoints:
            return self.llm_endpoints
        return (
            EndpointSpec(
                name="default",
                base_url=self.openai_base_url,
                model=self.llm_model,
                api_key=self.openai_api_key,
            ),
        )

    @property
    def max_tokens(self) -> int:
        """max_tokens of every call: configured, or the longest valid answer's bound."""
        return self.llm_max_tokens or answer_token_bound()

    @property
    def drain_seconds(self) -> float:
        """How long a stopping worker lets in-flight work finish: the configured grace, or the
        longest an admitted call can take (its answer and one repair call, each up to the LLM
        timeout) plus the store and the ack, so a scale-down never abandons a paid call."""
        if self.shutdown_grace_seconds > 0:
            return self.shutdown_grace_seconds
        return self.longest_call_seconds + DRAIN_MARGIN_SECONDS

    @property
    def longest_call_seconds(self) -> float:
        """The longest a reading's calls can take: its answer and one repair call, each up to
        the LLM timeout on every endpoint in turn (fallback)."""
        return 2 * self.llm_timeout_seconds * len(self.endpoint_specs)

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
