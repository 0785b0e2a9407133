"""Serve SecantusDB on all interfaces until SIGTERM (the local cluster's MongoDB stand-in)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from secantus import SecantusDBServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--dir", type=Path, default=Path("/data/db"))
    parser.add_argument("--ttl-sweep-seconds", type=float, default=5.0)
    # Standalone, not a one-member replica set: a replica set announces its bind address
    # (0.0.0.0) as its host, which clients elsewhere cannot reach.
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args.dir.mkdir(parents=True, exist_ok=True)
    server = SecantusDBServer(
        host="0.0.0.0",
        port=args.port,
        storage_path=str(args.dir),
        ttl_sweep_seconds=args.ttl_sweep_seconds,
        replica_set_name=None,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    logging.info("secantusdb listening on 0.0.0.0:%d, data in %s", args.port, args.dir)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
