"""The LLM endpoints: an ordered list of OpenAI-compatible endpoints, each with its own
concurrency limit and circuit breaker, and the fallback between them.

`FORTUNE_LLM_ENDPOINTS` is a JSON list of `{"baseUrl", "apiKeyEnv", "model"}` (optionally
`"name"` and `"concurrency"`); without it the single endpoint of `OPENAI_BASE_URL`,
`OPENAI_API_KEY` and `FORTUNE_LLM_MODEL` is the list.

A call (`Endpoints.call`) goes to the first endpoint whose breaker lets it through and that has a
free slot. When the endpoint fails *before the first token* — HTTP 429, 408, 409 or 5xx, a
timeout, a connection failure — the call moves on to the next endpoint; an error after the first
token (`ProviderError.output_started`: a stream broken midway) never does, nor does any other
error (a 4xx refusal, an invalid answer). When every endpoint failed, the last error is raised
(retryable: the queue tries again later).

Circuit breaker, per endpoint and per worker process: `failures` consecutive failures (those that
move a call on) open it; while open no call goes there; after `cooldown_seconds` one probe call
goes through (half-open): its success closes the breaker, its failure opens it again for
another cool-down. The states are in the metrics (`cyberfortune_llm_breaker_state`) and in the
worker's `/readyz` details.

Concurrency: an endpoint's `concurrency` (0: none of its own, only the global LLM limit) is a
count of Redis leases (`cf:llm:slots:<name>`, as the global limit), shared by every worker; a
call that finds an endpoint full goes on to the next one, and waits only when all are full.
"""

from __future__ import annotations

import enum
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import openai
import redis

from fortune_core import delays
from fortune_worker.llm_leases import LlmLeases
from fortune_worker.retries import ProviderError

T = TypeVar("T")

#: Error codes that move a call on to the next endpoint (when no token was received yet).
FALLBACK_CODES = frozenset({"rate_limited", "llm_unavailable", "llm_timeout", "llm_unreachable"})


@dataclass(frozen=True)
class EndpointSpec:
    """One configured endpoint (`api_key` resolved from the variable `api_key_env`)."""

    name: str
    base_url: str | None
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    api_key: str | None = None
    concurrency: int = 0


