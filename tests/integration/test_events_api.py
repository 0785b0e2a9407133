"""`GET /v1/fortunes/{id}/events` over HTTP: the API under gunicorn's gevent worker, a worker
streaming from the fake LLM, real RabbitMQ, Redis and SecantusDB."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fakes.fake_llm import FakeLLM
from sse_testing import EventStream, Frame
from worker_testing import BODY, Stack, running_worker

from fortune_core.events import stream_key
from fortune_core.ids import new_request_id
from localservices.jsonhttp import http_json as http
from localservices.programs import ApiProgram
from localservices.supervisor import free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
KEYS = {"Authorization": "Bearer key-a"}


@pytest.fixture
def api(backend_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., str]]:
    """api(**env) → the base URL of an API process (one gunicorn worker) on this test's
    backends, with two API keys (clients a and b)."""
    started: list[ApiProgram] = []

    def launch(**overrides: str) -> str:
        (tmp_path / "prometheus").mkdir(exist_ok=True)
        env = {
            **os.environ,
            **backend_env,
            "FORTUNE_RATE_LIMIT_PER_MINUTE": "0",
            "FORTUNE_POLL_RATE_LIMIT_PER_MINUTE": "0",
            "FORTUNE_API_KEYS": "a:key-a,b:key-b",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
            **overrides,
        }
        program = ApiProgram(free_port(), env, tmp_path / f"api-{len(started)}.log", workers=1)
        started.append(program.start())
        return program.url

    yield launch
    for program in started:
        program.stop()


def submit(base: str, headers: dict[str, str] = KEYS) -> str:
    status, accepted = http("POST", f"{base}/v1/fortunes", BODY, headers=headers)
    assert status == 202, accepted
    return str(accepted["id"])


def events_url(base: str, request_id: str, query: str = "") -> str:
    return f"{base}/v1/fortunes/{request_id}/events{query}"


def ids_of(frames: list[Frame]) -> list[tuple[int, int]]:
    return [tuple(int(p) for p in str(f.id).split("-")) for f in frames]  # type: ignore[misc]


def test_a_reading_streams_as_it_is_written_then_resumes_after_the_last_id(
    api: Callable[..., str], stack: Stack, llm: FakeLLM
) -> None:
    llm.configure(chunk_chars=6, chunk_seconds=0.01)
    base = api()
    with running_worker(stack.settings(llm)):
        request_id = submit(base)
        with EventStream(events_url(base, request_id), KEYS) as stream:
            assert stream.status == 200
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert stream.headers["Cache-Control"] == "no-store"
            frames = stream.events()  # until the server closes it
    status, final = http("GET", f"{base}/v1/fortunes/{request_id}", headers=KEYS)
    assert status == 200 and final["status"] == "succeeded"
    kinds = [f.event for f in frames]
    assert kinds[0] == "status" and kinds[-1] == "result"
    assert [f.json()["status"] for f in frames if f.event == "status"] == [
        "queued",
        "running",
        "succeeded",
    ]
    assert frames[-1].json() == final["result"]  # the result event is GET's result
    deltas = [f.json()["text"] for f in frames if f.event == "delta"]
    assert len(deltas) > 3 and "".join(deltas) == final["result"]["text"]
    ids = ids_of(frames)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    # A reconnect with the last id it saw gets only the later events, by header or by query.
    middle = frames[len(frames) // 2]
    with EventStream(events_url(base, request_id), {**KEYS, "Last-Event-ID": str(middle.id)}) as s:
        by_header = s.events()
    with EventStream(events_url(base, request_id, f"?after={middle.id}"), KEYS) as s:
        by_query = s.events()
    later = frames[len(frames) // 2 + 1 :]
    for resumed in (by_header, by_query):
        assert [(f.id, f.event, f.data) for f in resumed] == [
            (f.id, f.event, f.data) for f in later
        ]
    # After the last event there is nothing more: the stream closes at once.
    with EventStream(events_url(base, request_id, f"?after={frames[-1].id}"), KEYS) as s:
        assert s.events() == []


def test_a_finished_request_whose_stream_expired_sends_its_status_and_result(
    api: Callable[..., str], stack: Stack, redis_client: redis.Redis
) -> None:
    base = api()
    with running_worker(stack.settings()):
        request_id = submit(base)
        with EventStream(events_url(base, request_id), KEYS) as stream:
            first = stream.events()
    redis_client.delete(stream_key(request_id))
    with EventStream(events_url(base, request_id), KEYS) as stream:
        frames = stream.events()
    _status, final = http("GET", f"{base}/v1/fortunes/{request_id}", headers=KEYS)
    assert [f.event for f in frames] == ["status", "result"]
    assert frames[0].json()["status"] == "succeeded"
    assert frames[1].json() == final["result"] == first[-1].json()
    # A client that had seen deltas of the stream before it expired still gets the outcome.
    delta = next(f for f in first if f.event == "delta")
    with EventStream(events_url(base, request_id, f"?after={delta.id}"), KEYS) as stream:
        assert [f.event for f in stream.events()] == ["status", "result"]


def test_an_idle_stream_gets_comments_and_many_streams_hold_no_thread(
    api: Callable[..., str], stack: Stack
) -> None:
    base = api(FORTUNE_STREAM_KEEPALIVE_SECONDS="0.2")
    request_id = submit(base)  # no worker: it stays queued
    # Far more idle streams than a threaded server would have threads, in one process.
    streams = [EventStream(events_url(base, request_id), KEYS) for _ in range(64)]
    try:
        assert all(s.status == 200 for s in streams)
        status, body = http("GET", f"{base}/v1/fortunes/{request_id}", headers=KEYS)
        assert status == 200 and body["status"] == "queued"  # the server still answers
        frames = streams[0].frames()
        seen: list[Frame] = []

        def comment() -> bool:
            seen.append(next(frames))
            return any("keep-alive" in c for c in seen[-1].comments)

        wait_for(comment, 30, "a keep-alive comment")
        assert [f.json()["status"] for f in seen if f.event == "status"] == ["queued"]
        # Cancelling ends every stream after its last event.
        status, _ = http("DELETE", f"{base}/v1/fortunes/{request_id}", headers=KEYS)
        assert status == 202
        for stream in streams[1:]:
            events = stream.events()
            assert events[-1].event == "status" and events[-1].json()["status"] == "cancelled"
    finally:
        for stream in streams:
            stream.close()


def test_same_errors_and_ownership_as_the_query(
    api: Callable[..., str], stack: Stack, redis_client: redis.Redis
) -> None:
    base = api()
    request_id = submit(base)
    cases: list[tuple[str, dict[str, str], int, str]] = [
        (events_url(base, request_id), {"Authorization": "Bearer key-b"}, 404, "not_found"),
        (events_url(base, new_request_id()), KEYS, 404, "not_found"),
        (events_url(base, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), KEYS, 410, "expired"),  # from 2016
        (events_url(base, request_id, "?after=yesterday"), KEYS, 422, "invalid_request"),
        (events_url(base, request_id), {**KEYS, "Last-Event-ID": "1-x"}, 422, "invalid_request"),
        (events_url(base, request_id), {}, 401, "unauthorized"),
    ]
    for url, headers, expected, code in cases:
        with EventStream(url, headers) as stream:
            body: dict[str, Any] = stream.body()
            assert (stream.status, body["error"]["code"]) == (expected, code), (url, body)
    with EventStream(events_url(base, request_id, "?after=x"), KEYS) as stream:
        assert set(stream.body()["error"]["fields"]) == {"after"}
