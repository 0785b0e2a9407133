"""Streaming benchmark (not a test): event streams one API process holds, their memory, and how
soon the narrative reaches a client.

    .venv/bin/python benchmarks/streaming.py [--streams 1000] [--readings 40] [--write]

On the standalone stack (RabbitMQ, Redis, SecantusDB, the fake LLM as a process), with the API
under gunicorn's gevent worker, one worker process:

1. Concurrent streams: `--streams` clients open `GET /v1/fortunes/{id}/events` on queued
   requests (no worker consumes them) and hold them; counted are the streams that got their first
   event, the API worker process's RSS before and after (memory per stream), and whether the same
   process still answers a query meanwhile. Then the requests are cancelled and every stream must
   end with its `cancelled` status.
2. First token → first delta: `--readings` readings with the worker streaming from the fake LLM
   (the fake paces its pieces); for each, the delay from the moment the fake wrote the piece with
   the narrative's first character to the moment the client reads the first `delta` event, beside
   a client calling the fake LLM directly (the openai SDK, streaming): from the moment the fake
   wrote its first content piece to the moment the client read it. Same machine, wall clock.

Prints the docs section; --write replaces it in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import selectors
import socket
import time
from pathlib import Path
from typing import Any

from common import ROOT
from common.report import DocsSection, load_average, measured_on, percentile
from common.stack import Stack

from localservices.jsonhttp import http_json

SECTION = DocsSection(
    ROOT / "docs" / "benchmarks.md", "streaming-benchmark", "Streaming (`benchmarks/streaming.py`)"
)
BODY = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "overall",
    "language": "en",
}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"no VmRSS for {pid}")


def gunicorn_worker(master: int) -> int:
    """The one worker process of a gunicorn master."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


class RawStream:
    """An SSE request on a non-blocking socket (thousands of them in one client thread)."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        self.sock.setblocking(False)
        self.data = bytearray()
        self.closed = False

    def pump(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        if not chunk:
            self.closed = True
        self.data += chunk

    @property
    def statuses(self) -> list[str]:
        text = self.data.decode(errors="replace")
        found = []
        for frame in text.split("\n\n"):
            if "event: status" in frame:
                payload = frame.split("data: ", 1)[1].split("\r\n", 1)[0].split("\n", 1)[0]
                found.append(json.loads(payload)["status"])
        return found


def pump_until(streams: list[RawStream], done: Any, timeout: float, what: str) -> None:
    selector = selectors.DefaultSelector()
    for stream in streams:
        if not stream.closed:
            selector.register(stream.sock, selectors.EVENT_READ, stream)
    deadline = time.monotonic() + timeout
    try:
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            for key, _ in selector.select(0.5):
                stream = key.data
                stream.pump()
                if stream.closed:
                    selector.unregister(stream.sock)
    finally:
        selector.close()


def concurrent_streams(stack: Stack, count: int) -> dict[str, Any]:
    env = stack.env(
        FORTUNE_POOL="streams",
        FORTUNE_STREAM_SLOTS=str(count + 100),
        FORTUNE_API_WORKER_CONNECTIONS=str(count + 200),
    )
    api = stack.api(env, workers=1, log="streams-api.log")
    assert api.process is not None
    worker_pid = gunicorn_worker(api.process.pid)
    host, port = "127.0.0.1", int(api.url.rsplit(":", 1)[1])
    ids = []
    for _ in range(max(1, count // 20)):  # 20 streams per request
        status, body = http_json("POST", f"{api.url}/v1/fortunes", BODY)
        assert status == 202, body
        ids.append(body["id"])
    http_json("GET", f"{api.url}/v1/fortunes/{ids[0]}")  # warm the process up
    before = rss_kib(worker_pid)
    opened = time.monotonic()
    streams = [
        RawStream(host, port, f"/v1/fortunes/{ids[n % len(ids)]}/events") for n in range(count)
    ]
    pump_until(streams, lambda: all(s.statuses for s in streams), 300, "every stream's first event")
    all_open = time.monotonic() - opened
    after = rss_kib(worker_pid)
    started = time.monotonic()
    status, body = http_json("GET", f"{api.url}/v1/fortunes/{ids[0]}")
    query_ms = (time.monotonic() - started) * 1000
    assert status == 200 and body["status"] == "queued", body
    for request_id in ids:
        assert http_json("DELETE", f"{api.url}/v1/fortunes/{request_id}")[0] == 202
    pump_until(streams, lambda: all(s.closed for s in streams), 300, "every stream to end")
    ended = sum(1 for s in streams if s.statuses[-1:] == ["cancelled"])
    for stream in streams:
        stream.sock.close()
    api.stop()
    return {
        "streams": count,
        "held": sum(1 for s in streams if s.statuses),
        "ended": ended,
        "open_s": all_open,
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
        "per_stream_kib": (after - before) / count,
        "query_ms": query_ms,
    }


def first_delta(base: str, request_id: str) -> float:
    """Open the request's events; the wall time its first delta was read."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("GET", f"/v1/fortunes/{request_id}/events")
        response = connection.getresponse()
        event = ""
        while True:
            line = response.readline().decode()
            if not line:
                raise AssertionError("the stream ended without a delta")
            if line.startswith("event: "):
                event = line.removeprefix("event: ").strip()
            elif line.startswith("data: ") and event == "delta":
                return time.time()
    finally:
        connection.close()


