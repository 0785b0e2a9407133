"""A fake OpenAI-compatible chat completions server, the one fake in the project (no LLM here).

`POST /v1/chat/completions` answers like the OpenAI API (JSON or SSE streaming), with a default
content that is valid `fortune_core.result.FortuneContent` JSON derived from the request messages.
It requires `Authorization: Bearer <key>` (401 otherwise) and honours `response_format`
(`json_object` requires the word "json" in the messages, `json_schema` requires a schema, as the
real API does).

Knobs, at start (`FakeLLM(latency=...)`, `--latency`) and at run time:

- `POST /_control` `{"latency": 0.5, "default": "ok", "retry_after": 1, "hold_seconds": 30,
  "usage": true,
  "scripts": {"<request id>": ["429", "500", "ok"]}, "mix": {"ok": 0.6, "429": 0.2, ...},
  "seed": 1}` — every key optional; `scripts` replaces the script of each id given (`[]` or
  `null` deletes it); `mix` (weights per outcome; `{}` turns it off) draws each unscripted call's
  outcome at random instead of `default`, from a generator seeded with `seed`; `"usage": false`
  leaves the usage out of answers (as some providers do). Answers the resulting settings.
- `GET /_stats` → `{"calls": {"<request id>": n}, "total": n}`; `GET /_requests` → every recorded
  call `{"requestId", "outcome", "body", "authorization"}`; `POST /_reset` → zero counters, drop
  scripts and recorded calls, restore the start settings.

The request id is the `X-Request-Id` header (calls without it count under `"(none)"`). Each call
for an id takes the next outcome of its script; when the script is used up (or there is none) the
`default` outcome applies. Outcomes: `ok`, `429` (with `Retry-After`), `500`, `timeout` (hold the
connection `hold_seconds`, then close it without an answer), `invalid_json` (content that is not
JSON), `wrong_schema` (JSON missing required fields). A script item may also be an object
`{"outcome": "429", "retryAfter": 3}`.

In process: `FakeLLM().start()` (free port, a thread), `.base_url` (ends in `/v1`), `.stop()`.
As a process: `python tests/fakes/fake_llm.py --port 8090 --latency 1.0`.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import re
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fortune_core.result import FortuneContent

OUTCOMES = ("ok", "429", "500", "timeout", "invalid_json", "wrong_schema")
NO_REQUEST_ID = "(none)"
DEFAULT_MODEL = "fake-gpt"
_DATA_BLOCK = re.compile(r"<fortune-data>\s*(\{.*\})\s*</fortune-data>", re.DOTALL)
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Settings:
    """What the fake does; changed through `/_control` or `FakeLLM.configure`."""

    latency: float = 0.0
    default: str = "ok"
    retry_after: float = 1.0
    hold_seconds: float = 30.0
    scripts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mix: dict[str, float] = field(default_factory=dict)
    usage: bool = True  # False: answers carry no usage (as some providers' do)

    def to_json(self) -> dict[str, Any]:
        """The settings as `/_control` answers them."""
        return {
            "latency": self.latency,
            "default": self.default,
            "retry_after": self.retry_after,
            "hold_seconds": self.hold_seconds,
            "scripts": copy.deepcopy(self.scripts),
            "mix": dict(self.mix),
            "usage": self.usage,
        }


def _outcome_item(item: Any) -> dict[str, Any]:
    """Normalise a script item ("429" or {"outcome": "429", "retryAfter": 3}); ValueError if bad."""
    entry = {"outcome": item} if isinstance(item, str) else dict(item)
    if entry.get("outcome") not in OUTCOMES:
        raise ValueError(f"unknown outcome {entry.get('outcome')!r}; one of {', '.join(OUTCOMES)}")
    return entry


class FakeState:
    """Thread-safe settings, per-request-id scripts and call records."""

    def __init__(self, settings: Settings) -> None:
        self._initial = copy.deepcopy(settings)
        self.settings = settings
        self.calls: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.released = threading.Event()  # set on stop/release: held calls answer now
        self.rng = random.Random(0)
        self.in_flight = 0  # chat completions being served right now (latency included)
        self.max_in_flight = 0

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a `/_control` body; the resulting settings. ValueError on a bad value."""
        known = {"latency", "default", "retry_after", "hold_seconds", "scripts", "mix", "seed",
                 "usage"}  # fmt: skip
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown control keys: {', '.join(sorted(unknown))}")
        with self.lock:
            new = copy.deepcopy(self.settings)
            for key in ("latency", "retry_after", "hold_seconds"):
                if key in changes:
                    value = float(changes[key])
                    if value < 0:
                        raise ValueError(f"{key} must be >= 0")
                    setattr(new, key, value)
            if "default" in changes:
                new.default = _outcome_item(changes["default"])["outcome"]
            if "mix" in changes:
                mix = {str(k): float(v) for k, v in (changes["mix"] or {}).items()}
                for outcome, weight in mix.items():
                    _outcome_item(outcome)
                    if weight < 0:
                        raise ValueError("mix weights must be >= 0")
                new.mix = mix
            new.usage = bool(changes.get("usage", new.usage))
            if "seed" in changes:
                self.rng.seed(changes["seed"])
            for request_id, script in (changes.get("scripts") or {}).items():
                if script:
                    new.scripts[str(request_id)] = [_outcome_item(item) for item in script]
                else:
                    new.scripts.pop(str(request_id), None)
            self.settings = new
            return new.to_json()

    def reset(self) -> None:
        """Zero the counters, drop scripts and recorded calls, restore the start settings."""
        with self.lock:
            self.settings = copy.deepcopy(self._initial)
            self.calls.clear()
            self.requests.clear()
            self.max_in_flight = self.in_flight
        self.released.clear()

    def next_call(self, request_id: str) -> tuple[dict[str, Any], float, float, float]:
        """Count a call; (its outcome entry, latency, retry_after, hold_seconds); the entry
        says `"usage": False` when the answer must carry no usage."""
        with self.lock:
            self.calls[request_id] = self.calls.get(request_id, 0) + 1
            script = self.settings.scripts.get(request_id)
            if script:
                entry = script.pop(0)
            elif self.settings.mix:
                outcomes, weights = zip(*self.settings.mix.items(), strict=True)
                entry = {"outcome": self.rng.choices(outcomes, weights)[0]}
            else:
                entry = {"outcome": self.settings.default}
            s = self.settings
            if not s.usage:
                entry = {**entry, "usage": False}
            return entry, s.latency, s.retry_after, s.hold_seconds

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def stats(self) -> dict[str, Any]:
        """`{"calls": {id: n}, "total": n, "inFlight": n, "maxConcurrent": n}`."""
        with self.lock:
            return {
                "calls": dict(self.calls),
                "total": sum(self.calls.values()),
                "inFlight": self.in_flight,
                "maxConcurrent": self.max_in_flight,
            }


