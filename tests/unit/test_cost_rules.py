"""LLM cost rules that are pure code: the answer's bound (max_tokens), the endpoint list and its
settings, the circuit breaker, the fallback rule, budgets' settings and readings' identities."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fortune_core.conventions import ZiHourConvention
from fortune_core.profile import derive_profile
from fortune_core.request import validate_request
from fortune_core.result import (
    ASPECTS,
    SCORE_KEYS,
    FortuneContent,
    answer_character_bound,
    answer_token_bound,
)
from fortune_core.reuse import ReuseScope, reading_facts, reading_identity
from fortune_core.settings import BudgetSettings, parse_client_budgets
from fortune_worker.endpoints import (
    Breaker,
    BreakerState,
    Endpoint,
    Endpoints,
    EndpointSpec,
)
from fortune_worker.retries import ProviderError
from fortune_worker.settings import ProviderName, WorkerSettings
from fortune_worker.usage import UsageMeter, prompt_token_bound

# --- bounded output ------------------------------------------------------------------------------


def _longest_content() -> dict[str, Any]:
    """The longest answer the schema allows: every string, list and number at its limit."""
    return {
        "summary": "字" * 300,
        "scores": dict.fromkeys(SCORE_KEYS, 100),
        "aspects": dict.fromkeys(ASPECTS, "字" * 600),
        "lucky": {"color": "字" * 40, "number": 99, "direction": "字" * 40},
        "advice": {"do": ["字" * 200] * 8, "avoid": ["字" * 200] * 8},
        "text": "字" * 4000,
    }


def test_the_answer_bound_is_the_longest_valid_answer() -> None:
    longest = _longest_content()
    FortuneContent.model_validate(longest)  # it is valid
    text = json.dumps(longest, ensure_ascii=False, separators=(",", ":"))
    assert len(text) <= answer_character_bound()
    assert answer_character_bound() - len(text) < 100  # and the bound is not loose
    assert answer_token_bound() > answer_character_bound()
    too_long = {**longest, "advice": {"do": ["字" * 201], "avoid": ["x"]}}
    with pytest.raises(ValueError):
        FortuneContent.model_validate(too_long)  # advice items are bounded too


def test_max_tokens_is_configurable_and_sized_from_the_schema_by_default() -> None:
    assert WorkerSettings().max_tokens == answer_token_bound()
    assert WorkerSettings.from_env({"FORTUNE_LLM_MAX_TOKENS": "2000"}).max_tokens == 2000


def test_the_prompt_bound_counts_every_character() -> None:
    messages = [{"role": "system", "content": "abc"}, {"role": "user", "content": "字字"}]
    assert prompt_token_bound(messages) == 3 + 2 + 2 * 8


# --- endpoints -----------------------------------------------------------------------------------

TWO = json.dumps(
    [
        {"baseUrl": "http://a/v1", "apiKeyEnv": "KEY_A", "model": "m-a", "concurrency": 2},
        {"baseUrl": "http://b/v1", "apiKeyEnv": "KEY_B", "model": "m-b", "name": "backup"},
    ]
)


def test_endpoints_come_from_the_json_list_with_their_keys() -> None:
    settings = WorkerSettings.from_env(
        {"FORTUNE_LLM_ENDPOINTS": TWO, "KEY_A": "sk-a", "KEY_B": "sk-b"}
    )
    assert settings.provider == ProviderName.OPENAI  # auto: endpoints configured
    first, second = settings.endpoint_specs
    assert (first.name, first.model, first.api_key, first.concurrency) == ("0-m-a", "m-a",
                                                                          "sk-a", 2)  # fmt: skip
    assert (second.name, second.base_url, second.api_key) == ("backup", "http://b/v1", "sk-b")
    # two endpoints: the drain covers an answer and a repair on each
    assert settings.longest_call_seconds == 2 * 2 * settings.llm_timeout_seconds


def test_the_single_endpoint_variables_keep_working() -> None:
    settings = WorkerSettings.from_env(
        {"OPENAI_API_KEY": "sk", "OPENAI_BASE_URL": "http://x/v1", "FORTUNE_LLM_MODEL": "m"}
    )
    [only] = settings.endpoint_specs
    assert (only.base_url, only.model, only.api_key) == ("http://x/v1", "m", "sk")


@pytest.mark.parametrize(
    ("raw", "env", "message"),
    [
        ("not json", {}, "not valid JSON"),
        ("[]", {}, "non-empty JSON list"),
        ('[{"baseUrl": "u", "apiKeyEnv": "K"}]', {}, r"\[0\]\.model"),
        ('[{"baseUrl": "u", "apiKeyEnv": "K", "model": "m", "x": 1}]', {}, "unknown keys: x"),
        ('[{"baseUrl": "u", "apiKeyEnv": "K", "model": "m", "concurrency": -1}]', {}, "concur"),
        ('[{"baseUrl": "u", "apiKeyEnv": "K", "model": "m"}]', {}, "K, which is not set"),
        (
            '[{"baseUrl": "u", "apiKeyEnv": "K", "model": "m", "name": "n"},'
            ' {"baseUrl": "v", "apiKeyEnv": "K", "model": "m", "name": "n"}]',
            {"K": "k"},
            "distinct",
        ),
    ],
)
def test_bad_endpoint_lists_are_refused(raw: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkerSettings.from_env({"FORTUNE_LLM_ENDPOINTS": raw, **env})


def test_prices_are_validated() -> None:
    settings = WorkerSettings.from_env(
        {"FORTUNE_LLM_PRICES": '{"m": {"prompt": 0.15, "completion": 0.6}}'}
    )
    assert settings.llm_prices == {"m": (0.15, 0.6)}
    meter = UsageMeter(None, settings.llm_prices)
    from fortune_core.result import Usage

    assert meter.cost("m", Usage(promptTokens=1_000_000, completionTokens=2_000_000)) == 1.35
    assert meter.cost("other", Usage(promptTokens=10)) == 0.0
    with pytest.raises(ValueError, match="FORTUNE_LLM_PRICES"):
        WorkerSettings.from_env({"FORTUNE_LLM_PRICES": '{"m": {"prompt": -1}}'})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_n_failures_and_probes_once_after_the_cooldown() -> None:
    clock = Clock()
    seen: list[BreakerState] = []
    breaker = Breaker(3, 30.0, clock, on_change=seen.append)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == BreakerState.CLOSED
    breaker.success()  # consecutive failures only
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == BreakerState.OPEN and not breaker.allow()
    assert breaker.retry_in() == 30.0
    clock.now += 30.0
    assert breaker.allow()  # the probe
    assert breaker.state == BreakerState.HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.failure()  # the probe failed: open again, for another cool-down
    assert breaker.state == BreakerState.OPEN and not breaker.allow()
    clock.now += 30.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == BreakerState.CLOSED and breaker.allow()
    assert seen == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.OPEN,
                    BreakerState.HALF_OPEN, BreakerState.CLOSED]  # fmt: skip


def _endpoints(clock: Clock, failures: int = 2) -> Endpoints:
    specs = [
        EndpointSpec("first", "http://127.0.0.1:9/v1", "m1", api_key="k"),
        EndpointSpec("second", "http://127.0.0.1:9/v1", "m2", api_key="k"),
    ]
    return Endpoints(
        specs, timeout_seconds=1, breaker_failures=failures, breaker_cooldown_seconds=10,
        clock=clock,
    )  # fmt: skip


def test_the_fallback_rule() -> None:
    """Which errors move a call on: the attempt is the caller's function (no network here)."""
    endpoints = _endpoints(Clock())
    tried: list[str] = []

    def failing_first(code: str, started: bool = False) -> Any:
        def attempt(endpoint: Endpoint) -> str:
            tried.append(endpoint.name)
            if endpoint.name == "first":
                raise ProviderError(code, code, True, output_started=started)
            return endpoint.name

        return attempt

    for code in ("rate_limited", "llm_unavailable", "llm_timeout", "llm_unreachable"):
        tried.clear()
        assert endpoints.call(failing_first(code)) == "second"
        assert tried == ["first", "second"]
        endpoints.endpoints[0].breaker.success()  # keep it closed for the next case
    for code, started in (("llm_rejected", False), ("invalid_output", False),
                          ("llm_unavailable", True)):  # fmt: skip
        tried.clear()
        with pytest.raises(ProviderError) as raised:
            endpoints.call(failing_first(code, started))
        assert raised.value.code == code and tried == ["first"]  # never after the first token


