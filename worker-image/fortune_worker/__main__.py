"""`python -m fortune_worker`: run one worker process until SIGTERM/SIGINT."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from fortune_worker.consumer import ExitStatus, Worker
from fortune_worker.logs import configure
from fortune_worker.settings import WorkerSettings, default_worker_id

log = logging.getLogger("fortune_worker")
# Kubernetes shows what a container writes here as its termination message (`kubectl describe`).
TERMINATION_LOG = Path("/dev/termination-log")


def report_exit(lines: list[str]) -> None:
    """Leave the last words of this process where Kubernetes keeps them after it is gone (the
    pod's status), besides the log, which is gone with the pod."""
    if TERMINATION_LOG.exists():
        with contextlib.suppress(OSError):
            TERMINATION_LOG.write_text("\n".join(lines)[-4000:] + "\n")


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
    last_words: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals_seen
        signals_seen += 1
        name = signal.Signals(signum).name
        if signals_seen == 1:
            log.info("%s received: finishing in-flight work, then exiting", name)
            last_words.append(f"{name} received: finishing in-flight work, then exiting")
            worker.request_stop()
        else:
            log.warning("%s received again: exiting without waiting", name)
            worker.request_stop(immediately=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status = worker.run()
    report_exit([*last_words, f"worker stopped ({status.name.lower()})"])
    logging.shutdown()
    if status == ExitStatus.ABANDONED:
        # Pool threads still stuck in calls would keep the interpreter alive; their messages are
        # unsettled and the broker redelivers them.
        sys.stderr.flush()
        os._exit(int(status))
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
