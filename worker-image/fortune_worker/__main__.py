"""`python -m fortune_worker`: run one worker process until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

from fortune_worker.consumer import ExitStatus, Worker
from fortune_worker.logs import configure
from fortune_worker.settings import WorkerSettings, default_worker_id

log = logging.getLogger("fortune_worker")


def main() -> int:
    """Read the settings, consume until a signal, drain, exit (0 when everything was settled)."""
    try:
        settings = WorkerSettings.from_env()
    except ValueError as exc:
        configure(default_worker_id())
        log.error("invalid configuration: %s", exc)
        return 2
    configure(settings.worker_id, settings.log_level)
    worker = Worker(settings)
    signals_seen = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals_seen
        signals_seen += 1
        name = signal.Signals(signum).name
        if signals_seen == 1:
            log.info("%s received: finishing in-flight work, then exiting", name)
            worker.request_stop()
        else:
            log.warning("%s received again: exiting without waiting", name)
            worker.request_stop(immediately=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status = worker.run()
    logging.shutdown()
    if status == ExitStatus.ABANDONED:
        # Pool threads still stuck in calls would keep the interpreter alive; their messages are
        # unsettled and the broker redelivers them.
        sys.stderr.flush()
        os._exit(int(status))
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
