"""WeChat login, device sessions and the identity every per-client rule keys on, against the
real backends and the fake WeChat server (no worker runs here)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from api_testing import IDENTITY_KEY, api_client, api_settings, finish, login, with_wechat
from fakes.fake_wechat import FakeWeChat
from flask.testing import FlaskClient

from fortune_api.identity import user_identity
from fortune_api.settings import ApiSettings
from fortune_core.budgets import TokenBudgets
from fortune_core.records import FortuneRecord
from fortune_core.settings import BudgetSettings
from fortune_core.status_cache import cache_key

pytestmark = pytest.mark.integration

BODY: dict[str, Any] = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "career",
    "language": "en",
}


@pytest.fixture
def settings(rabbitmq: Any, redis_server: Any, mongodb: Any, wechat: FakeWeChat) -> ApiSettings:
    return with_wechat(api_settings(rabbitmq, redis_server, mongodb, "ses"), wechat)


@pytest.fixture
def client(settings: ApiSettings) -> Iterator[FlaskClient]:
    with api_client(settings) as test_client:
        yield test_client


def test_login_exchanges_the_code_once_and_the_session_is_trusted(
    client: FlaskClient, wechat: FakeWeChat
) -> None:
    code = wechat.login_code("o-alice")
    answer = client.post("/v1/sessions/wechat", json={"code": code})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    auth = {"Authorization": "Bearer " + answer.get_json()["token"]}
    assert wechat.stats()["exchangesByCode"] == {code: 1}

    started = client.post("/v1/fortunes", json=BODY, headers=auth)
    assert started.status_code == 202
    assert client.get(started.headers["Location"], headers=auth).status_code == 200

    again = client.post("/v1/sessions/wechat", json={"code": code})  # a code works once
    assert again.status_code == 401
    assert again.get_json()["error"]["code"] == "invalid_code"
    unknown = client.post("/v1/sessions/wechat", json={"code": "never-issued"})
    assert unknown.status_code == 401
    assert wechat.stats()["exchanges"] == 3  # one exchange per login attempt, no retries


@pytest.mark.parametrize(
    "body",
    [{}, {"code": ""}, {"code": 12}, {"code": "a b"}, {"code": "x" * 129}, []],
)
def test_a_malformed_code_is_422_naming_the_field(
    client: FlaskClient, wechat: FakeWeChat, body: Any
) -> None:
    answer = client.post("/v1/sessions/wechat", json=body)
    assert answer.status_code == 422
    assert set(answer.get_json()["error"]["fields"]) <= {"code", "body"}
    assert wechat.stats()["exchanges"] == 0


def test_wechat_trouble_is_a_clear_answer(client: FlaskClient, wechat: FakeWeChat) -> None:
    wechat.configure(outage=True)
    down = client.post("/v1/sessions/wechat", json={"code": wechat.login_code("o-a")})
    assert down.status_code == 503
    assert down.get_json()["error"]["code"] == "wechat_unavailable"
    assert down.headers["Retry-After"]
    wechat.configure(outage=False, rate_limited=True)
    limited = client.post("/v1/sessions/wechat", json={"code": wechat.login_code("o-a")})
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "wechat_rate_limited"


def test_wechat_unreachable_is_503(settings: ApiSettings) -> None:
    unreachable = replace(settings, wechat=replace(settings.wechat, api_base="http://127.0.0.1:1"))
    with api_client(unreachable) as client:
        answer = client.post("/v1/sessions/wechat", json={"code": "abc"})
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "wechat_unavailable"


def test_without_wechat_or_session_keys_the_routes_say_so(
    rabbitmq: Any, redis_server: Any, mongodb: Any
) -> None:
    plain = api_settings(rabbitmq, redis_server, mongodb, "ses")
    with api_client(plain) as client:
        answer = client.post("/v1/sessions/wechat", json={"code": "abc"})
        assert answer.status_code == 404
        assert answer.get_json()["error"]["code"] == "sessions_off"
        assert client.post("/v1/sessions/device").status_code == 404
        forged = {"Authorization": "Bearer cfs1.e30.AAAA"}
        refused = client.post("/v1/fortunes", json=BODY, headers=forged)
        assert refused.status_code == 401


def test_a_forged_tampered_or_unknown_key_session_is_401(
    client: FlaskClient, wechat: FakeWeChat
) -> None:
    token = login(client, wechat, "o-alice")["Authorization"].split(" ", 1)[1]
    head, claims, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for bad in (f"{head}.{claims}.{flipped}", f"{head}.{claims[:-3]}.{signature}", "cfs1.x.y"):
        answer = client.get("/v1/fortunes", headers={"Authorization": "Bearer " + bad})
        assert answer.status_code == 401
        assert answer.get_json()["error"]["code"] == "invalid_session"


def test_refresh_keeps_the_identity_and_rotation_keeps_old_tokens(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    with api_client(settings) as client:
        auth = login(client, wechat, "o-alice")
        started = client.post("/v1/fortunes", json=BODY, headers=auth)
        refreshed = client.post("/v1/sessions/refresh", headers=auth)
        assert refreshed.status_code == 200
        new_auth = {"Authorization": "Bearer " + refreshed.get_json()["token"]}
        assert client.get(started.headers["Location"], headers=new_auth).status_code == 200
        assert client.post("/v1/sessions/refresh").status_code == 401
    rotated = replace(settings, session_keys=(("k2", b"a-newer-session-key-0123456789abcd"),
                                             *settings.session_keys))  # fmt: skip
    with api_client(rotated) as client:
        # a token of the old key still verifies; new ones are signed with the new key
        assert client.get(started.headers["Location"], headers=auth).status_code == 200
        renewed = client.post("/v1/sessions/refresh", headers=auth).get_json()["token"]
        claims = json.loads(_b64decode(renewed.split(".")[1]))
        assert claims["kid"] == "k2"
    retired = replace(settings, session_keys=(("k2", b"a-newer-session-key-0123456789abcd"),))
    with api_client(retired) as client:
        assert client.get(started.headers["Location"], headers=auth).status_code == 401


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_device_sessions_are_anonymous_and_rate_limited_per_address(
    settings: ApiSettings,
) -> None:
    with api_client(replace(settings, session_rate_limit_per_minute=2)) as client:
        first = client.post("/v1/sessions/device")
        second = client.post("/v1/sessions/device")
        assert first.status_code == second.status_code == 200
        assert first.get_json()["kind"] == "device"
        third = client.post("/v1/sessions/device")
        assert third.status_code == 429
        assert third.headers["Retry-After"]
        a = {"Authorization": "Bearer " + first.get_json()["token"]}
        b = {"Authorization": "Bearer " + second.get_json()["token"]}
        started = client.post("/v1/fortunes", json=BODY, headers=a)
        assert client.get(started.headers["Location"], headers=a).status_code == 200
        assert client.get(started.headers["Location"], headers=b).status_code == 404
    with api_client(replace(settings, device_sessions=False)) as client:
        assert client.post("/v1/sessions/device").status_code == 403


def test_two_users_behind_one_address_are_two_clients_one_user_on_two_phones_is_one(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    """Every request of this test comes from the same address (the test client's)."""
    with api_client(replace(settings, rate_limit_per_minute=2)) as client:
        alice = login(client, wechat, "o-alice")
        bob = login(client, wechat, "o-bob")
        alice_phone2 = login(client, wechat, "o-alice")  # a second device: a new wx.login

        # separate rate limits: Alice's third start is refused, Bob's first is not
        key = {"Idempotency-Key": "same-key"}
        a1 = client.post("/v1/fortunes", json=BODY, headers={**alice, **key})
        b1 = client.post("/v1/fortunes", json=BODY, headers={**bob, **key})
        assert a1.status_code == b1.status_code == 202
        # separate Idempotency-Key scopes: the same key is two requests
        assert a1.get_json()["id"] != b1.get_json()["id"]
        # one user on two phones: the second phone replays the first's key
        replay = client.post("/v1/fortunes", json=BODY, headers={**alice_phone2, **key})
        assert replay.get_json()["id"] == a1.get_json()["id"]
        assert replay.headers["Idempotent-Replayed"] == "true"
        limited = client.post("/v1/fortunes", json=BODY, headers=alice_phone2)
        assert limited.status_code == 429  # Alice's two phones share her limit
        assert client.post("/v1/fortunes", json=BODY, headers=bob).status_code == 202

        # ownership: Bob and an anonymous caller get 404 for Alice's request, her phones 200
        location = a1.headers["Location"]
        assert client.get(location, headers=alice_phone2).status_code == 200
        assert client.get(location, headers=bob).status_code == 404
        assert client.get(location).status_code == 404
        eve = login(client, wechat, "o-eve")  # (Bob has used up his limit)
        assert client.delete(location, headers=eve).status_code == 404
        assert client.get(location, headers=alice).get_json()["status"] == "queued"  # untouched

        # separate histories; one history on both of Alice's phones
        def history(auth: dict[str, str]) -> list[str]:
            answer = client.get("/v1/fortunes", headers=auth)
            assert answer.status_code == 200
            return [item["id"] for item in answer.get_json()["items"]]

        assert history(alice) == history(alice_phone2) == [a1.get_json()["id"]]
        assert len(history(bob)) == 2 and a1.get_json()["id"] not in history(bob)
        assert client.get("/v1/fortunes").status_code == 401  # the address has no history


def test_with_api_keys_a_session_is_accepted_beside_them(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    keyed = replace(settings, api_keys={"s3cret": "partner"})
    with api_client(keyed) as client:
        assert client.post("/v1/fortunes", json=BODY).status_code == 401
        auth = login(client, wechat, "o-alice")  # no key needed to log in
        assert client.post("/v1/fortunes", json=BODY, headers=auth).status_code == 202
        partner = {"Authorization": "Bearer s3cret"}
        assert client.post("/v1/fortunes", json=BODY, headers=partner).status_code == 202


def test_the_openid_and_session_key_appear_in_no_log_metric_record_or_cache(
    settings: ApiSettings, wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    openid = "o-secret-openid-4f1c9a"
    caplog.set_level(logging.DEBUG)
    with api_client(settings) as client:
        auth = login(client, wechat, openid)
        started = client.post("/v1/fortunes", json=BODY, headers=auth)
        client.get(started.headers["Location"], headers=auth)
        client.post("/v1/sessions/wechat", json={"code": "wrong"})  # a refused login logs too
        metrics = client.get("/metrics").get_data(as_text=True)
        request_id = started.get_json()["id"]
        record = FortuneRecord._get_collection().find_one({"_id": request_id})
    session_keys = wechat.stats()["sessionKeys"]
    assert len(session_keys) == 1
    cached = redis.Redis.from_url(settings.core.redis_url).hgetall(cache_key(request_id))
    places = {
        "logs": "\n".join(
            r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records
        ),
        "metrics": metrics,
        "record": json.dumps(record, default=str),
        "cache": json.dumps({k.decode(): v.decode() for k, v in cached.items()}),
    }
    assert record is not None and record["client"].startswith("user:")
    for place, text in places.items():
        assert openid not in text, place
        assert session_keys[0] not in text, place
        assert "sessionKeys" not in text, place
    assert "WeChat login" in places["logs"]  # the log was captured at all


def test_history_pages_newest_first_and_deletes_for_good(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    with api_client(settings) as client:
        auth = login(client, wechat, "o-carol")
        ids = [client.post("/v1/fortunes", json=BODY, headers=auth).get_json()["id"]
               for _ in range(5)]  # fmt: skip
        first = client.get("/v1/fortunes?limit=2", headers=auth).get_json()
        assert [item["id"] for item in first["items"]] == ids[::-1][:2]
        assert first["items"][0]["topic"] == "career" and first["items"][0]["status"] == "queued"
        second = client.get(f"/v1/fortunes?limit=2&cursor={first['next']}", headers=auth)
        third = client.get(
            f"/v1/fortunes?limit=2&cursor={second.get_json()['next']}", headers=auth
        ).get_json()
        assert [item["id"] for item in second.get_json()["items"]] == ids[::-1][2:4]
        assert [item["id"] for item in third["items"]] == ids[:1] and third["next"] is None
        for bad in ("limit=0", "limit=51", "limit=x", "cursor=nope"):
            answer = client.get(f"/v1/fortunes?{bad}", headers=auth)
            assert answer.status_code == 422
            assert set(answer.get_json()["error"]["fields"]) <= {"limit", "cursor"}

        finish(settings, ids[0], {"summary": "a fine day", "scores": {"overall": 80}})
        finished = client.get(f"/v1/fortunes/{ids[0]}", headers=auth).get_json()
        assert finished["status"] == "succeeded"
        item = client.get("/v1/fortunes", headers=auth).get_json()["items"][-1]
        assert item["summary"] == "a fine day" and item["overall"] == 80
        assert client.delete(f"/v1/fortunes/{ids[0]}", headers=auth).status_code == 204
        assert FortuneRecord.objects(id=ids[0]).first() is None
        assert client.get(f"/v1/fortunes/{ids[0]}", headers=auth).status_code == 404

        deleted = client.delete("/v1/fortunes", headers=auth)  # "delete my data"
        assert deleted.status_code == 200
        assert deleted.get_json() == {"deleted": 4, "more": False}
        assert client.get("/v1/fortunes", headers=auth).get_json() == {"items": [], "next": None}
        store = redis.Redis.from_url(settings.core.redis_url)
        for request_id in ids:
            assert FortuneRecord.objects(id=request_id).first() is None
            assert not store.exists(cache_key(request_id))
        assert client.delete("/v1/fortunes").status_code == 401


def test_two_users_behind_one_address_have_separate_budgets(
    settings: ApiSettings, wechat: FakeWeChat
) -> None:
    """The per-client daily token budgets (fortune_core.budgets) key on the same identity."""
    budgeted = replace(settings, budgets=BudgetSettings(daily_token_budget=100))
    with api_client(budgeted) as client:
        alice, bob = login(client, wechat, "o-alice"), login(client, wechat, "o-bob")
        alice_phone2 = login(client, wechat, "o-alice")
        identity = user_identity(IDENTITY_KEY, wechat.app_id, "o-alice")
        store = redis.Redis.from_url(settings.core.redis_url)
        TokenBudgets(store, budgeted.budgets).reserve(identity, 100).settle(100)  # Alice's day
        for auth in (alice, alice_phone2):
            refused = client.post("/v1/fortunes", json=BODY, headers=auth)
            assert refused.status_code == 429
            assert refused.get_json()["error"]["code"] == "budget_exhausted"
        assert client.post("/v1/fortunes", json=BODY, headers=bob).status_code == 202
