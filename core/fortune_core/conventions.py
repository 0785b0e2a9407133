"""The conventions where schools of BaZi disagree, each named and selectable (see docs/domain.md).

A leaf module: settings and the derivation both read these enums, and it imports nothing."""

from __future__ import annotations

from enum import StrEnum


class ZiHourConvention(StrEnum):
    """Which day 23:00–24:00 (晚子时) belongs to.

    ``next-day``: the day pillar changes at 23:00 (子初换日, the classical 子平 rule, default);
    ``same-day``: the day pillar changes at midnight, the hour stem still follows the next day.
    """

    NEXT_DAY = "next-day"
    SAME_DAY = "same-day"
