"""The backing services of tests, benchmarks and `make run`: RabbitMQ, Redis, SecantusDB.

Each is a `Service`, a thin `Program` (supervisor.py) on 127.0.0.1:`port` with its state under
`base_dir`: its command, environment, config files and a readiness check that makes a real
request. RabbitMQ gets its own `epmd` on a private port (ERL_EPMD_PORT), so no Erlang daemon
outlives it. SecantusDB runs dev/images/secantusdb/serve.py, the same server the local cluster's
stand-in image runs.

Measured on 2 cores: RabbitMQ 3.10 starts in 5-7 s and stops in ~6 s (5 s of it in the management
plugin's shutdown), so tests start it once per session; SecantusDB starts in 1-2 s, Redis in 0.1 s.
In RabbitMQ 3.10 a quorum queue declared less than ~3 minutes before a `kill()` of the node does
not recover (Ra saves its server registry lazily); `restart()` (a clean stop) keeps it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

from localservices.supervisor import HOST, ProcessError, Program, free_port

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
SECANTUSDB_SERVE = Path(__file__).resolve().parents[1] / "images" / "secantusdb" / "serve.py"


def _tcp_accepts(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


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

    A standalone server, as the chart's bundled mongod and the local cluster's stand-in are
    (nothing of ours needs a replica set: no transactions, no change streams). As a one-member
    replica set it kept an oplog entry with a diff of every update and, for the driver's
    retryable writes, the reply of every write for 30 minutes (pruned by walking them all on each
    write), so a write cost more the more came before it: a request's insert, claim and store
    cost the stand-in 14.0 ms of CPU after 3,000 requests (6.5 ms with serve.py's pruning, after
    1,500), 5.8 ms standalone after 1,500 (load average 5-7).
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
        argv = [sys.executable, str(SECANTUSDB_SERVE), "--host", HOST, "--port", str(self.port)]
        argv += ["--dir", str(self.base_dir / "data")]
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

    def stop(self, stop_signal: int = signal.SIGTERM) -> Self:
        """Stop the node (SIGTERM: a clean shutdown), then its epmd. A killed node leaves epmd
        running, like after a real crash."""
        super().stop(stop_signal)
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
            raise ProcessError(f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}")
        return result.stdout

    def management_get(self, path: str) -> Any:
        """GET `<management_url><path>` as guest; the decoded JSON."""
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
