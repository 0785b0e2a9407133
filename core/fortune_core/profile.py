"""Birth input → derived profile: calendar conversion, BaZi four pillars, five elements, zodiac,
and the almanac of a target day. Conventions (time zones, daylight saving time, true solar time,
the 子 hour) are explained in docs/domain.md.

Everything here is exact and deterministic; nothing is left to an LLM.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from lunar_python import Solar
from lunar_python.util.LunarUtil import LunarUtil
from pydantic import Field

from fortune_core import boundaries, lunar_years
from fortune_core.boundaries import BoundaryWarning
from fortune_core.conventions import (
    DEFAULT_CONVENTIONS,
    Conventions,
    QiYunConvention,
    ZiHourConvention,
)
from fortune_core.eight_char import Palaces, eight_char, growth_phase, growth_phases, palaces
from fortune_core.facts import Fact
from fortune_core.ganzhi import (
    BRANCHES,
    CONTROLS,
    ELEMENTS,
    GENERATES,
    branch_element,
    hidden_stems,
    is_yang,
    kong_wang,
    na_yin,
    stem_element,
    ten_god,
)
from fortune_core.luck import DaYun, LuckAt, da_yun, luck_at
from fortune_core.relations import Relation, relations
from fortune_core.request import BirthProfile, Gender
from fortune_core.shensha import ShenSha, shen_sha

lunar_years.install()

BEIJING = dt.timezone(dt.timedelta(hours=8))  # the calendar tables (solar terms) are in UTC+8

ZODIAC_EN = {
    "鼠": "Rat",
    "牛": "Ox",
    "虎": "Tiger",
    "兔": "Rabbit",
    "龙": "Dragon",
    "蛇": "Snake",
    "马": "Horse",
    "羊": "Goat",
    "猴": "Monkey",
    "鸡": "Rooster",
    "狗": "Dog",
    "猪": "Pig",
}
CONSTELLATION_EN = {
    "白羊": "Aries",
    "金牛": "Taurus",
    "双子": "Gemini",
    "巨蟹": "Cancer",
    "狮子": "Leo",
    "处女": "Virgo",
    "天秤": "Libra",
    "天蝎": "Scorpio",
    "射手": "Sagittarius",
    "摩羯": "Capricorn",
    "水瓶": "Aquarius",
    "双鱼": "Pisces",
}
TEN_GOD_EN = {
    "比肩": "Friend",
    "劫财": "Rob Wealth",
    "食神": "Eating God",
    "伤官": "Hurting Officer",
    "偏财": "Indirect Wealth",
    "正财": "Direct Wealth",
    "七杀": "Seven Killings",
    "正官": "Direct Officer",
    "偏印": "Indirect Resource",
    "正印": "Direct Resource",
}
DIRECTION_EN = {
    "正北": "north",
    "东北": "north-east",
    "正东": "east",
    "东南": "south-east",
    "正南": "south",
    "西南": "south-west",
    "正西": "west",
    "西北": "north-west",
    "中宫": "centre",
    "北": "north",
    "南": "south",
    "东": "east",
    "西": "west",
}
#: weights of a branch's hidden stems (本气, 中气, 余气) by how many it has
HIDDEN_WEIGHTS = {1: (1.0,), 2: (0.7, 0.3), 3: (0.6, 0.3, 0.1)}
MONTH_BRANCH_FACTOR = 2.0  # the month branch (月令) counts double in the strength estimate


class Names(Fact):
    zh: str
    en: str


class TimeBasis(Fact):
    """How the clock time became the time the pillars are computed from."""

    hour_known: bool
    civil: str | None = Field(description="The clock time given, in its zone (ISO 8601)")
    utc_offset: str | None
    daylight_saving_minutes: int = 0
    standard: str | None = Field(description="Civil time with daylight saving time removed")
    longitude: float | None = None
    longitude_correction_minutes: float | None = None
    equation_of_time_minutes: float | None = None
    true_solar: str | None = None
    used_for_day_and_hour: str | None = Field(description="Local time the day/hour pillars use")
    instant_beijing: str | None = Field(
        description="The same instant in UTC+8, used for the "
        "solar-term boundaries of the year and month pillars"
    )
    zi_hour_convention: ZiHourConvention
    ambiguous: bool = False


class Pillar(Fact):
    """One pillar: stem + branch with what derives from them."""

    ganzhi: str
    stem: str
    branch: str
    stem_element: str
    branch_element: str
    hidden_stems: list[str]
    ten_god: str | None = Field(
        description="Ten god of the stem relative to the day master (None for the day stem itself)"
    )
    hidden_ten_gods: list[str]
    na_yin: str
    kong_wang: str
    xing_yun: str | None = Field(
        default=None, description="星运: the day master's growth phase (十二长生) at this branch"
    )
    zi_zuo: str | None = Field(
        default=None, description="自坐: this pillar's own stem's growth phase at its branch"
    )


class Strength(Fact):
    level: str = Field(description="strong, balanced or weak")
    support: float
    total: float
    ratio: float
    season: str = Field(description="State of the day master's element in the month: 旺相休囚死")


class Bazi(Fact):
    year: str
    month: str
    day: str
    hour: str | None


class LunarDate(Fact):
    year: int
    month: int
    day: int
    leap_month: bool
    text: str


class DerivedProfile(Fact):
    """The derived profile served by `POST /v1/profiles` and given to the LLM as data."""

    name: str | None
    gender: Gender
    solar_date: str
    lunar: LunarDate
    zodiac: Names
    constellation: Names
    bazi: Bazi
    pillars: dict[str, Pillar | None]
    five_elements: dict[str, int] = Field(description="Count of visible stems and branches")
    five_elements_weighted: dict[str, float] = Field(
        description="Stems plus hidden stems, weighted"
    )
    day_master: str
    day_master_element: str
    day_master_yin_yang: str
    strength: Strength
    favourable_elements: list[str]
    unfavourable_elements: list[str]
    kong_wang: str = Field(description="空亡 of the day pillar's decade (旬)")
    time: TimeBasis
    notes: list[str]
    palaces: Palaces | None = Field(default=None, description="胎元, 胎息, 命宫, 身宫")
    da_yun: DaYun | None = Field(
        default=None, description="大运 with its 起运 (None without a gender; notes say why)"
    )
    relations: list[Relation] = Field(
        default_factory=list, description="Relations between the chart's pillars"
    )
    shen_sha: ShenSha | None = Field(default=None, description="神煞 and the school of its tables")
    boundaries: list[BoundaryWarning] = Field(
        default_factory=list,
        description="Pillars (or 起运) that would change if the birth were a few minutes across a "
        "节 or 23:00/00:00",
    )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class DayAlmanac(Fact):
    """The almanac (黄历) of one day."""

    date: str
    weekday: int
    lunar: LunarDate
    year_ganzhi: str
    month_ganzhi: str
    day_ganzhi: str
    solar_term: str | None
    yi: list[str] = Field(description="宜: activities favoured")
    ji: list[str] = Field(description="忌: activities to avoid")
    chong: str = Field(description="冲: the zodiac the day clashes with, e.g. (壬申)猴")
    chong_zodiac: str
    sha: str = Field(description="煞 direction")
    xi_shen: Names = Field(description="Direction of the god of joy (喜神)")
    cai_shen: Names = Field(description="Direction of the god of wealth (财神)")
    fu_shen: Names = Field(description="Direction of the god of fortune (福神)")
    zhi_xing: str = Field(description="建除十二值星")
    tian_shen: str
    tian_shen_luck: str = Field(description="吉 (黄道) or 凶 (黑道)")
    peng_zu: list[str]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# --- time -------------------------------------------------------------------------------------


def equation_of_time_minutes(instant: dt.datetime) -> float:
    """Apparent minus mean solar time, in minutes (Meeus, Astronomical Algorithms, ch. 28)."""
    utc = instant.astimezone(dt.UTC)
    julian_day = utc.timestamp() / 86400.0 + 2440587.5
    t = (julian_day - 2451545.0) / 36525.0
    l0 = math.radians((280.46646 + 36000.76983 * t + 0.0003032 * t * t) % 360)
    m = math.radians(357.52911 + 35999.05029 * t - 0.0001537 * t * t)
    e = 0.016708634 - 0.000042037 * t - 0.0000001267 * t * t
    obliquity = math.radians(23.439291 - 0.0130042 * t)
    y = math.tan(obliquity / 2) ** 2
    eot = (
        y * math.sin(2 * l0)
        - 2 * e * math.sin(m)
        + 4 * e * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0)
        - 1.25 * e * e * math.sin(2 * m)
    )
    return math.degrees(eot) * 4.0


def _fmt(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _minutes(delta: dt.timedelta | None) -> int:
    return int((delta or dt.timedelta()).total_seconds() // 60)


def resolve_time(
    birth: BirthProfile, convention: ZiHourConvention
) -> tuple[TimeBasis, dt.datetime | None, dt.datetime | None]:
    """Work out (basis, local time for day/hour pillars, Beijing instant for year/month)."""
    day = birth.solar_birth_date()
    if birth.birth_time is None:
        basis = TimeBasis(
            hour_known=False,
            civil=None,
            utc_offset=None,
            standard=None,
            used_for_day_and_hour=None,
            instant_beijing=None,
            zi_hour_convention=convention,
            longitude=birth.longitude,
        )
        return basis, None, None
    clock = dt.time.fromisoformat(birth.birth_time)
    zone = ZoneInfo(birth.timezone)
    civil = dt.datetime.combine(day, clock, tzinfo=zone)  # fold=0: first of an ambiguous pair
    ambiguous = civil.utcoffset() != civil.replace(fold=1).utcoffset()
    dst = civil.dst() or dt.timedelta()
    offset = civil.utcoffset() or dt.timedelta()
    instant = civil.astimezone(dt.UTC)
    standard = (instant + offset - dst).replace(tzinfo=None)
    used = standard
    eot = lon_minutes = None
    true_solar_text = None
    if birth.longitude is not None:
        eot = equation_of_time_minutes(instant)
        # local mean time = UTC + longitude × 4 min; the zone's meridian is standard offset / 4 min
        lon_minutes = birth.longitude * 4.0 - (offset - dst).total_seconds() / 60.0
        used = standard + dt.timedelta(minutes=round(lon_minutes + eot))  # to the minute
        true_solar_text = _fmt(used)
    basis = TimeBasis(
        hour_known=True,
        civil=_fmt(civil),
        utc_offset=_fmt(civil)[19:],
        daylight_saving_minutes=_minutes(dst),
        standard=_fmt(standard),
        longitude=birth.longitude,
        longitude_correction_minutes=None if lon_minutes is None else round(lon_minutes, 2),
        equation_of_time_minutes=None if eot is None else round(eot, 2),
        true_solar=true_solar_text,
        used_for_day_and_hour=_fmt(used),
        instant_beijing=_fmt(instant.astimezone(BEIJING)),
        zi_hour_convention=convention,
        ambiguous=ambiguous,
    )
    return basis, used, instant.astimezone(BEIJING).replace(tzinfo=None)


# --- pillars ----------------------------------------------------------------------------------


def _lunar_at(moment: dt.datetime) -> Any:
    return Solar.fromYmdHms(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
    ).getLunar()


def _pillar(ganzhi: str, day_master: str, is_day: bool) -> Pillar:
    stem, branch = ganzhi[0], ganzhi[1]
    hidden = hidden_stems(branch)
    return Pillar(
        ganzhi=ganzhi,
        stem=stem,
        branch=branch,
        stem_element=stem_element(stem),
        branch_element=branch_element(branch),
        hidden_stems=hidden,
        ten_god=None if is_day else ten_god(day_master, stem),
        hidden_ten_gods=[ten_god(day_master, h) for h in hidden],
        na_yin=na_yin(ganzhi),
        kong_wang=kong_wang(ganzhi),
    )


def _season_state(day_element: str, month_branch: str) -> str:
    """旺相休囚死 of the day master's element in the month branch's season."""
    season = branch_element(month_branch)
    if season == day_element:
        return "旺"
    if GENERATES[season] == day_element:
        return "相"
    if GENERATES[day_element] == season:
        return "休"
    if CONTROLS[day_element] == season:
        return "囚"
    return "死"


def _weighted_elements(pillars: dict[str, Pillar | None]) -> dict[str, float]:
    weights = dict.fromkeys(ELEMENTS, 0.0)
    for key, pillar in pillars.items():
        if pillar is None:
            continue
        weights[pillar.stem_element] += 1.0
        factor = MONTH_BRANCH_FACTOR if key == "month" else 1.0
        for stem, share in zip(
            pillar.hidden_stems, HIDDEN_WEIGHTS[len(pillar.hidden_stems)], strict=True
        ):
            weights[stem_element(stem)] += share * factor
    return {k: round(v, 2) for k, v in weights.items()}


def _strength(pillars: dict[str, Pillar | None], day_master: str) -> Strength:
    element = stem_element(day_master)
    weighted = _weighted_elements(pillars)
    weighted[element] -= 1.0  # the day master does not support itself
    resource = next(e for e in ELEMENTS if GENERATES[e] == element)
    total = sum(weighted.values())
    support = weighted[element] + weighted[resource]
    ratio = support / total if total else 0.0
    level = "strong" if ratio >= 0.55 else "weak" if ratio <= 0.40 else "balanced"
    month = pillars["month"]
    assert month is not None
    return Strength(
        level=level,
        support=round(support, 2),
        total=round(total, 2),
        ratio=round(ratio, 3),
        season=_season_state(element, month.branch),
    )


def favourable(day_master: str, strength: Strength, weighted: dict[str, float]) -> list[str]:
    """Favourable elements (a simple 用神 estimate): a strong day master wants to be drained and
    checked, a weak one supported; a balanced one wants what the chart lacks most."""
    element = stem_element(day_master)
    resource = next(e for e in ELEMENTS if GENERATES[e] == element)
    officer = next(e for e in ELEMENTS if CONTROLS[e] == element)
    if strength.level == "strong":
        group = [GENERATES[element], CONTROLS[element], officer]
    elif strength.level == "weak":
        group = [resource, element]
    else:
        group = sorted(ELEMENTS, key=lambda e: (weighted[e], ELEMENTS.index(e)))[:2]
    return sorted(group, key=lambda e: (weighted[e], ELEMENTS.index(e)))


def _local_mean_time(birth: BirthProfile) -> bool:
    """Whether the tz database has only local mean time (LMT) for this zone at the birth."""
    if birth.birth_time is None:
        return False
    clock = dt.time.fromisoformat(birth.birth_time)
    civil = dt.datetime.combine(birth.solar_birth_date(), clock, tzinfo=ZoneInfo(birth.timezone))
    return civil.tzname() == "LMT"


def _day_and_hour(local: dt.datetime, convention: ZiHourConvention) -> tuple[str, str]:
    """Day and hour pillars at a local (standard or true solar) time."""
    lunar = _lunar_at(local)
    if convention == ZiHourConvention.NEXT_DAY:
        return lunar.getDayInGanZhiExact(), lunar.getTimeInGanZhi()
    return lunar.getDayInGanZhiExact2(), lunar.getTimeInGanZhi()


def _terms_around(lunar: Any) -> list[tuple[str, dt.datetime]]:
    """The 节 before and after a `Lunar`'s moment, as naive Beijing times."""
    found = []
    for term in (lunar.getPrevJie(), lunar.getNextJie()):
        solar = term.getSolar()
        found.append((term.getName(), dt.datetime.fromisoformat(solar.toYmdHms())))
    return found