def test_an_open_breaker_sends_calls_to_the_next_endpoint_until_its_probe() -> None:
    clock = Clock()
    endpoints = _endpoints(clock)
    first_up = False
    tried: list[str] = []

    def attempt(endpoint: Endpoint) -> str:
        tried.append(endpoint.name)
        if endpoint.name == "first" and not first_up:
            raise ProviderError("llm_unavailable", "down", True, status=503)
        return endpoint.name

    for _ in range(2):
        assert endpoints.call(attempt) == "second"
    assert endpoints.states() == {"first": "open", "second": "closed"}
    tried.clear()
    assert endpoints.call(attempt) == "second"
    assert tried == ["second"]  # the open breaker kept the call away
    first_up = True
    clock.now += 10
    assert endpoints.call(attempt) == "first"  # the probe succeeded
    assert endpoints.states() == {"first": "closed", "second": "closed"}


def test_every_endpoint_failing_raises_the_last_error_and_open_breakers_say_when() -> None:
    clock = Clock()
    endpoints = _endpoints(clock, failures=1)

    def down(endpoint: Endpoint) -> str:
        raise ProviderError("llm_unavailable", f"{endpoint.name} down", True, status=500)

    with pytest.raises(ProviderError, match="second down"):
        endpoints.call(down)
    with pytest.raises(ProviderError, match="circuit breaker is open") as raised:
        endpoints.call(down)
    assert raised.value.retryable and raised.value.retry_after == 10


