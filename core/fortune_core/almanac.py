"""The offline almanac engine: a deterministic, rule-based fortune (provider ``almanac``).

It reads the pillar of the period asked about against the person's chart and writes a full
`FortuneResult` in zh-CN or en. The period's pillar is the day's ganzhi (day), each of the seven
days from the target date (week), the month pillar by the solar terms (节, month) or the year
pillar by 立春 (year).

Scoring (docs/almanac.md has the tables). Every aspect (career, love, wealth, health, study) starts
at 60 and adds:

1. 十神: the ten god of the period stem against the day master (full weight) and of the period
   branch's main hidden stem (half weight), from a per-aspect table (正财/偏财 → wealth, 正官/七杀
   → career and pressure, 食神/伤官 → expression and study, 正印/偏印 → learning and support,
   比肩/劫财 → peers and competition); the spouse star (财 for men, 官 for women) adds to love.
2. Elements: the period stem's element +5 if favourable, −3 if not; the branch's +3 / −2 (all
   aspects).
3. Branches: the period branch against each birth branch: 六冲 −3 on every aspect and −9 on that
   pillar's palace aspects, 六合 +2/+7, 半合 (two of a 三合 trine) +1.5/+4, 六害 and 相刑 −1.5/−4;
   a complete 三合 frame with two birth branches +3 more. Palaces: year → career, health (half);
   month → career, wealth (half); day (spouse palace) → love, health (half); hour → study,
   wealth (half). A stem combining (五合) with the day master adds +3 to love.
4. 太岁: the target year's branch (by 立春) against the birth year branch: 值 −4, 冲 −6, 刑 −3,
   害 −2, 破 −1, 合/三合 +2, on every aspect; full weight for a year reading, half for a month,
   a quarter for a day or a week.
5. Day readings only: the day's 黄道 +2 / 黑道 −2 and its 建除 star (除危定执成开 +1, 建满平收 −1,
   破闭 −2).
6. Year and month readings: the 大运 containing the target date, read against the chart like a
   period pillar, at weight ½ (year) or ¼ (month); the text names it and the 流年.

Scores are rounded and kept within 20–98 (a reading never writes anyone off); overall is the mean
of the five aspects. A week is the mean of its seven day scores; its best and worst days are named.

Wording varies by a stable SHA-256 of the chart, date, topic and period (never `hash()`), so the
same input gives the same reading in every process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lunar_python import Lunar, Solar
from lunar_python.util.LunarUtil import LunarUtil

from fortune_core.almanac_terms import (
    ASPECT_ACTION,
    ASPECT_NAME,
    BANDS,
    BRANCH_ANIMAL_ZH,
    BRANCH_PINYIN,
    CLOSINGS,
    COLOURS,
    LUCK_RELATION_NAME,
    MONTH_EN,
    PALACE_AVOID,
    PALACE_NAME,
    PILLAR_NAME,
    RELATION_EFFECT,
    RELATION_NAME,
    SHA_EN,
    SOLAR_TERM_EN,
    STEM_PINYIN,
    STRENGTH_NAME,
    SUMMARY_RELATION,
    SUMMARY_TAI_SUI,
    TAI_SUI_NAME,
    TEN_GOD_ASPECT,
    TEN_GOD_AVOID,
    TEN_GOD_DO,
    TEN_GOD_KEYWORD,
    TEN_GOD_PINYIN,
    TEN_GOD_THEME,
    TERMS,
    TIAN_SHEN_EN,
    WEEKDAY_EN,
    WEEKDAY_ZH,
    WELLBEING_TIPS,
    ZHI_XING_EN,
    relevance,
)
from fortune_core.ganzhi import (
    BRANCHES,
    ELEMENT_ZH,
    STEMS,
    branch_element,
    stem_element,
    ten_god,
)
from fortune_core.luck import LuckAt
from fortune_core.profile import (
    TEN_GOD_EN,
    ZODIAC_EN,
    DayAlmanac,
    DerivedProfile,
    day_almanac,
    derive_profile,
    luck_for,
)
from fortune_core.relations import STEM_COMBINES, TRINES, branch_relations
from fortune_core.request import FortuneRequest, Gender, Language, Period, Topic
from fortune_core.result import ASPECTS, FortuneResult

PROVIDER = "almanac"
MODEL = "almanac-1"

BASE_SCORE = 60.0
MIN_SCORE = 20
MAX_SCORE = 98

# --- score tables -------------------------------------------------------------------------------

#: ten god → deltas for (career, love, wealth, health, study)
TEN_GOD_DELTAS: dict[str, tuple[int, int, int, int, int]] = {
    "比肩": (2, -2, -3, 3, 2),
    "劫财": (0, -3, -7, 1, 0),
    "食神": (3, 5, 4, 5, 5),
    "伤官": (-4, -3, 3, -2, 6),
    "偏财": (3, 4, 8, -1, -3),
    "正财": (4, 4, 7, 1, -1),
    "七杀": (3, -3, -2, -5, 2),
    "正官": (7, 3, 1, 1, 4),
    "偏印": (-1, -2, -3, 1, 6),
    "正印": (3, 2, -1, 4, 8),
}
#: the spouse star: 财 for men, 官/杀 for women (adds to love)
SPOUSE_STAR: dict[Gender, dict[str, int]] = {
    Gender.MALE: {"正财": 3, "偏财": 2},
    Gender.FEMALE: {"正官": 3, "七杀": 2},
    Gender.UNSPECIFIED: {},
}
STEM_FAVOURABLE, STEM_UNFAVOURABLE = 5.0, -3.0
BRANCH_FAVOURABLE, BRANCH_UNFAVOURABLE = 3.0, -2.0
#: relation kind → (delta on every aspect, delta on the palace's aspects)
RELATION_DELTAS: dict[str, tuple[float, float]] = {
    "clash": (-3.0, -9.0),
    "combine": (2.0, 7.0),
    "trine": (1.5, 4.0),
    "harm": (-1.5, -4.0),
    "punish": (-1.5, -4.0),
}
FULL_TRINE_BONUS = 3.0
STEM_COMBINE_LOVE = 3.0
#: birth pillar (palace, 宫位) → the aspects it speaks for, with weights
PALACE_ASPECTS: dict[str, dict[str, float]] = {
    "year": {"career": 0.5, "health": 0.5},
    "month": {"career": 1.0, "wealth": 0.5},
    "day": {"love": 1.0, "health": 0.5},
    "hour": {"study": 1.0, "wealth": 0.5},
}
TAI_SUI_DELTAS: dict[str, float] = {
    "same": -4.0,
    "clash": -6.0,
    "punish": -3.0,
    "harm": -2.0,
    "break": -1.0,
    "combine": 2.0,
    "trine": 2.0,
}
TAI_SUI_WEIGHT: dict[Period, float] = {
    Period.DAY: 0.25,
    Period.WEEK: 0.25,
    Period.MONTH: 0.5,
    Period.YEAR: 1.0,
}
#: weight of the 大运's own reading (ten gods, elements, relations) in a year or month reading
DA_YUN_WEIGHT: dict[Period, float] = {Period.YEAR: 0.5, Period.MONTH: 0.25}
TIAN_SHEN_LUCK_DELTA = {"吉": 2.0, "凶": -2.0}
ZHI_XING_DELTA: dict[str, float] = {
    "除": 1.0,
    "危": 1.0,
    "定": 1.0,
    "执": 1.0,
    "成": 1.0,
    "开": 1.0,
    "建": -1.0,
    "满": -1.0,
    "平": -1.0,
    "收": -1.0,
    "破": -2.0,
    "闭": -2.0,
}

#: 河图 numbers of each element (生数, 成数; earth's 10 written 0)
HETU: dict[str, tuple[int, int]] = {
    "water": (1, 6),
    "fire": (2, 7),
    "wood": (3, 8),
    "metal": (4, 9),
    "earth": (5, 0),
}


# --- analysis -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchRelation:
    """A relation between the period branch and one birth branch."""

    kind: str  # clash, combine, trine, harm, punish
    palace: str  # year, month, day, hour
    natal: str  # the birth branch
    period: str  # the period branch


@dataclass(frozen=True)
class PillarReading:
    """One period pillar read against the chart, with the score deltas it produces."""

    ganzhi: str
    ten_god: str
    branch_ten_god: str
    relations: tuple[BranchRelation, ...]
    full_trines: tuple[str, ...]  # the element of each complete 三合 frame
    stem_combines_day_master: bool
    stem_element: str
    branch_element: str
    deltas: dict[str, float]

    @property
    def stem(self) -> str:
        return self.ganzhi[0]

    @property
    def branch(self) -> str:
        return self.ganzhi[1]


@dataclass(frozen=True)
class DayScore:
    """One day of a week reading."""

    date: dt.date
    almanac: DayAlmanac
    pillar: PillarReading
    scores: dict[str, int]


@dataclass(frozen=True)
class LuckReading:
    """The luck of a year or month reading: the 大运 and 流年 of its first day, and the 大运 read
    against the chart like a period pillar (None in 童限 or without a gender)."""

    luck: LuckAt
    decade: PillarReading | None


@dataclass(frozen=True)
class Analysis:
    """Everything a reading says, before it is put into words."""

    target: dt.date
    topic: Topic
    period: Period
    pillar: PillarReading  # the period's pillar (week: the target day's)
    year_ganzhi: str  # the target year by 立春: its branch is 太岁
    tai_sui: tuple[str, ...]  # relation kinds of the birth year branch to 太岁
    almanac: DayAlmanac  # the day whose 宜忌 and directions are used (week: the best day)
    scores: dict[str, int]
    days: tuple[DayScore, ...] = ()
    best_day: DayScore | None = None
    worst_day: DayScore | None = None
    term_start: tuple[str, dt.date] | None = None  # 节 (or 立春) that starts the pillar
    term_end: tuple[str, dt.date] | None = None  # the next one
    next_ganzhi: str | None = None  # the pillar after term_end
    avoid_almanac: DayAlmanac | None = None  # week: the worst day, whose 忌 are listed
    luck: LuckReading | None = None  # year and month readings


def tai_sui_relations(birth_year_branch: str, year_branch: str) -> tuple[str, ...]:
    """How a birth year branch stands to the year's 太岁 (the year branch): 值 (same), 冲, 刑,
    害, 破, 合, 三合; empty when there is no special tie."""
    return branch_relations(birth_year_branch, year_branch)


def _empty_deltas() -> dict[str, float]:
    return dict.fromkeys(ASPECTS, 0.0)


def _add_all(deltas: dict[str, float], amount: float) -> None:
    for aspect in ASPECTS:
        deltas[aspect] += amount


def read_pillar(profile: DerivedProfile, ganzhi: str, skip_year_palace: bool) -> PillarReading:
    """Read a period pillar against the chart: ten gods, elements, branch relations, deltas.

    `skip_year_palace` leaves out the birth year branch (a year reading scores it as 太岁).
    """
    stem, branch = ganzhi[0], ganzhi[1]
    deltas = _empty_deltas()
    god = ten_god(profile.day_master, stem)
    branch_god = ten_god(profile.day_master, LunarUtil.ZHI_HIDE_GAN[branch][0])
    for weight, which in ((1.0, god), (0.5, branch_god)):
        for aspect, value in zip(ASPECTS, TEN_GOD_DELTAS[which], strict=True):
            deltas[aspect] += weight * value
        deltas["love"] += weight * SPOUSE_STAR[profile.gender].get(which, 0)
    s_el, b_el = stem_element(stem), branch_element(branch)
    good = set(profile.favourable_elements)
    _add_all(deltas, STEM_FAVOURABLE if s_el in good else STEM_UNFAVOURABLE)
    _add_all(deltas, BRANCH_FAVOURABLE if b_el in good else BRANCH_UNFAVOURABLE)
    relations: list[BranchRelation] = []
    natal_branches: set[str] = set()
    for palace in ("year", "month", "day", "hour"):
        pillar = profile.pillars.get(palace)
        if pillar is None:
            continue
        natal_branches.add(pillar.branch)
        if skip_year_palace and palace == "year":
            continue
        for kind in branch_relations(branch, pillar.branch):
            if kind not in RELATION_DELTAS:
                continue
            relations.append(BranchRelation(kind, palace, pillar.branch, branch))
            general, specific = RELATION_DELTAS[kind]
            _add_all(deltas, general)
            for aspect, weight in PALACE_ASPECTS[palace].items():
                deltas[aspect] += specific * weight
    full = []
    for trine, element in TRINES.items():
        others = set(trine) - {branch}
        if branch in trine and others <= natal_branches:
            full.append(element)
            _add_all(deltas, FULL_TRINE_BONUS)
    combines = frozenset((stem, profile.day_master)) in STEM_COMBINES
    if combines:
        deltas["love"] += STEM_COMBINE_LOVE
    return PillarReading(
        ganzhi=ganzhi,
        ten_god=god,
        branch_ten_god=branch_god,
        relations=tuple(relations),
        full_trines=tuple(full),
        stem_combines_day_master=combines,
        stem_element=s_el,
        branch_element=b_el,
        deltas=deltas,
    )


def _almanac_deltas(almanac: DayAlmanac) -> float:
    value = TIAN_SHEN_LUCK_DELTA.get(almanac.tian_shen_luck, 0.0)
    value += ZHI_XING_DELTA.get(almanac.zhi_xing, 0.0)
    if "诸事不宜" in almanac.yi:
        value -= 2.0
    return value


def _tai_sui_delta(kinds: Iterable[str], period: Period) -> float:
    return sum(TAI_SUI_DELTAS.get(kind, 0.0) for kind in kinds) * TAI_SUI_WEIGHT[period]


def _clamp(value: float) -> int:
    return max(MIN_SCORE, min(MAX_SCORE, round(value)))


def _scores(deltas: dict[str, float], extra: float) -> dict[str, int]:
    raw = {aspect: BASE_SCORE + deltas[aspect] + extra for aspect in ASPECTS}
    scores = {aspect: _clamp(value) for aspect, value in raw.items()}
    scores["overall"] = _clamp(sum(raw.values()) / len(ASPECTS))
    return scores


def _ymd(solar: Any) -> dt.date:
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


def _li_chun(year: int) -> dt.date:
    """The date of 立春 in Gregorian `year` (early February)."""
    return _ymd(Lunar.fromYmd(year, 1, 1).getJieQiTable()["立春"])


def _jie_bounds(day: dt.date, year: bool) -> tuple[tuple[str, dt.date], tuple[str, dt.date]]:
    """The 节 (or, for a year, the 立春) on or before `day` and the next one."""
    if year:
        start = _li_chun(day.year)
        if start > day:
            return ("立春", _li_chun(day.year - 1)), ("立春", start)
        return ("立春", start), ("立春", _li_chun(day.year + 1))
    lunar = Solar.fromYmdHms(day.year, day.month, day.day, 12, 0, 0).getLunar()
    prev, nxt = lunar.getPrevJie(), lunar.getNextJie()
    return (prev.getName(), _ymd(prev.getSolar())), (nxt.getName(), _ymd(nxt.getSolar()))


def analyse(profile: DerivedProfile, target: dt.date, topic: Topic, period: Period) -> Analysis:
    """Work out the reading's facts and scores (no wording)."""
    almanac = day_almanac(target)
    year_ganzhi = almanac.year_ganzhi
    birth_year_branch = profile.bazi.year[1]
    tai_sui = tai_sui_relations(birth_year_branch, year_ganzhi[1])
    tai_sui_delta = _tai_sui_delta(tai_sui, period)
    key = "overall" if topic == Topic.OVERALL else topic.value
    if period in (Period.DAY, Period.WEEK):
        count = 1 if period == Period.DAY else 7
        days = []
        for offset in range(count):
            day = target + dt.timedelta(days=offset)
            day_alm = almanac if offset == 0 else day_almanac(day)
            reading = read_pillar(profile, day_alm.day_ganzhi, skip_year_palace=False)
            scores = _scores(reading.deltas, _almanac_deltas(day_alm) + tai_sui_delta)
            days.append(DayScore(day, day_alm, reading, scores))
        if period == Period.DAY:
            only = days[0]
            return Analysis(
                target, topic, period, only.pillar, year_ganzhi, tai_sui, almanac, only.scores
            )
        best = max(days, key=lambda d: (d.scores[key], d.scores["overall"], -d.date.toordinal()))
        worst = min(days, key=lambda d: (d.scores[key], d.scores["overall"], d.date.toordinal()))
        week_scores = {
            k: _clamp(sum(d.scores[k] for d in days) / len(days)) for k in days[0].scores
        }
        return Analysis(
            target,
            topic,
            period,
            days[0].pillar,
            year_ganzhi,
            tai_sui,
            best.almanac,
            week_scores,
            days=tuple(days),
            best_day=best,
            worst_day=worst,
            avoid_almanac=worst.almanac,
        )
    is_year = period == Period.YEAR
    ganzhi = year_ganzhi if is_year else almanac.month_ganzhi
    reading = read_pillar(profile, ganzhi, skip_year_palace=is_year)
    luck = luck_for(profile, target, years=1)
    decade = None
    deltas = dict(reading.deltas)
    if luck.da_yun is not None:
        decade = read_pillar(profile, luck.da_yun.ganzhi, skip_year_palace=False)
        for aspect, value in decade.deltas.items():
            deltas[aspect] += DA_YUN_WEIGHT[period] * value
    start, end = _jie_bounds(target, is_year)
    after = day_almanac(end[1] + dt.timedelta(days=1))
    next_ganzhi = after.year_ganzhi if is_year else after.month_ganzhi
    return Analysis(
        target,
        topic,
        period,
        reading,
        year_ganzhi,
        tai_sui,
        almanac,
        _scores(deltas, tai_sui_delta),
        term_start=start,
        term_end=end,
        next_ganzhi=next_ganzhi if next_ganzhi != ganzhi else None,
        luck=LuckReading(luck, decade),
    )


