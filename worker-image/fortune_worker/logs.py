"""Worker logging: JSON lines on stderr (the core formatter), each tagged with the worker id;
the request id comes with each call as ``extra={"request_id": ...}``."""

from __future__ import annotations

import logging

from fortune_core import configure_logging


class _WorkerIdFilter(logging.Filter):
    def __init__(self, worker_id: str) -> None:
        super().__init__()
        self._worker_id = worker_id

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "worker"):
            record.worker = self._worker_id
        return True


def configure(worker_id: str, level: str = "INFO") -> None:
    """One JSON object per line on stderr with ts, level, msg, worker and request_id."""
    configure_logging("worker", level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_WorkerIdFilter(worker_id))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("openai").setLevel(logging.WARNING)
