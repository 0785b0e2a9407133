"""`python -m fortune_worker`: run one worker process until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
from types import FrameType

# A stop asked for while the worker still starts must not be lost. In its container the worker is
# PID 1, which ignores a signal it has no handler for: a pod deleted during the imports below
# (seconds on a busy node; scale-down deletes the youngest, not-yet-ready pods first) would be
# killed only at the end of its grace period. Signals are noted from the first line and replayed
# once the worker exists.
_EARLY_SIGNALS: list[int] = []


def _note_early_signal(signum: int, frame: FrameType | None) -> None:
    _EARLY_SIGNALS.append(signum)


for _signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_signum, _note_early_signal)

import contextlib  # noqa: E402  (after the handlers, on purpose)
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from fortune_core import warm_lunar_years  # noqa: E402
from fortune_worker.consumer import ExitStatus, Worker  # noqa: E402
from fortune_worker.logs import configure  # noqa: E402
from fortune_worker.settings import WorkerSettings, default_worker_id  # noqa: E402

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
    configure(settings.worker_id, settings.core.log_level)
    warm_lunar_years()  # a serving process: the birth years of its prompts stay cheap
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
    for signum in _EARLY_SIGNALS:  # received while starting: nothing is in flight yet
        on_signal(signum, None)
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