def _stable_index(seed: str, count: int) -> int:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def _band(score: int) -> tuple[str, str]:
    for floor, zh, en in BANDS:
        if score >= floor:
            return zh, en
    return BANDS[-1][1], BANDS[-1][2]  # pragma: no cover (the last floor is 0)


def _fit(sentences: Sequence[str], limit: int, sep: str) -> str:
    """Join sentences, leaving out trailing ones that would pass `limit` characters."""
    text = ""
    for sentence in sentences:
        candidate = f"{text}{sep}{sentence}" if text else sentence
        if len(candidate) > limit:
            break
        text = candidate
    return text or sentences[0][:limit]


class _Voice:
    """Words in one language; variants chosen by a stable hash of the reading's inputs."""

    def __init__(self, language: Language, seed: str, name: str | None) -> None:
        self.zh = language == Language.ZH_CN
        self.seed = seed
        self.name = name
        self.sep = "" if self.zh else " "

    def pick(self, slot: str, variants: Sequence[tuple[str, str]], **values: object) -> str:
        zh, en = variants[_stable_index(f"{self.seed}|{slot}", len(variants))]
        return (zh if self.zh else en).format(**values)

    def say(self, zh: str, en: str, **values: object) -> str:
        return (zh if self.zh else en).format(**values)

    def of(self, pair: tuple[str, str]) -> str:
        return pair[0] if self.zh else pair[1]

    def join(self, sentences: Iterable[str]) -> str:
        return self.sep.join(s for s in sentences if s)

    def items(self, values: Sequence[str]) -> str:
        if self.zh:
            return "、".join(values)
        if len(values) <= 2:
            return " and ".join(values)
        sep = "; " if any("," in value for value in values) else ", "
        return sep.join(values[:-1]) + sep.rstrip() + " and " + values[-1]

    # names
    def stem(self, stem: str) -> str:
        element = stem_element(stem)
        if self.zh:
            return stem + ELEMENT_ZH[element]
        polarity = "yang" if STEMS.index(stem) % 2 == 0 else "yin"
        return f"{STEM_PINYIN[stem]} ({polarity} {element})"

    def branch(self, branch: str) -> str:
        if self.zh:
            return branch
        return f"{BRANCH_PINYIN[branch]} ({ZODIAC_EN[BRANCH_ANIMAL_ZH[branch]]})"

    def pillar(self, ganzhi: str) -> str:
        if self.zh:
            return ganzhi
        stem, branch = ganzhi[0], ganzhi[1]
        polarity = "Yang" if STEMS.index(stem) % 2 == 0 else "Yin"
        animal = ZODIAC_EN[BRANCH_ANIMAL_ZH[branch]]
        element = stem_element(stem).capitalize()
        return f"{STEM_PINYIN[stem]}-{BRANCH_PINYIN[branch]} ({polarity} {element} {animal})"

    def pillar_short(self, ganzhi: str) -> str:
        """A pillar's name for use inside brackets (en: no nested description)."""
        return ganzhi if self.zh else f"{STEM_PINYIN[ganzhi[0]]}-{BRANCH_PINYIN[ganzhi[1]]}"

    def god_short(self, god: str) -> str:
        return god if self.zh else TEN_GOD_EN[god]

    def element(self, element: str) -> str:
        return ELEMENT_ZH[element] if self.zh else element

    def god(self, god: str) -> str:
        return god if self.zh else f"{TEN_GOD_EN[god]} ({TEN_GOD_PINYIN[god]})"

    def aspect(self, aspect: str) -> str:
        return self.of(ASPECT_NAME[aspect])

    def date(self, day: dt.date) -> str:
        if self.zh:
            return f"{day.year}年{day.month}月{day.day}日（{WEEKDAY_ZH[day.weekday()]}）"
        return f"{WEEKDAY_EN[day.weekday()]} {day.day} {MONTH_EN[day.month - 1]} {day.year}"

    def short_date(self, day: dt.date) -> str:
        if self.zh:
            return f"{day.month}月{day.day}日{WEEKDAY_ZH[day.weekday()].replace('星期', '周')}"
        return f"{WEEKDAY_EN[day.weekday()][:3]} {day.day} {MONTH_EN[day.month - 1][:3]}"

    def term(self, name: str) -> str:
        return name if self.zh else SOLAR_TERM_EN.get(name, "the solar term")

    def activity(self, term: str) -> str:
        entry = TERMS.get(term)
        if self.zh:
            return term if entry is None or entry.zh == term else f"{term}（{entry.zh}）"
        return "an almanac activity" if entry is None else entry.en


