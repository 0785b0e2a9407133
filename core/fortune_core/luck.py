"""Luck: 大运 (the ten-year luck pillars) with the exact 起运, and for a target date the 流年, 流月
and 小运 and which 大运 contains it. Conventions and their sources are in docs/domain.md.

- Direction: 阳男阴女 forward, 阴男阳女 backward, by the year stem of the 立春-based year.
- 起运: the interval from the birth instant to the next 节 (forward) or from the previous 节
  (backward), in Beijing time like the solar-term tables; only the twelve 节 count, never the
  中气. It is converted at three days to a year by lunar-python's `Yun` under the chosen
  `QiYunConvention`. True solar time never enters it (it moves only the day and hour pillars).
- Ages are 虚岁 counted by Gregorian years (lunar-python's convention): the birth year is age 1,
  a pillar starting in year Y starts at age Y − birth year + 1. The span before the first pillar
  is 童限 (`childhood`), not a pillar.
- The 大运 that contains a date is decided by its exact handover date (`startDate`); the 流年 and
  流月 of a date are the year and month pillars at its noon (by the 立春 and 节 instants).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from lunar_python import Solar
from pydantic import Field

from fortune_core.conventions import QiYunConvention
from fortune_core.eight_char import eight_char, growth_phase
from fortune_core.facts import Fact
from fortune_core.ganzhi import hidden_stems, na_yin, ten_god
from fortune_core.relations import Relation, relations
from fortune_core.request import Gender

#: how many luck pillars a profile lists (to age 100 or so)
PILLARS = 10
#: the twelve 节 that start the months of a 流年, from 立春; lunar-python's key for the next
#: year's 小寒 is XIAO_HAN
_MONTH_TERMS = (
    "立春",
    "惊蛰",
    "清明",
    "立夏",
    "芒种",
    "小暑",
    "立秋",
    "白露",
    "寒露",
    "立冬",
    "大雪",
)


class Term(Fact):
    """A solar term (节气) and its instant in Beijing time."""

    name: str
    instant: str = Field(description="ISO 8601, UTC+08:00")


class QiYunStart(Fact):
    """起运: the interval converted to years, months, days (and hours) and the handover."""

    years: int
    months: int
    days: int
    hours: int = Field(description="Only the minutes convention gives hours")
    start_date: str = Field(
        description="The first 大运's handover: ISO date (days convention) or date and time in "
        "UTC+08:00 (minutes convention)"
    )
    term: Term = Field(description="The 节 the interval runs to (forward) or from (backward)")
    interval_minutes: int


class LuckPillar(Fact):
    """One 大运 pillar."""

    index: int = Field(description="1 for the first luck pillar")
    ganzhi: str
    start_year: int
    end_year: int
    start_age: int = Field(description="虚岁 by Gregorian years")
    end_age: int
    start_date: str = Field(description="The exact handover, same form as daYun.start.startDate")
    ten_god: str = Field(description="Ten god of the stem to the day master")
    branch_ten_god: str = Field(description="Ten god of the branch's main hidden stem")
    na_yin: str
    xing_yun: str = Field(description="星运: the day master's growth phase at the branch")


class Childhood(Fact):
    """童限: from birth to the first luck pillar."""

    start_year: int
    end_year: int
    start_age: int
    end_age: int


class DaYun(Fact):
    """大运 of a chart."""

    convention: QiYunConvention
    forward: bool = Field(description="阳男阴女 forward, 阴男阳女 backward")
    start: QiYunStart
    childhood: Childhood
    pillars: list[LuckPillar]
    exact: bool = Field(description="False when the birth hour is unknown (taken at noon)")


def _instant_text(solar: Any, with_time: bool) -> str:
    if not with_time:
        return str(solar.toYmd())
    return f"{solar.toYmd()}T{solar.toYmdHms()[11:]}+08:00"


def yun(chart: Any, gender: Gender, convention: QiYunConvention) -> Any:
    """lunar-python's `Yun` of a chart (see `eight_char.eight_char`) for a male or female."""
    return chart.getYun(1 if gender == Gender.MALE else 0, convention.sect)


