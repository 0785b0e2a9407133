"""What the benchmarks share; importing it puts dev/ and tests/ on sys.path (for localservices,
controlplane, e2e_cluster and the fakes), so import it before those.

- stack.py: the standalone stack on free ports (RabbitMQ, Redis, SecantusDB, the fake LLM, the API,
  workers), the environment of our programs against it, its MongoDB records;
- sampling.py: CPU seconds, RSS and peak RSS of a process (and its descendants) by PID, read from
  /proc, and a `Sampler` that records them every N seconds;
- http_load.py: GET load from client threads (requests/s, p50, p99);
- report.py: percentiles, the "measured on" line, and the docs sections between
  `<!-- name:begin -->` and `<!-- name:end -->` markers.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT / "dev", ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
