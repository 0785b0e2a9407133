"""Serve SecantusDB on all interfaces until SIGTERM (the local cluster's MongoDB stand-in)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from secantus import SecantusDBServer


def route_find_and_modify_writes_by_id() -> None:
    """SecantusDB 0.7.0b3 writes a findAndModify's document with the filter `{_id, $and: [query]}`
    and routes no filter with a `$` key to an index, so every findAndModify scanned the collection
    (milliseconds per thousand documents); route such a filter by its `_id`, as mongod does. The
    candidates are still checked against the whole filter by every caller, so results are the
    same. (The same fix as dev/localservices.py applies to the stand-in of `make run`.)"""
    from secantus.storage import Storage

    lookup = Storage._try_index_id_keys

    def by_id_first(self, db, coll, filter, *, collation=None):  # type: ignore[no-untyped-def]
        if filter and set(filter) == {"_id", "$and"}:
            found = lookup(self, db, coll, {"_id": filter["_id"]}, collation=collation)
            if found is not None:
                return found
        return lookup(self, db, coll, filter, collation=collation)

    Storage._try_index_id_keys = by_id_first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--dir", type=Path, default=Path("/data/db"))
    parser.add_argument("--ttl-sweep-seconds", type=float, default=5.0)
    # Standalone, not a one-member replica set: a replica set announces its bind address
    # (0.0.0.0) as its host, which clients elsewhere cannot reach.
    args = parser.parse_args()
    route_find_and_modify_writes_by_id()
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