def _qi_yun_text(decades: DaYun | None) -> str:
    if decades is None:
        return "-"
    start = decades.start
    direction = "forward" if decades.forward else "backward"
    return f"{start.years}y{start.months}m{start.days}d {direction}"


def _boundary_warnings(
    birth: BirthProfile,
    conventions: Conventions,
    local: dt.datetime,
    beijing: dt.datetime,
    actual: dict[str, str],
    instant: Any,
) -> list[BoundaryWarning]:
    """Warnings for a 节 or 23:00/00:00 within `conventions.boundary_minutes` of the birth."""

    def facts_at(shift: dt.timedelta) -> dict[str, str]:
        moved = _lunar_at(beijing + shift)
        day, hour = _day_and_hour(local + shift, conventions.zi_hour)
        facts = {
            "year": moved.getYearInGanZhiExact(),
            "month": moved.getMonthInGanZhiExact(),
            "day": day,
            "hour": hour,
        }
        if "qiYun" in actual:
            chart = eight_char(moved, day, hour)
            decades = da_yun(chart, birth.gender, conventions.qi_yun, True, count=1)
            facts["qiYun"] = _qi_yun_text(decades)
        return facts

    return boundaries.warnings(
        local, beijing, _terms_around(instant), conventions.boundary_minutes, facts_at, actual
    )