def _period_label(voice: _Voice, analysis: Analysis) -> str:
    period = analysis.period
    if period == Period.DAY:
        return voice.date(analysis.target)
    if period == Period.WEEK:
        end = analysis.target + dt.timedelta(days=6)
        return voice.say(
            "{a}至{b}这一周",
            "the week of {a} to {b}",
            a=voice.short_date(analysis.target),
            b=voice.short_date(end),
        )
    if period == Period.MONTH:
        return voice.say("本月", "this month")
    return voice.say("这一年", "this year")


def _pillar_noun(voice: _Voice, period: Period) -> str:
    return voice.of(
        {
            Period.DAY: ("日柱", "day"),
            Period.WEEK: ("日柱", "day"),
            Period.MONTH: ("月柱", "month"),
            Period.YEAR: ("年柱", "year"),
        }[period]
    )


def _intro(voice: _Voice, profile: DerivedProfile, analysis: Analysis) -> str:
    strength = voice.of(STRENGTH_NAME[profile.strength.level])
    fav = voice.items([voice.element(e) for e in profile.favourable_elements])
    who_zh = f"{voice.name}，你的" if voice.name else "你的"
    who_en = f"{voice.name}, your" if voice.name else "Your"
    first = voice.pick(
        "intro",
        (
            (
                "{who}日主是{dm}，命局{strength}，喜用{fav}。",
                "{who} day master is {dm}, a {strength} chart that welcomes {fav}.",
            ),
            (
                "{who}八字以{dm}为日主，{strength}，宜借{fav}之力。",
                "{who} chart centres on {dm}: {strength}, and helped by {fav}.",
            ),
            (
                "先看命局：{who}日主{dm}，{strength}，所喜为{fav}。",
                "First the chart: {who_mid} day master is {dm}, {strength}, and it favours {fav}.",
            ),
        ),
        who=who_zh if voice.zh else who_en,
        who_mid=who_zh if voice.zh else (who_en if voice.name else "your"),
        dm=voice.stem(profile.day_master),
        strength=strength,
        fav=fav,
    )
    label = _period_label(voice, analysis)
    gz = voice.pillar(analysis.pillar.ganzhi)
    if analysis.period == Period.DAY:
        alm = analysis.almanac
        lunar = (
            alm.lunar.text[5:]
            if voice.zh
            else (
                f"lunar month {alm.lunar.month}{' (leap)' if alm.lunar.leap_month else ''}, "
                f"day {alm.lunar.day}"
            )
        )
        second = voice.say(
            "{label}是农历{lunar}，日柱{gz}。",
            "{label} ({lunar}) is a {gz} day.",
            label=label,
            lunar=lunar,
            gz=gz,
        )
        if alm.solar_term:
            second += voice.say(
                "当天交{t}节气。",
                " It is the day of the solar term {t}.",
                t=voice.term(alm.solar_term),
            )
    elif analysis.period == Period.WEEK:
        second = voice.say(
            "下面看{label}，七天的日柱各不相同，逐日评分后取其平均。",
            "This reading covers {label}: seven day pillars, each scored, then averaged.",
            label=label,
        )
    else:
        assert analysis.term_start is not None and analysis.term_end is not None
        second = voice.say(
            "{label}所在的{noun}是{gz}，自{t1}（{d1}）起，至{t2}（{d2}）交接。",
            "{label} falls under the {gz} {noun} pillar, from {t1} ({d1}) until {t2} ({d2}).",
            label=label[0].upper() + label[1:] if not voice.zh else label,
            noun=_pillar_noun(voice, analysis.period),
            gz=gz,
            t1=voice.term(analysis.term_start[0]),
            d1=voice.short_date(analysis.term_start[1]),
            t2=voice.term(analysis.term_end[0]),
            d2=voice.short_date(analysis.term_end[1]),
        )
        if analysis.next_ganzhi:
            second += voice.say(
                "此后转入{gz}。",
                " After that the pillar turns to {gz}.",
                gz=voice.pillar(analysis.next_ganzhi),
            )
    return voice.join([first, second])


