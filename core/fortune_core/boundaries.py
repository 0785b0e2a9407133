"""Boundary warnings: a birth within a few minutes of a 节 (the month pillar, at 立春 the year
pillar too, and the 起运 interval change there) or of 23:00 / 00:00 (the day and hour pillars,
depending on the 子-hour convention). The profile derives the chart once more on the other side of
each boundary near the birth and reports what would differ, so a person can check the birth time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from pydantic import Field

from fortune_core.facts import Fact

ONE_MINUTE = dt.timedelta(minutes=1)
#: what a counterfactual chart is compared on, with the words used in the note
COMPARED = {
    "year": "year pillar",
    "month": "month pillar",
    "day": "day pillar",
    "hour": "hour pillar",
    "qiYun": "起运",
}


class BoundaryChange(Fact):
    what: str = Field(description="year, month, day, hour (pillars) or qiYun (起运 y-m-d)")
    actual: str
    other: str = Field(description="The value on the other side of the boundary")


class BoundaryWarning(Fact):
    """A boundary near the birth time and what would change across it."""

    kind: str = Field(description="solar-term, zi-hour (23:00) or midnight (00:00)")
    boundary: str = Field(
        description="The term's instant (ISO, UTC+08:00) or the local time of 23:00 / 00:00"
    )
    term: str | None = None
    minutes: int = Field(description="Birth minus boundary, in minutes (negative: before it)")
    changes: list[BoundaryChange]
    note: str


#: a boundary: (kind, when (Beijing for terms, local for clock hours), term name or None)
Boundary = tuple[str, dt.datetime, str | None]


def near(
    local: dt.datetime, beijing: dt.datetime, terms: list[tuple[str, dt.datetime]], minutes: int
) -> list[tuple[Boundary, dt.timedelta]]:
    """Boundaries within `minutes` of the birth, each with the shift that puts the birth one
    minute on their other side (`terms`: the previous and next 节, naive Beijing time)."""
    if minutes <= 0:
        return []
    limit = dt.timedelta(minutes=minutes)
    found: list[tuple[Boundary, dt.timedelta]] = []
    candidates: list[tuple[Boundary, dt.datetime]] = [
        (("solar-term", instant, name), beijing) for name, instant in terms
    ]
    midnight = dt.datetime.combine(local.date(), dt.time(0, 0))
    for day in (-1, 0, 1):
        start = midnight + dt.timedelta(days=day)
        candidates.append((("midnight", start, None), local))
        candidates.append((("zi-hour", start + dt.timedelta(hours=23), None), local))
    for boundary, clock in candidates:
        when = boundary[1]
        if abs(clock - when) <= limit:
            other = when - ONE_MINUTE if clock >= when else when + ONE_MINUTE
            found.append((boundary, other - clock))
    return found


def warnings(
    local: dt.datetime,
    beijing: dt.datetime,
    terms: list[tuple[str, dt.datetime]],
    minutes: int,
    facts_at: Callable[[dt.timedelta], Mapping[str, str]],
    actual: Mapping[str, str],
) -> list[BoundaryWarning]:
    """The warnings for the boundaries near the birth; `facts_at(shift)` gives the compared facts
    (keys of `COMPARED`) of the chart with the birth moved by `shift`. A boundary across which
    nothing changes (00:00 under the next-day 子 convention) gives no warning."""
    found = []
    for (kind, when, term), shift in near(local, beijing, terms, minutes):
        other = facts_at(shift)
        changes = [
            BoundaryChange(what=key, actual=actual[key], other=other[key])
            for key in COMPARED
            if key in actual and actual[key] != other.get(key)
        ]
        if not changes:
            continue
        clock = beijing if kind == "solar-term" else local
        delta = round((clock - when).total_seconds() / 60)
        if kind == "solar-term":
            boundary = when.isoformat(timespec="seconds") + "+08:00"
            where = f"{term} ({when:%Y-%m-%d %H:%M} Beijing time)"
        else:
            boundary = when.isoformat(timespec="minutes")
            where = f"{when:%H:%M} local time"
        side = "after" if delta >= 0 else "before"
        across = "earlier" if delta >= 0 else "later"
        differences = ", ".join(
            f"the {COMPARED[c.what]} would be {c.other} instead of {c.actual}" for c in changes
        )
        found.append(
            BoundaryWarning(
                kind=kind,
                boundary=boundary,
                term=term,
                minutes=delta,
                changes=changes,
                note=f"born {abs(delta)} min {side} {where}: {abs(delta) + 1} min {across}, "
                f"{differences}",
            )
        )
    return found
