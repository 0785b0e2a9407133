"""The worker's maintenance: in standalone mode (no operator) the stale sweep
(`fortune_core.sweep`) runs here, in one worker at a time.

Every `FORTUNE_SWEEP_SECONDS` each worker tries to hold the Redis lease `cf:lease:sweep` (valid
for three intervals): the holder renews it and sweeps, the others wait for the next interval. A
holder that dies stops renewing, so within three intervals another worker takes over (rq's
`StartedJobRegistry.cleanup`, run from whichever worker's maintenance gets to it, is the model).
A sweep that fails (a backend down) is logged and tried again at the next interval.
"""

from __future__ import annotations

import logging
import threading

import redis
from pymongo.errors import PyMongoError

from fortune_core import RedisLease, Sweep, ensure_indexes
from fortune_worker.metrics import WorkerMetrics

log = logging.getLogger(__name__)

SWEEP_LEASE_KEY = "cf:lease:sweep"


class Sweeper:
    """Runs `sweep` every `interval` seconds while holding `lease`, on a daemon thread."""

    def __init__(
        self, sweep: Sweep, lease: RedisLease, interval: float, metrics: WorkerMetrics
    ) -> None:
        self.sweep = sweep
        self.lease = lease
        self.interval = interval
        self.metrics = metrics
        self.runs = 0  # sweeps made by this worker (tests wait on it)
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._indexed = False

    def start(self, stop: threading.Event) -> None:
        """Sweep until `stop` is set."""
        self._stop = stop
        self._thread = threading.Thread(target=self._loop, name="sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Give the lease up (another worker takes over at once) and end the thread."""
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        self.lease.release()

    def _loop(self) -> None:
        assert self._stop is not None
        while not self._stop.wait(self.interval):
            self.run_once()

    def run_once(self) -> bool:
        """One interval: sweep if this worker holds the lease; whether it swept."""
        try:
            if not self.lease.hold():
                return False
            if not self._indexed:
                ensure_indexes()
                self._indexed = True
            report = self.sweep.run()
        except (PyMongoError, redis.RedisError) as exc:
            log.warning("sweep failed (%s); trying again in %g s", exc, self.interval)
            return False
        self.runs += 1
        for kind, count in report.counts.items():
            self.metrics.swept.labels(kind).inc(count)
        return True