def _ten_god_paragraph(voice: _Voice, profile: DerivedProfile, pillar: PillarReading) -> str:
    theme = voice.of(TEN_GOD_THEME[pillar.ten_god])
    theme = theme[0].upper() + theme[1:]
    first = voice.pick(
        "god",
        (
            (
                "{gz}的天干{s}，对日主{dm}而言是{god}。{theme}。",
                "The stem {s} of {gz} is the {god} to your {dm} day master. {theme}.",
            ),
            (
                "天干{s}透出，见日主{dm}为{god}——{theme}。",
                "Its heavenly stem {s} meets your {dm} as the {god}. {theme}.",
            ),
        ),
        gz=voice.pillar(pillar.ganzhi),
        s=voice.stem(pillar.stem),
        dm=voice.stem(profile.day_master),
        god=voice.god(pillar.ten_god),
        theme=theme,
    )
    hidden = LunarUtil.ZHI_HIDE_GAN[pillar.branch][0]
    second = voice.say(
        "地支{b}以{h}为本气，是{bgod}，带来{kw}的底色。",
        "Beneath it, the branch {b} holds {h}, the {bgod}, adding a note of {kw}.",
        b=voice.branch(pillar.branch),
        h=voice.stem(hidden),
        bgod=voice.god(pillar.branch_ten_god),
        kw=voice.of(TEN_GOD_KEYWORD[pillar.branch_ten_god]),
    )
    third = ""
    if pillar.stem_combines_day_master:
        third = voice.say(
            "天干与日主相合（五合），人情和顺，易得好感。",
            "The stem also combines with your day master (wu he): goodwill comes easily.",
        )
    return voice.join([first, second, third])


def _grouped(relations: Iterable[BranchRelation]) -> list[list[BranchRelation]]:
    """Relations grouped by birth pillar (a branch can both punish and harm the same one)."""
    groups: dict[str, list[BranchRelation]] = {}
    for rel in relations:
        groups.setdefault(rel.palace, []).append(rel)
    return list(groups.values())


