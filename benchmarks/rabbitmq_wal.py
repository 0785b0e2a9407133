"""RabbitMQ's quorum-queue memory against its Raft WAL size (not a test).

    .venv/bin/python benchmarks/rabbitmq_wal.py [--messages 20000] [--size 2048] [--write]

Why: quorum queues keep what they write to the Raft write-ahead log in memory (the node's
`quorum_ets`, and the message bodies as off-heap binaries) until the WAL file reaches
`raft.wal_max_size_bytes` and rolls over; the chart sets it (`rabbitmq.walMaxSizeBytes`) so the
broker's memory under a steady load is bounded by it, not by RabbitMQ's default 512 MiB. This runs a
throwaway local RabbitMQ (Debian's package) per WAL size, pushes `--messages` persistent messages of
`--size` bytes through one quorum queue (publish with confirms, consume and ack, a few in flight, as
the workers do) and samples the node's memory breakdown every 1,000 messages: the highest
`quorum_ets` + `binary` seen per WAL size, side by side in one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import pika
from common import ROOT
from common.report import DocsSection, load_average, measured_on

from localservices.backends import RabbitMQServer
from localservices.supervisor import free_port

SECTION = DocsSection(
    ROOT / "docs" / "benchmarks.md", "rabbitmq-wal", "RabbitMQ's WAL (`benchmarks/rabbitmq_wal.py`)"
)
QUEUE = "cyberfortune.wal-bench"
SIZES = (1 << 20, 4 << 20, 16 << 20, 512 << 20)


class WalBroker(RabbitMQServer):
    """The test broker with a given Raft WAL size."""

    def __init__(self, base_dir: Path, wal_bytes: int) -> None:
        self.wal_bytes = wal_bytes
        super().__init__(base_dir, free_port(), log_path=base_dir / "rabbitmq.out")

    def prepare(self) -> None:
        super().prepare()
        conf = self.base_dir / "rabbitmq.conf"
        conf.write_text(conf.read_text() + f"raft.wal_max_size_bytes = {self.wal_bytes}\n")


def memory_mb(broker: RabbitMQServer) -> dict[str, float]:
    node = urllib.parse.quote(broker.node, safe="")
    memory: dict[str, Any] = broker.management_get(f"/api/nodes/{node}/memory")["memory"]
    return {key: memory.get(key, 0) / 2**20 for key in ("quorum_ets", "binary")}


def run(wal_bytes: int, messages: int, size: int, work: Path) -> dict[str, float]:
    broker = WalBroker(work / f"wal-{wal_bytes}", wal_bytes).start()
    try:
        connection = pika.BlockingConnection(pika.URLParameters(broker.amqp_url))
        channel = connection.channel()
        channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        channel.confirm_delivery()
        channel.basic_qos(prefetch_count=16)
        body = b"x" * size
        props = pika.BasicProperties(delivery_mode=2)
        peak = {"quorum_ets": 0.0, "binary": 0.0, "sum": 0.0}
        for n in range(messages):
            channel.basic_publish("", QUEUE, body, props, mandatory=True)
            method, _, _ = channel.basic_get(QUEUE)
            if method is not None:
                channel.basic_ack(method.delivery_tag)
            if n % 1000 == 999:
                sample = memory_mb(broker)
                peak["quorum_ets"] = max(peak["quorum_ets"], sample["quorum_ets"])
                peak["binary"] = max(peak["binary"], sample["binary"])
                peak["sum"] = max(peak["sum"], sample["quorum_ets"] + sample["binary"])
        final = memory_mb(broker)
        connection.close()
        return {**peak, "final_quorum_ets": final["quorum_ets"], "final_binary": final["binary"]}
    finally:
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    before = load_average()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cf-wal-") as tmp:
        for wal in SIZES:
            result = run(wal, args.messages, args.size, Path(tmp))
            rows.append((wal, result))
            print(wal, result, flush=True)
    written = args.messages * args.size / 2**20
    lines = [
        "| `raft.wal_max_size_bytes` | highest `quorum_ets` | highest `binary` | highest sum | "
        "at the end (quorum_ets, binary) |",
        "|---|---|---|---|---|",
    ]
    for wal, r in rows:
        lines.append(
            f"| {wal / 2**20:g} MiB | {r['quorum_ets']:.1f} MB | {r['binary']:.1f} MB | "
            f"{r['sum']:.1f} MB | {r['final_quorum_ets']:.1f}, {r['final_binary']:.1f} MB |"
        )
    command = (
        f".venv/bin/python benchmarks/rabbitmq_wal.py --messages {args.messages} "
        f"--size {args.size} --write"
    )
    text = (
        f"{measured_on(command, (before, load_average()))} A local RabbitMQ "
        f"(Debian's package) per WAL size; {args.messages} persistent messages of {args.size} B "
        f"({written:.0f} MB in all) through one quorum queue, published with confirms, each "
        "fetched and acknowledged; the node's memory breakdown every 1,000 messages.\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(SECTION.text(text))
    if args.write:
        SECTION.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
