"""LLM cost under control, against real RabbitMQ, Redis and SecantusDB and two fake LLM endpoints
(`llm`, the session's, failing on demand; `private_llm`, this test's own): bounded output on
every call, fallback between endpoints with a circuit breaker, token budgets that hold under
concurrency, exact reuse of identical readings with single flight, and the usage metrics."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
import redis
from fakes.fake_llm import FakeLLM
from prometheus_client import generate_latest
from worker_testing import BODY, Stack, running_worker

from fortune_api.app import create_app
from fortune_api.backends import Backends
from fortune_api.settings import ApiSettings
from fortune_core.budgets import BudgetExhaustedError, TokenBudgets
from fortune_core.request import validate_request
from fortune_core.result import answer_character_bound, answer_token_bound
from fortune_core.reuse import ReuseScope
from fortune_core.settings import BudgetSettings
from fortune_core.status import Status
from fortune_worker.consumer import Worker
from fortune_worker.endpoints import Endpoints, EndpointSpec
from fortune_worker.metrics import WorkerMetrics
from fortune_worker.providers import OpenAIProvider
from fortune_worker.retries import ProviderError
from fortune_worker.usage import prompt_token_bound
from localservices.supervisor import free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _body(**profile: Any) -> dict[str, Any]:
    return {**BODY, "profile": {**BODY["profile"], **profile}}


def _two(first: FakeLLM, second: FakeLLM | str) -> tuple[EndpointSpec, EndpointSpec]:
    """The first endpoint on `first`, the second on `second` (a fake or a base URL)."""
    url = second if isinstance(second, str) else second.base_url
    return (
        EndpointSpec("first", first.base_url, "model-first", api_key="key-first"),
        EndpointSpec("second", url, "model-second", api_key="key-second"),
    )


def _sample(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    """The value of one sample of the worker's metrics (0 when absent)."""
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


# --- bounded output ------------------------------------------------------------------------------


def test_every_call_carries_max_tokens_the_repair_call_too(stack: Stack, llm: FakeLLM) -> None:
    request_id = stack.submit()
    llm.script(request_id, "invalid_json", "ok")  # before any worker: the first call is invalid
    with running_worker(stack.settings(llm)):
        record = stack.wait_status(request_id, Status.SUCCEEDED)
    first, repair = llm.requests()
    assert first["body"]["max_tokens"] == answer_token_bound()
    assert repair["body"]["max_tokens"] == answer_token_bound()
    assistant = repair["body"]["messages"][2]
    assert assistant["role"] == "assistant"
    assert 0 < len(assistant["content"]) <= answer_character_bound()
    assert record.result["usage"]["completionTokens"] > 0


def test_max_tokens_is_configurable(stack: Stack, llm: FakeLLM) -> None:
    with running_worker(stack.settings(llm, llm_max_tokens=3000)):
        stack.wait_status(stack.submit(), Status.SUCCEEDED)
    [call] = llm.requests()
    assert call["body"]["max_tokens"] == 3000


# --- endpoints, fallback, breaker ----------------------------------------------------------------


def _provider(specs: tuple[EndpointSpec, ...], **options: Any) -> OpenAIProvider:
    endpoints = Endpoints(specs, timeout_seconds=options.pop("timeout", 10.0), **options)
    return OpenAIProvider(endpoints=endpoints, max_tokens=answer_token_bound())


def _request() -> Any:
    request = validate_request(BODY).request
    assert request is not None
    return request


@pytest.mark.parametrize("failure", ["429", "500", "timeout", "connection"])
def test_a_failing_first_endpoint_falls_back_before_the_first_token(
    llm: FakeLLM, private_llm: FakeLLM, failure: str
) -> None:
    if failure == "connection":
        specs = _two(private_llm, private_llm)
        specs = (EndpointSpec("first", f"http://127.0.0.1:{free_port()}/v1", "m1", api_key="k"),
                 specs[1])  # fmt: skip
    else:
        llm.configure(default=failure, hold_seconds=30)
        specs = _two(llm, private_llm)
    provider = _provider(specs, timeout=1.0)
    try:
        result = provider.reading(_request(), "fallback-1")
    finally:
        llm.release()  # a held "timeout" call answers now
    assert result.endpoint == "second" and result.model == "model-second"
    assert private_llm.calls("fallback-1") == 1
    if failure != "connection":
        assert llm.calls("fallback-1") == 1
    [answered] = private_llm.requests()
    assert answered["authorization"] == "Bearer key-second"  # each endpoint its own key