def _time_notes(birth: BirthProfile, basis: TimeBasis) -> list[str]:
    """What the profile says about how the clock time was read."""
    notes = []
    if basis.daylight_saving_minutes:
        notes.append(
            f"daylight saving time in force: clock time moved back "
            f"{basis.daylight_saving_minutes} min to standard time"
        )
    if basis.ambiguous:
        notes.append(
            "the clock time occurred twice (end of daylight saving); the first "
            "(daylight) one was used"
        )
    if basis.true_solar:
        notes.append("true solar time used for the day and hour pillars")
    if _local_mean_time(birth):
        notes.append(
            f"before standard time in {birth.timezone}: the clock time was read as that "
            f"zone's local mean time (UTC{basis.utc_offset}); give longitude for the birth "
            "place's own solar time"
        )
    return notes


def _unknown_hour_notes(solar_day: dt.date) -> list[str]:
    notes = ["birth hour unknown: no hour pillar; year and month pillars taken at noon"]
    day_prev = _lunar_at(dt.datetime.combine(solar_day, dt.time(0, 0)))
    day_next = _lunar_at(dt.datetime.combine(solar_day, dt.time(23, 59)))
    if (day_prev.getMonthInGanZhiExact(), day_prev.getYearInGanZhiExact()) != (
        day_next.getMonthInGanZhiExact(),
        day_next.getYearInGanZhiExact(),
    ):
        notes.append(
            "a solar term (节) begins on the birth date: without the hour the month "
            "pillar (and maybe the year pillar) is uncertain"
        )
    return notes


