"""A fake WeChat server API, for the tests (as the fake LLM stands in for an LLM endpoint).

It serves what the backend calls, with WeChat's own answer shapes (HTTP 200, `errcode`):

- `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code`: a code made by
  `/_login` (what `wx.login` gives a phone) answers its openid and a `session_key`, once; a code
  used before answers 40163, an unknown one 40029, a wrong app secret 40125;
- `GET /cgi-bin/token?grant_type=client_credential&appid&secret`: a new access token (each call
  makes a new one and invalidates the previous, as WeChat's stable token does not);
- `POST /wxa/msg_sec_check?access_token`: version 2; `risky` (label 20001) when the content holds
  one of the banned words, else `pass`; the openid must have logged in (else 40003);
- `POST /cgi-bin/message/subscribe/send?access_token`: records the message.

Control: `GET /_login?openid=<o>` → `{"code"}` (the stand-in for `wx.login`, also for the H5
build in the browser tier); `POST /_control` `{"outage": true, "rate_limited": true,
"fail_sends": 2, "banned": ["..."], "expire_token": true}` (every key optional); `GET /_stats` →
`{"exchanges", "exchangesByCode", "sessionKeys", "tokens", "checks", "sends", "messages"}`;
`POST /_reset`.
An invalid or stale access token answers 40001. Every answer allows CORS (the H5 stub).

In process: `FakeWeChat(app_id, app_secret).start()`, `.base_url`, `.stop()`. As a process:
`python tests/fakes/fake_wechat.py --port 8091 --app-id wx1 --app-secret s`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RISKY_LABEL = 20001


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.codes: dict[str, str] = {}  # code → openid
        self.used: set[str] = set()
        self.logged_in: set[str] = set()
        self.exchanges = 0
        self.exchanges_by_code: dict[str, int] = {}
        self.session_keys: list[str] = []
        self.token = ""
        self.tokens = 0
        self.checks: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.sends = 0
        self.outage = False
        self.rate_limited = False
        self.fail_sends = 0
        self.banned: list[str] = ["违禁词", "forbidden-word"]


class FakeWeChat:
    """The fake server in a thread."""

    def __init__(self, app_id: str = "wx-test-app", app_secret: str = "test-secret") -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = 0, host: str = "127.0.0.1") -> FakeWeChat:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- in-process control (the same as the HTTP control routes) --------------------------------
    def login_code(self, openid: str) -> str:
        """A fresh login code for `openid`, as `wx.login` gives one on the phone."""
        code = "0" + secrets.token_hex(15)
        with self.state.lock:
            self.state.codes[code] = openid
        return code

    def configure(self, **knobs: Any) -> None:
        with self.state.lock:
            _apply(self.state, knobs)

    def reset(self) -> None:
        with self.state.lock:
            self.state.reset()

    def stats(self) -> dict[str, Any]:
        with self.state.lock:
            return _stats(self.state)


def _apply(state: _State, knobs: dict[str, Any]) -> None:
    if "outage" in knobs:
        state.outage = bool(knobs["outage"])
    if "rate_limited" in knobs:
        state.rate_limited = bool(knobs["rate_limited"])
    if "fail_sends" in knobs:
        state.fail_sends = int(knobs["fail_sends"])
    if "banned" in knobs:
        state.banned = [str(word) for word in knobs["banned"]]
    if knobs.get("expire_token"):
        state.token = ""


def _stats(state: _State) -> dict[str, Any]:
    return {
        "exchanges": state.exchanges,
        "exchangesByCode": dict(state.exchanges_by_code),
        "sessionKeys": list(state.session_keys),
        "tokens": state.tokens,
        "checks": list(state.checks),
        "sends": state.sends,
        "messages": list(state.messages),
    }


class _Handler(BaseHTTPRequestHandler):
    owner: FakeWeChat
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def _query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        query = self._query()
        fake = self.owner
        state = fake.state
        if path == "/_login":
            self._answer({"code": fake.login_code(query.get("openid", "o-anonymous"))})
            return
        if path == "/_stats":
            self._answer(fake.stats())
            return
        with state.lock:
            if state.outage:
                self._answer({"errcode": -1, "errmsg": "system error"})
                return
            if path == "/sns/jscode2session":
                self._answer(self._exchange(query))
                return
            if path == "/cgi-bin/token":
                if query.get("appid") != fake.app_id or query.get("secret") != fake.app_secret:
                    self._answer({"errcode": 40125, "errmsg": "invalid appsecret"})
                    return
                state.tokens += 1
                state.token = f"token-{state.tokens}-{secrets.token_hex(4)}"
                self._answer({"access_token": state.token, "expires_in": 7200})
                return
        self._answer({"errcode": 404, "errmsg": "not found"}, 404)

    def _exchange(self, query: dict[str, str]) -> dict[str, Any]:
        fake = self.owner
        state = fake.state
        if query.get("appid") != fake.app_id or query.get("secret") != fake.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if state.rate_limited:
            return {"errcode": 45011, "errmsg": "api minute-quota reach limit"}
        code = query.get("js_code", "")
        state.exchanges += 1
        state.exchanges_by_code[code] = state.exchanges_by_code.get(code, 0) + 1
        if code in state.used:
            return {"errcode": 40163, "errmsg": "code been used"}
        openid = state.codes.get(code)
        if openid is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        state.used.add(code)
        state.logged_in.add(openid)
        session_key = "sk-" + secrets.token_hex(12)
        state.session_keys.append(session_key)
        return {"openid": openid, "session_key": session_key}

    def do_POST(self) -> None:  # noqa: PLR0911 (one answer per route)
        path = urllib.parse.urlsplit(self.path).path
        query = self._query()
        body = self._body()
        fake = self.owner
        state = fake.state
        if path == "/_control":
            fake.configure(**body)
            self._answer({"ok": True})
            return
        if path == "/_reset":
            fake.reset()
            self._answer({"ok": True})
            return
        with state.lock:
            if state.outage:
                self._answer({"errcode": -1, "errmsg": "system error"})
                return
            if not state.token or query.get("access_token") != state.token:
                self._answer({"errcode": 40001, "errmsg": "invalid credential"})
                return
            if path == "/wxa/msg_sec_check":
                self._answer(self._check(body))
                return
            if path == "/cgi-bin/message/subscribe/send":
                state.sends += 1
                if state.fail_sends > 0:
                    state.fail_sends -= 1
                    self._answer({"errcode": -1, "errmsg": "system error"})
                    return
                if body.get("touser") not in state.logged_in:
                    self._answer({"errcode": 40003, "errmsg": "invalid openid"})
                    return
                state.messages.append(body)
                self._answer({"errcode": 0, "errmsg": "ok"})
                return
        self._answer({"errcode": 404, "errmsg": "not found"}, 404)

    def _check(self, body: dict[str, Any]) -> dict[str, Any]:
        state = self.owner.state
        if body.get("version") != 2 or body.get("openid") not in state.logged_in:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        content = str(body.get("content", ""))
        state.checks.append({"content": content, "openid": body.get("openid")})
        risky = any(word in content for word in state.banned)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "result": {
                "suggest": "risky" if risky else "pass",
                "label": RISKY_LABEL if risky else 100,
            },
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--app-id", default="wx-test-app")
    parser.add_argument("--app-secret", default="test-secret")
    args = parser.parse_args(argv)
    fake = FakeWeChat(args.app_id, args.app_secret).start(args.port, args.host)
    print(f"fake WeChat on {fake.base_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