def stream_delays(stack: Stack, readings: int, chunk_seconds: float) -> dict[str, list[float]]:
    stack.llm.control(chunk_seconds=chunk_seconds, chunk_chars=8)
    env = stack.env(FORTUNE_POOL="deltas")
    api = stack.api(env, workers=1, log="deltas-api.log")
    stack.worker(env, log="deltas-worker.log")
    through_api: list[float] = []
    for _ in range(readings):
        status, body = http_json("POST", f"{api.url}/v1/fortunes", BODY)
        assert status == 202, body
        read_at = first_delta(api.url, body["id"])
        through_api.append((read_at - _stamped(stack, body["id"], "firstTextAt")) * 1000)
    direct: list[float] = []
    import openai

    client = openai.OpenAI(base_url=stack.llm.base_url, api_key="bench", max_retries=0)
    messages = _requests(stack)[-1]["body"]["messages"]
    for n in range(readings):
        request_id = f"direct-{n}"
        stream = client.chat.completions.create(
            model="fake",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"X-Request-Id": request_id},
        )
        read_at = None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                read_at = read_at or time.time()
        assert read_at is not None
        direct.append((read_at - _stamped(stack, request_id, "firstContentAt")) * 1000)
    return {"api": through_api, "direct": direct}


def _stamped(stack: Stack, request_id: str, name: str) -> float:
    """When the fake LLM wrote the piece `name` of its (first) call for `request_id`."""
    call = next(r for r in _requests(stack) if r["requestId"] == request_id)
    return float(call["streamed"][name])


def _requests(stack: Stack) -> list[dict[str, Any]]:
    status, body = http_json("GET", f"{stack.llm.url}/_requests")
    assert status == 200
    return list(body["requests"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--readings", type=int, default=40)
    parser.add_argument("--chunk-seconds", type=float, default=0.02)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    # Each stream is a socket here and, in the API process (which inherits this limit), a socket
    # to the client and one to Redis: more than the usual soft limit of 1024 descriptors.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    before = load_average()
    with Stack("streaming") as stack:
        held = concurrent_streams(stack, args.streams)
        print(json.dumps(held), flush=True)
        delays = stream_delays(stack, args.readings, args.chunk_seconds)
    command = (
        f".venv/bin/python benchmarks/streaming.py --streams {args.streams} "
        f"--readings {args.readings} --write"
    )
    api, direct = delays["api"], delays["direct"]
    body = (
        f"{measured_on(command, (before, load_average()))} Standalone stack, the API under "
        "gunicorn's gevent worker (one process), one worker, the fake LLM as a process.\n\n"
        "| concurrent streams opened | held (first event read) | ended with `cancelled` | all "
        "open after | API process RSS before → after | memory per stream | a query meanwhile |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {held['streams']} | {held['held']} | {held['ended']} | {held['open_s']:.1f} s | "
        f"{held['rss_before_mib']:.0f} → {held['rss_after_mib']:.0f} MiB | "
        f"{held['per_stream_kib']:.0f} KiB | {held['query_ms']:.0f} ms |\n\n"
        f"First token to the client, {args.readings} readings one after another, the fake LLM "
        f"writing 8-character pieces {args.chunk_seconds * 1000:g} ms apart:\n\n"
        "| path | from | p50 | p99 |\n|---|---|---|---|\n"
        f"| through the system: fake LLM → worker → Redis Stream → API (SSE) → client | the "
        f"piece with the narrative's first character written | {percentile(api, 50):.1f} ms | "
        f"{percentile(api, 99):.1f} ms |\n"
        f"| the client calling the fake LLM directly (openai SDK, streaming) | the first content "
        f"piece written | {percentile(direct, 50):.1f} ms | {percentile(direct, 99):.1f} ms |\n"
    )
    print(SECTION.text(body))
    if args.write:
        SECTION.write(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
