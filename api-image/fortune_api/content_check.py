"""The content security check of the name, the only free text a user writes (a share poster
shows it to others, which WeChat requires to pass its `msgSecCheck`).

When the WeChat app is configured and `FORTUNE_WECHAT_CONTENT_CHECK` is on, a request with a
`profile.name` is checked before it is accepted:

- WeChat says `pass`: accepted;
- WeChat says `risky` or `review`: 422 naming `profile.name` (nothing is accepted);
- the check cannot be made (WeChat unreachable or failing, or the caller is no WeChat login: the
  check needs the openid of a user who logged in) — `FORTUNE_WECHAT_CONTENT_CHECK_UNAVAILABLE`
  decides: `allow` (the default: accepted, counted in `cyberfortune_content_checks_total
  {outcome="unavailable"}`) or `refuse` (503 `content_check_unavailable` when WeChat failed; 422
  naming `profile.name` for a caller who is no WeChat login, since retrying cannot help).

Without the WeChat app nothing is checked.
"""

from __future__ import annotations

import logging

import redis
from flask import current_app, g

from fortune_api.backends import Backends
from fortune_api.errors import ApiError, log_extra
from fortune_api.identity import USER_PREFIX
from fortune_api.metrics import CONTENT_CHECKS
from fortune_api.wechat import wechat_of
from fortune_core import FortuneRequest, WeChatError, openid_of

log = logging.getLogger(__name__)


def _refused(en: str, zh: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        "the request has invalid fields; see fields for each one",
        fields={"profile.name": {"en": en, "zh": zh}},
    )


def screen_name(fortune: FortuneRequest) -> None:
    """Check the request's name with WeChat (see the module doc); raises the refusal."""
    name = (fortune.profile.name or "").strip()
    backends: Backends = current_app.extensions["cyberfortune"]
    settings = backends.settings
    client = wechat_of(current_app)
    if not name or client is None or not settings.content_check:
        return
    refuse = settings.content_check_unavailable == "refuse"
    caller: str = g.client_id
    try:
        openid = openid_of(backends.redis, caller) if caller.startswith(USER_PREFIX) else None
    except redis.RedisError:
        openid = None
    if openid is None:
        CONTENT_CHECKS.labels("unavailable").inc()
        if refuse:
            raise _refused(
                "a name is allowed only after a WeChat login (it must pass WeChat's content "
                "check): leave it out or log in",
                "登录微信后才能填写称呼（需通过微信内容安全检测）：请留空或先登录",
            )
        return
    try:
        verdict = client.check_text(name, openid)
    except WeChatError as exc:
        CONTENT_CHECKS.labels("unavailable").inc()
        log.warning("content check unavailable: %s", exc.message, extra=log_extra())
        if refuse:
            raise ApiError(
                503,
                "content_check_unavailable",
                "the name cannot be checked right now; retry shortly or leave it out",
                headers={"Retry-After": "5"},
            ) from None
        return
    if not verdict.passed:
        CONTENT_CHECKS.labels("refused").inc()
        raise _refused(
            "WeChat's content check refused this name: choose another",
            "该称呼未通过微信内容安全检测，请换一个",
        )
    CONTENT_CHECKS.labels("pass").inc()
