"""Local backing services for tests and `make run`: RabbitMQ, Redis and SecantusDB (MongoDB wire).

Importable (the integration fixtures) and a CLI (the Procfile):

    python dev/localservices.py rabbitmq --port 5672 --management-port 15672 --dir .local/rabbitmq
    python dev/localservices.py redis --port 6379 --dir .local/redis
    python dev/localservices.py secantusdb --port 27017 --dir .local/mongodb --ttl-sweep-seconds 5
    python dev/localservices.py logged --log .local/log/api.log -- <command...>

Every process we start (these services, and the API, workers and fake LLM that tests and
benchmarks run) is a `Program`: a mirakuru executor started in its own session, tracked by PID,
stopped with SIGTERM (then SIGKILL to its process group after a timeout) and never by name.
Children get PR_SET_PDEATHSIG so they die with the process that started them, and an atexit hook
stops whatever is still running. `start()` returns only once the program is ready (a service:
once it answers a real request). The services are thin subclasses (`Service`): the command, the
environment, the config files and the readiness check.

RabbitMQ gets its own `epmd` on a private port (ERL_EPMD_PORT), so no Erlang daemon outlives it.

Measured on 2 cores: RabbitMQ 3.10 starts in 5-7 s and stops in ~6 s (5 s of it in the management
plugin's shutdown), so tests start it once per session; SecantusDB starts in 1-2 s, Redis in 0.1 s.
In RabbitMQ 3.10 a quorum queue declared less than ~3 minutes before a `kill()` of the node does
not recover (Ra saves its server registry lazily); `restart()` (a clean stop) keeps it.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Self, TypeVar

from mirakuru import Executor
from mirakuru.exceptions import (
    AlreadyRunning,
    ProcessExitedWithError,
    ProcessFinishedWithError,
    TimeoutExpired,
)

T = TypeVar("T")

HOST = "127.0.0.1"
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class ServiceError(RuntimeError):
    """A service failed to start or stop."""


def free_port(host: str = HOST) -> int:
    """A TCP port free on `host` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
) -> T:
    """Poll `condition` until it returns a truthy value (returned); ServiceError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_json(method: str, url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    """One JSON HTTP call on loopback: (status, decoded body); HTTP errors are returned too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def http_text(url: str, timeout: float = 30.0) -> str:
    """GET `url` on loopback; the body as text (HTTP errors raise)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return str(response.read().decode())


def _new_session_dying_with_parent(sig: int) -> Callable[[], None]:
    """preexec_fn: a new session (and process group), and `sig` when the thread that started the
    child exits (or the whole process)."""
    parent = os.getpid()

    def preexec() -> None:
        os.setsid()
        _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def _stat_fields(stat: Path) -> list[str]:
    """/proc/<pid>[/task/<tid>]/stat after the command name: state, ppid, pgrp, ..."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _group_members(pgid: int) -> list[int]:
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