def _relation_sentence(voice: _Voice, group: Sequence[BranchRelation], brief: bool = False) -> str:
    """One sentence for the relations of the period branch with one birth branch; `brief`
    leaves out what the birth pillar stands for."""
    rel = group[0]
    effects = [voice.of(RELATION_EFFECT[r.kind][r.palace]) for r in group]
    self_punish = rel.natal == rel.period
    palace = voice.of(PALACE_NAME[rel.palace])
    if brief:
        palace = palace.split("（")[0].split(" (")[0]
    if voice.zh:
        kinds = "、".join("自刑" if self_punish else RELATION_NAME[r.kind][0] for r in group)
        return f"{rel.period}与你{palace}的{rel.natal}{kinds}：" + "；".join(effects) + "。"
    if self_punish:
        verbs = "meets itself in a self-punishment (zi xing) with"
    else:
        verbs = voice.items([RELATION_NAME[r.kind][1] for r in group])
    return (
        f"{voice.branch(rel.period)} {verbs} your {palace} "
        f"{voice.branch(rel.natal)}: {'; '.join(effects)}."
    )


def _relations_paragraph(voice: _Voice, profile: DerivedProfile, pillar: PillarReading) -> str:
    if not pillar.relations and not pillar.full_trines:
        return voice.pick(
            "norel",
            (
                (
                    "{b}与你命局的地支无冲无合，气场平稳，少有外来扰动。",
                    "The branch {b} neither clashes nor combines with your birth branches: a calm "
                    "backdrop with few outside disturbances.",
                ),
                (
                    "地支{b}与你的四柱地支没有明显的冲合刑害，按部就班即可。",
                    "{b} forms no clash, combination, harm or punishment with your chart, so "
                    "steady routine serves you well.",
                ),
            ),
            b=voice.branch(pillar.branch),
        )
    sentences = [_relation_sentence(voice, group) for group in _grouped(pillar.relations)]
    for element in pillar.full_trines:
        good = element in profile.favourable_elements
        sentences.append(
            voice.say(
                "{b}与命局地支凑成三合{e}局，{tone}。",
                "{b} completes a full {e} trine (san he) with your birth branches: {tone}.",
                b=voice.branch(pillar.branch),
                e=voice.element(element),
                tone=voice.say(
                    "正是你的喜用，助力加倍", "your favourable element, so support doubles"
                )
                if good
                else voice.say(
                    "众力汇聚，宜顺势而为，不可过度",
                    "many forces gather, so go with the flow without overdoing it",
                ),
            )
        )
    return voice.join(sentences)


def _element_paragraph(voice: _Voice, profile: DerivedProfile, pillar: PillarReading) -> str:
    good = set(profile.favourable_elements)
    s_ok, b_ok = pillar.stem_element in good, pillar.branch_element in good
    tone = voice.of(
        ("天干地支双双是你的喜用，助力明显", "both are elements you welcome, a clear lift")
        if s_ok and b_ok
        else (
            "天干是你的喜用，表面顺、底子还需经营",
            "the stem's is one you welcome, a good surface with groundwork still to do",
        )
        if s_ok
        else (
            "地支是你的喜用，开头平淡、越往后越顺",
            "the branch's is one you welcome, a quiet start that improves",
        )
        if b_ok
        else (
            "两者都不是你的喜用，凡事宜稳、量力而行",
            "neither is one your chart welcomes, so keep a steady pace and stay within your means",
        )
    )
    return voice.say(
        "五行上，{gz}天干属{se}，地支属{be}：{tone}。",
        "In the five elements, {gz} brings {se} above and {be} below: {tone}.",
        gz=voice.pillar(pillar.ganzhi),
        se=voice.element(pillar.stem_element),
        be=voice.element(pillar.branch_element),
        tone=tone,
    )


def _tai_sui_paragraph(voice: _Voice, profile: DerivedProfile, analysis: Analysis) -> str:
    year_branch = analysis.year_ganzhi[1]
    birth = profile.bazi.year[1]
    head = voice.say(
        "{gz}年的太岁在{yb}，你生于{bb}年，",
        "The {gz} year's Tai Sui sits in {yb}; your birth year branch {bb} ",
        gz=voice.pillar(analysis.year_ganzhi),
        yb=voice.branch(year_branch),
        bb=voice.branch(birth),
    )
    if not analysis.tai_sui:
        return head + voice.say(
            "与太岁无冲无合，流年背景平稳。",
            "has no special tie to it: a calm background for the year.",
        )
    names = voice.items([voice.of(TAI_SUI_NAME[k]) for k in analysis.tai_sui])
    negative = sum(TAI_SUI_DELTAS[k] for k in analysis.tai_sui) < 0
    advice = voice.pick(
        "taisui-neg" if negative else "taisui-pos",
        (
            (
                "宜稳不宜急：重要变动多做准备，照顾好作息，善待身边人。",
                "Steady beats hasty this year: prepare big changes well, keep a good routine and "
                "be kind to those around you.",
            ),
            (
                "这一年变动较多，守住节奏、不贪快，反而走得更远。",
                "Expect more movement than usual; keeping your own rhythm takes you further than "
                "rushing.",
            ),
        )
        if negative
        else (
            (
                "流年与你相合，适合主动争取、结交助力。",
                "The year is on friendly terms with you: a good time to reach out and build "
                "support.",
            ),
            (
                "太岁相扶，人缘与机会都比往年多一些。",
                "With Tai Sui on your side, people and openings come a little more easily.",
            ),
        ),
    )
    return head + voice.say("{names}。{advice}", "{names}. {advice}", names=names, advice=advice)


def _luck_relations(voice: _Voice, luck: LuckAt, label: str, limit: int) -> list[str]:
    """Up to `limit` relations of one luck pillar (daYun or liuNian), as phrases."""
    phrases = []
    for relation in luck.relations:
        if label not in relation.pillars:
            continue
        others = [voice.of(PILLAR_NAME[p]) for p in relation.pillars if p != label]
        phrases.append(
            voice.say(
                "与{others}{name}",
                "{name} with your {others}",
                others=voice.items(others),
                name=voice.of(LUCK_RELATION_NAME[relation.kind]),
            )
        )
    return phrases[:limit]


def _luck_paragraph(voice: _Voice, analysis: Analysis) -> str:
    """The 大运 and 流年 the reading falls in (year and month readings), or ''."""
    if analysis.luck is None:
        return ""
    luck = analysis.luck.luck
    year = next(y for y in luck.liu_nian if y.current)
    sentences = []
    if luck.da_yun is not None and analysis.luck.decade is not None:
        decade = luck.da_yun
        sentences.append(
            voice.say(
                "大运方面，你正行{gz}大运（{start}年起，{a}至{b}岁），天干为日主的{god}，主{kw}。",
                "Your luck pillar (da yun) is {gz}, from {start} (ages {a} to {b}); its stem is "
                "the {god} to your day master, a decade of {kw}.",
                gz=voice.pillar(decade.ganzhi),
                start=decade.start_year,
                a=decade.start_age,
                b=decade.end_age,
                god=voice.god(decade.ten_god),
                kw=voice.of(TEN_GOD_KEYWORD[decade.ten_god]),
            )
        )
        ties = _luck_relations(voice, luck, "daYun", 2)
        if ties:
            sentences.append(voice.say("大运{t}。", "It forms {t}.", t=voice.items(ties)))
    elif luck.in_childhood:
        sentences.append(
            voice.say(
                "你尚在童限，还未交入第一步大运。",
                "You are still before your first luck pillar (the childhood span, tong xian).",
            )
        )
    sentences.append(
        voice.say(
            "流年{gz}（{age}岁），天干为{god}。",
            "The year's pillar (liu nian) is {gz}, at age {age}; its stem is the {god}.",
            gz=voice.pillar(year.ganzhi),
            age=year.age,
            god=voice.god(year.ten_god),
        )
    )
    if luck.da_yun is not None and luck.da_yun.ganzhi == year.ganzhi:
        sentences.append(
            voice.say(
                "流年与大运同为{gz}，是为岁运并临，这一年的起落会更明显。",
                "The year and the luck pillar are the same {gz} (sui yun bing lin): the year's "
                "ups and downs are felt more strongly.",
                gz=voice.pillar_short(year.ganzhi),
            )
        )
    return voice.join(sentences)