def test_no_fallback_for_an_answer_that_is_invalid(llm: FakeLLM, private_llm: FakeLLM) -> None:
    llm.configure(default="wrong_schema")
    provider = _provider(_two(llm, private_llm))
    with pytest.raises(ProviderError) as raised:
        provider.reading(_request(), "invalid-1")
    assert raised.value.code == "invalid_output"
    assert llm.calls("invalid-1") == 2 and private_llm.calls("invalid-1") == 0  # with the repair


def test_the_breaker_opens_and_a_probe_closes_it_again(llm: FakeLLM, private_llm: FakeLLM) -> None:
    llm.configure(default="500")
    metrics = WorkerMetrics()
    provider = _provider(
        _two(llm, private_llm), breaker_failures=2, breaker_cooldown_seconds=0.2, observer=metrics
    )
    for i in range(2):
        assert provider.reading(_request(), f"b-{i}").endpoint == "second"
    assert provider.endpoints is not None
    assert provider.endpoints.states()["first"] == "open"
    assert _sample(metrics, "cyberfortune_llm_breaker_state", endpoint="first") == 2
    assert _sample(metrics, "cyberfortune_llm_fallbacks_total", endpoint="first",
                   reason="llm_unavailable") == 2  # fmt: skip
    llm.configure(default="ok")  # the first endpoint is back: the probe after the cool-down
    wait_for(lambda: provider.reading(_request(), "probe").endpoint == "first", 30, "a probe")
    assert provider.endpoints.states()["first"] == "closed"
    assert _sample(metrics, "cyberfortune_llm_breaker_state", endpoint="first") == 0


def test_a_dead_first_endpoint_does_not_fail_readings(
    stack: Stack, llm: FakeLLM, private_llm: FakeLLM
) -> None:
    """Through the worker: every reading succeeds on the second endpoint; once the breaker is
    open the first gets no more calls; /readyz shows it."""
    llm.configure(default="500")
    port = free_port()
    settings = stack.settings(
        llm,
        llm_endpoints=_two(llm, private_llm),
        concurrency=1,
        breaker_failures=2,
        breaker_cooldown_seconds=600,
        metrics_port=port,
    )
    ids = []
    with running_worker(settings) as worker:
        for _ in range(4):
            ids.append(stack.submit())
            stack.wait_status(ids[-1], Status.SUCCEEDED)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            ready = json.loads(answer.read())
        metrics = worker.metrics
    assert {stack.record(i).result["endpoint"] for i in ids} == {"second"}
    assert llm.stats()["total"] == 2 and private_llm.stats()["total"] == 4
    assert ready == {"status": "ok", "endpoints": {"first": "open", "second": "closed"}}
    assert _sample(metrics, "cyberfortune_llm_calls_total", endpoint="first",
                   result="llm_unavailable") == 2  # fmt: skip
    assert _sample(metrics, "cyberfortune_llm_calls_total", endpoint="second", result="ok") == 4


def test_an_endpoint_at_its_concurrency_limit_passes_calls_on(
    llm: FakeLLM, private_llm: FakeLLM, redis_client: redis.Redis
) -> None:
    """The first endpoint takes one call at a time (Redis leases shared by every worker): a
    second call made meanwhile goes to the next endpoint instead of waiting."""
    llm.configure(latency=1.0)
    first, second = _two(llm, private_llm)
    specs = (replace(first, concurrency=1), second)
    client = redis.Redis(connection_pool=redis_client.connection_pool)
    provider = _provider(specs, redis_client=client)

    def read(request_id: str) -> str | None:
        if request_id == "slot-2":
            wait_for(lambda: llm.stats()["inFlight"] == 1, 30, "the first call")
        return provider.reading(_request(), request_id).endpoint

    with ThreadPoolExecutor(2) as pool:
        endpoints = list(pool.map(read, ["slot-1", "slot-2"]))
    assert endpoints == ["first", "second"]
    assert llm.stats()["maxConcurrent"] == 1 and private_llm.calls("slot-2") == 1
    assert provider.endpoints is not None
    provider.endpoints.close()


# --- budgets -------------------------------------------------------------------------------------