# --- content -------------------------------------------------------------------------------------

_EN = {
    "colors": ["red", "gold", "green", "blue", "white", "purple", "black", "yellow"],
    "directions": ["east", "south", "west", "north", "southeast", "northwest"],
    "do": ["Start the task you have put off", "Call an old friend", "Take a walk at noon"],
    "avoid": ["Signing in a hurry", "Arguing over small things", "Late nights"],
}
_ZH = {
    "colors": ["红色", "金色", "绿色", "蓝色", "白色", "紫色", "黑色", "黄色"],
    "directions": ["东方", "南方", "西方", "北方", "东南", "西北"],
    "do": ["着手拖延已久的事", "联系老朋友", "午间散步"],
    "avoid": ["仓促签约", "为小事争执", "熬夜"],
}


def _request_facts(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The `asked` part of the prompt's data block, when the messages carry one."""
    for message in reversed(messages):
        content = message.get("content")
        if isinstance(content, str) and (match := _DATA_BLOCK.search(content)):
            try:
                asked = json.loads(match.group(1)).get("asked")
            except (ValueError, AttributeError):
                return {}
            return asked if isinstance(asked, dict) else {}
    return {}


def fortune_content(messages: list[dict[str, Any]]) -> FortuneContent:
    """A valid `FortuneContent` derived from the messages: different prompts, different readings."""
    text = json.dumps(messages, ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(text.encode()).digest()
    facts = _request_facts(messages)
    chinese = facts.get("language") == "zh-CN" or (not facts and bool(_CJK.search(text)))
    words = _ZH if chinese else _EN
    topic = str(facts.get("topic") or "overall")[:20]
    span = f" {facts.get('from', '')}–{facts.get('to', '')}" if facts else ""
    tag = digest.hex()[:8]
    scores = {
        key: 40 + digest[i] % 60
        for i, key in enumerate(("overall", "career", "love", "wealth", "health", "study"))
    }
    if chinese:
        summary = f"（测试读数 {tag}）{topic}{span} 运势平稳向好，宜稳中求进。"
        aspects = {
            k: f"{k} 方面：测试读数 {tag}，得分 {scores[k]}。" for k in scores if k != "overall"
        }
        narrative = f"这是假 LLM 生成的运势（{tag}），主题 {topic}{span}。"
    else:
        summary = f"(fake reading {tag}) {topic}{span}: a steady period that rewards patience."
        aspects = {
            k: f"{k.capitalize()}: fake reading {tag}, score {scores[k]}."
            for k in scores
            if k != "overall"
        }
        narrative = f"This fortune was written by the fake LLM ({tag}) for {topic}{span}."
    return FortuneContent.model_validate(
        {
            "summary": summary[:300],
            "scores": scores,
            "aspects": aspects,
            "lucky": {
                "color": words["colors"][digest[6] % len(words["colors"])],
                "number": digest[7] % 100,
                "direction": words["directions"][digest[8] % len(words["directions"])],
            },
            "advice": {"do": words["do"][:2], "avoid": words["avoid"][:2]},
            "text": narrative,
        }
    )


def answer_content(outcome: str, messages: list[dict[str, Any]]) -> str:
    """The assistant message content for an `ok`, `invalid_json` or `wrong_schema` outcome."""
    content = fortune_content(messages)
    if outcome == "invalid_json":
        return f"Here is your fortune: {content.summary} {{not json"
    if outcome == "wrong_schema":
        return json.dumps({"summary": content.summary, "scores": {"overall": 50}})
    return content.model_dump_json()


def count_tokens(text: str) -> int:
    """A rough token count (words and CJK characters), enough for a `usage` block."""
    return max(1, len(re.findall(r"[\u4e00-\u9fff]|\w+|[^\w\s]", text)))


# --- HTTP ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK (40 ms on Linux) on a keep-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # --- plumbing ------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(
        self,
        status: int,
        message: str,
        kind: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": kind, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    # --- routes --------------------------------------------------------------------------------
    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/_stats":
            self._send_json(200, state.stats())
        elif self.path == "/_requests":
            with state.lock:
                self._send_json(200, {"requests": list(state.requests)})
        elif self.path in ("/v1/models", "/models"):
            model = {"id": DEFAULT_MODEL, "object": "model", "created": 0, "owned_by": "fake"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"no route GET {self.path}", "invalid_request_error")

    def do_POST(self) -> None:
        raw = self._read_body()
        state = self.server.state
        if self.path == "/_reset":
            state.reset()
            self._send_json(200, {"ok": True})
            return
        if self.path == "/_control":
            try:
                self._send_json(200, state.configure(json.loads(raw or b"{}")))
            except (ValueError, TypeError, AttributeError) as error:
                self._send_json(400, {"error": str(error)})
            return
        if self.path in ("/v1/chat/completions", "/chat/completions"):
            self._chat_completions(raw)
            return
        self._send_error(404, f"no route POST {self.path}", "invalid_request_error")

    def _chat_completions(self, raw: bytes) -> None:
        self.server.state.enter()
        try:
            self._serve_chat(raw)
        finally:
            self.server.state.leave()

    def _serve_chat(self, raw: bytes) -> None:
        state = self.server.state
        request_id = self.headers.get("X-Request-Id") or NO_REQUEST_ID
        entry, latency, retry_after, hold = state.next_call(request_id)
        outcome = entry["outcome"]
        authorization = self.headers.get("Authorization") or ""
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError:
            body = {"_unparsed": raw.decode(errors="replace")}
        with state.lock:
            state.requests.append(
                {
                    "requestId": request_id,
                    "outcome": outcome,
                    "body": body,
                    "authorization": authorization,
                }
            )
        if not re.fullmatch(r"Bearer \S+", authorization):
            self._send_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                "invalid_api_key",
            )
            return
        problem = _invalid_request(body)
        if problem:
            self._send_error(400, problem, "invalid_request_error")
            return
        if outcome == "timeout":
            state.released.wait(hold)
            self.close_connection = True
            return
        if latency:
            state.released.wait(latency)
        if outcome == "429":
            seconds = float(entry.get("retryAfter", retry_after))
            self._send_error(
                429,
                "Rate limit reached for requests (fake). Please try again later.",
                "requests",
                "rate_limit_exceeded",
                {"Retry-After": f"{seconds:g}"},
            )
            return
        if outcome == "500":
            self._send_error(
                500,
                "The server had an error while processing your request (fake).",
                "server_error",
            )
            return
        messages = body["messages"]
        content = answer_content(outcome, messages)
        model = str(body.get("model") or DEFAULT_MODEL)
        usage = {
            "prompt_tokens": count_tokens(json.dumps(messages, ensure_ascii=False)),
            "completion_tokens": count_tokens(content),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not entry.get("usage", True):
            usage = {}
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(completion_id, model, content, usage if include_usage and usage else None)
            return
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                **({"usage": usage} if usage else {}),
            },
        )

    def _stream(
        self, completion_id: str, model: str, content: str, usage: dict[str, int] | None
    ) -> None:
        """Server-sent events, chunked: role, content pieces, finish, [usage], [DONE]."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        created = int(time.time())

        def chunk(choices: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
            event = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": choices,
                **(extra or {}),
            }
            self._write_chunk(f"data: {json.dumps(event, ensure_ascii=False)}\n\n")

        def delta(part: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": part, "logprobs": None, "finish_reason": finish}

        chunk([delta({"role": "assistant", "content": ""})])
        for start in range(0, len(content), 40):
            chunk([delta({"content": content[start : start + 40]})])
        chunk([delta({}, "stop")])
        if usage is not None:
            chunk([], {"usage": usage})
        self._write_chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _invalid_request(body: dict[str, Any]) -> str | None:
    """The 400 message the real API would give for this body, or None."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' is a required property and must be a non-empty array"
    if not body.get("model"):
        return "you must provide a model parameter"
    response_format = body.get("response_format") or {"type": "text"}
    kind = response_format.get("type")
    if kind == "json_object":
        text = json.dumps(messages, ensure_ascii=False).lower()
        if "json" not in text:
            return (
                "'messages' must contain the word 'json' in some form, to use 'response_format' "
                "of type 'json_object'."
            )
    elif kind == "json_schema":
        schema = response_format.get("json_schema") or {}
        if not schema.get("name") or not isinstance(schema.get("schema"), dict):
            return "Missing required parameter: 'response_format.json_schema' (name and schema)."
    elif kind != "text":
        return f"Invalid value for 'response_format.type': {kind!r}."
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: FakeState, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.verbose = verbose


