"""Worker: provider error classification and retry delays (pure code)."""

from __future__ import annotations

import datetime as dt
import email.utils
import random

import httpx2
import openai
import pytest

from fortune_core.queue import retry_delay_ms
from fortune_worker.retries import (
    ProviderError,
    classify_exception,
    classify_status,
    parse_retry_after,
    retry_delay,
)

URL = "http://llm.test/v1/chat/completions"


def _status_error(cls: type[openai.APIStatusError], status: int, **headers: str) -> Exception:
    request = httpx2.Request("POST", URL)
    response = httpx2.Response(status, headers=headers, request=request, json={"error": {}})
    return cls(f"HTTP {status} from the fake", response=response, body=None)


def test_429_is_retryable_and_keeps_retry_after() -> None:
    error = classify_status(429, {"Retry-After": "7"})
    assert error.retryable and error.code == "rate_limited"
    assert error.retry_after == 7.0
    assert error.reason == "HTTP 429"


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504])
def test_server_errors_and_timeouts_are_retryable(status: int) -> None:
    error = classify_status(status, {})
    assert error.retryable
    assert error.reason == f"HTTP {status}"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_permanent(status: int) -> None:
    error = classify_status(status, {"Retry-After": "3"})
    assert not error.retryable
    assert error.code == "llm_rejected"
    assert f"HTTP {status}" in error.message


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"Retry-After-Ms": "1500", "Retry-After": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "-4"}) == 0.0
    assert parse_retry_after({"Retry-After": "nan"}) is None
    assert parse_retry_after({"Retry-After": "1e9"}) == 3600.0
    now = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=120), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now) == 120.0


def test_openai_exceptions_are_classified() -> None:
    request = httpx2.Request("POST", URL)
    timeout = classify_exception(openai.APITimeoutError(request=request))
    assert timeout.retryable and timeout.code == "llm_timeout" and timeout.reason == "a timeout"
    refused = classify_exception(openai.APIConnectionError(request=request))
    assert refused.retryable and refused.code == "llm_unreachable"
    limited = classify_exception(_status_error(openai.RateLimitError, 429, **{"retry-after": "4"}))
    assert limited.retryable and limited.retry_after == 4.0 and limited.status == 429
    broken = classify_exception(_status_error(openai.InternalServerError, 503))
    assert broken.retryable and broken.status == 503
    denied = classify_exception(_status_error(openai.AuthenticationError, 401))
    assert not denied.retryable and denied.status == 401


def test_unknown_exceptions_are_permanent_and_provider_errors_pass_through() -> None:
    bug = classify_exception(KeyError("choices"))
    assert not bug.retryable and bug.code == "provider_error" and "KeyError" in bug.message
    original = ProviderError("invalid_output", "still invalid", retryable=False)
    assert classify_exception(original) is original
    assert original.reason == "an invalid answer"


def test_retry_delay_is_the_jittered_backoff_without_retry_after() -> None:
    rng = random.Random(7)
    for attempt, top in ((1, 1.0), (2, 2.0), (4, 8.0), (30, 300.0)):
        delays = [retry_delay(attempt, None, rng=rng) for _ in range(200)]
        assert all(top / 2 <= d <= top for d in delays), attempt
        assert max(delays) - min(delays) > top / 4  # spread, not one value


def test_retry_after_is_a_minimum_with_jitter_on_top() -> None:
    rng = random.Random(7)
    delays = [retry_delay(1, 5.0, rng=rng) for _ in range(200)]
    assert all(5.0 <= d <= 7.5 for d in delays)
    assert retry_delay(3, 30.0, base=1, cap=1, rng=rng) >= 30.0  # Retry-After beats the cap
    assert retry_delay(3, None, base=1, cap=1, rng=rng) <= 1.0


def test_a_burst_of_429s_does_not_come_back_in_lock_step() -> None:
    """100 requests limited at once with Retry-After: 1 land in many retry queues (delays)."""
    rng = random.Random(1)
    queues = {retry_delay_ms(retry_delay(1, 1.0, rng=rng)) for _ in range(100)}
    assert len(queues) >= 5
    assert min(queues) >= 1000 and max(queues) <= 1500