def _pillars(ganzhis: dict[str, str], chart: Any) -> dict[str, Pillar | None]:
    """The four pillars (hour None when unknown) with their 星运 and 自坐."""
    day_master = ganzhis["day"][0]
    phases = growth_phases(chart)
    pillars: dict[str, Pillar | None] = dict.fromkeys(("year", "month", "day", "hour"))
    for key, ganzhi in ganzhis.items():
        pillars[key] = _pillar(ganzhi, day_master, key == "day").model_copy(
            update={
                "xing_yun": phases[key],
                "zi_zuo": growth_phase(ganzhi[0], ganzhi[1]),
            }
        )
    return pillars


def _decades(
    birth: BirthProfile, chart: Any, convention: QiYunConvention, hour_known: bool, notes: list[str]
) -> DaYun | None:
    """The 大运 (None without a gender), noting why there is none or why it is approximate."""
    if birth.gender == Gender.UNSPECIFIED:
        notes.append(
            "no gender given: 大运 runs forward for 阳男阴女 and backward for 阴男阳女, so there "
            "is no daYun without one"
        )
        return None
    if not hour_known:
        notes.append(
            "birth hour unknown: 起运 measured from noon, so it may be off by up to two "
            "months either way (12 hours of the interval)"
        )
    return da_yun(chart, birth.gender, convention, exact=hour_known)


