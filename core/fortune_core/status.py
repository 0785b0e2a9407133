"""The request lifecycle: pending → queued → running → succeeded | failed | cancelled.

A retried request goes from running back to queued. Terminal statuses never change again.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"  # accepted, being enqueued
    QUEUED = "queued"  # in the queue (or waiting for a delayed retry)
    RUNNING = "running"  # a worker is on it
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})
ACTIVE = frozenset({Status.PENDING, Status.QUEUED, Status.RUNNING})
