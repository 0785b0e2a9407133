"""`python -m fortune_operator`: run the operator until SIGTERM.

Start-up: settings → JSON logs → /healthz, /readyz, /metrics → backends (MongoDB indexes, Redis,
RabbitMQ; waited for, bounded) → the Lease (standbys wait here) → kopf with our controller. A leader
that loses its Lease stops and exits 1 (the pod restarts as a standby); on SIGTERM it stops kopf,
releases the Lease and exits 0.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

import kopf
import redis
from pymongo.errors import PyMongoError

from fortune_core import (
    KubeClient,
    Lifecycle,
    StatusCache,
    configure_logging,
    connect_records,
    delays,
    ensure_indexes,
    ensure_ttl_index,
    publisher_for,
)
from fortune_operator import metrics
from fortune_operator.autoscaler import Autoscaler
from fortune_operator.backlog import BacklogReader
from fortune_operator.controller import Controller
from fortune_operator.events import event_poster
from fortune_operator.leader import LeaderElector
from fortune_operator.pools import pool_directory
from fortune_operator.reconcile import Reconciler
from fortune_operator.settings import OperatorSettings
from fortune_operator.sweeps import operator_sweep

log = logging.getLogger("fortune_operator")
BACKEND_WAIT_SECONDS = 60.0


def _prepare_mongodb(settings: OperatorSettings, stop: threading.Event) -> None:
    """Connect and make the indexes, waiting (bounded) for MongoDB to answer."""
    connect_records(settings.core.mongodb_uri, None)
    deadline = time.monotonic() + BACKEND_WAIT_SECONDS
    for delay in delays(0.5, 5.0):
        if stop.is_set():
            return
        try:
            ensure_ttl_index(settings.core.retention_seconds)
            ensure_indexes()
            return
        except PyMongoError as exc:
            if time.monotonic() > deadline:
                log.warning("MongoDB not ready (%s); starting anyway, reconciles will retry", exc)
                return
            stop.wait(delay)


def _build(settings: OperatorSettings, kube: KubeClient) -> tuple[Controller, Lifecycle]:
    """The controller and the lifecycle it drives."""
    redis_client = redis.Redis.from_url(
        settings.core.redis_url, socket_timeout=3, socket_connect_timeout=3
    )
    publisher = publisher_for(settings.core)
    lifecycle = Lifecycle(
        StatusCache.for_settings(redis_client, settings.core),
        publisher,
        retention_seconds=settings.core.retention_seconds,
        resources=kube,
        on_projection_failure=lambda name: metrics.PROJECTION_FAILURES.labels(name).inc(),
    )
    post_event = event_poster(kube, settings.identity)
    autoscaler = Autoscaler(kube, BacklogReader(settings.core.rabbitmq_url), post_event)
    reconciler = Reconciler(
        settings.core, lifecycle, post_event, pool_directory(settings, autoscaler, kube)
    )
    sweep = operator_sweep(settings, lifecycle, kube, publisher.ready_messages)
    return Controller(settings, lifecycle, kube, reconciler, autoscaler, sweep), lifecycle


def _run_kopf(
    settings: OperatorSettings,
    controller: Controller,
    lost: threading.Event,
    halt: list[Callable[[], None]],
) -> None:
    """Run kopf until SIGTERM (kopf handles it) or until `halt` is called (a lost Lease)."""

    async def run() -> None:
        # An asyncio flag: a threading.Event as kopf's stop flag would hold an executor thread,
        # and so the process's exit, until it is set.
        flag = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stop_soon() -> None:
            loop.call_soon_threadsafe(flag.set)

        halt.append(stop_soon)
        if lost.is_set():
            return
        await kopf.operator(
            registry=controller.registry(),
            standalone=True,
            clusterwide=settings.cluster_wide,
            namespaces=[] if settings.cluster_wide else list(settings.namespaces),
            stop_flag=flag,
        )

    asyncio.run(run())


def main() -> int:
    """Run the operator; the process exit status."""
    try:
        settings = OperatorSettings.from_env()
    except ValueError as exc:
        configure_logging("operator", "INFO")
        log.error("invalid configuration: %s", exc)
        return 2
    configure_logging("operator", settings.core.log_level)
    # kopf logs every handler call at INFO ("Handler ... succeeded"): one line per watch event.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: every thread's stack on stderr
    server, ready = metrics.serve(settings.port)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        kube = KubeClient.in_cluster()
    except RuntimeError as exc:  # started outside a pod: say so, not a traceback
        log.error("%s", exc)
        return 2
    own_namespace = KubeClient.own_namespace()
    settings = settings.in_namespace(own_namespace)
    _prepare_mongodb(settings, stop)
    controller, lifecycle = _build(settings, kube)
    ready.set()

    elector = LeaderElector(
        kube, own_namespace, settings.lease_name, settings.identity, settings.lease_seconds
    )
    lost = threading.Event()
    halt: list[Callable[[], None]] = []  # stops kopf from another thread, once it runs

    def on_lost() -> None:
        lost.set()
        stop.set()
        for stop_kopf in halt:
            stop_kopf()

    if settings.leader_election:
        if not elector.wait_for_leadership(stop):
            server.shutdown()
            return 0
        threading.Thread(
            target=elector.keep_renewing, args=(stop, on_lost), name="lease", daemon=True
        ).start()
    metrics.LEADER.set(1)
    log.info("operator running: namespaces %s", ",".join(settings.namespaces))
    try:
        _run_kopf(settings, controller, lost, halt)
    finally:
        metrics.LEADER.set(0)
        stop.set()
        if settings.leader_election and not lost.is_set():
            elector.release()
        lifecycle.publisher.close()
        server.shutdown()
    return 1 if lost.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
