"""The one process supervisor of the dev tree: tests, benchmarks, `make run` and the local cluster.

A `Program` is a child process started in its own session (so it leads its own process group),
with its output in a log file, ready once its `ready()` check answers (polled: never a fixed
sleep), and stopped by its PID, never by name: SIGTERM to its process group, SIGKILL to the group
after `stop_timeout`, then a wait until no process of the group is alive (a grandchild can hold a
port). `wait_for` is the one wait helper: poll a condition until it holds or a timeout passes.

Two lifetimes:

- attached (the default): the child gets PR_SET_PDEATHSIG, so it dies with the thread that started
  it, and an atexit hook stops (gracefully) whatever is still running when this process exits;
- a daemon (`pidfile=`): it outlives us (`make cluster-up` returns, the cluster runs on), so no
  death signal and no atexit stop; `{"pid", "exe"}` goes to the PID file, and a later process
  finds it with `recorded_pid` and stops it with `stop_recorded`. The executable is recorded so
  that a reused PID is never mistaken for ours.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Self, TypeVar

T = TypeVar("T")

HOST = "127.0.0.1"

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class ProcessError(RuntimeError):
    """A process failed to start, become ready or stop, or a wait timed out."""


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORTS = random.Random()


def free_port(host: str = HOST) -> int:
    """A TCP port free on `host` right now, from 20000–29999: below the kernel's ephemeral range
    (a port the OS would hand out as a connection's source port, a worker retrying its broker
    included, could be taken between this choice and the service binding it: RabbitMQ binds its
    distribution port seconds after it starts) and below Kubernetes' NodePort range
    (30000–32767, which kube-proxy may capture on the host)."""
    high = min(29999, _ephemeral_low() - 1)
    for _ in range(200):
        port = _PORTS.randint(20000, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise ProcessError(f"no free port between 20000 and {high} on {host}")


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something already listens on `host:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for(
    condition: Callable[[], T | None],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.05,
    *,
    alive: Callable[[], bool] | None = None,
) -> T:
    """Poll `condition` until it returns a truthy value (returned); ProcessError after `timeout`
    seconds, or as soon as `alive()` (the process that should make it true) says False."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if alive is not None and not alive():
            raise ProcessError(f"exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise ProcessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- processes by PID -------------------------------------------------------------------------


def _stat_fields(stat: Path) -> list[str]:
    """/proc/<pid>[/task/<tid>]/stat after the command name: state, ppid, pgrp, ..."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def group_members(pgid: int) -> list[int]:
    """PIDs in process group `pgid` that still have a live thread (so may still hold sockets).

    A killed multi-threaded process (beam.smp) shows its leader as a zombie while other threads
    are still exiting and its file descriptors, listening sockets included, are still open.
    """
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if len(fields) < 3 or int(fields[2]) != pgid:
            continue
        tasks = stat.parent.glob("task/*/stat")
        if any(_stat_fields(task)[:1] not in ([], ["Z"], ["X"]) for task in tasks):
            members.append(int(stat.parent.name))
    return members


def pid_alive(pid: int, exe: str | None = None) -> bool:
    """True if `pid` runs (not a zombie) and, given `exe`, is still the program `exe`."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our exited child
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    if not fields or fields[0] in ("Z", "X"):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # it exited after the first reap attempt
        return False
    if exe is None:
        return True
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode() == exe
    except OSError:
        return False


def _signal_group(pid: int, signum: int) -> None:
    """`signum` to the process group that `pid` leads (every process we start leads its own), or
    to `pid` alone when it runs and leads none (a process we did not start)."""
    try:
        leads = os.getpgid(pid) == pid
    except ProcessLookupError:
        leads = True  # reaped: what may be left is its group
    with contextlib.suppress(ProcessLookupError):
        if leads:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _terminate(
    pid: int,
    timeout: float,
    exited: Callable[[], bool],
    what: str,
    stop_signal: int = signal.SIGTERM,
) -> None:
    """`stop_signal` to the group of `pid`, SIGKILL to it if `exited()` is still False after
    `timeout` seconds; return once no process of the group is alive."""
    _signal_group(pid, stop_signal)
    try:
        wait_for(exited, timeout, f"{what} to exit")
    except ProcessError:
        _signal_group(pid, signal.SIGKILL)
        wait_for(exited, 30.0, f"{what} to exit after SIGKILL")
    wait_for(lambda: not group_members(pid), 30.0, f"{what} processes to exit")


def stop_pid(pid: int, timeout: float, exe: str | None = None) -> None:
    """Stop a process we did not start here, by its PID (as `Program.stop`); given `exe`, only if
    `pid` is still that program."""
    if pid_alive(pid, exe):
        _terminate(pid, timeout, lambda: not pid_alive(pid, exe), f"pid {pid}")


def _read_record(pidfile: Path) -> tuple[int, str] | None:
    try:
        record = json.loads(pidfile.read_text())
        return int(record["pid"]), str(record["exe"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def recorded_pid(pidfile: Path) -> int | None:
    """PID of the daemon recorded in `pidfile` if it still runs as the program we started."""
    record = _read_record(pidfile)
    if record is None:
        return None
    pid, exe = record
    return pid if pid_alive(pid, exe) else None


def stop_recorded(pidfile: Path, timeout: float) -> None:
    """Stop the daemon recorded in `pidfile` by its PID and remove the file."""
    record = _read_record(pidfile)
    if record is None:
        return
    stop_pid(record[0], timeout, exe=record[1])
    pidfile.unlink(missing_ok=True)


# --- the supervised child ----------------------------------------------------------------------


def _new_session(death_signal: int | None) -> Callable[[], None]:
    """preexec_fn: a new session (and process group); with `death_signal`, that signal when the
    thread that started the child exits (or the whole process)."""
    parent = os.getpid()

    def preexec() -> None:
        os.setsid()
        if death_signal is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os.kill(os.getpid(), death_signal)

    return preexec


_STARTED: list[Program] = []  # attached programs started here, stopped (gracefully) at exit


@atexit.register
def _stop_started() -> None:
    for program in reversed(_STARTED):
        with contextlib.suppress(Exception):
            program.stop()


class Program:
    """A child process we start and supervise (see the module docstring).

    `ready`: polled every `ready_interval` seconds after the start until true (`start()` returns
    then); `env`: the child's whole environment (None: ours); `log_path`: its output, appended
    (None: ours, e.g. for honcho to show); `pidfile`: run it as a daemon that outlives us.
    Subclasses may override `ports()` (checked free before a start) and set `name`.
    """

    name = "program"

    def __init__(
        self,
        command: Sequence[str],
        *,
        ready: Callable[[], bool] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        log_path: str | Path | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        death_signal: int = signal.SIGTERM,
        pidfile: Path | None = None,
        ready_interval: float = 0.05,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = None,
        name: str | None = None,
    ) -> None:
        self.argv = list(command)
        self._ready = ready
        self.env = env
        self.cwd = str(cwd) if cwd is not None else None
        self.log_path: Path | None = Path(log_path) if log_path else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.death_signal = death_signal
        self.pidfile = pidfile
        self.ready_interval = ready_interval
        self._stdin, self._stdout = stdin, stdout
        if name is not None:
            self.name = name
        self.process: subprocess.Popen[Any] | None = None
        self.start_seconds: float | None = None

    def ports(self) -> list[int]:
        """Ports the program listens on (checked free before it starts)."""
        return []

    @property
    def pid(self) -> int | None:
        """PID of the running child, or None."""
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        """True while the child has not exited."""
        return self.process is not None and self.process.poll() is None

    def output(self) -> IO[Any] | None:
        """The child's stdout, when started with `stdout=subprocess.PIPE`."""
        return self.process.stdout if self.process is not None else None

    def start(self) -> Self:
        """Start the child and return once it is ready; ProcessError (with its log tail) if not."""
        if self.running():
            return self
        self._stop_child()  # what is left of an earlier run that exited by itself
        for port in self.ports():
            if port_in_use(port):
                raise ProcessError(f"{self.name}: port {port} on {HOST} is already in use")
        began = time.monotonic()
        log = None
        stdout: int | IO[bytes] | None = self._stdout
        stderr: int | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("ab")
            stdout, stderr = log, subprocess.STDOUT
        daemon = self.pidfile is not None
        try:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=self._stdin,
                stdout=stdout,
                stderr=stderr,
                text=self._stdout == subprocess.PIPE,  # text pipes, binary logs
                # Only setsid and prctl run in the child: safe with threads in the parent.
                preexec_fn=_new_session(None if daemon else self.death_signal),  # noqa: PLW1509
            )
        finally:
            if log is not None:
                log.close()  # the child has its own copy
        if self.pidfile is not None:
            record = {"pid": self.process.pid, "exe": self.argv[0]}
            self.pidfile.write_text(json.dumps(record))
        elif self not in _STARTED:
            _STARTED.append(self)
        try:
            wait_for(
                self._ready or (lambda: True),
                self.start_timeout,
                f"{self.name} to be ready",
                self.ready_interval,
                alive=self.running,
            )
        except ProcessError as error:
            code = self.process.poll()
            self.kill()
            exited = f" (exit code {code})" if code is not None else ""
            raise ProcessError(f"{error}{exited}{self._log_tail()}") from None
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self, stop_signal: int = signal.SIGTERM) -> Self:
        """`stop_signal` to the group, SIGKILL after `stop_timeout`; return once all of it is
        gone, whatever the exit code (`wait` tells it before a stop)."""
        self._stop_child(stop_signal)
        return self

    def _stop_child(self, stop_signal: int = signal.SIGTERM) -> None:
        """What `stop` does for this child alone (a subclass may stop more)."""
        process = self.process
        if process is not None:
            _terminate(
                process.pid,
                self.stop_timeout,
                lambda: process.poll() is not None,
                self.name,
                stop_signal,
            )
            self._forget()

    def kill(self) -> Self:
        """SIGKILL the group (crash simulation); data on disk stays."""
        process = self.process
        if process is not None:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
            self._forget()
            wait_for(lambda: not group_members(process.pid), 30.0, f"{self.name} to exit")
        return self

    def signal(self, signum: int) -> None:
        """Send `signum` to the child (only the child, by PID)."""
        if self.pid is not None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        """Wait for the child to exit; its exit code (negative: killed by that signal)."""
        assert self.process is not None, f"{self.name} is not running"
        return self.process.wait(timeout)

    def restart(self) -> None:
        """Stop (if running) and start again with the same settings."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _forget(self) -> None:
        """Drop the exited child (closing our ends of its pipes) and its PID record."""
        if self.process is not None:
            self.process.__exit__(None, None, None)
            self.process = None
        if self.pidfile is not None:
            self.pidfile.unlink(missing_ok=True)

    def _log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- last lines of {self.log_path} ---\n" + "\n".join(tail)
