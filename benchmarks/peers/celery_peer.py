"""Celery 5 peer: RabbitMQ broker, Redis result backend, thread pool of 8, acks_late, prefetch 1.

Worker: `python -m celery -A celery_peer worker -P threads -c 8` (cwd benchmarks/peers).
Environment: BENCH_RABBITMQ_URL, BENCH_REDIS_URL, BENCH_LLM_BASE_URL.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from llm_call import call_llm

QUEUE = "cfbench.celery"

app = Celery(
    "cfbench", broker=os.environ["BENCH_RABBITMQ_URL"], backend=os.environ["BENCH_REDIS_URL"]
)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    worker_concurrency=8,
    worker_pool="threads",
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="cfbench.llm")
def llm(payload: dict[str, Any]) -> str:
    return call_llm(payload)
