"""The HTTP API against real RabbitMQ, Redis and SecantusDB (no worker running here)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pika
import pytest
import redis
from api_testing import api_client, api_settings
from flask.testing import FlaskClient
from published_cases import QI_YUN_CASES
from pymongo import monitoring

from fortune_api.app import create_app
from fortune_api.backends import Backends
from fortune_api.settings import ApiSettings
from fortune_core.conventions import QiYunConvention
from fortune_core.ids import new_request_id
from fortune_core.lifecycle import Claim, Lifecycle, message_of
from fortune_core.queue import Publisher, requests_queue
from fortune_core.records import disconnect_records, get_record
from fortune_core.status import Status
from fortune_core.status_cache import StatusCache, cache_key
from fortune_core.views import RequestView
from localservices.backends import RedisServer
from localservices.supervisor import wait_for

pytestmark = pytest.mark.integration

BODY: dict[str, Any] = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "career",
    "language": "en",
}
CLOSED_PORT_AMQP = "amqp://guest:guest@127.0.0.1:1/%2F"


class FindCounter(monitoring.CommandListener):
    """Counts the read commands MongoDB receives."""

    def __init__(self) -> None:
        self.reads = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in {"find", "aggregate", "count", "countDocuments"}:
            self.reads += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


FINDS = FindCounter()
monitoring.register(FINDS)  # applies to every client created from now on


@pytest.fixture
def settings(rabbitmq: Any, redis_server: Any, mongodb: Any) -> ApiSettings:
    """Settings pointing at the real services, with a fresh database and pool per test."""
    return api_settings(rabbitmq, redis_server, mongodb, "api")


@pytest.fixture
def client(settings: ApiSettings) -> Iterator[FlaskClient]:
    with api_client(settings) as test_client:
        yield test_client


def _queue_messages(settings: ApiSettings) -> list[tuple[Any, bytes]]:
    """Drain (and return) the messages waiting in the pool's queue."""
    connection = pika.BlockingConnection(pika.URLParameters(settings.core.rabbitmq_url))
    try:
        channel = connection.channel()
        messages = []
        while True:
            method, props, body = channel.basic_get(requests_queue(settings.core.pool))
            if method is None:
                return messages
            messages.append((props, body))
            channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()


# --- start / query / cancel --------------------------------------------------------------------


def test_start_accepts_and_enqueues(client: FlaskClient, settings: ApiSettings) -> None:
    response = client.post("/v1/fortunes", json=BODY)
    assert response.status_code == 202
    body = response.get_json()
    request_id = body["id"]
    assert body["status"] == "queued"
    assert response.headers["Location"] == f"/v1/fortunes/{request_id}"
    assert int(response.headers["Retry-After"]) >= 1

    [(props, raw)] = _queue_messages(settings)
    assert props.message_id == request_id and props.delivery_mode == 2
    message = json.loads(raw)
    assert message["id"] == request_id and message["pool"] == settings.core.pool
    assert message["request"]["topic"] == "career"
    assert message["request"]["date"]  # resolved at submission so every step reads one day

    record = get_record(request_id)
    assert record is not None and record.status == "queued"
    assert record.profile["bazi"]["day"] == "壬午"

    polled = client.get(f"/v1/fortunes/{request_id}").get_json()
    assert polled["status"] == "queued" and polled["request"]["language"] == "en"
    assert "result" not in polled


def test_polling_in_flight_reads_redis_only(client: FlaskClient, settings: ApiSettings) -> None:
    request_id = client.post("/v1/fortunes", json=BODY).get_json()["id"]
    before = FINDS.reads
    for _ in range(5):
        assert client.get(f"/v1/fortunes/{request_id}").status_code == 200
    assert FINDS.reads == before  # zero MongoDB reads while Redis has the entry

    redis.Redis.from_url(settings.core.redis_url).delete(cache_key(request_id))
    assert client.get(f"/v1/fortunes/{request_id}").get_json()["status"] == "queued"
    assert FINDS.reads == before + 1  # fell through to MongoDB once ...
    client.get(f"/v1/fortunes/{request_id}")
    assert FINDS.reads == before + 1  # ... and refilled the cache