def _tcp_accepts(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


_STARTED: list[Program] = []  # started by this process, stopped (gracefully) at exit if running


@atexit.register
def _stop_started() -> None:
    # Registered after mirakuru's own atexit hook (which SIGKILLs its leftovers), so it runs first
    # and a RabbitMQ node gets its clean shutdown.
    for program in reversed(_STARTED):
        with contextlib.suppress(Exception):
            program.stop()


class Program(Executor):
    """A child process we start, supervised by mirakuru: started in its own session (and process
    group), ready once `ready()` answers, stopped by PID with SIGTERM to its group and SIGKILL
    after `stop_timeout`, never by name.

    On top of mirakuru: the child gets PR_SET_PDEATHSIG so it dies with the thread that started
    it (start programs from a long-lived thread), output goes to `log_path` (appended; None
    inherits ours), and after a stop or kill we wait until no process of its group is alive any
    more (a grandchild can hold a port).
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
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = None,
    ) -> None:
        super().__init__(
            list(command),
            cwd=str(cwd) if cwd is not None else None,
            timeout=start_timeout,
            sleep=0.05,
            envvars=env,
            stdin=stdin,
            stdout=stdout,
        )
        self._ready = ready
        self.log_path: Path | None = Path(log_path) if log_path else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.death_signal = death_signal
        self.start_seconds: float | None = None

    # --- mirakuru hooks --------------------------------------------------------------------
    def pre_start_check(self) -> bool:
        """True (mirakuru then refuses to start) when one of our ports is already taken."""
        return any(port_in_use(port) for port in self.ports())

    def after_start_check(self) -> bool:
        return self._ready() if self._ready is not None else True

    @property
    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super()._popen_kwargs
        kwargs["preexec_fn"] = _new_session_dying_with_parent(self.death_signal)
        kwargs["universal_newlines"] = self._stdout == subprocess.PIPE  # text pipes, binary logs
        return kwargs

    # --- lifecycle -------------------------------------------------------------------------
    def ports(self) -> list[int]:
        """Ports the program listens on (checked free before it starts)."""
        return []

    @property
    def pid(self) -> int | None:
        """PID of the running child, or None."""
        return self.process.pid if self.process is not None else None

    def start(self) -> Self:
        """Start the child and return once it is ready; ServiceError (with its log tail) if not."""
        if self.running():
            return self
        for port in self.ports():
            if port_in_use(port):
                raise ServiceError(f"{self.name}: port {port} on {HOST} is already in use")
        began = time.monotonic()
        log = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("ab")
            self._stdout, self._stderr = log, subprocess.STDOUT
        self._timeout = self.start_timeout
        try:
            super().start()
        except (TimeoutExpired, ProcessExitedWithError, AlreadyRunning) as error:
            self.kill()
            raise ServiceError(f"{self.name}: {error}{self._log_tail()}") from None
        finally:
            if log is not None:
                log.close()  # the child has its own copy
        if self not in _STARTED:
            _STARTED.append(self)
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self, stop_signal: int | None = None, expected_returncode: int | None = None) -> Self:
        """SIGTERM the group, SIGKILL it after `stop_timeout`; wait until all of it is gone.
        Whatever the exit code (`wait` tells it before a stop)."""
        pid = self.pid
        self._timeout = self.stop_timeout
        with contextlib.suppress(ProcessFinishedWithError):
            super().stop(stop_signal, expected_returncode)
        if pid is not None:
            self._await_group_gone(pid)
        return self

    def kill(self, wait: bool = True, sig: int | None = None) -> Self:
        """SIGKILL the group (crash simulation); data on disk stays."""
        pid = self.pid
        super().kill(wait, sig)
        if pid is not None and wait:
            self._await_group_gone(pid)
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

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- helpers ---------------------------------------------------------------------------
    def _await_group_gone(self, pgid: int, timeout: float = 30.0) -> None:
        """Wait until no live process is left in the group (grandchildren hold the ports)."""
        wait_for(lambda: not _group_members(pgid), timeout, f"{self.name} processes to exit")

    def _log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- last lines of {self.log_path} ---\n" + "\n".join(tail)


class Service(Program):
    """A backing service on 127.0.0.1:`port` with its state under `base_dir`; a thin subclass
    gives its `command()`, `environment()`, `prepare()` and `ready()`.

    `log_path`: where the child's output goes, by default `<base_dir>/<name>.out`; `None` inherits
    ours (foreground CLI mode, so honcho shows it).
    """

    name = "service"
    start_timeout = 60.0
    stop_timeout = 30.0
    death_signal = signal.SIGTERM

    def __init__(
        self, base_dir: str | Path, port: int, *, log_path: str | Path | None = ""
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.port = port
        super().__init__(
            self.command(),
            ready=self.ready,
            env=self.environment(),
            cwd=self.base_dir,
            log_path=self.base_dir / f"{self.name}.out" if log_path == "" else log_path,
            start_timeout=type(self).start_timeout,
            stop_timeout=type(self).stop_timeout,
            death_signal=type(self).death_signal,
        )

    # --- to override -----------------------------------------------------------------------
    def command(self) -> list[str]:
        """The argv that runs the service in the foreground."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """The child's environment."""
        return dict(os.environ)

    def ready(self) -> bool:
        """True once the service answers a real request."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Create directories and config files before starting."""
        self.base_dir.mkdir(parents=True, exist_ok=True)

    def ports(self) -> list[int]:
        return [self.port]

    def start(self) -> Self:
        self.prepare()
        return super().start()


class RedisServer(Service):
    """redis-server on 127.0.0.1:`port`; no persistence unless `persistent=True` (AOF)."""

    name = "redis"
    start_timeout = 30.0

    def __init__(
        self,
        base_dir: str | Path,
        port: int,
        *,
        persistent: bool = False,
        log_path: str | Path | None = "",
    ) -> None:
        self.persistent = persistent
        super().__init__(base_dir, port, log_path=log_path)

    @property
    def redis_url(self) -> str:
        """redis://127.0.0.1:<port>/0"""
        return f"redis://{HOST}:{self.port}/0"

    def command(self) -> list[str]:
        argv = [
            "redis-server",
            "--bind",
            HOST,
            "--port",
            str(self.port),
            "--dir",
            str(self.base_dir),
        ]
        argv += ["--daemonize", "no", "--protected-mode", "yes", "--save", ""]
        argv += ["--appendonly", "yes" if self.persistent else "no"]
        return argv

    def ready(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class SecantusDBServerProcess(Service):
    """SecantusDB (MongoDB wire protocol) in its own Python process, data under `base_dir`.

    Like mongod with `j: false`, a write survives `kill()` only once journaled: write with
    `WriteConcern(j=True)` (SecantusDB does not imply it from `w="majority"`), or start with
    `sync_on_commit=True` to fsync every commit.
    """

    name = "secantusdb"
    start_timeout = 60.0

    def __init__(
        self,
        base_dir: str | Path,
        port: int,
        *,
        ttl_sweep_seconds: float = 60.0,
        sync_on_commit: bool = False,
        log_path: str | Path | None = "",
    ) -> None:
        self.ttl_sweep_seconds = ttl_sweep_seconds
        self.sync_on_commit = sync_on_commit
        super().__init__(base_dir, port, log_path=log_path)

    @property
    def mongodb_uri(self) -> str:
        """mongodb://127.0.0.1:<port>"""
        return f"mongodb://{HOST}:{self.port}"

    def command(self) -> list[str]:
        argv = [sys.executable, str(Path(__file__).resolve()), "secantusdb", "--serve"]
        argv += ["--port", str(self.port), "--dir", str(self.base_dir / "data")]
        argv += ["--ttl-sweep-seconds", str(self.ttl_sweep_seconds)]
        return argv + (["--sync-on-commit"] if self.sync_on_commit else [])

    def ready(self) -> bool:
        import pymongo
        import pymongo.errors

        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            self.mongodb_uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500
        )
        try:
            return bool(client.admin.command("ping").get("ok"))
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()


class RabbitMQServer(Service):
    """A RabbitMQ node (with the management plugin) whose whole state lives under `base_dir`.

    Node name `cf-<port>@localhost`, so a restart on the same port finds its durable queues and
    persistent messages again. It runs with a private epmd on its own port. Queue depths
    (ready, unacknowledged) show in the management API within about `stats_interval_ms`.
    """

    name = "rabbitmq"
    start_timeout = 120.0
    stop_timeout = 60.0
    death_signal = signal.SIGTERM  # the rabbitmq-server script traps it and stops the node

    def __init__(
        self,
        base_dir: str | Path,
        port: int,
        *,
        management_port: int | None = None,
        dist_port: int | None = None,
        epmd_port: int | None = None,
        stats_interval_ms: int = 1000,
        log_path: str | Path | None = "",
    ) -> None:
        self.management_port = management_port or free_port()
        self.dist_port = dist_port or free_port()
        self.epmd_port = epmd_port or free_port()
        self.stats_interval_ms = stats_interval_ms
        self.node = f"cf-{port}@localhost"
        super().__init__(base_dir, port, log_path=log_path)
        self.epmd = Program(
            ["epmd", "-port", str(self.epmd_port), "-address", HOST],
            ready=lambda: _tcp_accepts(self.epmd_port),
            log_path=self.base_dir / "epmd.out",
            start_timeout=10,
            stop_timeout=5,
            death_signal=signal.SIGKILL,
        )

    @property
    def amqp_url(self) -> str:
        """amqp://guest:guest@127.0.0.1:<port>/%2F"""
        return f"amqp://guest:guest@{HOST}:{self.port}/%2F"

    @property
    def management_url(self) -> str:
        """http://127.0.0.1:<management_port> (user guest, password guest)."""
        return f"http://{HOST}:{self.management_port}"

    def ports(self) -> list[int]:
        return [self.port, self.management_port, self.dist_port]

    def prepare(self) -> None:
        super().prepare()
        for sub in ("mnesia", "log", "home"):
            (self.base_dir / sub).mkdir(exist_ok=True)
        # Queue depths reach the management API within ~stats_interval_ms (quorum queues report
        # on their tick, 5 s by default; samples are kept at 5 s and cached 5 intervals by default).
        sample = max(1, self.stats_interval_ms // 1000)
        (self.base_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {HOST}:{self.port}\n"
            f"management.tcp.ip = {HOST}\n"
            f"management.tcp.port = {self.management_port}\n"
            f"collect_statistics_interval = {self.stats_interval_ms}\n"
            "management.db_cache_multiplier = 1\n"
            f"management.sample_retention_policies.global.minute = {sample}\n"
            f"management.sample_retention_policies.basic.minute = {sample}\n"
            f"management.sample_retention_policies.detailed.10 = {sample}\n"
            "loopback_users.guest = true\n"
        )
        (self.base_dir / "advanced.config").write_text(
            f"[{{rabbit, [{{quorum_tick_interval, {self.stats_interval_ms}}}]}}].\n"
        )
        (self.base_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.base_dir / "rabbitmq-env.conf").write_text("")

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.base_dir / "home"),  # the Erlang cookie lives here
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS=HOST,
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS=HOST,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.base_dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base_dir / "log"),
            RABBITMQ_LOGS="-",
            RABBITMQ_CONFIG_FILE=str(self.base_dir / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base_dir / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base_dir / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(self.base_dir / "rabbitmq-env.conf"),
            # Erlang distribution on loopback only (it listens on every interface by default).
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def command(self) -> list[str]:
        return [RABBITMQ_SERVER]

    def start(self) -> Self:
        """Start epmd (if needed) and the node; return once AMQP and the management API answer."""
        if self.running():
            return self
        if not self.epmd.running():
            self.base_dir.mkdir(parents=True, exist_ok=True)
            self.epmd.start()
        return super().start()

    def stop(self, stop_signal: int | None = None, expected_returncode: int | None = None) -> Self:
        """Stop the node (SIGTERM: a clean shutdown), then its epmd. A killed node leaves epmd
        running, like after a real crash."""
        super().stop(stop_signal, expected_returncode)
        self.epmd.stop()
        return self

    def ready(self) -> bool:
        return self._amqp_answers() and self._management_answers()

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run `rabbitmqctl -n <node> <args>` against this node; its stdout."""
        result = subprocess.run(
            [RABBITMQCTL, "-n", self.node, *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}")
        return result.stdout

    def management_get(self, path: str) -> Any:
        """GET `<management_url><path>` as guest; the decoded JSON."""
        import json

        request = urllib.request.Request(
            self.management_url + path,
            headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def _amqp_answers(self) -> bool:
        """A real AMQP 0-9-1 handshake start: the broker answers with a Connection.Start frame."""
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                sock.sendall(b"AMQP\x00\x00\x09\x01")
                return sock.recv(1) == b"\x01"
        except OSError:
            return False

    def _management_answers(self) -> bool:
        try:
            return bool(self.management_get("/api/overview").get("node") == self.node)
        except (OSError, ValueError, urllib.error.URLError):
            return False


# --- our own programs (tests, benchmarks) ------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]


class ApiProgram(Program):
    """The API under gunicorn on 127.0.0.1:`port`; ready when `/readyz` answers 200 (every
    backend reachable). `url` is its base URL."""

    name = "api"

    def __init__(
        self, port: int, env: dict[str, str], log_path: Path, workers: int = 2, threads: int = 4
    ) -> None:
        self.url = f"http://{HOST}:{port}"
        command = [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}",
                   "--workers", str(workers), "--threads", str(threads),
                   "fortune_api.app:create_app()"]  # fmt: skip
        super().__init__(
            command, ready=self._ready_now, env=env, cwd=REPO_ROOT, log_path=log_path,
            stop_timeout=40,
        )  # fmt: skip
        self._port = port

    def ports(self) -> list[int]:
        return [self._port]

    def _ready_now(self) -> bool:
        try:
            return http_json("GET", f"{self.url}/readyz", timeout=5)[0] == 200
        except OSError:
            return False


def api_program(
    port: int, env: dict[str, str], log_path: Path, workers: int = 2, threads: int = 4
) -> ApiProgram:
    """The API under gunicorn (see `ApiProgram`); `.start()` it."""
    return ApiProgram(port, env, log_path, workers, threads)


class FakeLLMProgram(Program):
    """The fake OpenAI-compatible server (tests/fakes/fake_llm.py) as a process."""

    name = "fake-llm"

    def __init__(self, port: int, log_path: Path, latency: float = 0.0) -> None:
        self.url = f"http://{HOST}:{port}"
        self.base_url = f"{self.url}/v1"
        command = [sys.executable, str(REPO_ROOT / "tests" / "fakes" / "fake_llm.py"),
                   "--port", str(port), "--latency", str(latency)]  # fmt: skip
        super().__init__(command, ready=self._ready_now, cwd=REPO_ROOT, log_path=log_path)
        self._port = port

    def ports(self) -> list[int]:
        return [self._port]

    def _ready_now(self) -> bool:
        try:
            return http_json("GET", f"{self.url}/_stats", timeout=5)[0] == 200
        except OSError:
            return False


# --- CLI -----------------------------------------------------------------------------------------


def _run_foreground(service: Service) -> int:
    """Start `service` with inherited output, stop it on SIGTERM/SIGINT; its exit code."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.start()
    print(
        f"localservices: {service.name} ready on port {service.port} "
        f"(pid {service.pid}, {service.start_seconds:.1f}s)",
        flush=True,
    )
    while not stop.wait(0.5):
        if not service.running():
            code = service.process.returncode if service.process is not None else 1
            print(f"localservices: {service.name} exited with code {code}", flush=True)
            service.stop()
            return code or 1
    service.stop()
    return 0


def _route_find_and_modify_writes_by_id() -> None:
    """Make SecantusDB's findAndModify write an index lookup, as it is in mongod.

    SecantusDB 0.7.0b3 finds the document, then writes it with the filter `{_id, $and: [query]}`;
    its planner routes no filter with a `$` key, so every findAndModify scanned the collection
    (measured: 2.4 ms at 100 documents, 10 ms at 1,100, 36 ms at 4,100, against 0.4 ms for a find
    by `_id`). Route such a filter by its `_id`: the candidates it returns are re-checked against
    the whole filter by every caller (the planner already answers a superset for one clause of a
    filter, the same contract), so the result is unchanged; only the scan goes."""
    from secantus.storage import Storage

    lookup = Storage._try_index_id_keys
    if getattr(lookup, "_by_id_first", False):
        return

    def by_id_first(
        self: Any, db: str, coll: str, filter: dict[str, Any], *, collation: Any = None
    ) -> Any:
        if filter and set(filter) == {"_id", "$and"}:
            found = lookup(self, db, coll, {"_id": filter["_id"]}, collation=collation)
            if found is not None:
                return found
        return lookup(self, db, coll, filter, collation=collation)

    by_id_first._by_id_first = True  # type: ignore[attr-defined]
    Storage._try_index_id_keys = by_id_first


def _serve_secantusdb(
    port: int, data_dir: Path, ttl_sweep_seconds: float, sync_on_commit: bool
) -> int:
    """Run SecantusDB in this process until SIGTERM/SIGINT."""
    import logging

    from secantus import SecantusDBServer

    _route_find_and_modify_writes_by_id()

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    server = SecantusDBServer(
        host=HOST,
        port=port,
        storage_path=str(data_dir),
        ttl_sweep_seconds=ttl_sweep_seconds,
        sync_on_commit=sync_on_commit,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    print(f"secantusdb listening on {HOST}:{port}, data in {data_dir}", flush=True)
    stop.wait()
    server.stop()
    return 0


def _run_logged(log: Path, argv: list[str]) -> int:
    """Run `argv`, copying its output to stdout and `log`; its exit code.

    Ignores SIGTERM/SIGINT itself (the child, in the same process group, gets them from honcho or
    the terminal) and keeps copying until the child's output ends, so no shutdown line is lost.
    """
    # A no-op handler rather than SIG_IGN: handlers are reset on exec, ignored signals are not.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: None)
    log.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    with log.open("ab") as sink:
        for line in iter(child.stdout.readline, b""):
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            sink.write(line)
            sink.flush()
    return child.wait()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="service", required=True)
    rabbit = sub.add_parser("rabbitmq", help="RabbitMQ with the management plugin")
    rabbit.add_argument("--port", type=int, default=5672)
    rabbit.add_argument("--management-port", type=int, default=15672)
    rabbit.add_argument("--dist-port", type=int, default=25672)
    rabbit.add_argument("--epmd-port", type=int, default=4370)
    rabbit.add_argument("--dir", type=Path, required=True)
    redis = sub.add_parser("redis", help="redis-server (no persistence unless --persistent)")
    redis.add_argument("--port", type=int, default=6379)
    redis.add_argument("--dir", type=Path, required=True)
    redis.add_argument("--persistent", action="store_true")
    secantus = sub.add_parser("secantusdb", help="SecantusDB, MongoDB wire protocol")
    secantus.add_argument("--port", type=int, default=27017)
    secantus.add_argument("--dir", type=Path, required=True)
    secantus.add_argument("--ttl-sweep-seconds", type=float, default=5.0)
    secantus.add_argument("--sync-on-commit", action="store_true", help="fsync every commit")
    secantus.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    logged = sub.add_parser("logged", help="run a command, tee its output to a log file")
    logged.add_argument("--log", type=Path, required=True)
    logged.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    try:
        if args.service == "rabbitmq":
            return _run_foreground(
                RabbitMQServer(
                    args.dir,
                    args.port,
                    management_port=args.management_port,
                    dist_port=args.dist_port,
                    epmd_port=args.epmd_port,
                    stats_interval_ms=5000,
                    log_path=None,
                )
            )
        if args.service == "redis":
            return _run_foreground(
                RedisServer(args.dir, args.port, persistent=args.persistent, log_path=None)
            )
        if args.service == "secantusdb":
            if args.serve:
                return _serve_secantusdb(
                    args.port, args.dir, args.ttl_sweep_seconds, args.sync_on_commit
                )
            return _run_foreground(
                SecantusDBServerProcess(
                    args.dir,
                    args.port,
                    ttl_sweep_seconds=args.ttl_sweep_seconds,
                    sync_on_commit=args.sync_on_commit,
                    log_path=None,
                )
            )
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("logged: a command is required after --")
        return _run_logged(args.log, command)
    except ServiceError as error:
        print(f"localservices: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