def derive_profile(
    birth: BirthProfile, conventions: Conventions | ZiHourConvention = DEFAULT_CONVENTIONS
) -> DerivedProfile:
    """Derive the full profile from validated birth input (`conventions`: a `ZiHourConvention`
    alone keeps the defaults of the other conventions)."""
    if isinstance(conventions, ZiHourConvention):
        conventions = Conventions(zi_hour=conventions)
    convention = conventions.zi_hour
    notes: list[str] = []
    basis, local, beijing = resolve_time(birth, convention)
    solar_day = birth.solar_birth_date()
    if local is None or beijing is None:
        year_month_lunar = _lunar_at(dt.datetime.combine(solar_day, dt.time(12, 0)))
        day_ganzhi, hour_ganzhi = year_month_lunar.getDayInGanZhiExact2(), None
        notes += _unknown_hour_notes(solar_day)
    else:
        year_month_lunar = _lunar_at(beijing)
        day_ganzhi, hour_ganzhi = _day_and_hour(local, convention)
        notes += _time_notes(birth, basis)
    year_ganzhi = year_month_lunar.getYearInGanZhiExact()
    month_ganzhi = year_month_lunar.getMonthInGanZhiExact()
    day_master = day_ganzhi[0]
    chart = eight_char(year_month_lunar, day_ganzhi, hour_ganzhi)
    ganzhis = {"year": year_ganzhi, "month": month_ganzhi, "day": day_ganzhi}
    if hour_ganzhi:
        ganzhis["hour"] = hour_ganzhi
    pillars = _pillars(ganzhis, chart)
    counts = dict.fromkeys(ELEMENTS, 0)
    for pillar in pillars.values():
        if pillar is not None:
            counts[pillar.stem_element] += 1
            counts[pillar.branch_element] += 1
    weighted = _weighted_elements(pillars)
    strength = _strength(pillars, day_master)
    good = favourable(day_master, strength, weighted)
    birth_lunar = Solar.fromYmd(solar_day.year, solar_day.month, solar_day.day).getLunar()
    zodiac_zh = LunarUtil.SHENGXIAO[BRANCHES.index(year_ganzhi[1]) + 1]
    constellation_zh = Solar.fromYmd(solar_day.year, solar_day.month, solar_day.day).getXingZuo()
    if zodiac_zh != birth_lunar.getYearShengXiao():
        notes.append(
            f"born between 立春 and the lunar new year (or the reverse): the zodiac by 立春 is "
            f"{zodiac_zh}, by the lunar year {birth_lunar.getYearShengXiao()}"
        )
    decades = _decades(birth, chart, conventions.qi_yun, local is not None, notes)
    warnings: list[BoundaryWarning] = []
    if local is not None and beijing is not None:
        actual = dict(ganzhis)
        if decades is not None:
            actual["qiYun"] = _qi_yun_text(decades)
        warnings = _boundary_warnings(birth, conventions, local, beijing, actual, year_month_lunar)
    return DerivedProfile(
        name=birth.name,
        gender=birth.gender,
        solar_date=solar_day.isoformat(),
        lunar=_lunar_date(birth_lunar),
        zodiac=Names(zh=zodiac_zh, en=ZODIAC_EN[zodiac_zh]),
        constellation=Names(zh=constellation_zh + "座", en=CONSTELLATION_EN[constellation_zh]),
        bazi=Bazi(year=year_ganzhi, month=month_ganzhi, day=day_ganzhi, hour=hour_ganzhi),
        pillars=pillars,
        five_elements=counts,
        five_elements_weighted=weighted,
        day_master=day_master,
        day_master_element=stem_element(day_master),
        day_master_yin_yang="yang" if is_yang(day_master) else "yin",
        strength=strength,
        favourable_elements=good,
        unfavourable_elements=[e for e in ELEMENTS if e not in good],
        kong_wang=kong_wang(day_ganzhi),
        time=basis,
        notes=notes,
        palaces=palaces(chart),
        da_yun=decades,
        relations=relations(ganzhis),
        shen_sha=shen_sha(ganzhis, conventions.shen_sha),
        boundaries=warnings,
    )