def _chong_text(voice: _Voice, almanac: DayAlmanac) -> str:
    zodiac = almanac.chong_zodiac
    if voice.zh:
        return f"冲{almanac.chong}，煞{almanac.sha}"
    inner = almanac.chong.strip("()")[:2]
    animal = ZODIAC_EN.get(zodiac, "")
    pillar = voice.pillar_short(inner) if len(inner) == 2 and inner[1] in BRANCHES else animal
    return f"clashes with the {animal} ({pillar}), sha to the {SHA_EN.get(almanac.sha, 'north')}"


def _almanac_paragraph(
    voice: _Voice, profile: DerivedProfile, almanac: DayAlmanac, topic: Topic, label: str
) -> str:
    luck_zh = "黄道吉日" if almanac.tian_shen_luck == "吉" else "黑道日"
    luck_en = (
        "an auspicious (yellow path) day"
        if almanac.tian_shen_luck == "吉"
        else ("a black path day")
    )
    first = voice.say(
        "黄历看{label}：值神{ts}，{luck}；建除值{zx}日；{chong}。",
        "The almanac for {label}: the guardian spirit is the {ts}, {luck}; the day officer is "
        "{zx}; it {chong}.",
        label=label,
        ts=almanac.tian_shen if voice.zh else TIAN_SHEN_EN.get(almanac.tian_shen, "day spirit"),
        luck=luck_zh if voice.zh else luck_en,
        zx=almanac.zhi_xing if voice.zh else ZHI_XING_EN.get(almanac.zhi_xing, "unnamed"),
        chong=_chong_text(voice, almanac),
    )
    extra = ""
    if almanac.chong_zodiac == profile.zodiac.zh:
        extra = voice.say(
            "当天正冲你的生肖{z}，行事多留余地。",
            "That clash falls on your own zodiac sign, the {z}, so leave yourself some slack.",
            z=profile.zodiac.zh if voice.zh else profile.zodiac.en,
        )
    yi = _activities(almanac.yi, topic, avoid=False)[:5]
    ji = _activities(almanac.ji, topic, avoid=True)[:5]

    def listed(terms: Sequence[str]) -> str:
        return voice.items(list(terms) if voice.zh else [TERMS[t].en for t in terms])

    yiji = (
        voice.say("宜{x}", "Favoured: {x}", x=listed(yi))
        if yi
        else voice.say("宜事不多，适合静养", "Little is favoured: a day for rest")
    )
    if ji:
        yiji += voice.say("；忌{x}", ". Unfavoured: {x}", x=listed(ji))
    yiji += voice.say("。", ".")
    dirs = voice.say(
        "喜神在{xi}，财神在{cai}，福神在{fu}。",
        "The god of joy is in the {xi}, the god of wealth in the {cai}, the god of fortune in the "
        "{fu}.",
        xi=voice.of((almanac.xi_shen.zh, almanac.xi_shen.en)),
        cai=voice.of((almanac.cai_shen.zh, almanac.cai_shen.en)),
        fu=voice.of((almanac.fu_shen.zh, almanac.fu_shen.en)),
    )
    return voice.join([first, extra, yiji, dirs])


def _activities(terms: Sequence[str], topic: Topic, avoid: bool) -> list[str]:
    """The day's 宜 or 忌 terms that are activities, most relevant to the topic first, without
    repeats of the same English phrase; medical care is never listed as something to avoid."""
    chosen: list[str] = []
    seen: set[str] = set()
    ranked = sorted(range(len(terms)), key=lambda i: (relevance(terms[i], topic.value), i))
    for index in ranked:
        term = terms[index]
        entry = TERMS.get(term)
        if entry is None or "meta" in entry.tags or (avoid and "medical" in entry.tags):
            continue
        if entry.en in seen:
            continue
        seen.add(entry.en)
        chosen.append(term)
    return chosen


def _aspect_sentences(
    voice: _Voice, profile: DerivedProfile, analysis: Analysis, aspect: str, focus: bool
) -> list[str]:
    score = analysis.scores[aspect]
    band = voice.of(_band(score))
    name = voice.aspect(aspect)
    sentences = [
        voice.pick(
            f"band-{aspect}",
            (
                ("{a}{band}（{s}分）。", "{A}: {band} ({s}/100)."),
                ("{a}方面{band}，{s}分。", "{A} looks {band} at {s}/100."),
                ("{a}：{band}（{s}/100）。", "{A} is {band}, {s} out of 100."),
            ),
            a=name,
            A=name.capitalize(),
            band=band,
            s=score,
        )
    ]
    if score < 46:
        sentences.append(
            voice.say(
                "低分只是提醒放慢脚步，不是定论。",
                "A low score is a cue to slow down, not a verdict.",
            )
        )
    pillar = analysis.pillar
    if analysis.period == Period.WEEK:
        assert analysis.days
        best = max(analysis.days, key=lambda d: (d.scores[aspect], -d.date.toordinal()))
        pillar = best.pillar
        sentences.append(
            voice.say(
                "本周{a}最好的一天是{d}（{gz}，{god}）。",
                "The best day of the week for {a} is {d} ({gz}, {god}).",
                a=name,
                d=voice.short_date(best.date),
                gz=voice.pillar_short(best.pillar.ganzhi),
                god=voice.god_short(best.pillar.ten_god),
            )
        )
    line = voice.of(TEN_GOD_ASPECT[pillar.ten_god][aspect])
    sentences.append(
        voice.pick(
            f"god-{aspect}",
            (
                ("{god}当值，{line}。", "With the {god} in play, {line}."),
                ("逢{god}，{line}。", "Under the {god}, {line}."),
                ("{god}主事：{line}。", "As the {god} leads, {line}."),
            ),
            god=voice.god(pillar.ten_god),
            line=line,
        )
    )
    if aspect == "health" and focus:
        tip = voice.of(WELLBEING_TIPS[_stable_index(voice.seed + "|health", len(WELLBEING_TIPS))])
        sentences.append(
            voice.say(
                "不妨从{tip}做起；身体若有不适，请以医生的意见为准。",
                "Small habits help, such as {tip}; if anything feels wrong, a doctor's advice "
                "comes first.",
                tip=tip,
            )
        )
    elif aspect == "health":
        sentences.append(
            voice.say("如有不适，以医生意见为准。", "If anything feels wrong, see a doctor.")
        )
    if aspect == "wealth" and focus:
        sentences.append(
            voice.say(
                "运势只谈倾向，不构成任何投资或理财建议。",
                "A reading describes a mood, not markets: it is not financial advice.",
            )
        )
    related = [g for g in _grouped(pillar.relations) if aspect in PALACE_ASPECTS[g[0].palace]]
    related.sort(key=lambda g: -PALACE_ASPECTS[g[0].palace][aspect])
    for group in related[: 3 if focus else 1]:
        sentences.append(_relation_sentence(voice, group, brief=True))
    if focus:
        if pillar.branch_ten_god != pillar.ten_god:
            sentences.append(
                voice.say(
                    "地支藏{god}，{line}。",
                    "Underneath, the {god} adds that {line}.",
                    god=voice.god(pillar.branch_ten_god),
                    line=voice.of(TEN_GOD_ASPECT[pillar.branch_ten_god][aspect]),
                )
            )
        yi = [
            t
            for t in _activities(analysis.almanac.yi, Topic(aspect), avoid=False)
            if aspect in TERMS[t].tags
        ][:3]
        if yi:
            sentences.append(
                voice.say(
                    "黄历所宜中，与此相关的有{x}。",
                    "From the almanac's favoured list: {x}.",
                    x=voice.items([voice.activity(t) for t in yi]),
                )
            )
        good, quiet = ASPECT_ACTION[aspect]
        sentences.append(
            voice.say("建议{x}。", "Suggestion: {x}.", x=voice.of(good if score >= 60 else quiet))
        )
    return sentences


