"""Serve SecantusDB (MongoDB wire protocol) until SIGTERM: the MongoDB stand-in of the local cluster
(this image) and of `make run`, tests and benchmarks (dev/localservices/backends.py runs this file).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from secantus import SecantusDBServer


def route_find_and_modify_writes_by_id() -> None:
    """Make SecantusDB's findAndModify write an index lookup, as it is in mongod.

    SecantusDB 0.7.0b3 finds the document, then writes it with the filter `{_id, $and: [query]}`;
    its planner routes no filter with a `$` key, so every findAndModify scanned the collection
    (measured: 2.4 ms at 100 documents, 10 ms at 1,100, 36 ms at 4,100, against 0.4 ms for a find
    by `_id`). Route such a filter by its `_id`: the candidates it returns are re-checked against
    the whole filter by every caller (the planner already answers a superset for one clause of a
    filter, the same contract), so the result is unchanged; only the scan goes."""
    from secantus.storage import Storage

    lookup = Storage._try_index_id_keys

    def by_id_first(
        self: Any, db: str, coll: str, filter: dict[str, Any], *, collation: Any = None
    ) -> Any:
        if filter and set(filter) == {"_id", "$and"}:
            found = lookup(self, db, coll, {"_id": filter["_id"]}, collation=collation)
            if found is not None:
                return found
        return lookup(self, db, coll, filter, collation=collation)

    Storage._try_index_id_keys = by_id_first


def main() -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--dir", type=Path, default=Path("/data/db"))
    parser.add_argument("--ttl-sweep-seconds", type=float, default=5.0)
    # Standalone by default, not a one-member replica set: a replica set announces its bind
    # address (0.0.0.0 in the image) as its host, which clients elsewhere cannot reach.
    parser.add_argument("--replica-set", help="serve as this one-member replica set")
    parser.add_argument("--sync-on-commit", action="store_true", help="fsync every commit")
    args = parser.parse_args()
    route_find_and_modify_writes_by_id()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args.dir.mkdir(parents=True, exist_ok=True)
    server = SecantusDBServer(
        host=args.host,
        port=args.port,
        storage_path=str(args.dir),
        ttl_sweep_seconds=args.ttl_sweep_seconds,
        replica_set_name=args.replica_set,
        sync_on_commit=args.sync_on_commit,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    logging.info("secantusdb listening on %s:%d, data in %s", args.host, args.port, args.dir)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