# --- budgets' settings ---------------------------------------------------------------------------


def test_client_budgets_sit_next_to_the_api_keys() -> None:
    assert parse_client_budgets("alice:1000, k8s:team-a:50,ip:10.0.0.1:7,bob:0") == {
        "key:alice": 1000,
        "k8s:team-a": 50,
        "ip:10.0.0.1": 7,
        "key:bob": 0,
    }
    overrides = {"key:alice": 1000, "key:bob": 0}
    settings = BudgetSettings(daily_token_budget=500, client_token_budgets=overrides)
    assert settings.budget_of("key:alice") == 1000
    assert settings.budget_of("key:bob") is None  # exempted
    assert settings.budget_of("key:carol") == 500
    assert BudgetSettings().budget_of("key:alice") is None and not BudgetSettings().enabled
    for bad in ("alice", "alice:x", ":5", "alice:-1"):
        with pytest.raises(ValueError, match="FORTUNE_CLIENT_TOKEN_BUDGETS"):
            parse_client_budgets(bad)


# --- identity ------------------------------------------------------------------------------------


def _facts(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "name": "小满"},
        "topic": "career",
        "period": "day",
        "date": "2025-06-01",
        "language": "zh-CN",
    }
    profile = {**body["profile"], **changes.pop("profile", {})}
    body = {**body, **changes, "profile": profile}
    request = validate_request(body).request
    assert request is not None
    derived = derive_profile(request.profile, ZiHourConvention.NEXT_DAY).to_json_dict()
    return reading_facts(request, derived)


def test_identical_inputs_have_one_identity_and_any_difference_another() -> None:
    base = reading_identity(_facts(), "m", "key:a")
    assert reading_identity(_facts(), "m", "key:a") == base
    different = {
        "another hour pillar": _facts(profile={"birthTime": "10:30"}),
        "another name": _facts(profile={"name": "大寒"}),
        "another topic": _facts(topic="love"),
        "another period": _facts(period="week"),
        "another day": _facts(date="2025-06-02"),
        "another language": _facts(language="en"),
    }
    for why, facts in different.items():
        assert reading_identity(facts, "m", "key:a") != base, why
    assert reading_identity(_facts(), "other-model", "key:a") != base
    assert reading_identity(_facts(), "m", "key:a", prompt_version="0") != base
    assert reading_identity(_facts(), "m", "key:b") != base  # per client by default
    assert reading_identity(_facts(), "m", "key:a", ReuseScope.GLOBAL) == reading_identity(
        _facts(), "m", "key:b", ReuseScope.GLOBAL
    )


def test_a_birth_minute_that_changes_no_fact_is_still_the_same_reading_only_if_facts_agree() -> (
    None
):
    """Identity is over the derived facts the LLM sees, never a similarity: a minute's change
    that moves nothing the prompt holds keeps the identity only when the facts are equal."""
    one = _facts(profile={"birthTime": "08:30"})
    other = _facts(profile={"birthTime": "08:31"})
    assert (reading_identity(one, "m", None) == reading_identity(other, "m", None)) == (
        one == other
    )