class FakeLLM:
    """The fake server, in process: `start()` on a free port (a thread), `stop()`, `base_url`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        default: str = "ok",
        retry_after: float = 1.0,
        hold_seconds: float = 30.0,
        verbose: bool = False,
    ) -> None:
        settings = Settings(
            latency=latency, default=default, retry_after=retry_after, hold_seconds=hold_seconds
        )
        self.state = FakeState(settings)
        self._address = (host, port)
        self._verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """http://host:port (control endpoints live here)."""
        if self._server is None:
            raise RuntimeError("fake LLM is not started")
        return f"http://{self._address[0]}:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL: http://host:port/v1"""
        return f"{self.url}/v1"

    def start(self) -> FakeLLM:
        """Listen and serve in a daemon thread; returns self."""
        self.state.released.clear()
        self._server = _Server(self._address, self.state, self._verbose)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; connections held by `timeout` outcomes are released."""
        self.state.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def release(self) -> None:
        """Answer every call now: latency and `timeout` holds end until the next reset."""
        self.state.released.set()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Same as `POST /_control` with these keys."""
        return self.state.configure(changes)

    def script(self, request_id: str, *outcomes: str | dict[str, Any]) -> None:
        """The outcomes of the next calls for `request_id`, in order."""
        self.state.configure({"scripts": {request_id: list(outcomes)}})

    def calls(self, request_id: str) -> int:
        """How many calls arrived for `request_id`."""
        return int(self.state.stats()["calls"].get(request_id, 0))

    def stats(self) -> dict[str, Any]:
        """Same as `GET /_stats`."""
        return self.state.stats()

    def requests(self) -> list[dict[str, Any]]:
        """Same as `GET /_requests`: the recorded calls."""
        with self.state.lock:
            return list(self.state.requests)

    def reset(self) -> None:
        """Same as `POST /_reset`."""
        self.state.reset()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the fake as a process until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible chat completions server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument("--default", default="ok", choices=OUTCOMES, help="outcome of each call")
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--hold-seconds", type=float, default=30.0)
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    args = parser.parse_args(argv)
    fake = FakeLLM(
        args.host,
        args.port,
        latency=args.latency,
        default=args.default,
        retry_after=args.retry_after,
        hold_seconds=args.hold_seconds,
        verbose=args.verbose,
    ).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    print(f"fake-llm listening on {fake.base_url} (latency {args.latency}s)", flush=True)
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
