"""Daemons of the local cluster: supervised `Program`s (localservices/supervisor.py) that outlive
`cluster.sh up`, each with its output in `<state>/<name>.log` and its PID record in
`<state>/<name>.pid`, so that any later process finds and stops them by PID, never by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localservices.supervisor import ProcessError, Program, recorded_pid, stop_recorded, wait_for


class ClusterError(ProcessError):
    """A component failed to build, start, become ready or stop. A `ProcessError`, so `except
    ProcessError` also catches a daemon that did not start and a wait that timed out."""


@dataclass
class Daemon:
    """One long-running process of the cluster: how to start it and how to tell it is ready."""

    name: str
    exe: str
    args: list[str]
    ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)


class RecordedDaemons:
    """The daemons recorded in one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def pidfile(self, name: str) -> Path:
        """Where the PID record of daemon `name` lives."""
        return self.state_dir / f"{name}.pid"

    def log(self, name: str) -> Path:
        """The log file of daemon `name`."""
        return self.state_dir / f"{name}.log"

    def running(self, name: str) -> int | None:
        """PID of daemon `name` if its PID file names a live process we started."""
        return recorded_pid(self.pidfile(name))

    def start(self, daemon: Daemon, timeout: float) -> bool:
        """Start `daemon` unless it runs already, then wait until it is ready; whether it was
        started now."""
        if self.running(daemon.name) is not None:
            wait_for(daemon.ready, timeout, daemon.name, interval=0.1)
            return False
        Program(
            [daemon.exe, *daemon.args],
            name=daemon.name,
            ready=daemon.ready,
            env={**os.environ, **daemon.env},
            log_path=self.log(daemon.name),
            start_timeout=timeout,
            pidfile=self.pidfile(daemon.name),
            ready_interval=0.1,
        ).start()
        return True

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """Stop daemon `name` by its recorded PID and forget it."""
        stop_recorded(self.pidfile(name), timeout)
