"""Regular expressions that state the validators' rules in the OpenAPI document exactly.

The request validators check more than a string's shape: a birth date must exist on its calendar
(a Gregorian date, or a lunar month's day and leap month) and lie between 1600-01-01 and today, a
name may not hold control or invisible characters. JSON Schema has no calendar, so these patterns
spell the valid values out, built from the same sources the validators use (`datetime`,
lunar-python's month lengths, `unicodedata`): what matches is accepted, what does not is refused.
The one rule left to prose is a clock time skipped by a daylight-saving change.
"""

from __future__ import annotations

import calendar
import datetime as dt
import sys
import unicodedata
from functools import cache

from lunar_python import Lunar, LunarYear

from fortune_core import NAME_FORBIDDEN_CATEGORIES

#: As `fortune_core.request` refuses them (Cs, surrogates, cannot occur in JSON text anyway).
_FORBIDDEN_NAME_CATEGORIES = NAME_FORBIDDEN_CATEGORIES - {"Cs"}


def _alternatives(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(?:" + "|".join(items) + ")"


def _numbers(low: int, high: int, width: int) -> str:
    """`low`..`high` written with `width` digits (zero-padded), as an alternation."""
    return _alternatives([f"{n:0{width}d}" for n in range(low, high + 1)])


def _days(last: int) -> str:
    """Days 01..`last`, compactly for whole lunar months (29 or 30 days)."""
    if last == 29:
        return "(?:0[1-9]|1[0-9]|2[0-9])"
    if last == 30:
        return "(?:0[1-9]|1[0-9]|2[0-9]|30)"
    return _numbers(1, last, 2)


def _years(low: int, high: int) -> str:
    """Four-digit years `low`..`high`: whole decades as `199[0-9]`, the rest one by one."""
    parts: list[str] = []
    year = low
    while year <= high:
        if year % 10 == 0 and year + 9 <= high:
            parts.append(f"{year // 10}[0-9]")
            year += 10
        else:
            parts.append(str(year))
            year += 1
    return _alternatives(parts)


def solar_dates(first: dt.date, last: dt.date) -> str:
    """A pattern matching exactly the Gregorian dates `first`..`last` as YYYY-MM-DD (`first`
    must be a 1 January)."""
    assert first.month == 1 and first.day == 1
    branches: list[str] = []
    if last.year > first.year:
        full = _years(first.year, last.year - 1)
        any_year = [
            "(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])",
            "(?:0[13-9]|1[0-2])-(?:29|30)",
            "(?:0[13578]|1[02])-31",
        ]
        branches.append(f"{full}-{_alternatives(any_year)}")
        leap = [str(y) for y in range(first.year, last.year) if calendar.isleap(y)]
        branches.append(f"{_alternatives(leap)}-02-29")
    year = last.year
    for month in range(1, last.month + 1):
        days = calendar.monthrange(year, month)[1] if month < last.month else last.day
        branches.append(f"{year}-{month:02d}-{_numbers(1, days, 2)}")
    return "^" + _alternatives(branches) + "$"


def _lunar_months(year: int) -> list[tuple[int, bool, int]]:
    """(month, leap, days) of a lunar year, in calendar order."""
    return [
        (abs(m.getMonth()), m.getMonth() < 0, m.getDayCount())
        for m in LunarYear.fromYear(year).getMonthsInYear()
    ]


@cache
def lunar_dates(first_year: int, last: dt.date) -> tuple[str, str]:
    """(regular months, leap months): patterns matching exactly the lunar dates YYYY-MM-DD from
    the first day of lunar year `first_year` up to the lunar date of solar day `last`."""
    end = Lunar.fromYmd(*_lunar_ymd(last))
    end_year, end_month, end_leap, end_day = (
        end.getYear(),
        abs(end.getMonth()),
        end.getMonth() < 0,
        end.getDay(),
    )
    regular: list[str] = []
    leap: list[str] = []
    if end_year > first_year:
        # Every lunar month has at least 29 days; the 30th exists in the long ones only.
        years = _years(first_year, end_year - 1)
        regular.append(f"{years}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-9])")
    for year in range(first_year, end_year + 1):
        long_months: list[str] = []
        for month, is_leap, days in _lunar_months(year):
            if year == end_year and (month, is_leap) == (end_month, end_leap):
                target = leap if is_leap else regular
                target.append(f"{year}-{month:02d}-{_days(min(days, end_day))}")
                break
            if is_leap:
                leap.append(f"{year}-{month:02d}-{_days(days)}")
            elif year == end_year:
                regular.append(f"{year}-{month:02d}-{_days(days)}")
            elif days == 30:
                long_months.append(f"{month:02d}")
        if long_months:
            regular.append(f"{year}-{_alternatives(long_months)}-30")
    return "^" + _alternatives(regular) + "$", "^" + _alternatives(leap) + "$"


def _lunar_ymd(day: dt.date) -> tuple[int, int, int]:
    from lunar_python import Solar

    lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
    return lunar.getYear(), lunar.getMonth(), lunar.getDay()


def _escape(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


@cache
def name_pattern() -> str:
    """Any text without control or format (invisible) characters."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        if unicodedata.category(chr(code)) in _FORBIDDEN_NAME_CATEGORIES:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    body = "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in ranges)
    return f"^[^{body}]*$"
