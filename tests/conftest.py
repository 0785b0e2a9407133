"""Root of the tests: make `dev/` (localservices, controlplane) and `tests/` (fakes) importable."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

for _path in (REPO_ROOT / "dev", TESTS_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
