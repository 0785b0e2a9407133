"""The conventions where schools of BaZi disagree, each named and selectable (docs/domain.md),
and the bundle a derivation takes.

A leaf module: settings and the derivation both read these, and it imports nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ZiHourConvention(StrEnum):
    """Which day 23:00–24:00 (晚子时) belongs to.

    ``next-day``: the day pillar changes at 23:00 (子初换日, the classical 子平 rule, default);
    ``same-day``: the day pillar changes at midnight, the hour stem still follows the next day.
    """

    NEXT_DAY = "next-day"
    SAME_DAY = "same-day"


class QiYunConvention(StrEnum):
    """How the birth–节 interval becomes the age luck starts at (lunar-python's `getYun` sect).

    ``minutes`` (default, sect 2): the interval in minutes at 4320 min = 1 year, 360 min = 1 month,
    12 min = 1 day (so 1 min = 2 hours): the classical three days to a year applied to the exact
    interval, so 起运 moves smoothly with the birth time and gives a handover time.
    ``days`` (sect 1): whole days and 时辰 between the two clock times (1 day = 4 months,
    1 时辰 = 10 days), the count done by hand in the books; it truncates to the 时辰, so an
    interval a few minutes longer can start luck 10 days later, and it gives a handover date only.
    """

    MINUTES = "minutes"
    DAYS = "days"

    @property
    def sect(self) -> int:
        return 1 if self is QiYunConvention.DAYS else 2


class ShenShaSchool(StrEnum):
    """Whose tables the 神煞 follow (see `fortune_core.shensha`)."""

    TANYUAN = "tanyuan"
    YUANHAI = "yuanhai"


#: a birth this many minutes or less from a 节 or 23:00/00:00 gets a boundary warning
BOUNDARY_MINUTES = 30


@dataclass(frozen=True)
class Conventions:
    """The selectable conventions of a derivation (docs/domain.md; set by environment variables
    read in `fortune_core.settings`)."""

    zi_hour: ZiHourConvention = ZiHourConvention.NEXT_DAY
    qi_yun: QiYunConvention = QiYunConvention.MINUTES
    shen_sha: ShenShaSchool = ShenShaSchool.TANYUAN
    boundary_minutes: int = BOUNDARY_MINUTES


DEFAULT_CONVENTIONS = Conventions()