def _finish_when_polled(settings: ApiSettings, request_id: str) -> threading.Thread:
    """A thread that, once a long poll subscribed to the request's changes, finishes the request
    the way a worker does: the lifecycle's claim and store (MongoDB, then the status cache)."""
    client = redis.Redis.from_url(settings.core.redis_url)
    lifecycle = Lifecycle(
        StatusCache(client, settings.core.retention_seconds),
        Publisher(settings.core.rabbitmq_url),  # never used: nothing is published
        retention_seconds=settings.core.retention_seconds,
    )

    record = get_record(request_id)  # read now: the long poll's reads are counted
    assert record is not None
    message = message_of(record)

    def subscribed() -> bool:
        [(_, count)] = client.pubsub_numsub(cache_key(request_id))
        return count > 0

    def finish() -> None:
        wait_for(subscribed, timeout=30, what="a long poll on the request")
        claim = lifecycle.claim(message, False, "test-worker")
        assert isinstance(claim, Claim)
        assert lifecycle.succeed(claim, {"text": "ok"}) is not None

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_long_poll_answers_with_the_outcome_from_redis(
    client: FlaskClient, settings: ApiSettings
) -> None:
    request_id = client.post("/v1/fortunes", json=BODY).get_json()["id"]
    finisher = _finish_when_polled(settings, request_id)
    before = FINDS.reads
    response = client.get(f"/v1/fortunes/{request_id}", headers={"Prefer": "wait=60"})
    finisher.join()
    assert response.status_code == 200
    assert response.get_json()["status"] == "succeeded"
    assert response.get_json()["result"] == {"text": "ok"}
    assert response.headers["Preference-Applied"] == "wait=30"  # capped at the maximum
    assert FINDS.reads == before  # the wait read Redis only

    finished = client.get(f"/v1/fortunes/{request_id}", headers={"Prefer": "wait=5"})
    assert finished.get_json()["status"] == "succeeded"
    assert "Preference-Applied" not in finished.headers  # nothing to wait for


def test_long_poll_needs_a_free_wait_slot(settings: ApiSettings) -> None:
    settings = replace(settings, poll_wait_slots=1)
    backends = Backends(settings)
    app = create_app(settings, backends)
    try:
        client = app.test_client()
        request_id = client.post("/v1/fortunes", json=BODY).get_json()["id"]
        assert backends.poll_waits.acquire(blocking=False)  # the only slot is taken
        response = client.get(f"/v1/fortunes/{request_id}", headers={"Prefer": "wait=30"})
        assert response.get_json()["status"] == "queued"  # answered at once
        assert "Preference-Applied" not in response.headers
        backends.poll_waits.release()
    finally:
        backends.close()
        disconnect_records()


def test_redis_entry_lives_while_in_flight_then_a_short_window(
    client: FlaskClient, settings: ApiSettings
) -> None:
    """In flight, a request's entry lives as long as the request may (its retention); once it
    finished, only `FORTUNE_CACHE_FINISHED_SECONDS` more: Redis holds in-flight requests and the
    recently finished, MongoDB everything."""
    request_id = client.post("/v1/fortunes", json=BODY).get_json()["id"]
    cache = redis.Redis.from_url(settings.core.redis_url)
    ttl = cache.ttl(cache_key(request_id))
    assert settings.core.retention_seconds - 120 < ttl <= settings.core.retention_seconds
    assert client.delete(f"/v1/fortunes/{request_id}").status_code == 202
    finished = cache.ttl(cache_key(request_id))
    assert 0 < finished <= settings.core.cache_finished_seconds
    cache.delete(cache_key(request_id))  # as if evicted: MongoDB answers and refills
    assert client.get(f"/v1/fortunes/{request_id}").get_json()["status"] == "cancelled"
    assert 0 < cache.ttl(cache_key(request_id)) <= settings.core.cache_finished_seconds


def test_unknown_expired_and_malformed_ids(client: FlaskClient) -> None:
    unknown = new_request_id()  # well-formed and recent, but never submitted
    assert client.get(f"/v1/fortunes/{unknown}").status_code == 404
    old = client.get("/v1/fortunes/01ARZ3NDEKTSV4RRFFQ69G5FAV")  # a ULID from 2016
    assert old.status_code == 410 and old.get_json()["error"]["code"] == "expired"
    assert client.get("/v1/fortunes/not-an-id").status_code == 404
    # the largest ULID (year 10889): from the future, so unknown (its time fits no datetime)
    assert client.get("/v1/fortunes/7ZZZZZZZZZZZZZZZZZZZZZZZZZ").status_code == 404
    assert client.delete(f"/v1/fortunes/{unknown}").status_code == 404


