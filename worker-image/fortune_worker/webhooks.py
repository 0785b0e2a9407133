"""Webhook deliveries: a finished request POSTed to its `webhook` URL, signed per Standard
Webhooks, retried from the durable queue (`fortune_core.WebhookQueue`) for hours.

Each try sends the event body with

    webhook-id:        msg_<request id>_<status>   (the same on every try: receivers dedupe)
    webhook-timestamp: unix seconds of this try
    webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">

keyed with `FORTUNE_WEBHOOK_SECRET` (`whsec_` + base64 of the key, as Standard Webhooks
libraries take it). A 2xx answer delivers it; 410 stops it for good (`gone`); 429 is tried again
after its Retry-After (at most an hour); any other answer, a redirect (never followed), a
timeout or a connection error is tried again after a jittered, growing delay
(`RETRY_SCHEDULE`: about 27 hours in all), then the delivery is `failed`.

No SSRF hole: the target must be https, and every address its host resolves to must be public
(not private, loopback, link-local, multicast or reserved); the connection goes to the address
that was checked (a second lookup could answer differently), with the host name for TLS and
`Host`. `FORTUNE_WEBHOOK_ALLOW_PRIVATE=1` lifts both rules (tests, closed networks). A refused
target is `refused` at once, without a request.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import logging
import random
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from pymongo.errors import PyMongoError

from fortune_core import Delivery, WebhookQueue, jittered, system_clock
from fortune_worker.metrics import WorkerMetrics
from fortune_worker.retries import parse_retry_after

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
#: Seconds before each retry (the n-th retry waits about the n-th; jittered to 50-100 %).
RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_RETRY_AFTER = 3600.0
TIMEOUT_SECONDS = 10.0
LEASE_SECONDS = 60.0  # > TIMEOUT_SECONDS: a try is settled before its lease ends
USER_AGENT = "CyberFortune-Webhooks/1"


class TargetRefusedError(Exception):
    """The target may not receive webhooks (the reason is the message)."""


def parse_secret(secret: str) -> bytes:
    """The key of a `whsec_<base64>` secret; ValueError when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("FORTUNE_WEBHOOK_SECRET must be whsec_ followed by base64")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError as exc:
        raise ValueError("FORTUNE_WEBHOOK_SECRET must be whsec_ followed by base64") from exc
    if len(key) < 16:
        raise ValueError("FORTUNE_WEBHOOK_SECRET's key must be at least 16 bytes")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` of a message: `v1,` + base64 HMAC-SHA256 of id.timestamp.body."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Target:
    """Where a try connects: the URL's parts and the checked address."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def resolve_target(url: str, allow_private: bool) -> Target:
    """The target of `url`, its host resolved and checked; TargetRefusedError when it may not
    receive webhooks."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetRefusedError("not an http(s) URL")
    if parts.scheme != "https" and not allow_private:
        raise TargetRefusedError("plain http is refused: use https")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectionError(f"could not resolve {parts.hostname}: {exc}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise ConnectionError(f"{parts.hostname} has no address")
    if not allow_private:
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise TargetRefusedError(f"{parts.hostname} resolves to a non-public address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a checked address (the host name only in `Host`)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address, verified for the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout,
                         context=ssl.create_default_context())  # fmt: skip
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Answer:
    """What a try got: an HTTP status (and Retry-After), or an error."""

    status: int | None
    retry_after: float | None = None
    error: str = ""


def post(target: Target, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
    """POST `body` to `target` (redirects are answers, never followed)."""
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # the answer's body is not used: read a bounded part
        retry_after = parse_retry_after(dict(response.headers.items()))
        return Answer(response.status, retry_after)
    finally:
        connection.close()


@dataclass(frozen=True)
class Outcome:
    """How a try is settled: the delivery's state and, for a retry, when it is due again."""

    state: str
    due_in: float | None = None


def outcome_of(answer: Answer, attempts: int, rng: random.Random | None = None) -> Outcome:
    """What follows try number `attempts` that got `answer`."""
    if answer.status is not None and 200 <= answer.status < 300:
        return Outcome("delivered")
    if answer.status == 410:
        return Outcome("gone")
    if attempts > len(RETRY_SCHEDULE):
        return Outcome("failed")
    delay = jittered(1, RETRY_SCHEDULE[attempts - 1], RETRY_SCHEDULE[attempts - 1], rng)
    if answer.status == 429 and answer.retry_after is not None:
        delay = min(max(answer.retry_after, 0.0), MAX_RETRY_AFTER)
    return Outcome("pending", delay)


class WebhookSender:
    """Delivers due webhooks in `threads` threads until `stop` is set."""

    def __init__(
        self,
        queue: WebhookQueue,
        secret: str,
        *,
        allow_private: bool,
        metrics: WorkerMetrics,
        stop: threading.Event,
        threads: int = 2,
        poll_seconds: float = 1.0,
        clock: Callable[[], dt.datetime] = system_clock,
    ) -> None:
        self._queue = queue
        self._key = parse_secret(secret)
        self._allow_private = allow_private
        self._metrics = metrics
        self._stop = stop
        self._threads = threads
        self._poll = poll_seconds
        self._clock = clock
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(self._threads):
            thread = threading.Thread(target=self._run, name=f"webhooks-{n}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._workers:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivery = self._queue.claim(self._clock(), LEASE_SECONDS)
            except PyMongoError as exc:
                log.warning("webhook queue unavailable: %r", exc)
                self._stop.wait(self._poll * 5)
                continue
            if delivery is None:
                self._stop.wait(self._poll)
                continue
            self.deliver(delivery)

    def deliver(self, delivery: Delivery) -> str:
        """One try of `delivery`, settled; the state it is left in."""
        extra = {"request_id": delivery.request_id}
        try:
            target = resolve_target(delivery.url, self._allow_private)
        except TargetRefusedError as refused:
            log.warning("webhook target refused: %s", refused, extra=extra)
            return self._settle(delivery, Outcome("refused"), Answer(None, error=str(refused)))
        except ConnectionError as exc:
            answer = Answer(None, error=str(exc))
        else:
            answer = self._try(target, delivery)
        return self._settle(delivery, outcome_of(answer, delivery.attempts), answer)

    def _try(self, target: Target, delivery: Delivery) -> Answer:
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self._key, delivery.id, timestamp, delivery.body),
        }
        try:
            return post(target, headers, delivery.body, TIMEOUT_SECONDS)
        except (OSError, http.client.HTTPException) as exc:
            return Answer(None, error=f"{type(exc).__name__}: {exc}")

    def _settle(self, delivery: Delivery, outcome: Outcome, answer: Answer) -> str:
        now = self._clock()
        due = now + dt.timedelta(seconds=outcome.due_in) if outcome.due_in is not None else None
        try:
            self._queue.settle(delivery, outcome.state, now, due_at=due, status=answer.status,
                               error=answer.error)  # fmt: skip
        except PyMongoError as exc:  # the lease ends and the delivery is tried again
            log.warning("could not record the webhook try: %r", exc,
                        extra={"request_id": delivery.request_id})  # fmt: skip
        self._metrics.webhook_tries.labels(outcome.state).inc()
        log.info("webhook try %d: %s (%s)", delivery.attempts, outcome.state,
                 answer.status if answer.status is not None else answer.error,
                 extra={"request_id": delivery.request_id})  # fmt: skip
        return outcome.state
