"""One scaling loop per worker pool: each Deployment labelled `cyberfortune.io/pool=<pool>`, unless
its `cyberfortune.io/scaled-by` label names another scaler (KEDA): such a Deployment still serves
its pool (pools.py), and its size is left alone.

The loop polls the pool's backlog, asks the pure policy (scaling.py) for the replica count and
patches the Deployment's `/scale` subresource when it changes, with an Event on the Deployment
saying why. The policy is read from the Deployment's annotations at every poll (they come with the
watch events), so an edited annotation takes effect at the next poll, without a restart.

The loops are asyncio tasks started and stopped from kopf's watch events of the Deployments, not
kopf daemons: a kopf daemon puts a finalizer on its object, which would block deleting a worker
Deployment (its namespace, a `helm uninstall`) whenever the operator is not running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from fortune_core import MERGE_PATCH, KubeClient
from fortune_operator import metrics
from fortune_operator.backlog import BacklogReader
from fortune_operator.events import EventPoster
from fortune_operator.scaling import (
    POOL_LABEL,
    SCALER_LABEL,
    Policy,
    Recommendation,
    decide,
    scaled_by_operator,
    seed_history,
)

log = logging.getLogger(__name__)


@dataclass
class PoolState:
    """What the loop of one Deployment keeps between polls."""

    body: dict[str, Any]
    history: tuple[Recommendation, ...]
    task: asyncio.Task[None] | None = None
    patched_to: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def pool(self) -> str:
        return str(self.body["metadata"]["labels"][POOL_LABEL])

    @property
    def replicas(self) -> int:
        return int((self.body.get("spec") or {}).get("replicas", 1))


class Autoscaler:
    """Owns the per-pool loops."""

    def __init__(self, kube: KubeClient, reader: BacklogReader, post_event: EventPoster) -> None:
        self.kube = kube
        self.reader = reader
        self.post_event = post_event
        self.pools: dict[tuple[str, str], PoolState] = {}
        #: pool name → how many watched Deployments serve it (read from reconcile threads)
        self.served: dict[str, int] = {}

    def observe(self, body: dict[str, Any]) -> None:
        """A labelled Deployment was listed, added or changed: count it as serving its pool, and
        run its loop unless something else scales it (its `cyberfortune.io/scaled-by` label)."""
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        state = self.pools.get(key)
        if state is None:
            state = PoolState(body=body, history=())
            self.pools[key] = state
            self.served[state.pool] = self.served.get(state.pool, 0) + 1
        else:
            before = state.pool
            state.body = body
            if state.pool != before:  # relabelled to serve another pool
                self._unserve(before)
                self.served[state.pool] = self.served.get(state.pool, 0) + 1
            if state.patched_to == state.replicas:
                state.patched_to = None  # the patch is visible now
        ours = scaled_by_operator(meta.get("labels") or {})
        if ours and state.task is None:
            # Seeded with the current size, so a loop never shrinks a pool at its start.
            state.history = seed_history(state.replicas, time.monotonic())
            state.patched_to = None
            state.task = asyncio.get_running_loop().create_task(self._run(key), name=f"pool {key}")
            log.info("scaling pool %s (deployment %s/%s)", state.pool, *key)
        elif not ours and state.task is not None:
            state.task.cancel()
            state.task = None
            scaler = (meta.get("labels") or {}).get(SCALER_LABEL)
            log.info("pool %s (deployment %s/%s) is scaled by %s", state.pool, *key, scaler)

    def forget(self, namespace: str, name: str) -> None:
        """The Deployment is gone: stop its loop."""
        state = self.pools.pop((namespace, name), None)
        if state is None:
            return
        self._unserve(state.pool)
        if state.task is not None:
            state.task.cancel()
            log.info("stopped scaling deployment %s/%s", namespace, name)

    def _unserve(self, pool: str) -> None:
        left = self.served.get(pool, 1) - 1
        if left > 0:
            self.served[pool] = left
        else:
            self.served.pop(pool, None)

    async def stop(self) -> None:
        """Stop every loop."""
        tasks = [s.task for s in self.pools.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.pools.clear()
        self.served.clear()

    async def _run(self, key: tuple[str, str]) -> None:
        loop = asyncio.get_running_loop()
        while key in self.pools:
            state = self.pools[key]
            annotations = state.body["metadata"].get("annotations") or {}
            policy, problems = Policy.from_annotations(annotations)
            if problems and problems != state.problems:
                self.post_event(state.body, "Warning", "InvalidScalingPolicy", "; ".join(problems))
            state.problems = problems
            try:
                await self._poll(loop, key, state, policy)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a backend or the API server is down: try again next poll
                metrics.POOL_ERRORS.labels(key[0], state.pool).inc()
                log.warning("pool %s: %r", state.pool, exc)
            await asyncio.sleep(policy.poll_seconds)

    async def _poll(
        self,
        loop: asyncio.AbstractEventLoop,
        key: tuple[str, str],
        state: PoolState,
        policy: Policy,
    ) -> None:
        namespace, name = key
        backlog = await loop.run_in_executor(None, self.reader.read, state.pool)
        current = state.patched_to if state.patched_to is not None else state.replicas
        decision = decide(backlog.total, current, policy, state.history, time.monotonic())
        state.history = decision.history
        labels = (namespace, state.pool)
        metrics.POOL_READY.labels(*labels).set(backlog.ready)
        metrics.POOL_IN_PROGRESS.labels(*labels).set(backlog.in_progress)
        metrics.POOL_BACKLOG.labels(*labels).set(backlog.total)
        metrics.POOL_CURRENT.labels(*labels).set(current)
        metrics.POOL_DESIRED.labels(*labels).set(decision.replicas)
        if not decision.changes(current):
            return
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"
        patch = {"spec": {"replicas": decision.replicas}}
        await loop.run_in_executor(None, self.kube.request, "PATCH", path, patch, MERGE_PATCH)
        state.patched_to = decision.replicas
        up = decision.replicas > current
        metrics.POOL_SCALINGS.labels(*labels, "up" if up else "down").inc()
        reason = "ScaledUp" if up else "ScaledDown"
        self.post_event(state.body, "Normal", reason, decision.reason)
        log.info("pool %s: %s", state.pool, decision.reason)