def _birth_instant(profile: DerivedProfile) -> dt.datetime:
    """The naive Beijing time the year, month and 起运 were computed at (noon when the hour is
    unknown)."""
    if profile.time.instant_beijing:
        return dt.datetime.fromisoformat(profile.time.instant_beijing).replace(tzinfo=None)
    return dt.datetime.combine(dt.date.fromisoformat(profile.solar_date), dt.time(12, 0))


def luck_for(profile: DerivedProfile, day: dt.date, years: int = 10) -> LuckAt:
    """The luck of `day` for a derived profile (also one read back from its stored JSON): the
    大运 and 流年 containing it, the next `years` − 1 流年, its 流年's 流月, 小运, relations."""
    instant = _birth_instant(profile)
    chart = {key: value for key, value in profile.bazi.model_dump().items() if value}
    year_pillar, month_pillar = _year_and_month_pillars(day)
    return luck_at(
        _lunar_at(instant),
        chart,
        profile.gender,
        profile.da_yun,
        instant.year,
        day,
        year_pillar,
        month_pillar,
        max(1, years),
    )


@lru_cache(maxsize=1024)
def _year_and_month_pillars(day: dt.date) -> tuple[str, str]:
    """The year and month pillars of `day` (at noon): every reading for the same day asks for
    them, so they are computed once per day (a lunar date costs about 0.4 ms of CPU)."""
    noon = _lunar_at(dt.datetime.combine(day, dt.time(12, 0)))
    return noon.getYearInGanZhiExact(), noon.getMonthInGanZhiExact()


