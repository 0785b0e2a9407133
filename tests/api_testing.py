"""The Flask API on the real backing services, for the integration tests that call it in-process."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import redis
from flask.testing import FlaskClient

from fortune_api.app import create_app
from fortune_api.backends import Backends
from fortune_api.settings import ApiSettings
from fortune_core.records import disconnect_records
from fortune_core.settings import CoreSettings


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
