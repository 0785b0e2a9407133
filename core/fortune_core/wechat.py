"""The WeChat server API, the parts a mini-program backend needs: the login code exchange
(`/sns/jscode2session`), the access token (`/cgi-bin/token`, cached in Redis for every process),
the content security check (`/wxa/msg_sec_check`, version 2) and the one-time subscribe message
(`/cgi-bin/message/subscribe/send`).

WeChat answers HTTP 200 with an `errcode` for most failures; this module turns every answer into
a value or one `WeChatError` whose `kind` says what the caller can do about it:

- `invalid`: the input was refused (a wrong or used login code: 40029, 40163; a bad template);
- `rate_limited`: WeChat's frequency limit (45011);
- `refused`: a user WeChat will not serve (a high-risk account: 40226);
- `unavailable`: WeChat is busy (-1), unreachable, slow or answered something unreadable.

Nothing here logs a response body: the code exchange answers an openid and a `session_key`, which
never reach a log line (the callers keep only a keyed hash of the openid and drop the key).
The WeChat app secret is sent only in query strings to `base_url` (https in production).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, cast

import redis

#: errcodes of a login code WeChat does not take (invalid, already used).
INVALID_CODE = frozenset({40029, 40163, 40013, 41008})
#: errcodes of an access token that must be fetched again (invalid, expired, not the latest).
STALE_TOKEN = frozenset({40001, 42001, 40014})
RATE_LIMITED = frozenset({45011, 45009})
RISKY_USER = frozenset({40226})
BUSY = frozenset({-1})
#: Seconds before its stated expiry that a cached access token is fetched again.
TOKEN_MARGIN_SECONDS = 300
TOKEN_KEY = "cf:wechat:token:"


class WeChatError(Exception):
    """A failed WeChat call: `kind` (invalid, rate_limited, refused, unavailable), `errcode`
    (WeChat's, or 0 when there was no usable answer) and a message safe to log."""

    def __init__(self, kind: str, errcode: int, message: str) -> None:
        super().__init__(f"WeChat {kind} ({errcode}): {message}")
        self.kind = kind
        self.errcode = errcode
        self.message = message


@dataclass(frozen=True)
class CodeSession:
    """What `jscode2session` answers. `session_key` is dropped by the callers (nothing in this
    project decrypts user data); it is here only because WeChat sends it."""

    openid: str
    session_key: str = ""
    unionid: str = ""

    def __repr__(self) -> str:  # never print the openid or the key
        return "CodeSession(<redacted>)"


@dataclass(frozen=True)
class ContentVerdict:
    """`msg_sec_check`'s answer: `suggest` is pass, review or risky; `label` its category."""

    suggest: str
    label: int = 0

    @property
    def passed(self) -> bool:
        return self.suggest == "pass"


class WeChatClient:
    """Calls to the WeChat server API of one mini-program (`app_id`, `app_secret`).

    `redis_client` caches the access token for every process (one fetch per expiry, not one per
    process); without it the token is cached in this process only."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        *,
        redis_client: redis.Redis | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self._redis = redis_client
        self._timeout = timeout
        self._lock = threading.Lock()
        self._local_token: tuple[str, float] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self._secret)

    # --- HTTP ------------------------------------------------------------------------------------
    def _call(
        self, path: str, query: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(query)}"
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        call = urllib.request.Request(url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(call, timeout=self._timeout) as response:
                raw = response.read(64 * 1024)
        except urllib.error.HTTPError as exc:
            raise WeChatError("unavailable", 0, f"HTTP {exc.code} from {path}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise WeChatError(
                "unavailable", 0, f"{path} unreachable: {type(exc).__name__}"
            ) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise WeChatError("unavailable", 0, f"{path} answered something not JSON") from None
        if not isinstance(answer, dict):
            raise WeChatError("unavailable", 0, f"{path} answered something not an object")
        return cast(dict[str, Any], answer)

    @staticmethod
    def _raise_for(answer: dict[str, Any], path: str) -> None:
        try:
            errcode = int(answer.get("errcode") or 0)
        except (TypeError, ValueError):
            errcode = -1
        if errcode == 0:
            return
        message = f"{path} errcode {errcode}"
        if errcode in INVALID_CODE:
            raise WeChatError("invalid", errcode, message)
        if errcode in RATE_LIMITED:
            raise WeChatError("rate_limited", errcode, message)
        if errcode in RISKY_USER:
            raise WeChatError("refused", errcode, message)
        if errcode in STALE_TOKEN:
            raise WeChatError("stale_token", errcode, message)
        if errcode in BUSY:
            raise WeChatError("unavailable", errcode, message)
        raise WeChatError("invalid", errcode, message)

    # --- login -----------------------------------------------------------------------------------
    def code_to_session(self, code: str) -> CodeSession:
        """Exchange a `wx.login` code (once: WeChat refuses a code used before)."""
        path = "/sns/jscode2session"
        answer = self._call(
            path,
            {
                "appid": self.app_id,
                "secret": self._secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        self._raise_for(answer, path)
        openid = answer.get("openid")
        if not isinstance(openid, str) or not openid:
            raise WeChatError("unavailable", 0, f"{path} answered no openid")
        return CodeSession(
            openid=openid,
            session_key=str(answer.get("session_key") or ""),
            unionid=str(answer.get("unionid") or ""),
        )

    # --- the access token ------------------------------------------------------------------------
    def _token_key(self) -> str:
        return TOKEN_KEY + self.app_id

    def access_token(self, refresh: bool = False) -> str:
        """The app's access token: the cached one, or a new one when there is none, it is about
        to expire, or `refresh` (WeChat said the cached one is stale)."""
        now = time.time()
        if not refresh:
            cached = self._cached_token(now)
            if cached:
                return cached
        with self._lock:
            if not refresh:
                cached = self._cached_token(time.time())
                if cached:
                    return cached
            path = "/cgi-bin/token"
            answer = self._call(
                path,
                {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret},
            )
            self._raise_for(answer, path)
            token = answer.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatError("unavailable", 0, f"{path} answered no access_token")
            try:
                lifetime = int(answer.get("expires_in") or 7200)
            except (TypeError, ValueError):
                lifetime = 7200
            keep = max(60, lifetime - TOKEN_MARGIN_SECONDS)
            self._local_token = (token, time.time() + keep)
            if self._redis is not None:
                with contextlib.suppress(redis.RedisError):  # this process keeps its own copy
                    self._redis.set(self._token_key(), token, ex=keep)
            return token

    def _cached_token(self, now: float) -> str:
        if self._redis is not None:
            try:
                raw = self._redis.get(self._token_key())
            except redis.RedisError:
                raw = None
            if raw:
                return raw.decode() if isinstance(raw, bytes) else str(raw)
        if self._local_token is not None and self._local_token[1] > now:
            return self._local_token[0]
        return ""

    def _with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` with the access token; once more with a new token when it was stale."""
        for refresh in (False, True):
            answer = self._call(path, {"access_token": self.access_token(refresh)}, body)
            try:
                self._raise_for(answer, path)
            except WeChatError as exc:
                if exc.kind == "stale_token" and not refresh:
                    continue
                if exc.kind == "stale_token":
                    raise WeChatError("unavailable", exc.errcode, exc.message) from None
                raise
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    # --- content security ------------------------------------------------------------------------
    def check_text(self, content: str, openid: str, scene: int = 1) -> ContentVerdict:
        """`msg_sec_check` v2 for text a user wrote (scene 1: a profile field)."""
        path = "/wxa/msg_sec_check"
        answer = self._with_token(
            path, {"content": content, "version": 2, "scene": scene, "openid": openid}
        )
        result = answer.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("suggest"), str):
            raise WeChatError("unavailable", 0, f"{path} answered no result")
        try:
            label = int(result.get("label") or 0)
        except (TypeError, ValueError):
            label = 0
        return ContentVerdict(str(result["suggest"]), label)

    # --- subscribe messages ----------------------------------------------------------------------
    def send_subscribe_message(
        self,
        openid: str,
        template_id: str,
        page: str,
        data: dict[str, str],
        state: str = "formal",
        lang: str = "zh_CN",
    ) -> None:
        """Send a one-time subscribe message; `data` maps template keys to values."""
        self._with_token(
            "/cgi-bin/message/subscribe/send",
            {
                "touser": openid,
                "template_id": template_id,
                "page": page,
                "data": {key: {"value": value} for key, value in data.items()},
                "miniprogram_state": state,
                "lang": lang,
            },
        )


