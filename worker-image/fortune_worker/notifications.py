""" "Your reading is ready": the one-time WeChat subscribe message, sent when a reading finishes.

The mini-program asks the user (`wx.requestSubscribeMessage`) and, when the user accepts, tells
the API (`POST /v1/fortunes/{id}/subscription`), which records the identity under
`cf:notify:<id>`. When this worker finishes the request (stored or failed), the lifecycle tells
the `Notifier` (`on_finished`), which only puts the request on a bounded in-memory queue: the
reading is never delayed by WeChat. One thread sends: it takes the key (GETDEL, so one message per
reading however many workers or retries there are), finds the openid behind the identity
(`cf:wxuser:<identity>`), and calls `subscribeMessage.send` with the access token (cached in Redis,
fetched again when stale), retrying WeChat's busy answers and network failures with backoff.
Every outcome is counted in `cyberfortune_subscribe_messages_total{outcome}`: `sent`, `failed`
(given up after the retries, or refused by WeChat), `no_openid` (the login lapsed), `dropped`
(the queue was full) and `unavailable` (Redis was down).

A worker killed between taking the key and sending loses that one message (at most once, as
WeChat's one-time subscription is itself).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import redis
from prometheus_client import CollectorRegistry, Counter

from fortune_core import (
    RequestView,
    Status,
    WeChatClient,
    WeChatError,
    WeChatSettings,
    jittered,
    openid_of,
    take_notification,
)

log = logging.getLogger(__name__)

#: Where the message opens the mini-program (the result page, with the request id).
RESULT_PAGE = "pages/result/index"
#: A `thing` value of a template holds at most 20 characters.
THING_LENGTH = 20
STATUS_TEXT = {
    Status.SUCCEEDED: {"zh-CN": "已完成", "en": "Ready"},
    Status.FAILED: {"zh-CN": "未完成", "en": "Failed"},
}
TOPIC_TEXT = {
    "overall": "综合运势",
    "career": "事业运势",
    "love": "感情运势",
    "wealth": "财富运势",
    "health": "健康运势",
    "study": "学业运势",
}


def message_data(view: RequestView) -> dict[str, str]:
    """The template values: `thing1` what was read, `phrase2` its status, `time3` when."""
    request = view.request or {}
    language = "en" if request.get("language") == "en" else "zh-CN"
    topic = str(request.get("topic") or "overall")
    summary = str((view.result or {}).get("summary") or "")
    finished = (view.completed_at or view.updated_at).strftime("%Y-%m-%d %H:%M")
    what = summary or TOPIC_TEXT.get(topic, topic)
    return {
        "thing1": what[:THING_LENGTH],
        "phrase2": STATUS_TEXT.get(view.status, STATUS_TEXT[Status.FAILED])[language],
        "time3": finished,
    }


class Notifier:
    """Sends the subscribe messages of finished readings from one background thread."""

    def __init__(
        self,
        wechat: WeChatClient,
        client: redis.Redis,
        template_id: str,
        registry: CollectorRegistry,
        *,
        attempts: int = 4,
        base_delay: float = 1.0,
        queue_size: int = 1000,
        state: str = "formal",
    ) -> None:
        self._wechat = wechat
        self._redis = client
        self._template = template_id
        self._attempts = attempts
        self._base_delay = base_delay
        self._state = state
        self._queue: queue.Queue[RequestView] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.messages = Counter(
            "cyberfortune_subscribe_messages_total",
            "Subscribe messages of finished readings by outcome (sent, failed, no_openid, "
            "dropped, unavailable)",
            ["outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "cyberfortune_subscribe_message_retries_total",
            "Subscribe message sends retried (WeChat busy or unreachable)",
            registry=registry,
        )

    def finished(self, view: RequestView) -> None:
        """A reading finished: queue its message (never blocks; a full queue drops it)."""
        try:
            self._queue.put_nowait(view)
        except queue.Full:
            self.messages.labels("dropped").inc()
            log.warning("subscribe message queue full: dropped", extra={"request_id": view.id})

    def start(self) -> Notifier:
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued (for up to `timeout` seconds), then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                view = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                self.send(view)
            except Exception:  # a bug must not end the thread
                log.exception("subscribe message failed", extra={"request_id": view.id})

    def send(self, view: RequestView, wait: Callable[[float], object] | None = None) -> str:
        """Send the message of `view` if someone asked for it; the outcome counted (or
        `nobody` when no one asked)."""
        extra = {"request_id": view.id}
        try:
            identity = take_notification(self._redis, view.id)
            openid = openid_of(self._redis, identity) if identity else None
        except redis.RedisError as exc:
            log.warning("subscribe message: Redis unavailable: %r", exc, extra=extra)
            return self._count("unavailable")
        if identity is None:
            return "nobody"
        if openid is None:
            return self._count("no_openid")
        pause = wait or self._stop.wait
        data = message_data(view)
        for attempt in range(1, self._attempts + 1):
            try:
                self._wechat.send_subscribe_message(
                    openid, self._template, f"{RESULT_PAGE}?id={view.id}", data, self._state
                )
            except WeChatError as exc:
                if exc.kind != "unavailable" or attempt == self._attempts:
                    log.warning("subscribe message not sent: %s", exc.message, extra=extra)
                    return self._count("failed")
                self.retries.inc()
                pause(jittered(attempt, self._base_delay, 60.0))
                continue
            log.info("subscribe message sent", extra=extra)
            return self._count("sent")
        return self._count("failed")  # pragma: no cover (the loop returns)

    def _count(self, outcome: str) -> str:
        self.messages.labels(outcome).inc()
        return outcome


def notifier_for(
    wechat: WeChatSettings, client: redis.Redis, registry: CollectorRegistry
) -> Notifier | None:
    """The notifier of the configured WeChat app and template (None: no subscribe messages)."""
    if not (wechat.configured and wechat.subscribe_template_id):
        return None
    return Notifier(
        WeChatClient(
            wechat.api_base,
            wechat.app_id,
            wechat.app_secret,
            redis_client=client,
            timeout=wechat.timeout_seconds,
        ),
        client,
        wechat.subscribe_template_id,
        registry,
    )