def parse_endpoints(raw: str) -> tuple[EndpointSpec, ...]:
    """`FORTUNE_LLM_ENDPOINTS`: a JSON list of {baseUrl, apiKeyEnv, model[, name, concurrency]}
    (keys not yet resolved). ValueError names what is wrong."""
    try:
        items = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"FORTUNE_LLM_ENDPOINTS is not valid JSON: {exc}") from exc
    if not isinstance(items, list) or not items:
        raise ValueError("FORTUNE_LLM_ENDPOINTS must be a non-empty JSON list of endpoints")
    specs: list[EndpointSpec] = []
    for index, item in enumerate(items):
        where = f"FORTUNE_LLM_ENDPOINTS[{index}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object with baseUrl, apiKeyEnv and model")
        unknown = set(item) - {"baseUrl", "apiKeyEnv", "model", "name", "concurrency"}
        if unknown:
            raise ValueError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        for key in ("baseUrl", "apiKeyEnv", "model"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ValueError(f"{where}.{key} must be a non-empty string")
        concurrency = item.get("concurrency", 0)
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 0:
            raise ValueError(f"{where}.concurrency must be an integer >= 0")
        name = item.get("name", f"{index}-{item['model']}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}.name must be a non-empty string")
        specs.append(
            EndpointSpec(
                name=name.strip(),
                base_url=item["baseUrl"].strip(),
                model=item["model"].strip(),
                api_key_env=item["apiKeyEnv"].strip(),
                concurrency=concurrency,
            )
        )
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError("FORTUNE_LLM_ENDPOINTS: endpoint names must be distinct")
    return tuple(specs)


def resolve_keys(
    specs: Sequence[EndpointSpec], environ: Mapping[str, str]
) -> tuple[EndpointSpec, ...]:
    """The specs with their API keys read from `environ`; ValueError names a missing one."""
    resolved = []
    for spec in specs:
        key = (environ.get(spec.api_key_env) or "").strip()
        if not key:
            raise ValueError(
                f"FORTUNE_LLM_ENDPOINTS: endpoint {spec.name!r} reads its API key from "
                f"{spec.api_key_env}, which is not set"
            )
        resolved.append(replace(spec, api_key=key))
    return tuple(resolved)


class BreakerState(enum.IntEnum):
    """A circuit breaker's state (the metric's value)."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class Breaker:
    """Open after `failures` consecutive failures; one probe after `cooldown_seconds`.
    `clock`: monotonic seconds (tests pass their own)."""

    def __init__(
        self,
        failures: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown_seconds
        self._clock = clock
        self._on_change = on_change or (lambda state: None)
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 otherwise)."""
        with self._lock:
            if self._state != BreakerState.OPEN:
                return 0.0
            return max(0.0, self._opened_at + self.cooldown - self._clock())

    def allow(self) -> bool:
        """Whether a call may go to the endpoint now (a half-open breaker lets one probe
        through at a time); a caller that was allowed reports `success()` or `failure()`, or
        `abandon()` when it made no call after all."""
        with self._lock:
            if self._state == BreakerState.CLOSED:
                return True
            if self._state == BreakerState.OPEN:
                if self._clock() < self._opened_at + self.cooldown:
                    return False
                self._set(BreakerState.HALF_OPEN)
            if self._probing:
                return False
            self._probing = True
            return True

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probing = False
            if self._state != BreakerState.CLOSED:
                self._set(BreakerState.CLOSED)

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            probe, self._probing = self._probing, False
            if probe or self._failures >= self.threshold:
                self._opened_at = self._clock()
                self._set(BreakerState.OPEN)

    def abandon(self) -> None:
        """An allowed caller made no call (no free slot): a probe is free again."""
        with self._lock:
            self._probing = False

    def _set(self, state: BreakerState) -> None:
        self._state = state
        self._on_change(state)


class _Skip(enum.Enum):
    """Why a call was not tried on an endpoint."""

    FULL = "at its concurrency limit"
    REFUSED = "its breaker let no call through"


class EndpointObserver(Protocol):
    """What the endpoints report (the worker's metrics)."""

    def fallback(self, endpoint: str, reason: str) -> None: ...

    def breaker(self, endpoint: str, state: BreakerState) -> None: ...


class _Unobserved:
    def fallback(self, endpoint: str, reason: str) -> None:
        pass

    def breaker(self, endpoint: str, state: BreakerState) -> None:
        pass


@dataclass
class Endpoint:
    """A configured endpoint with its client, breaker and (optional) slots."""

    spec: EndpointSpec
    client: openai.OpenAI
    breaker: Breaker
    slots: LlmLeases | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def model(self) -> str:
        return self.spec.model


class Endpoints:
    """The ordered endpoints and the fallback rule (see the module's docstring)."""

    def __init__(
        self,
        specs: Sequence[EndpointSpec],
        *,
        timeout_seconds: float,
        breaker_failures: int = 5,
        breaker_cooldown_seconds: float = 30.0,
        redis_client: redis.Redis | None = None,
        slot_lease_seconds: float = 60.0,
        owner: str = "worker",
        observer: EndpointObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not specs:
            raise ValueError("at least one LLM endpoint is needed")
        self.observer: EndpointObserver = observer or _Unobserved()
        self.endpoints: list[Endpoint] = []
        for spec in specs:
            if spec.concurrency and redis_client is None:
                raise ValueError(f"endpoint {spec.name!r} has a concurrency limit: Redis needed")
            slots = (
                LlmLeases(
                    redis_client,
                    spec.concurrency,
                    slot_lease_seconds,
                    key=f"cf:llm:slots:{spec.name}",
                    owner=owner,
                )
                if spec.concurrency and redis_client is not None
                else None
            )
            self.endpoints.append(
                Endpoint(
                    spec,
                    openai.OpenAI(
                        api_key=spec.api_key or "",
                        base_url=spec.base_url,
                        timeout=timeout_seconds,
                        max_retries=0,
                    ),
                    Breaker(
                        breaker_failures,
                        breaker_cooldown_seconds,
                        clock,
                        on_change=self._reporter(spec.name),
                    ),
                    slots,
                )
            )
        for endpoint in self.endpoints:
            self.observer.breaker(endpoint.name, BreakerState.CLOSED)

    def _reporter(self, name: str) -> Callable[[BreakerState], None]:
        return lambda state: self.observer.breaker(name, state)

    @property
    def models(self) -> list[str]:
        """The endpoints' models, in order (distinct)."""
        return list(dict.fromkeys(e.model for e in self.endpoints))

    def model_of(self, name: str | None) -> str | None:
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint.model
        return None

    def states(self) -> dict[str, str]:
        """Endpoint name → breaker state (closed, half_open, open), for /readyz."""
        return {e.name: e.breaker.state.name.lower() for e in self.endpoints}

    def describe(self) -> str:
        return ", ".join(f"{e.name} ({e.model} at {e.client.base_url})" for e in self.endpoints)

    def close(self) -> None:
        for endpoint in self.endpoints:
            if endpoint.slots is not None:
                endpoint.slots.close()

    def call(
        self, attempt: Callable[[Endpoint], T], abort: Callable[[], bool] = lambda: False
    ) -> T:
        """`attempt(endpoint)` on the first endpoint that takes it, falling back as the module
        says; raises the last ProviderError when none answered."""
        last: ProviderError | None = None
        tried: set[str] = set()
        for delay in delays(0.02, 0.5):
            full = False
            for endpoint in self.endpoints:
                if endpoint.name in tried or endpoint.breaker.retry_in() > 0:
                    continue  # tried already, or its breaker is open and cooling down
                outcome = self._try(endpoint, attempt, tried)
                if outcome is _Skip.FULL:
                    full = True
                elif isinstance(outcome, ProviderError):
                    last = outcome
                elif outcome is not _Skip.REFUSED:
                    return outcome
            if not full or abort():
                break
            time.sleep(delay)  # every endpoint left is at its concurrency limit
        raise self._none_answered(last, abort())

    def _try(
        self, endpoint: Endpoint, attempt: Callable[[Endpoint], T], tried: set[str]
    ) -> T | _Skip | ProviderError:
        """The attempt's result on `endpoint`, why it was not tried there, or the error that
        moves the call on; raises any other error."""
        slot = None
        if endpoint.slots is not None:
            slot = endpoint.slots.acquire_now()
            if slot is None:
                return _Skip.FULL
        try:
            if not endpoint.breaker.allow():
                return _Skip.REFUSED  # half-open, its probe taken by another call
            tried.add(endpoint.name)
            try:
                result = attempt(endpoint)
            except ProviderError as error:
                if error.code in FALLBACK_CODES and not error.output_started:
                    endpoint.breaker.failure()
                    self.observer.fallback(endpoint.name, error.code)
                    return error
                endpoint.breaker.success()  # it answered: the endpoint is up
                raise
            except BaseException:
                endpoint.breaker.abandon()
                raise
            endpoint.breaker.success()
            return result
        finally:
            if slot is not None and endpoint.slots is not None:
                endpoint.slots.release(slot)

    def _none_answered(self, last: ProviderError | None, aborted: bool) -> ProviderError:
        if last is not None:
            return last
        if aborted:
            return ProviderError("llm_unavailable", "gave up waiting for an LLM endpoint", True)
        wait = min((e.breaker.retry_in() for e in self.endpoints), default=0.0)
        return ProviderError(
            "llm_unavailable",
            "every LLM endpoint's circuit breaker is open",
            retryable=True,
            retry_after=wait or None,
        )
