"""Documentation stays true: every environment variable the code reads is documented."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["core/fortune_core", "api-image/fortune_api", "worker-image/fortune_worker",
           "operator/fortune_operator", "dev", "tests/e2e"]  # fmt: skip
READ = re.compile(
    r"""(?:env_(?:str|int|float|bool)\(|os\.environ(?:\.get)?[\[(]|os\.getenv\()\s*["']([A-Z][A-Z0-9_]+)["']"""
)
NOT_OURS = {"HOME", "PATH", "CI", "USER"}  # system variables read in passing


def _variables_read() -> set[str]:
    names: set[str] = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            names.update(READ.findall(path.read_text(encoding="utf-8")))
    return names - NOT_OURS


def test_every_environment_variable_is_documented() -> None:
    documented = set(
        re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs/configuration.md").read_text())
    )
    read = _variables_read()
    assert read, "the scan found no variables at all"
    assert read - documented == set()
