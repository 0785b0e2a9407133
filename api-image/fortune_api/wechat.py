"""The API's WeChat client (one per app, shared by the login and the content check)."""

from __future__ import annotations

import redis
from flask import Flask

from fortune_api.settings import ApiSettings
from fortune_core import WeChatClient

WECHAT = "cyberfortune.wechat"


def wechat_client(settings: ApiSettings, client: redis.Redis) -> WeChatClient | None:
    """The WeChat client of the configured app (None without an AppID and secret); its access
    token is cached in Redis for every API process."""
    if not settings.wechat.configured:
        return None
    return WeChatClient(
        settings.wechat.api_base,
        settings.wechat.app_id,
        settings.wechat.app_secret,
        redis_client=client,
        timeout=settings.wechat.timeout_seconds,
    )


def wechat_of(app: Flask) -> WeChatClient | None:
    """The app's WeChat client (installed by `fortune_api.logins.install_sessions`)."""
    client: WeChatClient | None = app.extensions.get(WECHAT)
    return client