def _aspects(voice: _Voice, profile: DerivedProfile, analysis: Analysis) -> dict[str, str]:
    """Text per aspect; the topic's aspect is the longest (others are trimmed below it)."""
    key = analysis.topic.value
    parts = {a: _aspect_sentences(voice, profile, analysis, a, a == key) for a in ASPECTS}
    texts = {a: _fit(sentences, 600, voice.sep) for a, sentences in parts.items()}
    if key in texts:
        limit = len(texts[key]) - 1
        for aspect, sentences in parts.items():
            if aspect != key and len(texts[aspect]) > limit:
                texts[aspect] = _fit(sentences, limit, voice.sep)
    return texts


def _week_paragraph(voice: _Voice, profile: DerivedProfile, analysis: Analysis, key: str) -> str:
    assert analysis.best_day is not None and analysis.worst_day is not None
    listing = voice.say("；", "; ").join(
        voice.say(
            "{d}{gz}（{god}）{s}分",
            "{d}, {gz} ({god}): {s}",
            d=voice.short_date(d.date),
            gz=voice.pillar_short(d.pillar.ganzhi),
            god=voice.god_short(d.pillar.ten_god),
            s=d.scores[key],
        )
        for d in analysis.days
    )
    first = voice.say(
        "逐日来看（{k}分）：{x}。", "Day by day ({k} score): {x}.", k=voice.aspect(key), x=listing
    )
    best, worst = analysis.best_day, analysis.worst_day

    def reason(day: DayScore, good: bool) -> str:
        pillar = day.pillar
        wanted = ("combine", "trine") if good else ("clash", "punish", "harm")
        rels = [r for r in pillar.relations if r.kind in wanted]
        god = voice.god_short(pillar.ten_god)
        if rels:
            rel = rels[0]
            palace = voice.of(PALACE_NAME[rel.palace]).split("（")[0].split(" (")[0]
            kind = "自刑" if rel.natal == rel.period else RELATION_NAME[rel.kind][0][:2]
            kind_en = (
                "meets itself (zi xing) in"
                if rel.natal == rel.period
                else (
                    RELATION_NAME[rel.kind][1].split(" (")[0]
                    + (" with" if rel.kind in ("clash", "combine", "trine") else "")
                )
            )
            return voice.say(
                "{god}当值，{p}与你{palace}{kind}",
                "the {god}, and {p} {kind} your {palace}",
                god=god,
                p=voice.branch(rel.period),
                palace=palace,
                kind=kind if voice.zh else kind_en,
            )
        favourable = profile.favourable_elements
        elements = [
            e for e in (pillar.stem_element, pillar.branch_element) if (e in favourable) == good
        ]
        if elements:
            return voice.say(
                "{god}当值，{e}{tone}",
                "the {god}, bringing {e} {tone}",
                god=god,
                e=voice.items(sorted({voice.element(e) for e in elements})),
                tone=voice.say("正合你的喜用", "that your chart welcomes")
                if good
                else voice.say("偏多，非你所喜", "that your chart finds heavy going"),
            )
        return voice.say(
            "{god}当值，主{kw}",
            "the {god}, a day of {kw}",
            god=god,
            kw=voice.of(TEN_GOD_KEYWORD[pillar.ten_god]),
        )

    second = voice.pick(
        "week-best",
        (
            (
                "最顺的一天是{d}（{gz}）：{why}，重要的事可以安排在这天。",
                "Your strongest day is {d} ({gz}): {why}; put the important things there.",
            ),
            ("{d}（{gz}）最值得把握：{why}。", "Make the most of {d} ({gz}): {why}."),
        ),
        d=voice.short_date(best.date),
        gz=voice.pillar_short(best.pillar.ganzhi),
        why=reason(best, good=True),
    )
    third = voice.pick(
        "week-worst",
        (
            (
                "需要放慢的是{d}（{gz}）：{why}，这天少做决定、多做准备。",
                "Take {d} ({gz}) more slowly: {why}; prepare rather than decide.",
            ),
            (
                "{d}（{gz}）宜低调：{why}，留足余地即可。",
                "Keep {d} ({gz}) low-key: {why}; leave yourself room.",
            ),
        ),
        d=voice.short_date(worst.date),
        gz=voice.pillar_short(worst.pillar.ganzhi),
        why=reason(worst, good=False),
    )
    if best.date == worst.date:
        third = voice.say("这一周七天起伏不大。", "The seven days are much alike.")
    return voice.join([first, second, third])


def _overall_focus(voice: _Voice, analysis: Analysis) -> str:
    ranked = sorted(ASPECTS, key=lambda a: (-analysis.scores[a], ASPECTS.index(a)))
    top, low = ranked[0], ranked[-1]
    pillar = analysis.best_day.pillar if analysis.best_day else analysis.pillar
    good, quiet = ASPECT_ACTION[low]
    return voice.join(
        [
            voice.say(
                "综合来看，{top}最为有利（{ts}分），{low}相对需要用心（{ls}分）。",
                "Taken together, {top} is your strongest area ({ts}/100) and {low} asks the "
                "most care ({ls}/100).",
                top=voice.aspect(top),
                ts=analysis.scores[top],
                low=voice.aspect(low),
                ls=analysis.scores[low],
            ),
            voice.say(
                "{top}方面，{line}。",
                "In {top}, {line}.",
                top=voice.aspect(top),
                line=voice.of(TEN_GOD_ASPECT[pillar.ten_god][top]),
            ),
            voice.say(
                "{low}方面，{line}；不妨{act}。",
                "In {low}, {line}; {act}.",
                low=voice.aspect(low),
                line=voice.of(TEN_GOD_ASPECT[pillar.ten_god][low]),
                act=voice.of(good if analysis.scores[low] >= 60 else quiet),
            ),
        ]
    )


