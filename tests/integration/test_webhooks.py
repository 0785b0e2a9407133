"""Signed webhooks: a finished request POSTed to its `webhook` URL from the durable queue (real
RabbitMQ, Redis, SecantusDB, a fake receiver), verified with the Standard Webhooks library."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.fake_llm import FakeLLM
from fakes.fake_webhook import FakeReceiver, Received
from standardwebhooks.webhooks import Webhook
from worker_testing import BODY, Stack, running_worker

from fortune_api.app import create_app
from fortune_api.backends import Backends
from fortune_api.settings import ApiSettings
from fortune_core.status import Status
from fortune_core.webhook_queue import WebhookQueue
from fortune_worker.settings import WorkerSettings
from localservices.supervisor import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
SECRET = "whsec_" + base64.b64encode(b"a test key of 32 bytes, no more!").decode()


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    with FakeReceiver() as fake:
        yield fake


def settings(
    stack: Stack, llm: FakeLLM | None = None, allow_private: bool = True
) -> WorkerSettings:
    core = dataclasses.replace(stack.core(), webhook_allow_private=allow_private)
    return stack.settings(llm, core=core, webhook_secret=SECRET)


def with_webhook(url: str) -> dict[str, Any]:
    return {**BODY, "webhook": url}


def received(receiver: FakeReceiver, count: int) -> list[Received]:
    return wait_for(
        lambda: list(receiver.received) if len(receiver.received) >= count else None,
        60,
        f"{count} webhook POSTs",
    )


def delivery(request_id: str, state: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        shown = WebhookQueue().state_of(request_id)
        return shown if shown is not None and shown["state"] == state else None

    return wait_for(reached, 60, f"the webhook of {request_id} to be {state}")


def verified(post: Received) -> dict[str, Any]:
    """The payload, as a Standard Webhooks receiver checks it (raises if the signature is bad)."""
    payload: dict[str, Any] = Webhook(SECRET).verify(post.body, post.headers)
    return payload


def test_a_finished_reading_is_posted_signed(
    stack: Stack, llm: FakeLLM, receiver: FakeReceiver
) -> None:
    with running_worker(settings(stack, llm)):
        request_id = stack.submit(with_webhook(receiver.url))
        record = stack.wait_status(request_id, Status.SUCCEEDED)
        [post] = received(receiver, 1)
        shown = delivery(request_id, "delivered")
    payload = verified(post)
    assert payload["type"] == "fortune.succeeded"
    assert payload["data"]["id"] == request_id and payload["data"]["status"] == "succeeded"
    assert payload["data"]["result"] == record.result
    assert post.headers["webhook-id"] == f"msg_{request_id}_succeeded"
    assert post.headers["Content-Type"] == "application/json"
    assert shown == {"state": "delivered", "attempts": 1, "lastStatus": 204}
    # A tampered body fails verification: the signature covers it.
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(SECRET).verify(post.body.replace(b"succeeded", b"failed"), post.headers)


def test_failures_are_retried_with_the_same_id_and_429_waits_for_retry_after(
    stack: Stack, receiver: FakeReceiver
) -> None:
    receiver.answer(500, (429, {"Retry-After": "1"}), 200)
    with running_worker(settings(stack)):
        request_id = stack.submit(with_webhook(receiver.url))
        posts = received(receiver, 3)
        shown = delivery(request_id, "delivered")
    assert {p.headers["webhook-id"] for p in posts} == {f"msg_{request_id}_succeeded"}
    payloads = [verified(p) for p in posts]  # each try signed afresh, with its own timestamp
    assert all(p == payloads[0] for p in payloads)
    assert shown["attempts"] == 3 and shown["lastStatus"] == 200


def test_410_stops_the_deliveries(stack: Stack, receiver: FakeReceiver) -> None:
    receiver.answer(410)
    with running_worker(settings(stack)):
        request_id = stack.submit(with_webhook(receiver.url))
        shown = delivery(request_id, "gone")
    assert len(receiver.received) == 1 and shown["lastStatus"] == 410


def test_a_cancelled_request_is_posted_too(stack: Stack, receiver: FakeReceiver) -> None:
    request_id = stack.submit(with_webhook(receiver.url))
    stack.cancel(request_id)  # no worker runs yet: the API's transition enqueues it
    with running_worker(settings(stack)):
        [post] = received(receiver, 1)
        delivery(request_id, "delivered")
    assert verified(post)["type"] == "fortune.cancelled"
    assert post.headers["webhook-id"] == f"msg_{request_id}_cancelled"


def test_private_and_plain_http_targets_are_refused_without_a_request(
    stack: Stack, receiver: FakeReceiver
) -> None:
    with running_worker(settings(stack, allow_private=False)):
        plain = stack.submit(with_webhook(receiver.url))  # http://127.0.0.1:<port>
        loopback = stack.submit(with_webhook(receiver.url.replace("http:", "https:")))
        refused = [delivery(request_id, "refused") for request_id in (plain, loopback)]
    assert receiver.received == []
    assert "plain http" in refused[0]["lastError"]
    assert "non-public" in refused[1]["lastError"]


def test_the_api_refuses_webhooks_it_may_not_call_and_shows_the_delivery(
    stack: Stack, receiver: FakeReceiver, llm: FakeLLM
) -> None:
    api = ApiSettings(core=stack.core(), rate_limit_per_minute=0, poll_rate_limit_per_minute=0)
    backends = Backends(api)
    try:
        client = create_app(api, backends).test_client()
        for url, reason in (
            ("http://example.com/hook", "https"),
            ("https://user:pw@example.com/hook", "http(s) URL"),
            ("ftp://example.com/hook", "http(s) URL"),
        ):
            answer = client.post("/v1/fortunes", json=with_webhook(url))
            assert answer.status_code == 422, url
            fields = answer.get_json()["error"]["fields"]
            assert set(fields) == {"webhook"}, fields
            assert reason in fields["webhook"]["en"], fields
        allowed = dataclasses.replace(
            api, core=dataclasses.replace(api.core, webhook_allow_private=True)
        )
        backends.close()
        backends = Backends(allowed)  # the app reads its settings from its backends
        client = create_app(allowed, backends).test_client()
        accepted = client.post("/v1/fortunes", json=with_webhook(receiver.url))
        assert accepted.status_code == 202
        request_id = accepted.get_json()["id"]
        with running_worker(settings(stack, llm)):
            delivery(request_id, "delivered")
        shown = client.get(f"/v1/fortunes/{request_id}").get_json()
        assert shown["request"]["webhook"] == receiver.url
        assert shown["webhook"] == {"state": "delivered", "attempts": 1, "lastStatus": 204}
        assert json.loads(receiver.received[0].body)["data"]["id"] == request_id
    finally:
        backends.close()