def test_cancel_then_delete(client: FlaskClient, settings: ApiSettings) -> None:
    request_id = client.post("/v1/fortunes", json=BODY).get_json()["id"]
    cancelled = client.delete(f"/v1/fortunes/{request_id}")
    assert cancelled.status_code == 202 and cancelled.get_json()["status"] == "cancelled"
    assert client.get(f"/v1/fortunes/{request_id}").get_json()["status"] == "cancelled"
    again = client.delete(f"/v1/fortunes/{request_id}?onlyIfActive=true")  # a cancel button's
    assert again.status_code == 409
    assert again.get_json()["error"]["status"] == "cancelled"
    deleted = client.delete(f"/v1/fortunes/{request_id}")  # finished: deleted for good
    assert deleted.status_code == 204
    assert get_record(request_id) is None
    assert not redis.Redis.from_url(settings.core.redis_url).exists(cache_key(request_id))
    assert client.get(f"/v1/fortunes/{request_id}").status_code == 404
    assert client.delete(f"/v1/fortunes/{request_id}").status_code == 404


# --- idempotency -----------------------------------------------------------------------------


def test_idempotency_key_returns_the_same_request(
    client: FlaskClient, settings: ApiSettings
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/v1/fortunes", json=BODY, headers=headers)
    second = client.post("/v1/fortunes", json=dict(reversed(BODY.items())), headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(_queue_messages(settings)) == 1  # one request, one message

    other = client.post(
        "/v1/fortunes", json={**BODY, "topic": "love"}, headers={"Idempotency-Key": "order-42"}
    )
    assert other.status_code == 409  # a conflict with the earlier request, not a bad body
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    fresh = client.post("/v1/fortunes", json=BODY, headers={"Idempotency-Key": "order-43"})
    assert fresh.get_json()["id"] != first.get_json()["id"]


def test_idempotency_keys_are_per_client(settings: ApiSettings) -> None:
    keyed = replace(settings, api_keys={"key-a": "alice", "key-b": "bob"})
    with api_client(keyed) as client:
        ids = {
            client.post(
                "/v1/fortunes",
                json=BODY,
                headers={"Idempotency-Key": "same", "Authorization": f"Bearer {key}"},
            ).get_json()["id"]
            for key in ("key-a", "key-b")
        }
        assert len(ids) == 2


# --- errors ------------------------------------------------------------------------------------


def test_validation_errors_are_422_with_fields(client: FlaskClient) -> None:
    response = client.post(
        "/v1/fortunes",
        json={"profile": {"birthDate": "2023-03-15", "calendar": "lunar", "leapMonth": True}},
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request"
    assert set(error["fields"]) == {"profile.birthDate"}
    assert error["fields"]["profile.birthDate"]["en"] and error["fields"]["profile.birthDate"]["zh"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "hello", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json"),
        ({"data": '{"a": 1', "content_type": "application/json"}, 400, "malformed_json"),
        ({"json": {"profile": {"birthDate": "x" * 17000}}}, 413, "body_too_large"),
        ({"json": ["not", "an", "object"]}, 422, "invalid_request"),
        # 5,000 levels (under 16 KiB): deeper than the parser goes; 33: deeper than we take.
        (
            {
                "data": '{"profile": ' + "[" * 5000 + "]" * 5000 + "}",
                "content_type": "application/json",
            },
            400,
            "nested_too_deeply",
        ),
        ({"json": {"profile": json.loads("[" * 33 + "]" * 33)}}, 400, "nested_too_deeply"),
    ],
)
def test_bad_bodies(client: FlaskClient, kwargs: dict[str, Any], status: int, code: str) -> None:
    response = client.post("/v1/fortunes", **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_unknown_route_and_method_are_json(client: FlaskClient) -> None:
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.put("/v1/fortunes")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert wrong.get_json()["error"]["message"]


def test_rate_limit_answers_429_with_retry_after(settings: ApiSettings) -> None:
    with api_client(replace(settings, rate_limit_per_minute=3)) as client:
        statuses = [client.post("/v1/fortunes", json=BODY).status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429]
        limited = client.post("/v1/fortunes", json=BODY)
        assert limited.get_json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 61


def test_api_keys(settings: ApiSettings) -> None:
    with api_client(replace(settings, api_keys={"s3cret": "miniapp"})) as client:
        assert client.post("/v1/fortunes", json=BODY).status_code == 401
        wrong = client.post("/v1/fortunes", json=BODY, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
        ok = client.post("/v1/fortunes", json=BODY, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 202
        assert client.get("/healthz").status_code == 200  # probes stay open


def test_rabbitmq_down_is_503_and_nothing_is_left_pending(settings: ApiSettings) -> None:
    broken = replace(settings, core=replace(settings.core, rabbitmq_url=CLOSED_PORT_AMQP))
    with api_client(broken) as client:
        response = client.post("/v1/fortunes", json=BODY, headers={"Idempotency-Key": "k"})
        assert response.status_code == 503
        error = response.get_json()["error"]
        assert error["backend"] == "rabbitmq" and response.headers["Retry-After"]
        metrics = client.get("/metrics").get_data(as_text=True)
        assert "cyberfortune_queue_publish_failures_total" in metrics
    from fortune_core.records import FortuneRecord, connect_records

    connect_records(settings.core.mongodb_uri, None)
    try:
        records = list(FortuneRecord.objects())
        assert [r.status for r in records] == ["failed"]  # recorded as not accepted
        assert records[0].error["code"] == "not_accepted"
    finally:
        disconnect_records()
    # The idempotency key was released, so the client can retry with it once RabbitMQ is back.
    with api_client(settings) as client:
        retry = client.post("/v1/fortunes", json=BODY, headers={"Idempotency-Key": "k"})
        assert retry.status_code == 202 and retry.get_json()["id"] != records[0].id


def test_a_full_queue_is_503_with_retry_after_and_nothing_half_accepted(
    settings: ApiSettings,
) -> None:
    """The pool's queue is bounded (`FORTUNE_QUEUE_MAX_LENGTH`, reject-publish): at the bound a
    submission is refused, the client is told to come back, and the refused request is failed
    "not accepted" rather than left waiting. (A quorum queue checks its length before the append,
    so it takes one message beyond its bound.)"""
    bounded = replace(settings, core=replace(settings.core, queue_max_length=2))
    with api_client(bounded) as client:
        accepted = [client.post("/v1/fortunes", json=BODY) for _ in range(3)]
        refused = client.post("/v1/fortunes", json=BODY)
    assert [r.status_code for r in accepted] == [202, 202, 202]
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "queue_full"
    assert refused.headers["Retry-After"] == "30"
    assert len(_queue_messages(settings)) == 3
    from fortune_core.records import FortuneRecord, connect_records

    connect_records(settings.core.mongodb_uri, None)
    try:
        statuses = sorted(r.status for r in FortuneRecord.objects())
        assert statuses == ["failed", "queued", "queued", "queued"]
        [failed] = FortuneRecord.objects(status="failed")
        assert failed.error["message"] == "not accepted: its queue is full"
    finally:
        disconnect_records()


def test_redis_down_is_503(settings: ApiSettings) -> None:
    broken = replace(settings, core=replace(settings.core, redis_url="redis://127.0.0.1:1/0"))
    with api_client(broken) as client:
        response = client.post("/v1/fortunes", json=BODY)
        assert response.status_code == 503
        assert response.get_json()["error"]["backend"] == "redis"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["redis"] != "ok"


def test_mongodb_down_is_503(settings: ApiSettings) -> None:
    broken = replace(
        settings, core=replace(settings.core, mongodb_uri="mongodb://127.0.0.1:1/nothing")
    )
    with api_client(broken) as client:
        response = client.post("/v1/fortunes", json=BODY)
        assert response.status_code == 503
        assert response.get_json()["error"]["backend"] == "mongodb"


# --- profiles, health, metrics, OpenAPI --------------------------------------------------------


def test_profiles_derives_synchronously(client: FlaskClient) -> None:
    response = client.post(
        "/v1/profiles", json={"profile": {"birthDate": "1990-05-17", "birthTime": "08:30"}}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["profile"]["bazi"] == {
        "year": "庚午",
        "month": "辛巳",
        "day": "壬午",
        "hour": "甲辰",
    }
    assert body["almanac"]["yi"]
    bad = client.post("/v1/profiles", json={"profile": {"birthDate": "1990-02-30"}})
    assert bad.status_code == 422 and "profile.birthDate" in bad.get_json()["error"]["fields"]


@pytest.mark.parametrize("convention", list(QiYunConvention))
def test_profiles_return_the_published_qi_yun_cases(
    settings: ApiSettings, convention: QiYunConvention
) -> None:
    """lunar-python's own 起运 cases (tests/published_cases.py), through the route, with the
    convention set as FORTUNE_QI_YUN_CONVENTION would set it; the luck of the date comes along."""
    configured = replace(settings, core=replace(settings.core, qi_yun_convention=convention))
    cases = [case for case in QI_YUN_CASES if case[2] == convention.value]
    assert cases
    with api_client(configured) as client:
        for where, fields, _, interval, start in cases:
            response = client.post("/v1/profiles", json={"profile": fields, "date": "2035-06-01"})
            assert response.status_code == 200, where
            body = response.get_json()
            da_yun = body["profile"]["daYun"]
            assert da_yun["convention"] == convention.value
            if interval is not None:
                got = da_yun["start"]
                assert (got["years"], got["months"], got["days"]) == interval, where
            assert da_yun["start"]["startDate"][:10] == start, where
            assert da_yun["pillars"][0]["startDate"] == da_yun["start"]["startDate"]
            luck = body["luck"]
            assert luck["date"] == "2035-06-01" and len(luck["liuNian"]) == 10
            assert luck["liuNian"][0]["year"] == 2035 and len(luck["liuYue"]) == 12
            assert luck["daYun"] is not None and luck["daYun"]["startDate"][:10] <= "2035-06-01"


def test_readyz_checks_every_backend(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"mongodb": "ok", "redis": "ok", "rabbitmq": "ok"}


def test_readyz_tells_the_truth_after_the_broker_dropped_a_pooled_link(
    client: FlaskClient, rabbitmq: Any
) -> None:
    """A pooled AMQP link the broker closed (here: every connection; in production a missed
    heartbeat while idle) still looks open until used; readiness must not fail on it while
    the broker answers."""
    assert client.get("/readyz").status_code == 200  # a link is pooled now
    rabbitmq.ctl("close_all_connections", "test: a dropped idle link")
    answers = [client.get("/readyz") for _ in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 5
    assert client.post("/v1/fortunes", json=BODY).status_code == 202


def test_digits_of_other_scripts_are_refused_with_the_field(client: FlaskClient) -> None:
    response = client.post(
        "/v1/fortunes", json={**BODY, "profile": {**BODY["profile"], "birthDate": "１９９０-05-17"}}
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"profile.birthDate"}
    timed = client.post(
        "/v1/fortunes", json={**BODY, "profile": {**BODY["profile"], "birthTime": "０８:30"}}
    )
    assert timed.status_code == 422
    assert set(timed.get_json()["error"]["fields"]) == {"profile.birthTime"}


def test_metrics_count_requests_by_route(client: FlaskClient) -> None:
    client.post("/v1/fortunes", json=BODY)
    client.get("/v1/fortunes/not-an-id")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'route="/v1/fortunes",status="202"' in text
    assert 'route="/v1/fortunes/<request_id>",status="404"' in text
    assert "cyberfortune_http_request_duration_seconds_bucket" in text


def test_openapi_matches_the_routes(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    app = client.application
    served = {
        (rule.rule.replace("<", "{").replace(">", "}"), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    assert documented == served
    schemas = document["components"]["schemas"]
    refs = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    assert refs <= set(schemas)  # every reference resolves


def test_status_and_result_expire_together_then_410(settings: ApiSettings) -> None:
    """With a 3 s retention: MongoDB's TTL sweep and Redis's expiry both drop the request, and
    its id then answers 410 (the id's own timestamp tells its age)."""
    from fortune_core.records import FortuneRecord
    from localservices.supervisor import wait_for

    short = replace(settings, core=replace(settings.core, retention_seconds=3))
    with api_client(short) as client:
        request_id = client.post("/v1/fortunes", json=BODY).get_json()["id"]
        assert client.get(f"/v1/fortunes/{request_id}").status_code == 200
        cache = redis.Redis.from_url(settings.core.redis_url)
        wait_for(lambda: cache.exists(cache_key(request_id)) == 0, 30, "the Redis entry to expire")
        wait_for(
            lambda: FortuneRecord.objects(id=request_id).first() is None,
            30,
            "MongoDB's TTL sweep to delete the record",
        )
        gone = client.get(f"/v1/fortunes/{request_id}")
        assert gone.status_code == 410 and gone.get_json()["error"]["code"] == "expired"


# --- abuse: client identity, profiles, privacy, error bodies ------------------------------------


def test_a_client_cannot_pick_its_bucket_or_scope_with_x_forwarded_for(
    settings: ApiSettings,
) -> None:
    with api_client(replace(settings, rate_limit_per_minute=2)) as client:
        statuses = [
            client.post(
                "/v1/fortunes", json=BODY, headers={"X-Forwarded-For": f"198.51.100.{n}"}
            ).status_code
            for n in range(3)
        ]
        assert statuses == [202, 202, 429]  # one bucket: the header was ignored
    with api_client(settings) as client:
        ids = {
            client.post(
                "/v1/fortunes",
                json=BODY,
                headers={"Idempotency-Key": "k1", "X-Forwarded-For": f"198.51.100.{n}"},
            ).get_json()["id"]
            for n in range(3)
        }
        assert len(ids) == 1  # one idempotency scope


def test_behind_a_trusted_proxy_the_proxy_appended_address_is_the_client(
    settings: ApiSettings,
) -> None:
    proxied = replace(settings, rate_limit_per_minute=2, trusted_proxy_hops=1)
    with api_client(proxied) as client:

        def post(forwarded: str, **headers: str) -> Any:
            return client.post(
                "/v1/fortunes", json=BODY, headers={"X-Forwarded-For": forwarded, **headers}
            )

        # The client writes anything first; the proxy appends the address it saw (203.0.113.7).
        statuses = [post(f"10.0.0.{n}, 203.0.113.7").status_code for n in range(3)]
        assert statuses == [202, 202, 429]
        assert post("10.0.0.1, 203.0.113.8").status_code == 202  # another client, another bucket
        first = post("a, 203.0.113.9", **{"Idempotency-Key": "same"}).get_json()["id"]
        again = post("b, 203.0.113.9", **{"Idempotency-Key": "same"}).get_json()["id"]
        other = post("a, 203.0.113.10", **{"Idempotency-Key": "same"}).get_json()["id"]
        assert first == again != other


def test_profiles_have_their_own_rate_limit_and_a_cache(settings: ApiSettings) -> None:
    from fortune_api.profiles import cache_info

    limited = replace(settings, profile_rate_limit_per_minute=3)
    body = {"profile": {"birthDate": "1977-03-09", "birthTime": "06:10"}, "date": "2025-06-01"}
    with api_client(limited) as client:
        before = cache_info()["profiles"]
        statuses = [client.post("/v1/profiles", json=body).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        after = cache_info()["profiles"]
        assert after["misses"] == before["misses"] + 1  # derived once ...
        assert after["hits"] == before["hits"] + 2  # ... then served from the cache
        assert client.post("/v1/fortunes", json=BODY).status_code == 202  # a separate limit


def test_with_api_keys_a_request_is_private_to_its_key(settings: ApiSettings) -> None:
    keyed = replace(settings, api_keys={"key-a": "alice", "key-b": "bob"})
    alice, bob = ({"Authorization": f"Bearer {key}"} for key in ("key-a", "key-b"))
    with api_client(keyed) as client:
        request_id = client.post("/v1/fortunes", json=BODY, headers=alice).get_json()["id"]
        assert client.get(f"/v1/fortunes/{request_id}", headers=bob).status_code == 404
        assert client.delete(f"/v1/fortunes/{request_id}", headers=bob).status_code == 404
        # Also when the status comes from MongoDB (no Redis entry).
        redis.Redis.from_url(settings.core.redis_url).delete(cache_key(request_id))
        assert client.get(f"/v1/fortunes/{request_id}", headers=bob).status_code == 404
        mine = client.get(f"/v1/fortunes/{request_id}", headers=alice)
        assert mine.status_code == 200 and mine.get_json()["status"] == "queued"
        assert "client" not in mine.get_json()
        assert client.delete(f"/v1/fortunes/{request_id}", headers=alice).status_code == 202


def test_error_bodies_carry_no_backend_details(
    settings: ApiSettings, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = ("hunter2", "s3cretpw", "127.0.0.1:1", "Error", "refused")
    broken = replace(
        settings,
        core=replace(
            settings.core,
            rabbitmq_url="amqp://cfuser:hunter2@127.0.0.1:1/%2F",
            redis_url="redis://:s3cretpw@127.0.0.1:1/0",
        ),
    )
    with api_client(broken) as client:
        response = client.post("/v1/fortunes", json=BODY, headers={"X-Request-Id": "trace-42"})
        assert response.status_code == 503
        text = response.get_data(as_text=True)
        assert not any(secret in text for secret in secrets), text
        error = response.get_json()["error"]
        assert error["backend"] == "redis" and error["traceId"] == "trace-42"
        assert response.headers["X-Request-Id"] == "trace-42"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert not any(secret in ready.get_data(as_text=True) for secret in secrets)
        assert ready.get_json()["checks"]["rabbitmq"] == "unavailable"
    # The details are in the log, under the same trace id.
    logged = [r for r in caplog.records if getattr(r, "trace_id", None) == "trace-42"]
    assert any("Redis" in r.getMessage() and "Error" in r.getMessage() for r in logged)


def test_moving_window_rate_limit(redis_server: Any) -> None:
    """A client over its limit is refused until its oldest call leaves the window."""
    from fortune_api.rate_limits import RateLimiter
    from localservices.supervisor import wait_for

    client = redis.Redis.from_url(redis_server.redis_url)
    hour = RateLimiter(client, window_seconds=3600)  # long enough that no call leaves it here
    who = uuid.uuid4().hex
    assert [hour.check("t", who, 2).allowed for _ in range(3)] == [True, True, False]
    refused = hour.check("t", who, 2)
    assert not refused.allowed and 1 <= refused.retry_after <= 3600
    assert hour.check("t", "someone-else", 2).allowed  # another client, another bucket
    assert hour.check("other-scope", who, 2).allowed  # another scope, another bucket
    second = RateLimiter(client, window_seconds=1)
    assert second.check("t", who, 1).allowed
    second.check("t", who, 1)  # refused unless a second has already passed
    wait_for(lambda: second.check("t", who, 1).allowed, 30, "the window to move on")
    client.close()


def test_long_polls_share_a_subscriber_connection(redis_server: RedisServer) -> None:
    """Each long poll subscribes on a connection kept from the one before (a new connection per
    poll cost more than the poll), and wakes for its own request only."""
    redis_client = redis.Redis.from_url(redis_server.redis_url)
    cache = StatusCache(redis_client, 3600, idle_subscribers=1)
    other = redis.Redis.from_url(redis_server.redis_url)  # the writer's own connection
    writer = StatusCache(other, 3600)
    now = dt.datetime.now(dt.UTC)

    def view(request_id: str, status: Status, version: int) -> RequestView:
        return RequestView(request_id, status, version, "c", 0, "", {"topic": "love"}, now, now)

    first, second = new_request_id(), new_request_id()
    writer.put(view(first, Status.QUEUED, 1))
    writer.put(view(second, Status.QUEUED, 1))
    redis_client.ping()
    connections = redis_client.info("stats")["total_connections_received"]
    waited = cache.wait_until(first, lambda v: not v.active, 0.2)
    assert waited is not None and waited.status == Status.QUEUED  # nothing changed: timed out

    def finish_second() -> None:
        wait_for(lambda: other.pubsub_numsub(cache_key(second))[0][1] == 1, 30,
                 "the second poll's subscription")  # fmt: skip
        writer.put(view(first, Status.RUNNING, 2))  # a notice for the first poll's key: not ours
        writer.put(view(second, Status.SUCCEEDED, 2))

    finisher = threading.Thread(target=finish_second)
    finisher.start()
    waited = cache.wait_until(second, lambda v: not v.active, 30)
    finisher.join()
    assert waited is not None and waited.status == Status.SUCCEEDED
    assert redis_client.info("stats")["total_connections_received"] == connections + 1
    assert redis_client.pubsub_numsub(cache_key(first), cache_key(second)) == [
        (cache_key(first).encode(), 0),
        (cache_key(second).encode(), 0),
    ]
    cache.close()
    redis_client.close()
    other.close()
