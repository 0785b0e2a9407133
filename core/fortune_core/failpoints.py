"""Failpoints: named places between the steps of a transition where a test can make this process
die, as etcd's gofail and FoundationDB's buggify do.

    failpoint("claim.after_record")

does nothing unless the environment variable `FORTUNE_FAILPOINTS` (read once, at import) names
that point: `FORTUNE_FAILPOINTS=claim.after_record=kill` sends this process SIGKILL there,
which is how the fault-matrix tests (tests/integration/test_fault_matrix.py) kill a real worker,
API or sweep between its MongoDB write and its publish, acknowledgement or projection. Several
points are separated by commas. Unset (always, outside those tests) a failpoint costs one
set-membership test.
"""

from __future__ import annotations

import os
import signal

ENV = "FORTUNE_FAILPOINTS"


def _parse(raw: str) -> dict[str, str]:
    points: dict[str, str] = {}
    for item in raw.split(","):
        name, _, action = item.strip().partition("=")
        if name:
            points[name] = action or "kill"
    return points


_ACTIVE = _parse(os.environ.get(ENV, ""))


def failpoint(name: str) -> None:
    """Die here (SIGKILL) if the test run armed `name`."""
    if name in _ACTIVE and _ACTIVE[name] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
