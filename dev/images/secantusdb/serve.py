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


def route_id_equality_filters_by_id() -> None:
    """Make SecantusDB look a filter with an `_id` equality up by its `_id`, as mongod does.

    SecantusDB 0.7.0b3 looks a lone `{_id: value}` up directly, but a filter with more fields
    (`{_id, status: {$in: [...]}, dispatch_id}`: every transition of ours) first goes through its
    whole planner, which reads and decodes the collection's index catalog several times over
    (geo, compound, partial and single-field pickers) before its last resort tries the `_id`
    clause alone; and the write of a findAndModify, `{_id, $and: [query]}`, is routed by no index
    at all (its planner skips a filter with a `$` key), so every findAndModify scanned the
    collection (measured: 2.4 ms at 100 documents, 10 ms at 1,100, 36 ms at 4,100, against 0.4 ms
    for a find by `_id`). Look such a filter up by its `_id` first: the candidates are re-checked
    against the whole filter by every caller (the planner's own contract: it already answers a
    superset for one clause of a filter), so the result is unchanged; only the planning and the
    scan go. Not with a collation (an `_id` compared under one is not a point lookup)."""
    from secantus.storage import Storage

    lookup = Storage._try_index_id_keys

    def by_id_first(
        self: Any, db: str, coll: str, filter: dict[str, Any], *, collation: Any = None
    ) -> Any:
        if filter and len(filter) > 1 and "_id" in filter and collation is None:
            found = lookup(self, db, coll, {"_id": filter["_id"]})
            if found is not None:
                return found
        return lookup(self, db, coll, filter, collation=collation)

    Storage._try_index_id_keys = by_id_first


def prune_retryable_write_records_in_order() -> None:
    """Make SecantusDB's pruning of its retryable-write records cost what it prunes.

    SecantusDB 0.7.0b3 keeps the reply of every retryable write for 30 minutes (at most 10,000
    of them; mongod's `config.transactions`), and both looks a record up and stores one with a
    prune that walks every record kept (sorting them all once the cap is reached), so each write
    cost more the more writes came before it: after 3,000 requests' writes, a request's insert,
    claim and store cost 14.0 ms of the stand-in's CPU, 8.8 ms with this (load average 6.5). The
    records are kept in a dict in the order they were stored, with the time they were stored, so
    the oldest are at its front: drop from the front while the oldest is past its lifetime or
    the count is over the cap, and stop at the first live one. The same records are kept (a
    record stored again keeps its place, so pruning stops at it and the ones behind it may live
    a little longer, never shorter: a driver's retry still finds its reply); only the walk goes."""
    from secantus import transactions

    def prune_from_the_front(self: Any) -> None:
        records = self._retryable
        if not records:
            return
        cutoff = self._time() - transactions._RETRYABLE_RECORD_LIFETIME_SECONDS
        cap = transactions._RETRYABLE_RECORD_MAX
        while records:
            oldest = next(iter(records))
            if records[oldest][1] >= cutoff and len(records) <= cap:
                return
            del records[oldest]

    transactions.TransactionRegistry._prune_retryable_locked = prune_from_the_front


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
    route_id_equality_filters_by_id()
    prune_retryable_write_records_in_order()
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
