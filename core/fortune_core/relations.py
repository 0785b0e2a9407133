"""Relations between pillars: 天干五合 between stems; 六合, 六冲, 刑 (三刑, 相刑, 自刑), 六害, 六破,
三合 (full, 半合 and 拱合) and 三会 between branches.

The tables are the classical ones the schools share: 《渊海子平》 天干相合, 论十二支六合, 相冲, 相刑
and 三合; 《三命通会·论六害》; 三会 are the seasonal 方 (《三命通会·论孤辰寡宿》: 寅卯辰属东方木位);
六破 is the table docs/almanac.md gives. Conventions ours to name (docs/domain.md): a 半合 is two
branches of a 三合 with its cardinal middle (子午卯酉: 申子, 子辰), a 拱合 the two ends without it
(申辰; 徐乐吾 calls 未亥 a 会局 in 潘复's chart); a 三会 counts only with all three branches;
a 半合, 拱合 or 相刑 pair that is part of a complete 三合 or 三刑 is reported with the group only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations

from pydantic import Field

from fortune_core.facts import Fact

_CLASH = {frozenset(p) for p in ("子午", "丑未", "寅申", "卯酉", "辰戌", "巳亥")}
_COMBINE = {frozenset(p) for p in ("子丑", "寅亥", "卯戌", "辰酉", "巳申", "午未")}
_HARM = {frozenset(p) for p in ("子未", "丑午", "寅巳", "卯辰", "申亥", "酉戌")}
_BREAK = {frozenset(p) for p in ("子酉", "卯午", "巳申", "寅亥", "丑辰", "未戌")}
_PUNISH = {frozenset(p) for p in ("寅巳", "巳申", "申寅", "丑戌", "戌未", "未丑", "子卯")}
_SELF_PUNISH = set("辰午酉亥")
#: 三合 trines (生, 旺, 墓) and the element of the frame they form
TRINES: dict[str, str] = {"申子辰": "water", "亥卯未": "wood", "寅午戌": "fire", "巳酉丑": "metal"}
#: 三会 seasonal meetings and their element
MEETINGS: dict[str, str] = {
    "寅卯辰": "wood",
    "巳午未": "fire",
    "申酉戌": "metal",
    "亥子丑": "water",
}
#: 三刑 with all three branches (子卯 and 自刑 are pairs)
THREE_PUNISHMENTS = ("寅巳申", "丑戌未")
#: 天干五合 and the element each pair transforms into (合化)
STEM_COMBINES: dict[frozenset[str], str] = {
    frozenset("甲己"): "earth",
    frozenset("乙庚"): "metal",
    frozenset("丙辛"): "water",
    frozenset("丁壬"): "wood",
    frozenset("戊癸"): "fire",
}

#: order in which `branch_relations` reports relation kinds
RELATION_KINDS = ("same", "clash", "punish", "harm", "break", "combine", "trine")

#: kind → its Chinese name, in the order relations are reported
KIND_NAMES: dict[str, str] = {
    "stem-combine": "天干五合",
    "combine": "六合",
    "clash": "六冲",
    "three-punishment": "三刑",
    "punish": "相刑",
    "self-punish": "自刑",
    "harm": "六害",
    "break": "六破",
    "trine": "三合",
    "half-trine": "半合",
    "arch": "拱合",
    "meeting": "三会",
}


def branch_relations(first: str, second: str) -> tuple[str, ...]:
    """Relation kinds between two earthly branches, in `RELATION_KINDS` order.

    ``same`` (the same branch, 伏吟/值), ``clash`` 六冲, ``punish`` 相刑 (including 自刑 of
    辰午酉亥 with themselves), ``harm`` 六害, ``break`` 六破, ``combine`` 六合, ``trine`` two
    branches of one 三合 trine (with or without its middle; the almanac engine scores both).
    """
    found: set[str] = set()
    pair = frozenset((first, second))
    if first == second:
        found.add("same")
        if first in _SELF_PUNISH:
            found.add("punish")
    else:
        checks = (
            ("clash", _CLASH),
            ("punish", _PUNISH),
            ("harm", _HARM),
            ("break", _BREAK),
            ("combine", _COMBINE),
        )
        found.update(kind for kind, table in checks if pair in table)
        if any(first in trine and second in trine for trine in TRINES):
            found.add("trine")
    return tuple(kind for kind in RELATION_KINDS if kind in found)


class Relation(Fact):
    """One relation between pillars."""

    kind: str = Field(description=f"One of {', '.join(KIND_NAMES)}")
    name: str = Field(description="The relation's Chinese name, e.g. 六冲")
    pillars: list[str] = Field(description="The pillars involved, e.g. ['year', 'day']")
    chars: str = Field(description="The stems or branches involved, e.g. 子午 or 申子辰")
    element: str | None = Field(
        default=None, description="The element a combination forms (五合, 三合, 三会)"
    )


def _pair_relations(first: str, second: str) -> list[tuple[str, str | None]]:
    """(kind, element) of the pair relations between two pillars (stems, then branches)."""
    found: list[tuple[str, str | None]] = []
    stems = frozenset((first[0], second[0]))
    if stems in STEM_COMBINES:
        found.append(("stem-combine", STEM_COMBINES[stems]))
    a, b = first[1], second[1]
    pair = frozenset((a, b))
    if a == b:
        if a in _SELF_PUNISH:
            found.append(("self-punish", None))
        return found
    for kind, table in (
        ("combine", _COMBINE),
        ("clash", _CLASH),
        ("punish", _PUNISH),
        ("harm", _HARM),
        ("break", _BREAK),
    ):
        if pair in table:
            found.append((kind, None))
    for trine, element in TRINES.items():
        if a in trine and b in trine:
            found.append(("half-trine" if trine[1] in pair else "arch", element))
    return found


def _chars(kind: str, first: str, second: str) -> str:
    return first[0] + second[0] if kind == "stem-combine" else first[1] + second[1]


#: a pair relation that is part of a complete group of three is reported with the group only
_PART_OF = {"half-trine": "trine", "arch": "trine", "punish": "three-punishment"}


def _subsumed(relation: Relation, found: list[Relation]) -> bool:
    group = _PART_OF.get(relation.kind)
    return any(
        other.kind == group
        and set(relation.chars) <= set(other.chars)
        and set(relation.pillars) <= set(other.pillars)
        for other in found
    )


def relations(pillars: Mapping[str, str], involving: Iterable[str] = ()) -> list[Relation]:
    """Every relation among the labelled pillars (label → ganzhi, e.g. {"year": "甲子", ...}).

    With `involving`, only the relations that include at least one of those labels (the chart
    against a luck pillar, without repeating the chart's own). Reported in `KIND_NAMES` order,
    then in the order of the labels.
    """
    labels = list(pillars)
    must = set(involving)
    found: list[Relation] = []
    for left, right in combinations(labels, 2):
        if must and not {left, right} & must:
            continue
        for kind, element in _pair_relations(pillars[left], pillars[right]):
            found.append(
                Relation(
                    kind=kind,
                    name=KIND_NAMES[kind],
                    pillars=[left, right],
                    chars=_chars(kind, pillars[left], pillars[right]),
                    element=element,
                )
            )
    groups = [
        ("trine", TRINES.items()),
        ("meeting", MEETINGS.items()),
        ("three-punishment", ((chars, None) for chars in THREE_PUNISHMENTS)),
    ]
    for kind, table in groups:
        for chars, element in table:
            holders = [label for label in labels if pillars[label][1] in chars]
            present = {pillars[label][1] for label in holders}
            if present != set(chars) or (must and not set(holders) & must):
                continue
            name = KIND_NAMES[kind]
            found.append(
                Relation(kind=kind, name=name, pillars=holders, chars=chars, element=element)
            )
    found = [r for r in found if not _subsumed(r, found)]
    order = list(KIND_NAMES)
    return sorted(found, key=lambda r: (order.index(r.kind), [labels.index(p) for p in r.pillars]))