def da_yun(
    chart: Any, gender: Gender, convention: QiYunConvention, exact: bool, count: int = PILLARS
) -> DaYun:
    """The 大运 of `chart` (lunar-python `EightChar` over the chart's pillars)."""
    luck = yun(chart, gender, convention)
    lunar = luck.getLunar()
    birth, term = lunar.getSolar(), lunar.getNextJie() if luck.isForward() else lunar.getPrevJie()
    with_time = convention is QiYunConvention.MINUTES
    first = luck.getStartSolar()
    day_master = lunar.getDayGanExact()
    decades = luck.getDaYun(count + 1)
    pillars = []
    for decade in decades[1:]:
        ganzhi = decade.getGanZhi()
        pillars.append(
            LuckPillar(
                index=decade.getIndex(),
                ganzhi=ganzhi,
                start_year=decade.getStartYear(),
                end_year=decade.getEndYear(),
                start_age=decade.getStartAge(),
                end_age=decade.getEndAge(),
                start_date=_instant_text(first.nextYear(10 * (decade.getIndex() - 1)), with_time),
                ten_god=ten_god(day_master, ganzhi[0]),
                branch_ten_god=ten_god(day_master, hidden_stems(ganzhi[1])[0]),
                na_yin=na_yin(ganzhi),
                xing_yun=growth_phase(day_master, ganzhi[1]),
            )
        )
    childhood = decades[0]
    return DaYun(
        convention=convention,
        forward=luck.isForward(),
        start=QiYunStart(
            years=luck.getStartYear(),
            months=luck.getStartMonth(),
            days=luck.getStartDay(),
            hours=luck.getStartHour(),
            start_date=_instant_text(first, with_time),
            term=Term(name=term.getName(), instant=_instant_text(term.getSolar(), True)),
            interval_minutes=abs(term.getSolar().subtractMinute(birth)),
        ),
        childhood=Childhood(
            start_year=childhood.getStartYear(),
            end_year=childhood.getEndYear(),
            start_age=childhood.getStartAge(),
            end_age=childhood.getEndAge(),
        ),
        pillars=pillars,
        exact=exact,
    )


# --- a target date --------------------------------------------------------------------------------


class YearLuck(Fact):
    """One 流年: the pillar of a Gregorian year from its 立春."""

    year: int
    ganzhi: str
    start_date: str = Field(description="ISO date of its 立春")
    age: int = Field(description="虚岁 in that year")
    ten_god: str
    branch_ten_god: str
    na_yin: str
    da_yun: str | None = Field(
        description="The 大运 of that year by the pillars' years (None in 童限 or without 大运)"
    )
    xiao_yun: str | None = Field(description="小运 of that year (needs the hour and a gender)")
    current: bool = Field(description="Whether it contains the target date")


class MonthLuck(Fact):
    """One 流月: a month pillar of the 流年, from its 节."""

    ganzhi: str
    term: str
    start_date: str = Field(description="ISO date of its 节")
    ten_god: str
    current: bool


class LuckAt(Fact):
    """The luck of a target date: which 大运 and 流年 contain it, its 流月 and 小运, and their
    relations with the chart."""

    date: str
    age: int = Field(description="虚岁 on the target date's 流年")
    da_yun: LuckPillar | None = Field(description="The 大运 containing the date (exact handover)")
    in_childhood: bool = Field(description="Before the first 大运 (童限)")
    liu_nian: list[YearLuck] = Field(description="The current 流年 and the ones after it")
    liu_yue: list[MonthLuck] = Field(description="The twelve 流月 of the current 流年")
    xiao_yun: str | None
    relations: list[Relation] = Field(
        description="Relations of the current 大运 (daYun) and 流年 (liuNian) with the chart"
    )


#: calendar years kept by the caches below (a few hundred bytes each)
CACHED_YEARS = 512


@lru_cache(maxsize=CACHED_YEARS)
def year_pillar(year: int) -> str:
    """The pillar of Gregorian `year` from its 立春."""
    return str(Solar.fromYmd(year, 6, 1).getLunar().getYearInGanZhiExact())


def liu_nian_year(day: dt.date, year_ganzhi: str) -> int:
    """The Gregorian year whose 流年 `year_ganzhi` (the date's 立春-based year) is."""
    return day.year if year_pillar(day.year) == year_ganzhi else day.year - 1


