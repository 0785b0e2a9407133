"""Readings as they are written: the worker streams the LLM's answer into the request's event
stream (real Redis, RabbitMQ, SecantusDB, the fake LLM streaming like the real API)."""

from __future__ import annotations

import json

import pytest
from fakes.fake_llm import FakeLLM, count_tokens
from worker_testing import Stack, running_worker

from fortune_core.events import Event, EventLog, stream_key, version_key
from fortune_core.status import Status
from localservices.supervisor import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def events_of(stack: Stack, request_id: str) -> list[Event]:
    return EventLog(stack.redis, stack.cache.expire_at).read(request_id, count=10_000)


def finished_events(stack: Stack, request_id: str) -> list[Event]:
    """The stream once its last event is there."""

    def over() -> list[Event] | None:
        events = events_of(stack, request_id)
        return events if events and events[-1].last else None

    return wait_for(over, 60, f"the last event of {request_id}")


def text_after_last_reset(events: list[Event]) -> str:
    last_reset = max((i for i, e in enumerate(events) if e.kind == "reset"), default=-1)
    return "".join(e.data["text"] for e in events[last_reset + 1 :] if e.kind == "delta")


def statuses(events: list[Event]) -> list[str]:
    return [e.data["status"] for e in events if e.kind == "status"]


def test_the_llm_answer_streams_into_deltas_of_the_narrative(stack: Stack, llm: FakeLLM) -> None:
    llm.configure(chunk_chars=5)
    with running_worker(stack.settings(llm)):
        request_id = stack.submit()
        record = stack.wait_status(request_id, Status.SUCCEEDED)
        events = finished_events(stack, request_id)
    [call] = llm.requests()
    assert call["body"]["stream"] is True
    assert call["body"]["stream_options"] == {"include_usage": True}
    assert statuses(events) == ["queued", "running", "succeeded"]
    deltas = [e for e in events if e.kind == "delta"]
    assert len(deltas) > 3  # the narrative arrived in pieces, not at once
    assert "".join(d.data["text"] for d in deltas) == record.result["text"]
    assert {d.data["attempt"] for d in deltas} == {1}
    # Event ids increase; the result is the last event, identical to the stored result.
    ids = [tuple(int(p) for p in e.id.split("-")) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert events[-1].kind == "result" and events[-1].last
    assert events[-1].data == record.result
    assert [e.kind for e in events].count("result") == 1
    # The usage came from the usage chunk.
    content = json.dumps(
        {k: record.result[k] for k in ("summary", "scores", "aspects", "lucky", "advice", "text")},
        ensure_ascii=False,
    )
    assert record.result["usage"]["completionTokens"] >= count_tokens(content) // 2


def test_a_stream_cut_mid_way_is_retried_and_its_text_replaced(stack: Stack, llm: FakeLLM) -> None:
    llm.configure(chunk_chars=5)
    request_id = stack.submit()
    llm.script(request_id, {"outcome": "cut", "cutAt": 0.97}, "ok")
    with running_worker(stack.settings(llm)):
        record = stack.wait_status(request_id, Status.SUCCEEDED)
        events = finished_events(stack, request_id)
    assert record.attempts == 2 and llm.calls(request_id) == 2
    kinds = [e.kind for e in events]
    first_error = kinds.index("error")
    # attempt 1 had shown part of the narrative before the connection broke ...
    shown_first = "".join(e.data["text"] for e in events[:first_error] if e.kind == "delta")
    assert shown_first and record.result["text"].startswith(shown_first)
    assert shown_first != record.result["text"]
    error = events[first_error]
    assert error.data["retrying"] is True and error.data["code"] == "llm_stream_broken"
    # ... then the retry: queued, running again, a reset, and the text again from its start.
    assert statuses(events) == ["queued", "running", "queued", "running", "succeeded"]
    reset = kinds.index("reset")
    assert reset > first_error and events[reset].data == {"attempt": 2}
    assert text_after_last_reset(events) == record.result["text"]
    assert all(e.data["attempt"] == 2 for e in events[reset:] if e.kind == "delta")
    assert events[-1].kind == "result" and events[-1].data == record.result


def test_a_failed_request_ends_its_stream_with_the_error(stack: Stack, llm: FakeLLM) -> None:
    request_id = stack.submit()
    llm.script(request_id, "500", "500")
    with running_worker(stack.settings(llm, max_attempts=2)):
        record = stack.wait_status(request_id, Status.FAILED)
        events = finished_events(stack, request_id)
    assert statuses(events)[-1] == "failed"
    assert events[-1].kind == "error" and events[-1].last
    assert events[-1].data == {**record.error, "retrying": False}


def test_the_almanac_reading_streams_in_sentences(stack: Stack, llm: FakeLLM) -> None:
    with running_worker(stack.settings()):
        request_id = stack.submit()
        record = stack.wait_status(request_id, Status.SUCCEEDED)
        events = finished_events(stack, request_id)
    deltas = [e.data["text"] for e in events if e.kind == "delta"]
    assert len(deltas) > 1 and "".join(deltas) == record.result["text"]
    assert statuses(events) == ["queued", "running", "succeeded"]


def test_a_cancelled_request_ends_its_stream_with_its_status(stack: Stack) -> None:
    request_id = stack.submit()
    stack.cancel(request_id)
    events = finished_events(stack, request_id)
    assert statuses(events) == ["queued", "cancelled"] and events[-1].kind == "status"


# --- the event log on its own ----------------------------------------------------------------


def test_a_version_is_projected_once_and_an_older_one_never(stack: Stack) -> None:
    request_id = stack.submit()
    log = EventLog(stack.redis, stack.cache.expire_at)
    queued = stack.view(request_id)
    assert log.project(queued) is False  # the submission wrote it already
    cancelled = stack.lifecycle().cancel(request_id, "cancelled by the client")
    assert cancelled is not None
    assert log.project(cancelled) is False and log.project(queued) is False
    assert statuses(events_of(stack, request_id)) == ["queued", "cancelled"]
    # The stream and its version key expire with the cache entry (the finished window).
    cache_ttl = stack.redis.ttl(f"cf:req:{request_id}")
    for key in (stream_key(request_id), version_key(request_id)):
        assert 0 < stack.redis.ttl(key) <= max(cache_ttl, 1) + 1


def test_reads_resume_after_an_id_and_the_stream_is_capped(stack: Stack) -> None:
    request_id = stack.submit()
    view = stack.view(request_id)
    log = EventLog(stack.redis, stack.cache.expire_at, max_length=10)
    for n in range(1000):
        log.append(view, "delta", {"text": str(n), "attempt": 1})
    kept = log.read(request_id, count=10_000)
    # MAXLEN ~ trims whole nodes: about the cap is kept, and always the newest events.
    assert 10 <= len(kept) < 200
    assert kept[-1].data["text"] == "999"
    middle = kept[len(kept) // 2]
    later = log.read(request_id, after=middle.id, count=10_000)
    assert later == kept[len(kept) // 2 + 1 :]
    # A blocking read wakes for an event appended meanwhile.
    assert log.read(request_id, after=kept[-1].id, block_ms=50) == []
    log.append(view, "delta", {"text": "new", "attempt": 1})
    [new] = log.read(request_id, after=kept[-1].id, block_ms=5000)
    assert new.data["text"] == "new"
    # An append never makes a finished request's stream outlive its cache entry.
    stack.redis.expire(stream_key(request_id), 30)
    log.append(view, "delta", {"text": "late", "attempt": 1})
    assert stack.redis.ttl(stream_key(request_id)) <= 30