def test_concurrent_reservations_never_spend_more_than_the_budget_plus_one_call(
    redis_client: redis.Redis,
) -> None:
    """The race: 40 calls of one client at once, each reserving its maximum and spending up to
    it; whatever the interleaving, the day's spend stays within budget + one call's maximum."""
    maximum, budget = 1000, 10_500
    client = redis.Redis(connection_pool=redis_client.connection_pool)
    budgets = TokenBudgets(client, BudgetSettings(daily_token_budget=budget))
    start = threading.Barrier(40)
    granted: list[int] = []
    refused: list[int] = []

    def call(i: int) -> None:
        start.wait()
        try:
            reservation = budgets.reserve("key:racer", maximum)
        except BudgetExhaustedError as exc:
            refused.append(exc.retry_after)
            return
        granted.append(i)
        reservation.settle(maximum if i % 3 else maximum // 2)  # at most the maximum

    with ThreadPoolExecutor(40) as pool:
        list(pool.map(call, range(40)))
    status = budgets.status("key:racer")
    assert status.reserved == 0 and status.spent <= budget + maximum
    assert len(granted) * maximum >= budget  # calls were granted until the budget was held
    assert refused and all(0 < wait <= 86400 for wait in refused)
    assert len(granted) + len(refused) == 40
    # the worst case: every call spends its whole maximum
    worst = TokenBudgets(client, BudgetSettings(daily_token_budget=budget))
    start = threading.Barrier(40)

    def greedy(i: int) -> None:
        start.wait()
        with contextlib.suppress(BudgetExhaustedError):
            worst.reserve("key:greedy", maximum).settle(maximum)

    with ThreadPoolExecutor(40) as pool:
        list(pool.map(greedy, range(40)))
    spent = worst.status("key:greedy").spent
    assert budget <= spent <= budget + maximum


def test_a_reservation_of_a_dead_worker_lapses(redis_client: redis.Redis) -> None:
    now = [dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)]
    client = redis.Redis(connection_pool=redis_client.connection_pool)
    budgets = TokenBudgets(client, BudgetSettings(daily_token_budget=100), lease_seconds=60,
                           clock=lambda: now[0], server_time=False)  # fmt: skip
    budgets.reserve("key:a", 500)  # never settled: its worker died
    with pytest.raises(BudgetExhaustedError) as raised:
        budgets.reserve("key:a", 10)
    assert raised.value.retry_after == 12 * 3600
    now[0] += dt.timedelta(seconds=61)
    assert budgets.status("key:a").reserved == 0
    budgets.reserve("key:a", 10).settle(7)
    assert budgets.status("key:a").spent == 7
    now[0] += dt.timedelta(hours=12)  # a new UTC day: a new budget
    assert budgets.status("key:a").spent == 0


def test_many_requests_of_one_client_through_workers_stay_within_the_budget(
    stack: Stack, llm: FakeLLM
) -> None:
    """Twelve requests of one client on two workers at once, a budget of one token: the first
    call granted, every other refused while it is reserved or once it is spent; the spend is at
    most the budget plus one call's maximum, every other request failed budget_exhausted."""
    llm.configure(latency=0.3)
    budgets = BudgetSettings(client_token_budgets={"key:bob": 1})
    first, second = (stack.settings(llm, budgets=budgets) for _ in range(2))
    ids = [stack.submit(_body(name=f"n{i}"), client="key:bob") for i in range(12)]
    with running_worker(first) as one, running_worker(second):
        wait_for(lambda: all(stack.record(i).status in ("succeeded", "failed") for i in ids),
                 90, "every request to finish")  # fmt: skip
        records = [stack.record(i) for i in ids]
        metrics = one.metrics
    succeeded = [r for r in records if r.status == "succeeded"]
    failed = [r for r in records if r.status == "failed"]
    assert len(succeeded) == 1 and len(failed) == 11
    assert {r.error["code"] for r in failed} == {"budget_exhausted"}
    assert all(r.attempts == 1 for r in failed)  # never retried, never silent
    usage = succeeded[0].result["usage"]
    spent = usage["promptTokens"] + usage["completionTokens"]
    [call] = llm.requests()
    one_call = prompt_token_bound(call["body"]["messages"]) + answer_token_bound()
    assert spent <= 1 + one_call
    tokens = TokenBudgets(stack.redis, budgets).status("key:bob")
    assert tokens.spent == spent and tokens.reserved == 0
    assert _sample(metrics, "cyberfortune_budget_refusals_total", client="key:bob") >= 1


@pytest.fixture
def keyed_api(stack: Stack) -> Iterator[tuple[Any, ApiSettings]]:
    """The API on the stack's backends with the API key of client alice and her budget."""
    settings = ApiSettings(
        core=stack.core(),
        rate_limit_per_minute=0,
        poll_rate_limit_per_minute=0,
        api_keys={"alice-key": "alice"},
        budgets=BudgetSettings(client_token_budgets={"key:alice": 1}),
    )
    backends = Backends(settings)
    try:
        yield create_app(settings, backends).test_client(), settings
    finally:
        backends.close()


