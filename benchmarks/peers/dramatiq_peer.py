"""Dramatiq 2 peer: RabbitMQ broker, Redis results backend, 8 worker threads.

Worker: `python -m dramatiq dramatiq_peer --processes 1 --threads 8` (cwd benchmarks/peers).
Environment: BENCH_RABBITMQ_URL, BENCH_REDIS_URL, BENCH_LLM_BASE_URL.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend
from llm_call import call_llm

QUEUE = "cfbench_dramatiq"

broker = RabbitmqBroker(url=os.environ["BENCH_RABBITMQ_URL"])
# redis-py 8 gives every socket a 5 s read timeout by default, which breaks the backend's
# blocking result wait (BRPOPLPUSH for longer than 5 s); wait as long as the caller asks.
results = RedisBackend(
    client=redis.Redis.from_url(os.environ["BENCH_REDIS_URL"], socket_timeout=None)
)
broker.add_middleware(Results(backend=results, result_ttl=3600 * 1000))
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=0)
def llm(payload: dict[str, Any]) -> str:
    return call_llm(payload)
