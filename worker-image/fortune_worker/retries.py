"""Provider errors, their classification (retryable or permanent) and retry delays.

Retryable: HTTP 429 (honouring Retry-After), 408, 409, 5xx, timeouts and connection errors: the
request goes back to the queue through a delay tier. Permanent: any other 4xx, or an answer that
is still invalid after the repair attempt: the request fails at once.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

import openai

from fortune_core import jittered, retry_delay_ms, spread, system_clock

RETRYABLE_STATUS = frozenset({408, 409, 429})
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass
class ProviderError(Exception):
    """A provider call that did not give a usable reading."""

    code: str
    message: str
    retryable: bool
    retry_after: float | None = None
    status: int | None = None
    #: The endpoint had started answering (a stream broken after its first token): such an
    #: error never moves the call to another endpoint (`fortune_worker.endpoints`).
    output_started: bool = False

    def __str__(self) -> str:
        return self.message

    @property
    def reason(self) -> str:
        """A short cause for status messages: ``HTTP 429``, ``a timeout``…"""
        if self.status is not None:
            return f"HTTP {self.status}"
        return _REASONS.get(self.code, self.code.replace("_", " "))


_REASONS = {
    "llm_timeout": "a timeout",
    "llm_unreachable": "a connection error",
    "invalid_output": "an invalid answer",
}


def parse_retry_after(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date, read
    against `now`, by default the system clock)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis:
        try:
            return _bounded(float(millis) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return _bounded(float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return _bounded((when - (now or system_clock())).total_seconds())


def _bounded(seconds: float) -> float | None:
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def classify_status(status: int, headers: Mapping[str, str], detail: str = "") -> ProviderError:
    """The error for an HTTP error answer from the LLM endpoint."""
    suffix = f": {detail}" if detail else ""
    if status == 429:
        return ProviderError(
            "rate_limited",
            f"the LLM endpoint answered HTTP 429 (rate limited){suffix}",
            retryable=True,
            retry_after=parse_retry_after(headers),
            status=status,
        )
    if status in RETRYABLE_STATUS or status >= 500:
        return ProviderError(
            "llm_unavailable",
            f"the LLM endpoint answered HTTP {status}{suffix}",
            retryable=True,
            retry_after=parse_retry_after(headers),
            status=status,
        )
    return ProviderError(
        "llm_rejected",
        f"the LLM endpoint refused the request with HTTP {status}{suffix}",
        retryable=False,
        status=status,
    )


def classify_exception(exc: BaseException) -> ProviderError:
    """Map an openai SDK exception (or any other) to a `ProviderError`."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("llm_timeout", "the LLM call timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            "llm_unreachable", f"could not connect to the LLM endpoint: {exc}", retryable=True
        )
    if isinstance(exc, openai.APIStatusError):
        detail = _short(getattr(exc, "message", "") or "")
        return classify_status(exc.status_code, dict(exc.response.headers), detail)
    return ProviderError(
        "provider_error", f"the provider failed: {type(exc).__name__}: {_short(str(exc))}", False
    )


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_delay(
    attempt: int,
    retry_after: float | None,
    base: float = 1.0,
    cap: float = 300.0,
    rng: random.Random | None = None,
) -> float:
    """How long to wait before the next attempt: the jittered backoff, or Retry-After plus up to
    half of it when that is longer (so a burst of 429s does not come back in lock-step)."""
    backoff = jittered(attempt, base, cap, rng)
    if retry_after is None or retry_after <= backoff:
        return backoff
    return spread(retry_after, rng)


@dataclass(frozen=True)
class Retry:
    """Try again in `delay` seconds (`text`: the status message meanwhile)."""

    delay: float
    text: str


@dataclass(frozen=True)
class GiveUp:
    """Fail the request with `text`."""

    text: str


@dataclass(frozen=True)
class RetryPolicy:
    """What follows a failed attempt: retryable errors are tried again with jittered, growing
    delays (a longer Retry-After wins) until `max_attempts`; the rest fail at once."""

    max_attempts: int = 4
    base_seconds: float = 1.0
    max_delay_seconds: float = 300.0

    def decide(self, attempt: int, error: ProviderError) -> Retry | GiveUp:
        """The decision after attempt number `attempt` failed with `error`."""
        if error.retryable and attempt < self.max_attempts:
            delay = retry_delay(attempt, error.retry_after, self.base_seconds,
                                self.max_delay_seconds)  # fmt: skip
            shown = retry_delay_ms(delay) / 1000
            return Retry(
                delay, f"retrying in {shown:g} s after {error.reason} (attempt {attempt} failed)"
            )
        if error.retryable:
            return GiveUp(f"gave up after {attempt} attempts; the last one failed: {error.message}")
        return GiveUp(f"attempt {attempt} failed and cannot be retried: {error.message}")
