"""神煞: a small, cited set of symbolic stars found in a chart.

Seven stars, each from a named table (docs/domain.md quotes the rhymes):

- 天乙贵人, 文昌 (by the day stem, and by the year stem as 《三命通会》 also reads them),
- 禄神, 羊刃 (by the day stem),
- 驿马, 华盖, 桃花 (咸池) (by the year branch, as 《千里命稿》 reads 驿马, and by the day branch,
  as 《命理探原》 reads all three; the pillar they are read from is not searched).

The schools disagree on two tables, so the school is selectable (``FORTUNE_SHENSHA_SCHOOL``):

``tanyuan`` (default): 袁树珊《命理探原》 (1916), 卷 神煞, whose seven tables each name their
  source: 天乙 by the 古歌 "甲戊庚牛羊，乙己鼠猴乡，丙丁猪鸡位，壬癸兔蛇藏，六辛逢虎马" (庚 →
  丑未, the table of 《三命通会·论天乙贵人》 and 《千里命稿》); 羊刃 for all ten stems, 禄前一位
  (乙辰, 丁己未, 辛戌, 癸丑; it rejects 《乾元秘旨》's 乙寅 丁己巳 辛申 癸亥).
``yuanhai``: 《渊海子平》: 天乙 by "甲戊兼牛羊，乙己鼠猴乡，丙丁猪鸡位，壬癸兔蛇藏，庚辛逢马虎"
  (庚 → 寅午), and 羊刃 for the five yang stems only ("甲丙戊庚壬五阳有刃，乙己丁辛癸五阴无刃").
  《渊海子平》 has no 文昌 or 咸池 table; those two are 《命理探原》's in both schools.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from fortune_core.conventions import ShenShaSchool
from fortune_core.facts import Fact
from fortune_core.relations import TRINES


def _by_stem(table: Mapping[str, str]) -> dict[str, str]:
    """{"甲戊庚": "丑未", ...} → {"甲": "丑未", "戊": "丑未", ...}."""
    return {stem: branches for stems, branches in table.items() for stem in stems}


_TIAN_YI = {"甲戊庚": "丑未", "乙己": "子申", "丙丁": "亥酉", "壬癸": "卯巳", "辛": "寅午"}
TIAN_YI: dict[ShenShaSchool, dict[str, str]] = {
    ShenShaSchool.TANYUAN: _by_stem(_TIAN_YI),
    ShenShaSchool.YUANHAI: {**_by_stem(_TIAN_YI), "庚": "寅午"},
}
#: 《命理探原》 quoting 《紫薇斗数》:
#: "甲乙巳午报君知，丙戊申宫丁己鸡，庚猪辛鼠壬逢虎，癸人见兔入云梯"
WEN_CHANG = _by_stem(
    {
        "甲": "巳",
        "乙": "午",
        "丙戊": "申",
        "丁己": "酉",
        "庚": "亥",
        "辛": "子",
        "壬": "寅",
        "癸": "卯",
    }
)
#: 《渊海子平·论十干禄》:
#: "甲禄在寅，乙禄在卯，丙戊禄在巳，丁己禄在午，庚禄在申，辛禄在酉，壬禄在亥，癸禄在子"
LU = _by_stem(
    {
        "甲": "寅",
        "乙": "卯",
        "丙戊": "巳",
        "丁己": "午",
        "庚": "申",
        "辛": "酉",
        "壬": "亥",
        "癸": "子",
    }
)
_YANG_REN_YANG = {"甲": "卯", "丙戊": "午", "庚": "酉", "壬": "子"}
YANG_REN: dict[ShenShaSchool, dict[str, str]] = {
    ShenShaSchool.TANYUAN: _by_stem(
        {**_YANG_REN_YANG, "乙": "辰", "丁己": "未", "辛": "戌", "癸": "丑"}
    ),
    ShenShaSchool.YUANHAI: _by_stem(_YANG_REN_YANG),
}
#: trine → star branch: 《渊海子平》 论驿马 and 论华盖, 《三命通会·论咸池》
#: (as 《命理探原》 quotes them)
YI_MA = {"申子辰": "寅", "寅午戌": "申", "巳酉丑": "亥", "亥卯未": "巳"}
HUA_GAI = {"申子辰": "辰", "寅午戌": "戌", "巳酉丑": "丑", "亥卯未": "未"}
TAO_HUA = {"申子辰": "酉", "寅午戌": "卯", "巳酉丑": "午", "亥卯未": "子"}

#: star → (English name, what it is read from)
STARS: dict[str, tuple[str, tuple[str, ...]]] = {
    "天乙贵人": ("Heavenly Noble", ("day-stem", "year-stem")),
    "文昌": ("Academic Star", ("day-stem", "year-stem")),
    "禄神": ("Prosperity Star", ("day-stem",)),
    "羊刃": ("Goat Blade", ("day-stem",)),
    "驿马": ("Travelling Horse", ("year-branch", "day-branch")),
    "华盖": ("Canopy", ("year-branch", "day-branch")),
    "桃花": ("Peach Blossom", ("year-branch", "day-branch")),
}
_BASIS_PILLAR = {"day-stem": "day", "year-stem": "year", "day-branch": "day", "year-branch": "year"}


class Star(Fact):
    """One 神煞 found in the chart."""

    name: str = Field(description="The star's Chinese name, e.g. 天乙贵人")
    name_en: str
    basis: str = Field(
        description="What it is read from: day-stem, year-stem, day-branch, year-branch"
    )
    branch: str = Field(description="The branch the star sits on")
    pillars: list[str] = Field(description="The pillars whose branch is that branch")


class ShenSha(Fact):
    """The 神煞 of a chart and the school whose tables found them."""

    school: ShenShaSchool
    stars: list[Star]


def _star_branches(name: str, key: str, school: ShenShaSchool) -> str:
    """The branch(es) star `name` sits on for a stem (stem-read stars) or a branch."""
    if name == "天乙贵人":
        return TIAN_YI[school][key]
    if name == "文昌":
        return WEN_CHANG[key]
    if name == "禄神":
        return LU[key]
    if name == "羊刃":
        return YANG_REN[school].get(key, "")
    table = {"驿马": YI_MA, "华盖": HUA_GAI, "桃花": TAO_HUA}[name]
    return next(branch for trine, branch in table.items() if key in trine)


def shen_sha(pillars: Mapping[str, str], school: ShenShaSchool) -> ShenSha:
    """The stars of a chart (label → ganzhi for year, month, day and, when known, hour).

    A star read from a stem is looked for in every branch, its own pillar's too (日坐贵人); one
    read from a branch is looked for in the other pillars ("如寅午戌日，而年月时见戌者即是")."""
    assert set(TRINES) == set(YI_MA)  # the branch tables are keyed by the 三合 trines
    stars: list[Star] = []
    for name, (name_en, bases) in STARS.items():
        for basis in bases:
            source = _BASIS_PILLAR[basis]
            key = pillars[source][0 if basis.endswith("stem") else 1]
            for branch in _star_branches(name, key, school):
                holders = [
                    label
                    for label, ganzhi in pillars.items()
                    if ganzhi[1] == branch and (basis.endswith("stem") or label != source)
                ]
                if holders:
                    stars.append(
                        Star(
                            name=name, name_en=name_en, basis=basis, branch=branch, pillars=holders
                        )
                    )
    return ShenSha(school=school, stars=stars)