def test_a_client_over_its_budget_gets_429_at_submission_and_queued_ones_fail(
    stack: Stack, llm: FakeLLM, keyed_api: tuple[Any, ApiSettings]
) -> None:
    """Two requests accepted while nothing is spent; on the worker the first call takes the
    budget (of one token), the other request then fails budget_exhausted; a third submission is
    refused with 429 at once."""
    client, api = keyed_api
    auth = {"Authorization": "Bearer alice-key"}
    answers = [client.post("/v1/fortunes", json=_body(name=n), headers=auth) for n in "ab"]
    assert [a.status_code for a in answers] == [202, 202]
    ids = [a.json["id"] for a in answers]
    with running_worker(stack.settings(llm, budgets=api.budgets, concurrency=1)):
        wait_for(lambda: all(stack.record(i).status in ("succeeded", "failed") for i in ids),
                 60, "both requests to finish")  # fmt: skip
    records = sorted((stack.record(i) for i in ids), key=lambda r: r.status, reverse=True)
    done, late = records
    assert (done.status, late.status) == ("succeeded", "failed")
    assert done.client == late.client == "key:alice"
    assert late.error["code"] == "budget_exhausted" and late.attempts == 1
    assert "daily token budget" in late.error["message"]
    assert llm.stats()["total"] == 1
    assert stack.take_dead_letters() == []  # a client's budget is nothing to replay
    refused = client.post("/v1/fortunes", json=_body(name="c"), headers=auth)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "budget_exhausted"
    retry_after = int(refused.headers["Retry-After"])
    assert 0 < retry_after <= 86400
    shown = client.get(f"/v1/fortunes/{late.id}", headers=auth).json
    assert shown["status"] == "failed" and shown["error"]["code"] == "budget_exhausted"


# --- reuse and single flight ---------------------------------------------------------------------


def test_two_identical_requests_cost_one_call(stack: Stack, llm: FakeLLM) -> None:
    with running_worker(stack.settings(llm, reuse=True)) as worker:
        first = stack.submit()
        original = stack.wait_status(first, Status.SUCCEEDED)
        second = stack.submit()
        reused = stack.wait_status(second, Status.SUCCEEDED)
        shown = stack.wait_view(second, "succeeded")  # through the lifecycle: projected too
        metrics = worker.metrics
    assert llm.stats()["total"] == 1
    assert original.result.get("reusedFrom") is None
    assert reused.result["reusedFrom"] == first
    assert reused.result["usage"] == {"promptTokens": 0, "completionTokens": 0}
    content = ("summary", "scores", "aspects", "lucky", "advice", "text", "model", "endpoint")
    assert {k: reused.result[k] for k in content} == {k: original.result[k] for k in content}
    assert shown.result == reused.result and reused.attempts == 1
    assert _sample(metrics, "cyberfortune_readings_total", source="reused") == 1
    assert _sample(metrics, "cyberfortune_readings_total", source="llm") == 1


def test_a_reading_written_by_the_fallback_endpoint_is_reused(
    stack: Stack, llm: FakeLLM, private_llm: FakeLLM
) -> None:
    """Identity includes the model: the reading is remembered under the model that wrote it
    (the second endpoint's) and found there."""
    llm.configure(default="500")
    settings = stack.settings(llm, reuse=True, llm_endpoints=_two(llm, private_llm))
    with running_worker(settings):
        first = stack.wait_status(stack.submit(), Status.SUCCEEDED)
        second = stack.wait_status(stack.submit(), Status.SUCCEEDED)
    assert first.result["endpoint"] == "second" and first.result["model"] == "model-second"
    assert second.result["reusedFrom"] == first.id
    assert private_llm.stats()["total"] == 1


def test_ten_identical_concurrent_requests_cost_one_call(stack: Stack, llm: FakeLLM) -> None:
    """On two workers at once: one writes the reading, the nine others wait for it."""
    llm.configure(latency=1.0)
    one, two = (stack.settings(llm, reuse=True) for _ in range(2))
    with running_worker(one), running_worker(two):
        ids = [stack.submit() for _ in range(10)]  # all in flight before the first answer
        records = [stack.wait_status(i, Status.SUCCEEDED) for i in ids]
    assert llm.stats()["total"] == 1
    [writer] = [r.id for r in records if r.result.get("reusedFrom") is None]
    assert sorted(r.result.get("reusedFrom") or "" for r in records) == [""] + [writer] * 9
    assert len({r.result["summary"] for r in records}) == 1