def _summary(voice: _Voice, profile: DerivedProfile, analysis: Analysis) -> str:
    key = "overall" if analysis.topic == Topic.OVERALL else analysis.topic.value
    score = analysis.scores[key]
    band = voice.of(_band(score))
    label = _period_label(voice, analysis)
    pillar = analysis.pillar
    if analysis.period == Period.WEEK and analysis.best_day is not None:
        pillar = analysis.best_day.pillar
        head = voice.say(
            "{label}，最好的一天是{d}（{gz}，{god}）",
            "For {label}, the best day is {d} ({gz}, {god})",
            label=label,
            d=voice.short_date(analysis.best_day.date),
            gz=voice.pillar_short(pillar.ganzhi),
            god=voice.god_short(pillar.ten_god),
        )
    else:
        head = voice.pick(
            "sum-head",
            (
                (
                    "{label}逢{gz}，{god}当值，主{kw}",
                    "{Label} runs under {gz}: the {god}, a time of {kw}",
                ),
                (
                    "{label}{gz}，见日主为{god}，重在{kw}",
                    "{Label} brings {gz}, the {god} to your day master, with the accent on {kw}",
                ),
            ),
            label=label,
            Label=label[0].upper() + label[1:],
            gz=voice.pillar(pillar.ganzhi),
            god=voice.god(pillar.ten_god),
            kw=voice.of(TEN_GOD_KEYWORD[pillar.ten_god]),
        )
    notes = []
    for rel in pillar.relations:
        if rel.kind in ("clash", "combine"):
            notes.append(voice.of(SUMMARY_RELATION[rel.kind][rel.palace]))
            break
    if analysis.period == Period.YEAR and analysis.tai_sui:
        notes.append(voice.of(SUMMARY_TAI_SUI[analysis.tai_sui[0]]))
    head += voice.say("；{n}", "; {n}", n=voice.items(notes)) if notes else ""
    topic_name = voice.aspect(key)
    if key == "overall":
        do = voice.of(TEN_GOD_DO[pillar.ten_god])
    else:
        good, quiet = ASPECT_ACTION[key]
        do = voice.of(good if score >= 60 else quiet)
    tail = voice.pick(
        "sum-tail",
        (
            ("{t}{band}（{s}分），不妨{do}。", "{T} looks {band} ({s}/100): {do}."),
            ("{t}{band}，{s}分；宜{do}。", "{T}: {band}, {s}/100; a good moment to {do}."),
        ),
        t=topic_name,
        T=topic_name.capitalize(),
        band=band,
        s=score,
        do=do,
    )
    prefix = voice.say("{n}：", "{n}: ", n=voice.name) if voice.name else ""
    return _fit([prefix + head + voice.say("。", "."), tail], 300, voice.sep)


def _lucky_element(profile: DerivedProfile, pillar: PillarReading) -> str:
    """The favourable element the period brings least of (the one most worth adding)."""
    present = {pillar.stem_element, pillar.branch_element}
    for element in profile.favourable_elements:
        if element not in present:
            return element
    return profile.favourable_elements[0]


def _advice(voice: _Voice, analysis: Analysis) -> tuple[list[str], list[str]]:
    pillar = analysis.pillar
    if analysis.period == Period.WEEK and analysis.best_day and analysis.worst_day:
        pillar = analysis.best_day.pillar
        worst_pillar = analysis.worst_day.pillar
    else:
        worst_pillar = pillar
    do = [voice.of(TEN_GOD_DO[pillar.ten_god])]
    key = analysis.topic.value
    rank = ("clash", "punish", "harm")
    negative = sorted(
        (r for r in worst_pillar.relations if r.kind in rank),
        key=lambda r: (rank.index(r.kind), -PALACE_ASPECTS[r.palace].get(key, 0.0)),
    )
    avoid = [voice.of(PALACE_AVOID[r.palace]) for r in negative[:1]]
    avoid.append(voice.of(TEN_GOD_AVOID[worst_pillar.ten_god]))
    do += [voice.activity(t) for t in _activities(analysis.almanac.yi, analysis.topic, False)[:4]]
    avoid_from = analysis.avoid_almanac or analysis.almanac
    avoid += [voice.activity(t) for t in _activities(avoid_from.ji, analysis.topic, True)[:4]]
    return _unique(do)[:8], _unique(avoid)[:8]


def _unique(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value[:120])
    return out


def almanac_reading(
    profile: DerivedProfile, target: dt.date, topic: Topic, period: Period, language: Language
) -> FortuneResult:
    """A complete, deterministic reading from the chart and the almanac (no LLM)."""
    analysis = analyse(profile, target, topic, period)
    seed = "|".join(
        (
            profile.bazi.year,
            profile.bazi.month,
            profile.bazi.day,
            profile.bazi.hour or "-",
            target.isoformat(),
            topic.value,
            period.value,
        )
    )
    voice = _Voice(language, hashlib.sha256(seed.encode("utf-8")).hexdigest(), profile.name)
    key = "overall" if topic == Topic.OVERALL else topic.value
    aspects = _aspects(voice, profile, analysis)
    paragraphs = [_intro(voice, profile, analysis)]
    if period == Period.WEEK:
        paragraphs.append(_week_paragraph(voice, profile, analysis, key))
        assert analysis.best_day is not None
        paragraphs.append(
            voice.say("先说最好的一天。", "First, the best day.")
            + voice.sep
            + _ten_god_paragraph(voice, profile, analysis.best_day.pillar)
        )
    else:
        paragraphs.append(_ten_god_paragraph(voice, profile, analysis.pillar))
    pillar = analysis.best_day.pillar if analysis.best_day else analysis.pillar
    paragraphs.append(_relations_paragraph(voice, profile, pillar))
    paragraphs.append(_element_paragraph(voice, profile, pillar))
    paragraphs.append(_tai_sui_paragraph(voice, profile, analysis))
    if analysis.luck is not None:
        paragraphs.append(_luck_paragraph(voice, analysis))
    if period == Period.DAY:
        label = voice.say("当天", "the day")
    elif period == Period.WEEK:
        label = voice.say("最好的一天", "the best day")
    else:
        label = voice.say("起始这一天", "the first day")
    paragraphs.append(_almanac_paragraph(voice, profile, analysis.almanac, topic, label))
    focus = aspects[key] if topic != Topic.OVERALL else _overall_focus(voice, analysis)
    paragraphs.append(voice.say("重点看{a}：", "On {a}: ", a=voice.aspect(key)) + focus)
    paragraphs.append(voice.pick("closing", CLOSINGS))
    text = _fit(paragraphs, 4000, "\n\n")
    lucky_element = _lucky_element(profile, pillar)
    yang = STEMS.index(pillar.stem) % 2 == 0
    direction = analysis.almanac.cai_shen if topic == Topic.WEALTH else analysis.almanac.xi_shen
    do, avoid = _advice(voice, analysis)
    return FortuneResult.model_validate(
        {
            "summary": _summary(voice, profile, analysis),
            "scores": analysis.scores,
            "aspects": aspects,
            "lucky": {
                "color": voice.of(COLOURS[lucky_element]),
                "number": HETU[lucky_element][0 if yang else 1],
                "direction": voice.of((direction.zh, direction.en)),
            },
            "advice": {"do": do, "avoid": avoid},
            "text": text,
            "provider": PROVIDER,
            "model": MODEL,
            "usage": {},
        }
    )


def reading_for_request(request: FortuneRequest) -> FortuneResult:
    """The almanac reading for a request: derives the profile, uses `request.target_date()`."""
    profile = derive_profile(request.profile)
    return almanac_reading(
        profile, request.target_date(), request.topic, request.period, request.language
    )
