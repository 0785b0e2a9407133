"""The fake LLM speaks the OpenAI API as the real `openai` SDK sees it, and its knobs work."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import openai
import pydantic
import pytest
import requests
from fakes.fake_llm import FakeLLM

from fortune_core.result import FortuneContent, content_json_schema
from localservices.programs import FakeLLMProgram
from localservices.supervisor import free_port, wait_for

pytestmark = pytest.mark.integration


def _client(llm: FakeLLM, max_retries: int = 0, timeout: float = 30.0) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=llm.base_url, api_key="test-key", max_retries=max_retries, timeout=timeout
    )


def _messages(text: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "Answer with one JSON object."},
        {"role": "user", "content": text},
    ]


def _ask(client: openai.OpenAI, request_id: str, text: str = "my fortune") -> str:
    completion = client.chat.completions.create(
        model="fake-model",
        messages=_messages(text),
        extra_headers={"X-Request-Id": request_id},
    )
    return completion.choices[0].message.content or ""


def test_a_completion_is_a_valid_fortune(llm: FakeLLM) -> None:
    completion = _client(llm).chat.completions.create(
        model="fake-model",
        messages=_messages("Write the fortune reading."),
        extra_headers={"X-Request-Id": "req-ok"},
    )
    assert completion.object == "chat.completion"
    assert completion.model == "fake-model"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.role == "assistant"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    FortuneContent.model_validate_json(completion.choices[0].message.content or "")
    stats = llm.stats()
    assert (stats["calls"], stats["total"]) == ({"req-ok": 1}, 1)


def test_json_schema_mode(llm: FakeLLM) -> None:
    completion = _client(llm).chat.completions.create(
        model="fake-model",
        messages=_messages("Write the fortune reading."),
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "fortune", "schema": content_json_schema(), "strict": True},
        },
    )
    FortuneContent.model_validate_json(completion.choices[0].message.content or "")
    recorded = llm.requests()[0]["body"]
    assert recorded["response_format"]["json_schema"]["name"] == "fortune"


def test_json_object_mode_needs_the_word_json(llm: FakeLLM) -> None:
    client = _client(llm)
    completion = client.chat.completions.create(
        model="fake-model",
        messages=_messages("hello"),  # the system message says JSON
        response_format={"type": "json_object"},
    )
    FortuneContent.model_validate_json(completion.choices[0].message.content or "")
    with pytest.raises(openai.BadRequestError, match="json"):
        client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "hello"}],
            response_format={"type": "json_object"},
        )


def test_streaming_yields_the_same_fortune_in_chunks(llm: FakeLLM) -> None:
    client = _client(llm)
    stream = client.chat.completions.create(
        model="fake-model",
        messages=_messages("Stream it."),
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    finish_reasons: list[str] = []
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            if choice.finish_reason:
                finish_reasons.append(choice.finish_reason)
    assert len([p for p in pieces if p]) > 1
    assert finish_reasons == ["stop"]
    assert usage is not None
    assert usage.completion_tokens > 0
    assert "".join(pieces) == _ask(client, "same", "Stream it.")
    FortuneContent.model_validate_json("".join(pieces))


def test_429_is_a_rate_limit_error_with_retry_after(llm: FakeLLM) -> None:
    llm.script("req-429", "429", {"outcome": "429", "retryAfter": 7})
    client = _client(llm)
    with pytest.raises(openai.RateLimitError) as first:
        _ask(client, "req-429")
    assert first.value.status_code == 429
    assert first.value.response.headers["retry-after"] == "1"
    with pytest.raises(openai.RateLimitError) as second:
        _ask(client, "req-429")
    assert second.value.response.headers["retry-after"] == "7"
    FortuneContent.model_validate_json(_ask(client, "req-429"))
    assert llm.calls("req-429") == 3


def test_a_script_plays_out_through_sdk_retries(llm: FakeLLM) -> None:
    llm.script("req-retry", {"outcome": "429", "retryAfter": 0.1}, "500", "ok")
    llm.script("other", "500")
    client = _client(llm, max_retries=2)
    FortuneContent.model_validate_json(_ask(client, "req-retry"))
    assert llm.calls("req-retry") == 3
    assert [r["outcome"] for r in llm.requests()] == ["429", "500", "ok"]
    with pytest.raises(openai.InternalServerError):
        _ask(_client(llm), "other")


def test_timeout_holds_the_connection_past_the_client_timeout(llm: FakeLLM) -> None:
    llm.script("req-slow", "timeout")
    with pytest.raises(openai.APITimeoutError):
        _ask(_client(llm, timeout=0.5), "req-slow")
    assert llm.calls("req-slow") == 1


def test_invalid_json_and_wrong_schema(llm: FakeLLM) -> None:
    llm.script("req-bad", "invalid_json", "wrong_schema")
    client = _client(llm)
    not_json = _ask(client, "req-bad")
    with pytest.raises(json.JSONDecodeError):
        json.loads(not_json)
    wrong = _ask(client, "req-bad")
    assert isinstance(json.loads(wrong), dict)
    with pytest.raises(pydantic.ValidationError):
        FortuneContent.model_validate_json(wrong)


def test_runs_as_a_process(tmp_path: Path) -> None:
    """Benchmarks and the chaos run use the fake as a process."""
    with FakeLLMProgram(free_port(), tmp_path / "fake_llm.out", latency=0.05) as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
        FortuneContent.model_validate_json(_ask(client, "proc"))
        assert requests.get(f"{fake.url}/_stats", timeout=5).json()["calls"] == {"proc": 1}
        fake.signal(signal.SIGTERM)
        assert fake.wait(30) == 0  # stops cleanly on SIGTERM


def test_concurrency_is_counted_and_release_answers_held_calls() -> None:
    with FakeLLM(latency=120) as llm:  # its own: calls other tests left held cannot count here
        _count_concurrency(llm)


def _count_concurrency(llm: FakeLLM) -> None:
    client = _client(llm)
    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda i=i: answers.append(_ask(client, f"held-{i}")))
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    wait_for(lambda: llm.stats()["inFlight"] == 3, 30, "three calls in flight")
    llm.release()
    for thread in threads:
        thread.join(30)
    # a call leaves the count once its answer is written, a moment after the client has it
    wait_for(lambda: llm.stats()["inFlight"] == 0, 30, "the calls to end")
    assert len(answers) == 3 and llm.stats()["maxConcurrent"] == 3
    llm.reset()
    assert llm.stats()["maxConcurrent"] == 0


def test_a_seeded_mix_draws_each_outcome(llm: FakeLLM) -> None:
    """The chaos run's LLM errors: unscripted calls draw their outcome from a seeded mix."""
    llm.configure(mix={"ok": 1, "500": 1}, seed=3)
    client = _client(llm)
    outcomes = []
    for n in range(20):
        try:
            _ask(client, f"mix-{n}")
            outcomes.append("ok")
        except openai.InternalServerError:
            outcomes.append("500")
    assert set(outcomes) == {"ok", "500"}
    assert [r["outcome"] for r in llm.requests()] == outcomes
    llm.configure(mix={})
    FortuneContent.model_validate_json(_ask(client, "after"))
