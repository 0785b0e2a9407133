"""lunar-python's `EightChar` over our chart: 星运, 自坐, 胎元, 胎息, 命宫, 身宫 and the 运 (大运,
流年, 小运) computed by the library, on the pillars this project derives.

Why an adapter: lunar-python computes everything from one `Lunar` (one clock time), but our year
and month pillars follow the birth instant in Beijing time (the solar-term tables are in UTC+8)
while the day and hour pillars follow local (possibly true solar) time and the 子-hour convention.
`ChartLunar` is the Beijing-instant `Lunar` with its day and hour replaced by the chart's, so
`EightChar` and `Yun` read the year and month (and the solar terms, for 起运) from the instant
and the day and hour from the chart. Only the getters lunar-python's eight-char classes call are
replaced; everything else is the instant's own.
"""

from __future__ import annotations

from typing import Any

from lunar_python import EightChar
from lunar_python.util.LunarUtil import LunarUtil

from fortune_core.facts import Fact
from fortune_core.ganzhi import BRANCHES, STEMS, na_yin


class ChartLunar:
    """A lunar-python `Lunar` whose day and hour pillars are given (duck-typed for `EightChar`)."""

    def __init__(self, instant: Any, day: str, hour: str | None) -> None:
        self._instant = instant
        self._day = day
        self._hour = hour

    @property
    def hour_known(self) -> bool:
        return self._hour is not None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._instant, name)

    def _hour_pillar(self) -> str:
        if self._hour is None:
            raise ValueError("the birth hour is unknown")
        return self._hour

    # the day, under both of lunar-python's day conventions (ours is already applied)
    def getDayGanExact(self) -> str:  # noqa: N802 - lunar-python's names
        return self._day[0]

    getDayGanExact2 = getDayGanExact  # noqa: N815

    def getDayZhiExact(self) -> str:  # noqa: N802
        return self._day[1]

    getDayZhiExact2 = getDayZhiExact  # noqa: N815

    def getDayGanIndexExact(self) -> int:  # noqa: N802
        return STEMS.index(self._day[0])

    getDayGanIndexExact2 = getDayGanIndexExact  # noqa: N815

    def getDayZhiIndexExact(self) -> int:  # noqa: N802
        return BRANCHES.index(self._day[1])

    getDayZhiIndexExact2 = getDayZhiIndexExact  # noqa: N815

    def getDayInGanZhiExact(self) -> str:  # noqa: N802
        return self._day

    getDayInGanZhiExact2 = getDayInGanZhiExact  # noqa: N815

    def getDayXunExact(self) -> str:  # noqa: N802
        return str(LunarUtil.getXun(self._day))

    getDayXunExact2 = getDayXunExact  # noqa: N815

    def getDayXunKongExact(self) -> str:  # noqa: N802
        return str(LunarUtil.getXunKong(self._day))

    getDayXunKongExact2 = getDayXunKongExact  # noqa: N815

    # the hour
    def getTimeGan(self) -> str:  # noqa: N802
        return self._hour_pillar()[0]

    def getTimeZhi(self) -> str:  # noqa: N802
        return self._hour_pillar()[1]

    def getTimeZhiIndex(self) -> int:  # noqa: N802
        return BRANCHES.index(self._hour_pillar()[1])

    def getTimeInGanZhi(self) -> str:  # noqa: N802
        return self._hour_pillar()

    def getTimeXun(self) -> str:  # noqa: N802
        return str(LunarUtil.getXun(self._hour_pillar()))

    def getTimeXunKong(self) -> str:  # noqa: N802
        return str(LunarUtil.getXunKong(self._hour_pillar()))


def eight_char(instant: Any, day: str, hour: str | None) -> Any:
    """lunar-python's `EightChar` for the chart (`instant`: the `Lunar` of the Beijing instant)."""
    return EightChar(ChartLunar(instant, day, hour))


def growth_phases(chart: Any) -> dict[str, str | None]:
    """星运 (地势, 十二长生): the day master's phase at each pillar's branch."""
    hour = chart.getLunar().hour_known
    return {
        "year": chart.getYearDiShi(),
        "month": chart.getMonthDiShi(),
        "day": chart.getDayDiShi(),
        "hour": chart.getTimeDiShi() if hour else None,
    }


def growth_phase(stem: str, branch: str) -> str:
    """The phase (十二长生) of `stem` at `branch`: the 星运 the pillar stem+branch would have as
    the day pillar (which reads nothing but the day). With a pillar's own stem: its 自坐."""
    return str(eight_char(None, stem + branch, None).getDayDiShi())


class Palace(Fact):
    """A derived pillar (胎元, 胎息, 命宫, 身宫) with its 纳音."""

    ganzhi: str
    na_yin: str


class Palaces(Fact):
    """胎元 (conception), 胎息 (the day's 合), 命宫 and 身宫 (from the month and hour branches)."""

    tai_yuan: Palace
    tai_xi: Palace
    ming_gong: Palace | None
    shen_gong: Palace | None


def _palace(ganzhi: str) -> Palace:
    return Palace(ganzhi=ganzhi, na_yin=na_yin(ganzhi))


def palaces(chart: Any) -> Palaces:
    """胎元/胎息/命宫/身宫 by lunar-python (命宫 and 身宫 need the birth hour)."""
    hour_known = chart.getLunar().hour_known
    return Palaces(
        tai_yuan=_palace(chart.getTaiYuan()),
        tai_xi=_palace(chart.getTaiXi()),
        ming_gong=_palace(chart.getMingGong()) if hour_known else None,
        shen_gong=_palace(chart.getShenGong()) if hour_known else None,
    )
