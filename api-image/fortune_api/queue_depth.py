"""Is the pool's queue full? Kubernetes mode only: there the API creates FortuneRequests and the
operator publishes, so the queue's bound (`FORTUNE_QUEUE_MAX_LENGTH`, reject-publish) would be
met by the operator, long after the client got its 202. The API asks RabbitMQ's management API
instead (a `monitoring` user that sees depths and can neither publish nor consume), at most once
per `ttl` seconds per pool, and answers 503 `queue_full` while the queue is at its bound, as it
does in standalone mode. When the management API cannot be reached it does not refuse: the
operator's publish still holds the bound (the FortuneRequest then waits, Pending).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

log = logging.getLogger(__name__)


class QueueDepth:
    """Ready messages of a pool's request queue, read from the management API and cached."""

    def __init__(self, management_url: str, ttl: float = 2.0, timeout: float = 2.0) -> None:
        parts = urllib.parse.urlsplit(management_url)
        self._base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._ttl = ttl
        self._timeout = timeout
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int | None]] = {}  # one entry per pool

    def ready(self, queue: str) -> int | None:
        """Ready messages of `queue` (None: unknown right now)."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(queue)
        if seen is not None and now - seen[0] < self._ttl:
            return seen[1]
        count = self._read(queue)
        with self._lock:
            self._seen[queue] = (now, count)
        return count

    def _read(self, queue: str) -> int | None:
        # No `columns=` filter: on a single queue RabbitMQ 3.10 then answers an empty list.
        url = f"{self._base}/api/queues/%2F/{urllib.parse.quote(queue, safe='')}"
        request = urllib.request.Request(url, headers={"Authorization": self._auth})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = json.loads(response.read())
            if not isinstance(body, dict):
                raise ValueError(f"not a queue: {str(body)[:80]}")
            return int(body.get("messages_ready") or 0)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # nobody declared it yet: empty
                return 0
            log.warning("queue depth of %s unknown: HTTP %s", queue, exc.code)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("queue depth of %s unknown: %s", queue, exc)
        return None
