"""The name's content check, share links and the "your reading is ready" subscribe message,
against the real backends, a real worker (in a thread) and the fake WeChat server."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import replace
from typing import Any

import pytest
import redis
from api_testing import api_client, api_settings, finish, login, with_wechat
from fakes.fake_wechat import FakeWeChat
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry
from worker_testing import running_worker

from fortune_api.settings import ApiSettings
from fortune_core.records import FortuneRecord, get_record
from fortune_core.status import Status
from fortune_core.views import RequestView
from fortune_core.wechat import WeChatClient, ask_to_notify, remember_openid
from fortune_worker.notifications import Notifier
from fortune_worker.settings import ProviderName, SweepMode, WorkerSettings
from localservices.supervisor import wait_for

pytestmark = pytest.mark.integration

TEMPLATE = "tmpl-reading-ready"
PROFILE = {
    "name": "李小龙",
    "birthDate": "1990-05-17",
    "birthTime": "08:30",
    "gender": "male",
    "timezone": "Asia/Shanghai",
    "longitude": 121.47,
}
BODY: dict[str, Any] = {"profile": PROFILE, "topic": "career", "language": "zh-CN"}


@pytest.fixture
def settings(rabbitmq: Any, redis_server: Any, mongodb: Any, wechat: FakeWeChat) -> ApiSettings:
    configured = with_wechat(api_settings(rabbitmq, redis_server, mongodb, "wx"), wechat)
    return replace(configured, wechat=replace(configured.wechat, subscribe_template_id=TEMPLATE))


def _with_name(name: str) -> dict[str, Any]:
    return {**BODY, "profile": {**PROFILE, "name": name}}


# --- content security --------------------------------------------------------------------------


def test_a_refused_name_is_422_naming_the_field(settings: ApiSettings, wechat: FakeWeChat) -> None:
    with api_client(settings) as client:
        auth = login(client, wechat, "o-dana")
        refused = client.post("/v1/fortunes", json=_with_name("违禁词"), headers=auth)
        assert refused.status_code == 422
        assert list(refused.get_json()["error"]["fields"]) == ["profile.name"]
        assert get_record_count(settings) == 0  # nothing accepted
        assert client.post("/v1/fortunes", json=BODY, headers=auth).status_code == 202
        unnamed = {**BODY, "profile": {k: v for k, v in PROFILE.items() if k != "name"}}
        assert client.post("/v1/fortunes", json=unnamed, headers=auth).status_code == 202
        metrics = client.get("/metrics").get_data(as_text=True)
    checks = wechat.stats()["checks"]
    assert [check["content"] for check in checks] == ["违禁词", PROFILE["name"]]  # none unnamed
    assert 'cyberfortune_content_checks_total{outcome="refused"}' in metrics


def get_record_count(settings: ApiSettings) -> int:
    return int(FortuneRecord.objects.count())


def test_a_check_that_cannot_be_made_degrades_as_configured(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    with api_client(settings) as client:  # allow (the default)
        auth = login(client, wechat, "o-erin")
        device = {
            "Authorization": "Bearer " + client.post("/v1/sessions/device").get_json()["token"]
        }
        wechat.configure(outage=True)
        assert client.post("/v1/fortunes", json=BODY, headers=auth).status_code == 202
        assert client.post("/v1/fortunes", json=BODY, headers=device).status_code == 202
        wechat.configure(outage=False)
    with api_client(replace(settings, content_check_unavailable="refuse")) as client:
        wechat.configure(outage=True)
        down = client.post("/v1/fortunes", json=BODY, headers=auth)
        assert down.status_code == 503
        assert down.get_json()["error"]["code"] == "content_check_unavailable"
        wechat.configure(outage=False)
        anonymous = client.post("/v1/fortunes", json=BODY, headers=device)
        assert anonymous.status_code == 422
        assert list(anonymous.get_json()["error"]["fields"]) == ["profile.name"]
        assert client.post("/v1/fortunes", json=BODY, headers=auth).status_code == 202
    with api_client(replace(settings, content_check=False)) as client:
        assert (
            client.post("/v1/fortunes", json=_with_name("违禁词"), headers=auth).status_code == 202
        )


def test_the_access_token_is_fetched_once_and_again_when_stale(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    with api_client(settings) as client:
        auth = login(client, wechat, "o-fay")
        for _ in range(3):
            assert client.post("/v1/fortunes", json=BODY, headers=auth).status_code == 202
        assert wechat.stats()["tokens"] == 1  # cached in Redis for every API process
        wechat.configure(expire_token=True)
        assert client.post("/v1/fortunes", json=BODY, headers=auth).status_code == 202
    assert wechat.stats()["tokens"] == 2
    assert len(wechat.stats()["checks"]) == 4


# --- shares ------------------------------------------------------------------------------------


def test_a_share_shows_no_personal_data_and_changes_nothing_for_its_recipient(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    with api_client(settings) as client:
        owner = login(client, wechat, "o-gus")
        recipient = login(client, wechat, "o-hana")
        request_id = client.post("/v1/fortunes", json=BODY, headers=owner).get_json()["id"]
        assert client.post(f"/v1/fortunes/{request_id}/share", headers=owner).status_code == 409
        finish(
            settings,
            request_id,
            {"summary": f"{PROFILE['name']}今日事业顺利", "text": f"{PROFILE['name']}宜静",
             "scores": {"overall": 88}, "provider": "almanac", "usage": {"totalTokens": 1}},
        )  # fmt: skip
        assert client.post(f"/v1/fortunes/{request_id}/share", headers=recipient).status_code == 404
        shared = client.post(f"/v1/fortunes/{request_id}/share", headers=owner)
        assert shared.status_code == 201
        link = shared.get_json()["links"]["public"]
        before = client.get("/v1/fortunes", headers=recipient).get_json()

        for auth in (recipient, {}):  # another user, or nobody at all
            opened = client.get(link, headers=auth)
            assert opened.status_code == 200
            text = opened.get_data(as_text=True)
            view = opened.get_json()
            assert view["result"]["summary"] == "TA今日事业顺利"
            assert view["result"]["scores"] == {"overall": 88}
            assert set(view["pillars"]) == {"year", "month", "day", "hour"}
            for secret in (PROFILE["name"], "1990", "08:30", "121.47", "Asia/Shanghai",
                           "birthDate", "usage", request_id):  # fmt: skip
                assert secret not in text
        assert client.get("/v1/fortunes", headers=recipient).get_json() == before
        assert client.get(f"/v1/fortunes/{request_id}", headers=recipient).status_code == 404

        record = get_record(request_id)
        token = shared.get_json()["token"]
        assert record is not None
        assert token not in json.dumps(record.to_mongo().to_dict(), default=str)
        assert (
            client.delete(f"/v1/fortunes/{request_id}/share", headers=recipient).status_code == 404
        )
        assert client.delete(f"/v1/fortunes/{request_id}/share", headers=owner).status_code == 204
        assert client.get(link).status_code == 404
        again = client.post(f"/v1/fortunes/{request_id}/share", headers=owner).get_json()
        assert client.delete(f"/v1/fortunes/{request_id}", headers=owner).status_code == 204
        assert client.get(again["links"]["public"]).status_code == 404  # gone with the request
        assert client.get("/v1/shared/not-a-token").status_code == 404


def test_a_reading_has_at_most_ten_share_tokens(settings: ApiSettings, wechat: FakeWeChat) -> None:
    with api_client(settings) as client:
        owner = login(client, wechat, "o-kim")
        request_id = client.post("/v1/fortunes", json=BODY, headers=owner).get_json()["id"]
        finish(settings, request_id, {"summary": "ok", "scores": {"overall": 60}})
        share = f"/v1/fortunes/{request_id}/share"
        tokens = [client.post(share, headers=owner).get_json()["token"] for _ in range(10)]
        assert len(set(tokens)) == 10
        refused = client.post(share, headers=owner)
        assert refused.status_code == 409
        assert refused.get_json()["error"]["code"] == "too_many_shares"
        assert all(client.get(f"/v1/shared/{token}").status_code == 200 for token in tokens)
        assert client.delete(share, headers=owner).status_code == 204
        assert client.post(share, headers=owner).status_code == 201  # room again


# --- "your reading is ready" -------------------------------------------------------------------


def _worker_settings(settings: ApiSettings) -> WorkerSettings:
    return WorkerSettings(
        core=settings.core,
        wechat=settings.wechat,
        worker_id=f"thread-{uuid.uuid4().hex[:6]}",
        provider=ProviderName.ALMANAC,
        metrics_port=0,
        sweep_mode=SweepMode.OFF,
        shutdown_grace_seconds=30.0,
    )


def _status(client: FlaskClient, request_id: str, auth: dict[str, str]) -> str:
    return str(client.get(f"/v1/fortunes/{request_id}", headers=auth).get_json()["status"])


def test_one_subscribe_message_per_finished_reading_that_asked_for_it(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    with api_client(settings) as client:
        auth = login(client, wechat, "o-ivy")
        asked = client.post("/v1/fortunes", json=BODY, headers=auth).get_json()["id"]
        not_asked = client.post("/v1/fortunes", json=BODY, headers=auth).get_json()["id"]
        subscribed = client.post(f"/v1/fortunes/{asked}/subscription", headers=auth)
        assert subscribed.status_code == 201
        device = {
            "Authorization": "Bearer " + client.post("/v1/sessions/device").get_json()["token"]
        }
        other = client.post("/v1/fortunes", json=BODY, headers=device).get_json()["id"]
        assert client.post(f"/v1/fortunes/{other}/subscription", headers=device).status_code == 403
        assert client.post(f"/v1/fortunes/{asked}/subscription", headers=device).status_code == 404

        with running_worker(_worker_settings(settings)) as worker:
            wait_for(lambda: _status(client, asked, auth) == "succeeded", 60, "the reading")
            wait_for(lambda: _status(client, not_asked, auth) == "succeeded", 60, "the other")
            wait_for(lambda: wechat.stats()["messages"], 30, "the subscribe message")
            assert worker.notifier is not None
            worker.notifier.stop()  # sends what is queued, then stops: nothing more can come
            registry = worker.metrics.registry
        late = client.post(f"/v1/fortunes/{asked}/subscription", headers=auth)
        assert late.status_code == 409
    [message] = wechat.stats()["messages"]
    assert message["touser"] == "o-ivy" and message["template_id"] == TEMPLATE
    assert message["page"] == f"pages/result/index?id={asked}"
    assert message["data"]["phrase2"] == {"value": "已完成"}
    assert (
        registry.get_sample_value("cyberfortune_subscribe_messages_total", {"outcome": "sent"})
        == 1.0
    )


def test_sends_are_retried_and_failures_counted_never_blocking(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    store = redis.Redis.from_url(settings.core.redis_url)
    login_openid(settings, wechat, "o-jo")  # an openid the fake WeChat server knows
    remember_openid(store, "user:jo", "o-jo", 600)
    notifier = Notifier(
        WeChatClient(wechat.base_url, wechat.app_id, wechat.app_secret, redis_client=store),
        store,
        TEMPLATE,
        registry := CollectorRegistry(),
        base_delay=0.01,
    )
    view = _finished_view("01JZ0000000000000000000001")
    ask_to_notify(store, view.id, "user:jo", 600)
    wechat.configure(fail_sends=2)
    pauses: list[float] = []
    assert notifier.send(view, wait=pauses.append) == "sent"
    assert len(pauses) == 2 and len(wechat.stats()["messages"]) == 1
    assert notifier.send(view) == "nobody"  # taken once: never a second message
    ask_to_notify(store, view.id, "user:jo", 600)
    wechat.configure(fail_sends=10)
    assert notifier.send(view, wait=pauses.append) == "failed"
    ask_to_notify(store, view.id, "user:nobody", 600)
    assert notifier.send(view) == "no_openid"
    sample = registry.get_sample_value
    assert sample("cyberfortune_subscribe_messages_total", {"outcome": "sent"}) == 1.0
    assert sample("cyberfortune_subscribe_messages_total", {"outcome": "failed"}) == 1.0
    assert sample("cyberfortune_subscribe_message_retries_total", {}) == 5.0


def login_openid(settings: ApiSettings, wechat: FakeWeChat, openid: str) -> None:
    """Make `openid` one the fake WeChat server knows (a login through the API)."""
    with api_client(settings) as client:
        login(client, wechat, openid)


def _finished_view(request_id: str) -> RequestView:
    now = dt.datetime.now(dt.UTC)
    return RequestView(
        id=request_id,
        status=Status.SUCCEEDED,
        version=3,
        client="user:jo",
        attempts=1,
        message="",
        request={"topic": "love", "language": "en"},
        result={"summary": "A warm day"},
        created_at=now,
        updated_at=now,
        completed_at=now,
    )
