"""CPU and memory of processes by PID, read from /proc (no dependency): CPU seconds, RSS and peak
RSS of a process and its descendants, and a `Sampler` that records them every N seconds in a
thread (for long runs: a soak, where each component's curve must stay flat)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The live descendants of `pid` (children first)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop(0)
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(child) for child in task.read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def cmdline(pid: int) -> list[str]:
    """The command line of `pid` ([] once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # utime, stime and cutime, cstime: the latter count children it has reaped, so the CPU of a
    # descendant that exits between two readings is still counted once.
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICKS


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU seconds of `pid` so far, with its descendants' when `tree`."""
    pids = [pid, *descendants(pid)] if tree else [pid]
    return sum(_own_cpu_seconds(p) for p in pids)


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int, tree: bool = False) -> float:
    """Resident set size of `pid` in MB, with its descendants' when `tree`."""
    pids = [pid, *descendants(pid)] if tree else [pid]
    return sum(_status_kb(p, "VmRSS") for p in pids) / 1024


def peak_rss_mb(pid: int) -> float:
    """The peak resident set size (VmHWM) of `pid` in MB."""
    return _status_kb(pid, "VmHWM") / 1024


def container_pid(release: Any, name: str) -> int:
    """The host PID of container `name` of a chart release on the local cluster (an
    `e2e_cluster.Release`), from its node's CRI."""
    local = release.cluster.local
    assert local is not None, "a cluster started here (its node's crictl)"
    ids = [
        c["id"]
        for c in release.cluster.containers(release.namespace)
        if c["metadata"]["name"] == name
    ]
    info = json.loads(local.node.crictl("inspect", ids[0]).stdout)
    return int(info["info"]["pid"])


@dataclass
class Sample:
    """One reading: seconds since the sampler started; per process name its PID, RSS (MB, with
    descendants) and CPU seconds so far (with descendants)."""

    at: float
    pid: dict[str, int] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)


class Sampler:
    """Reads every named process every `every` seconds in a thread, from `start()` (one reading
    at once) to `stop()` (one last reading). `pids` names them: a mapping, or a callable asked at
    each reading (so a restarted process is followed by its new PID)."""

    def __init__(
        self, pids: Mapping[str, int] | Callable[[], Mapping[str, int]], every: float
    ) -> None:
        self._pids = pids if callable(pids) else (lambda: pids)
        self.every = every
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._began = 0.0

    def read(self) -> Sample:
        """One reading now (also kept in `samples`)."""
        sample = Sample(time.monotonic() - self._began)
        for name, pid in self._pids().items():
            sample.pid[name] = pid
            sample.rss_mb[name] = rss_mb(pid, tree=True)
            sample.cpu_s[name] = cpu_seconds(pid)
        self.samples.append(sample)
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.read()

    def start(self) -> Self:
        """Read now, then every `every` seconds."""
        self._began = time.monotonic()
        self.read()
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        """Stop reading (after one last reading); every sample."""
        self._stop.set()
        self._thread.join()
        self.read()
        return self.samples

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
