"""Worker: provider error classification and retry delays (pure code)."""

from __future__ import annotations

import datetime as dt
import email.utils

import httpx2
import openai
import pytest

from fortune_worker.retries import (
    ProviderError,
    backoff_seconds,
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
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    seconds = parse_retry_after({"Retry-After": email.utils.format_datetime(later, usegmt=True)})
    assert seconds is not None and 100 < seconds <= 120


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


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_seconds(20, base=1, cap=300) == 300.0
    assert backoff_seconds(1000) == 300.0  # no overflow
    assert backoff_seconds(3, base=0.5, cap=10) == 2.0


def test_retry_delay_honours_retry_after_when_longer() -> None:
    assert retry_delay(1, None) == 1.0
    assert retry_delay(1, 5.0) == 5.0
    assert retry_delay(4, 2.0) == 8.0
    assert retry_delay(3, 30.0, base=1, cap=1) == 30.0  # Retry-After beats the cap
    assert retry_delay(3, None, base=1, cap=1) == 1.0
