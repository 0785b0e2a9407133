"""Figures to text: percentiles, the "measured on" line, and the docs sections the benchmarks
write between `<!-- name:begin -->` and `<!-- name:end -->` markers (docs/benchmarks.md,
docs/reliability.md)."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def load_average() -> str:
    """The load average over 1, 5 and 15 minutes, e.g. `1.52 4.10 5.52`."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def measured_on(command: str, load: tuple[str, str] | None = None) -> str:
    """When, on what and by which command a figure was measured: "Measured <today> on this
    machine (<cores>, <Python>[; load average <before> before, <after> after]), command `...`." """
    machine = f"{os.cpu_count()} cores, {platform.python_implementation()} "
    machine += platform.python_version()
    if load is not None:
        machine += f"; load average {load[0]} before, {load[1]} after"
    today = dt.date.today().isoformat()
    return f"Measured {today} on this machine ({machine}), command `{command}`."


@dataclass(frozen=True)
class DocsSection:
    """The part of `doc` between `<!-- name:begin -->` and `<!-- name:end -->`; where `doc` has
    none yet, `write` appends it under `## heading` (without a heading it refuses)."""

    doc: Path
    name: str
    heading: str | None = None

    @property
    def begin(self) -> str:
        return f"<!-- {self.name}:begin -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"

    def text(self, body: str) -> str:
        """`body` between the markers."""
        return f"{self.begin}\n{body}\n{self.end}"

    def write(self, body: str) -> None:
        """Put `body` between the markers in the doc."""
        text = self.doc.read_text() if self.doc.exists() else ""
        if self.begin in text:
            head, rest = text.split(self.begin, 1)
            text = head + self.text(body) + rest.split(self.end, 1)[1]
        elif self.heading is not None:
            text = text.rstrip() + f"\n\n## {self.heading}\n\n{self.text(body)}\n"
        else:
            raise ValueError(f"{self.doc} has no section {self.name}")
        self.doc.write_text(text)