def test_different_inputs_are_different_readings(stack: Stack, llm: FakeLLM) -> None:
    """Never fuzzy: another hour pillar is another reading; per client unless global."""
    with running_worker(stack.settings(llm, reuse=True)):
        for body, client in ((BODY, "key:a"), (_body(birthTime="10:30"), "key:a"),
                             (BODY, "key:b")):  # fmt: skip
            stack.wait_status(stack.submit(body, client=client), Status.SUCCEEDED)
    assert llm.stats()["total"] == 3
    llm.reset()
    with running_worker(stack.settings(llm, reuse=True, reuse_scope=ReuseScope.GLOBAL)):
        for body, client in ((_body(name="g"), "key:a"), (_body(name="g"), "key:b")):
            request_id = stack.submit(body, client=client)
            stack.wait_status(request_id, Status.SUCCEEDED)
    assert llm.stats()["total"] == 1
    assert stack.record(request_id).result["reusedFrom"]


def test_a_failed_writer_leaves_the_reading_to_a_waiting_request(
    stack: Stack, llm: FakeLLM
) -> None:
    llm.configure(latency=0.5)
    first = stack.submit()
    second = stack.submit()
    llm.script(first, "wrong_schema", "wrong_schema")  # a permanent failure for the first
    llm.script(second, "wrong_schema", "wrong_schema")
    with running_worker(stack.settings(llm, reuse=True, concurrency=2)):
        failed = stack.wait_status(first, Status.FAILED)
        done = stack.wait_status(second, Status.FAILED)
        third = stack.submit()
        written = stack.wait_status(third, Status.SUCCEEDED)
    assert failed.error["code"] == done.error["code"] == "invalid_output"
    assert written.result.get("reusedFrom") is None  # nothing failed is ever reused
    assert llm.calls(first) == 2 and llm.calls(second) == 2 and llm.calls(third) == 1


# --- usage and cost metrics ----------------------------------------------------------------------


def test_usage_and_cost_metrics(stack: Stack, llm: FakeLLM) -> None:
    prices = {"gpt-4o-mini": (1.0, 4.0)}  # per million tokens
    with running_worker(stack.settings(llm, reuse=True, llm_prices=prices)) as worker:
        first = stack.wait_status(stack.submit(client="key:carol"), Status.SUCCEEDED)
        stack.wait_status(stack.submit(client="key:carol"), Status.SUCCEEDED)
        stack.wait_status(stack.submit(client="ip:10.1.2.3"), Status.SUCCEEDED)
        metrics = worker.metrics
    usage = first.result["usage"]
    labels = {"client": "key:carol", "endpoint": "default", "model": "gpt-4o-mini"}
    assert _sample(metrics, "cyberfortune_llm_tokens_total", kind="prompt", source="reported",
                   **labels) == usage["promptTokens"]  # fmt: skip
    assert _sample(metrics, "cyberfortune_llm_tokens_total", kind="completion",
                   **labels) == usage["completionTokens"]  # fmt: skip
    assert _sample(metrics, "cyberfortune_llm_calls_total", result="ok", **labels) == 1
    cost = _sample(metrics, "cyberfortune_llm_cost_total", **labels)
    assert cost == pytest.approx((usage["promptTokens"] + 4 * usage["completionTokens"]) / 1e6)
    assert _sample(metrics, "cyberfortune_readings_total", client="key:carol",
                   source="reused") == 1  # fmt: skip
    # clients known only by their address share one label value
    assert _sample(metrics, "cyberfortune_readings_total", client="anonymous", source="llm") == 1
    assert _sample(metrics, "cyberfortune_reading_cost_count") == 3
    text = generate_latest(metrics.registry).decode()
    assert "10.1.2.3" not in text


def test_usage_is_estimated_where_the_provider_reports_none(stack: Stack, llm: FakeLLM) -> None:
    llm.configure(usage=False)
    with running_worker(stack.settings(llm)) as worker:
        record = stack.wait_status(stack.submit(), Status.SUCCEEDED)
        metrics = worker.metrics
    usage = record.result["usage"]
    assert usage["estimated"] is True and usage["promptTokens"] > 0
    [call] = llm.requests()
    assert usage["promptTokens"] == prompt_token_bound(call["body"]["messages"])
    assert _sample(metrics, "cyberfortune_llm_tokens_total", kind="prompt",
                   source="estimated") == usage["promptTokens"]  # fmt: skip


def test_a_worker_without_an_llm_shows_no_endpoints(stack: Stack) -> None:
    assert Worker(stack.settings()).details() == {}