# --- who an identity is, for WeChat ------------------------------------------------------------
#: `cf:wxuser:<identity>` → the openid behind a logged-in identity, for the calls WeChat wants it
#: in (msgSecCheck, subscribe messages). It lives as long as the login can be refreshed and is
#: the only place the openid is kept: records, logs, metrics and FortuneRequests hold the
#: identity (a keyed hash) only.
OPENID_KEY = "cf:wxuser:"


def remember_openid(client: redis.Redis, identity: str, openid: str, ttl_seconds: int) -> None:
    """Keep the openid of `identity` for `ttl_seconds`. Raises redis.RedisError."""
    client.set(OPENID_KEY + identity, openid, ex=ttl_seconds)


def openid_of(client: redis.Redis, identity: str) -> str | None:
    """The openid behind `identity` (None: not a WeChat login, or it lapsed)."""
    raw = client.get(OPENID_KEY + identity)
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def forget_openid(client: redis.Redis, identity: str) -> None:
    """Forget the openid of `identity` ("delete my data")."""
    client.delete(OPENID_KEY + identity)


# --- "your reading is ready": who asked for a subscribe message --------------------------------
#: `cf:notify:<request id>` → the identity that accepted a one-time subscribe message for the
#: request; one key per request, expiring with the request's retention, taken (GETDEL) once by
#: the worker that finishes it, so at most one message is sent per reading.
NOTIFY_KEY = "cf:notify:"


def notification_key(request_id: str) -> str:
    return NOTIFY_KEY + request_id


def ask_to_notify(client: redis.Redis, request_id: str, identity: str, ttl_seconds: int) -> None:
    """Record that `identity` wants a subscribe message when `request_id` finishes."""
    client.set(notification_key(request_id), identity, ex=max(1, ttl_seconds))


def take_notification(client: redis.Redis, request_id: str) -> str | None:
    """The identity to notify of `request_id`, removed as it is read (None: nobody asked)."""
    raw = client.getdel(notification_key(request_id))
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)
