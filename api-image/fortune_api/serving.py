"""gunicorn's configuration for the API (`gunicorn -c python:fortune_api.serving ...`).

The API is served by gunicorn's gevent worker: each connection is a greenlet, so an event stream
(`GET /v1/fortunes/{id}/events`, `fortune_api.events`) or a long poll waits on Redis without
holding an OS thread, and one process holds thousands of them. gevent patches the standard
library when the worker starts, before the app is imported: redis-py, pymongo and pika (its
`BlockingConnection` over patched sockets and `select`) then wait cooperatively; the integration
tests run every API call through this server.
"""

from __future__ import annotations

import os

worker_class = "gevent"
#: Connections (greenlets) one worker process holds at once: its streams, long polls and calls.
worker_connections = int(os.environ.get("FORTUNE_API_WORKER_CONNECTIONS", "2000"))
