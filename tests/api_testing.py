"""The Flask API on the real backing services, for the integration tests that call it in-process."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import redis
from flask.testing import FlaskClient

from fortune_api.app import create_app
from fortune_api.backends import Backends
from fortune_api.settings import ApiSettings
from fortune_core.lifecycle import Claim, Lifecycle, message_of
from fortune_core.queue import Publisher
from fortune_core.records import disconnect_records, get_record
from fortune_core.settings import CoreSettings, WeChatSettings
from fortune_core.status_cache import StatusCache

#: Session and identity keys of the tests (at least 32 characters each).
SESSION_KEYS = (("k1", b"session-key-one-for-tests-0123456789"),)
IDENTITY_KEY = b"identity-key-for-the-tests-0123456789"


def api_settings(rabbitmq: Any, redis_server: Any, mongodb: Any, prefix: str) -> ApiSettings:
    """Settings pointing at the real services, with a fresh database and pool (named after
    `prefix`) and an empty Redis; rate limits off."""
    unique = uuid.uuid4().hex[:10]
    core = CoreSettings(
        rabbitmq_url=rabbitmq.amqp_url,
        rabbitmq_management_url=rabbitmq.management_url,
        redis_url=redis_server.redis_url,
        mongodb_uri=f"{mongodb.mongodb_uri}/{prefix}_{unique}",
        pool=f"{prefix[0]}{unique}",
    )
    redis.Redis.from_url(redis_server.redis_url).flushdb()
    return ApiSettings(core=core, rate_limit_per_minute=0, poll_rate_limit_per_minute=0)


@contextlib.contextmanager
def api_client(settings: ApiSettings) -> Iterator[FlaskClient]:
    """A test client of an app built on `settings`, its connections closed afterwards."""
    backends = Backends(settings)
    try:
        yield create_app(settings, backends).test_client()
    finally:
        backends.close()
        disconnect_records()


def with_wechat(settings: ApiSettings, fake: Any) -> ApiSettings:
    """`settings` with sessions on and the WeChat app pointed at the fake WeChat server."""
    return replace(
        settings,
        session_keys=SESSION_KEYS,
        identity_key=IDENTITY_KEY,
        wechat=WeChatSettings(
            api_base=fake.base_url, app_id=fake.app_id, app_secret=fake.app_secret
        ),
    )


def login(client: FlaskClient, wechat: Any, openid: str) -> dict[str, str]:
    """Log `openid` in as a phone does (wx.login, then the exchange): the auth header."""
    answer = client.post("/v1/sessions/wechat", json={"code": wechat.login_code(openid)})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["kind"] == "wechat" and body["expiresIn"] == 7200
    return {"Authorization": "Bearer " + body["token"]}


def finish(settings: ApiSettings, request_id: str, result: dict[str, Any]) -> None:
    """Finish a request as a worker does (the lifecycle's claim and store)."""
    lifecycle = Lifecycle(
        StatusCache.for_settings(redis.Redis.from_url(settings.core.redis_url), settings.core),
        Publisher(settings.core.rabbitmq_url),  # never used: nothing is published
        retention_seconds=settings.core.retention_seconds,
    )
    record = get_record(request_id)
    assert record is not None
    claim = lifecycle.claim(message_of(record), False, "test-worker")
    assert isinstance(claim, Claim)
    assert lifecycle.succeed(claim, result) is not None