@lru_cache(maxsize=CACHED_YEARS)
def month_pillars(year: int) -> tuple[tuple[str, str, dt.date], ...]:
    """(ganzhi, 节, date) of the twelve months of the 流年 of `year`, 寅 month first (cached: a
    calendar fact)."""
    table = Solar.fromYmd(year, 6, 1).getLunar().getJieQiTable()
    terms = [(name, table[name]) for name in _MONTH_TERMS] + [("小寒", table["XIAO_HAN"])]
    months = []
    for name, solar in terms:
        instant = dt.datetime.fromisoformat(solar.toYmdHms())
        after = instant + dt.timedelta(minutes=1)  # the month pillar starts at the 节's instant
        lunar = Solar.fromYmdHms(
            after.year, after.month, after.day, after.hour, after.minute, after.second
        ).getLunar()
        months.append((str(lunar.getMonthInGanZhiExact()), name, instant.date()))
    return tuple(months)


def _xiao_yun(decades: list[Any], year: int) -> str | None:
    """小运 of Gregorian `year` from lunar-python's `XiaoYun` (`decades`: its `DaYun`s, 童限
    first; None after them)."""
    for decade in decades:
        if decade.getStartYear() <= year <= decade.getEndYear():
            index = year - decade.getStartYear()
            return str(decade.getXiaoYun(index + 1)[index].getGanZhi())
    return None


def luck_at(
    instant: Any,
    chart_pillars: dict[str, str],
    gender: Gender,
    decades: DaYun | None,
    birth_year: int,
    day: dt.date,
    year_ganzhi: str,
    month_ganzhi: str,
    years: int,
) -> LuckAt:
    """The luck of `day` for a chart.

    `instant`: the `Lunar` of the birth instant (Beijing); `chart_pillars`: label → ganzhi (year,
    month, day, hour when known); `decades`: the chart's 大运 (None without a gender);
    `year_ganzhi`, `month_ganzhi`: the date's year and month pillars;
    `years`: how many 流年 to list from the current one.
    """
    day_master = chart_pillars["day"][0]
    hour = chart_pillars.get("hour")
    steps: list[Any] = []  # lunar-python's DaYun objects, for 小运
    if decades is not None and hour is not None:
        luck = yun(eight_char(instant, chart_pillars["day"], hour), gender, decades.convention)
        steps = luck.getDaYun(PILLARS + 1)
    current_year = liu_nian_year(day, year_ganzhi)
    current_decade = None
    if decades is not None:
        started = [p for p in decades.pillars if p.start_date[:10] <= day.isoformat()]
        current_decade = started[-1] if started else None
    liu_nian = []
    for year in range(current_year, current_year + years):
        ganzhi = year_pillar(year)
        decade = None
        if decades is not None:
            decade = next(
                (p.ganzhi for p in decades.pillars if p.start_year <= year <= p.end_year), None
            )
        liu_nian.append(
            YearLuck(
                year=year,
                ganzhi=ganzhi,
                start_date=month_pillars(year)[0][2].isoformat(),
                age=year - birth_year + 1,
                ten_god=ten_god(day_master, ganzhi[0]),
                branch_ten_god=ten_god(day_master, hidden_stems(ganzhi[1])[0]),
                na_yin=na_yin(ganzhi),
                da_yun=decade,
                xiao_yun=_xiao_yun(steps, year) if steps else None,
                current=year == current_year,
            )
        )
    liu_yue = [
        MonthLuck(
            ganzhi=ganzhi,
            term=term,
            start_date=start.isoformat(),
            ten_god=ten_god(day_master, ganzhi[0]),
            current=ganzhi == month_ganzhi,
        )
        for ganzhi, term, start in month_pillars(current_year)
    ]
    with_luck = dict(chart_pillars)
    if current_decade is not None:
        with_luck["daYun"] = current_decade.ganzhi
    with_luck["liuNian"] = liu_nian[0].ganzhi if liu_nian else year_ganzhi
    return LuckAt(
        date=day.isoformat(),
        age=current_year - birth_year + 1,
        da_yun=current_decade,
        in_childhood=decades is not None and current_decade is None,
        liu_nian=liu_nian,
        liu_yue=liu_yue,
        xiao_yun=liu_nian[0].xiao_yun if liu_nian else None,
        relations=relations(with_luck, involving=("daYun", "liuNian")),
    )