def _lunar_date(lunar: Any) -> LunarDate:
    month = lunar.getMonth()
    return LunarDate(
        year=lunar.getYear(),
        month=abs(month),
        day=lunar.getDay(),
        leap_month=month < 0,
        text=f"{lunar.getYearInChinese()}年{lunar.getMonthInChinese()}月{lunar.getDayInChinese()}",
    )


def _direction(desc: str) -> Names:
    return Names(zh=desc, en=DIRECTION_EN[desc])


@lru_cache(maxsize=1024)
def day_almanac(day: dt.date) -> DayAlmanac:
    """The almanac (黄历) of a day: 宜/忌, 冲煞, directions of the gods, the day's pillars.

    Cached per day (the model is frozen, so callers share it): a service asks for today's almanac
    with every request."""
    lunar = Solar.fromYmdHms(day.year, day.month, day.day, 12, 0, 0).getLunar()
    term = lunar.getJieQi()
    return DayAlmanac(
        date=day.isoformat(),
        weekday=day.isoweekday(),
        lunar=_lunar_date(lunar),
        year_ganzhi=lunar.getYearInGanZhiByLiChun(),
        month_ganzhi=lunar.getMonthInGanZhiExact(),
        day_ganzhi=lunar.getDayInGanZhi(),
        solar_term=term or None,
        yi=list(lunar.getDayYi()),
        ji=list(lunar.getDayJi()),
        chong=lunar.getDayChongDesc(),
        chong_zodiac=lunar.getDayChongShengXiao(),
        sha=lunar.getDaySha(),
        xi_shen=_direction(lunar.getDayPositionXiDesc()),
        cai_shen=_direction(lunar.getDayPositionCaiDesc()),
        fu_shen=_direction(lunar.getDayPositionFuDesc()),
        zhi_xing=lunar.getZhiXing(),
        tian_shen=lunar.getDayTianShen(),
        tian_shen_luck=lunar.getDayTianShenLuck(),
        peng_zu=[lunar.getPengZuGan(), lunar.getPengZuZhi()],
    )
