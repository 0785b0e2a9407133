"""Daemons of the local cluster, tracked by PID files and stopped by PID, never by name.

A daemon is started in its own session (it outlives `cluster.sh up` and gets no terminal signals),
with its output in `<state>/<name>.log` and `{"pid", "exe"}` in `<state>/<name>.pid`. The executable
path is recorded so that a reused PID is never mistaken for ours. Readiness is a callable polled
until true (no fixed sleeps); stopping is SIGTERM, then SIGKILL after a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ClusterError(RuntimeError):
    """A component failed to build, start, become ready or stop."""


def alive(pid: int, exe: str) -> bool:
    """True if `pid` is running (not a zombie) and is still the program `exe` we started."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our exited child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    if state in ("Z", "X"):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # it exited after the first reap attempt
        return False
    return cmdline[0].decode() == exe


def stop_pid(pid: int, exe: str, timeout: float) -> None:
    """SIGTERM `pid`, wait up to `timeout` seconds, then SIGKILL it."""
    if not alive(pid, exe):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, exe):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while alive(pid, exe):
        time.sleep(0.05)


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    proc_ok: Callable[[], bool] = lambda: True,
    interval: float = 0.1,
) -> None:
    """Poll `check` until true; fail early if the process died, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not proc_ok():
            raise ClusterError(f"{what}: process exited")
        time.sleep(interval)
    raise ClusterError(f"{what}: not ready after {timeout:.0f}s")


@dataclass
class Daemon:
    """One long-running process of the cluster: how to start it and how to tell it is ready."""

    name: str
    exe: str
    args: list[str]
    ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)


class DaemonSet:
    """The daemons recorded in one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def pidfile(self, name: str) -> Path:
        """Where the PID record of daemon `name` lives."""
        return self.state_dir / f"{name}.pid"

    def log(self, name: str) -> Path:
        """The log file of daemon `name`."""
        return self.state_dir / f"{name}.log"

    def record(self, name: str) -> dict[str, object] | None:
        """The PID record of `name`, if any."""
        try:
            record: dict[str, object] = json.loads(self.pidfile(name).read_text())
        except (OSError, ValueError):
            return None
        return record

    def running(self, name: str) -> int | None:
        """PID of daemon `name` if its PID file names a live process we started."""
        record = self.record(name)
        if record is None:
            return None
        pid, exe = int(str(record["pid"])), str(record["exe"])
        return pid if alive(pid, exe) else None

    def start(self, daemon: Daemon, timeout: float) -> bool:
        """Start `daemon` unless it runs already, then wait until it is ready; whether it was
        started now."""
        if self.running(daemon.name) is not None:
            wait_until(daemon.ready, timeout, daemon.name)
            return False
        log = self.log(daemon.name)
        env = {**os.environ, **daemon.env}
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [daemon.exe, *daemon.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # outlives `cluster.sh up`; no terminal signals
            )
        self.pidfile(daemon.name).write_text(json.dumps({"pid": proc.pid, "exe": daemon.exe}))
        try:
            wait_until(daemon.ready, timeout, daemon.name, lambda: proc.poll() is None)
        except ClusterError as exc:
            tail = log.read_text(errors="replace").splitlines()[-25:]
            raise ClusterError(f"{exc}; last lines of {log}:\n" + "\n".join(tail)) from None
        return True

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """Stop daemon `name` by its recorded PID and forget it."""
        record = self.record(name)
        if record is None:
            return
        stop_pid(int(str(record["pid"])), str(record["exe"]), timeout)
        self.pidfile(name).unlink(missing_ok=True)
