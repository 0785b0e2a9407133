"""The command line of the Procfile (`make run`): a backing service in the foreground, stopped
cleanly on SIGTERM, and `logged`, which copies a command's output to a log file.

    python dev/localservices rabbitmq --port 5672 --management-port 15672 --dir .local/rabbitmq
    python dev/localservices redis --port 6379 --dir .local/redis
    python dev/localservices secantusdb --port 27017 --dir .local/mongodb --ttl-sweep-seconds 5
    python dev/localservices logged --log .local/log/api.log -- <command...>
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from localservices.backends import RabbitMQServer, RedisServer, SecantusDBServerProcess, Service
from localservices.supervisor import ProcessError


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localservices", description="Local backing services for `make run`."
    )
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
    logged = sub.add_parser("logged", help="run a command, tee its output to a log file")
    logged.add_argument("--log", type=Path, required=True)
    logged.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def _service(args: argparse.Namespace) -> Service:
    """The service the arguments name, its output inherited (honcho shows it)."""
    if args.service == "rabbitmq":
        return RabbitMQServer(
            args.dir,
            args.port,
            management_port=args.management_port,
            dist_port=args.dist_port,
            epmd_port=args.epmd_port,
            stats_interval_ms=5000,
            log_path=None,
        )
    if args.service == "redis":
        return RedisServer(args.dir, args.port, persistent=args.persistent, log_path=None)
    return SecantusDBServerProcess(
        args.dir,
        args.port,
        ttl_sweep_seconds=args.ttl_sweep_seconds,
        sync_on_commit=args.sync_on_commit,
        log_path=None,
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.service != "logged":
            return _run_foreground(_service(args))
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("logged: a command is required after --")
        return _run_logged(args.log, command)
    except ProcessError as error:
        print(f"localservices: {error}", file=sys.stderr, flush=True)
        return 1
