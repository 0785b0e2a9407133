"""Profile derivation against published charts, calendar boundaries and the time conventions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fortune_core.profile import (
    ELEMENTS,
    DerivedProfile,
    ZiHourConvention,
    day_almanac,
    derive_profile,
    equation_of_time_minutes,
)
from fortune_core.request import BirthProfile


def chart(
    convention: ZiHourConvention = ZiHourConvention.NEXT_DAY, **fields: Any
) -> DerivedProfile:
    return derive_profile(BirthProfile.model_validate(fields), convention)


def pillars(profile: DerivedProfile) -> tuple[str, str, str, str | None]:
    b = profile.bazi
    return b.year, b.month, b.day, b.hour


# --- published reference charts -------------------------------------------------------------

REFERENCE = [
    # Steve Jobs, 1955-02-24 19:15, San Francisco. Chart as published on patricialee.me,
    # "BaZi Destiny Analysis on Steve Jobs' and Whitney Houston's birth charts":
    # Yin Wood Sheep year, Wu Earth Tiger month, Bing Fire Dragon day, Wu Earth Dog hour.
    ("Steve Jobs", {"birthDate": "1955-02-24", "birthTime": "19:15",
                    "timezone": "America/Los_Angeles"}, ("乙未", "戊寅", "丙辰", "戊戌")),
    # Bruce Lee (李小龙), 1940-11-27 07:12, San Francisco. bazichic.blogspot.com, "Bruce Lee, A
    # Martial Artist of His Time" (2008): Jia Wood day master, Ding and Geng stems, a Hai month.
    ("Bruce Lee", {"birthDate": "1940-11-27", "birthTime": "07:12",
                   "timezone": "America/Los_Angeles"}, ("庚辰", "丁亥", "甲戌", "戊辰")),
    # Bill Gates, 1955-10-28 21:15, Seattle. bazichic.blogspot.com, "Reckoning of the Blue Ocean
    # Part II" (2010), with an estimated 22:00 (the same 亥 hour): Ren Water day, Bing Xu month.
    ("Bill Gates", {"birthDate": "1955-10-28", "birthTime": "21:15",
                    "timezone": "America/Los_Angeles"}, ("乙未", "丙戌", "壬戌", "辛亥")),
]  # fmt: skip


@pytest.mark.parametrize(("who", "fields", "expected"), REFERENCE, ids=[r[0] for r in REFERENCE])
def test_published_charts(who: str, fields: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert pillars(chart(**fields)) == expected, who


# Births before 1900 (accepted from 1600 on). The clock is read as the tz database's local mean time
# of the zone (Asia/Shanghai: UTC+08:05:43 until 1901), and the profile says so.
HISTORICAL = [
    # The Qianlong Emperor (乾隆), born 康熙五十年八月十三日 子时 = 1711-09-25 just after midnight;
    # his chart 辛卯 丁酉 庚午 丙子 is a standard example in 命理 books and sites.
    ("Qianlong 1711", {"birthDate": "1711-09-25", "birthTime": "00:30"},
     ("辛卯", "丁酉", "庚午", "丙子")),
    # The same birth given as the lunar date 1711-08-13 (康熙五十年八月十三).
    ("Qianlong 1711, lunar", {"birthDate": "1711-08-13", "calendar": "lunar", "birthTime": "00:30"},
     ("辛卯", "丁酉", "庚午", "丙子")),
    # Sun Yat-sen (孙中山), 1866-11-12 寅时: 丙寅 己亥 辛卯 庚寅, as commonly published.
    ("Sun Yat-sen 1866", {"birthDate": "1866-11-12", "birthTime": "04:00"},
     ("丙寅", "己亥", "辛卯", "庚寅")),
    # Mao Zedong (毛泽东), 1893-12-26 辰时: 癸巳 甲子 丁酉 甲辰, a widely published chart.
    ("Mao Zedong 1893", {"birthDate": "1893-12-26", "birthTime": "08:00"},
     ("癸巳", "甲子", "丁酉", "甲辰")),
]  # fmt: skip


@pytest.mark.parametrize(("who", "fields", "expected"), HISTORICAL, ids=[r[0] for r in HISTORICAL])
def test_historical_charts(who: str, fields: dict[str, Any], expected: tuple[str, ...]) -> None:
    profile = chart(**fields)
    assert pillars(profile) == expected, who
    assert profile.time.utc_offset == "+08:05:43"  # Shanghai's local mean time
    assert any("local mean time" in note for note in profile.notes)


def test_standard_time_births_have_no_local_mean_time_note() -> None:
    assert not any(
        "local mean time" in n for n in chart(birthDate="1990-05-17", birthTime="08:30").notes
    )


@pytest.mark.parametrize(
    ("day", "ganzhi"),
    [
        # The founding ceremony of the PRC, 1949-10-01, fell on a 甲子 day (widely cited).
        ("1949-10-01", "甲子"),
        # 2000-01-01 was a 戊午 day (Hong Kong Observatory's Gregorian–lunar tables).
        ("2000-01-01", "戊午"),
    ],
)
def test_day_pillar_anchors(day: str, ganzhi: str) -> None:
    assert chart(birthDate=day).bazi.day == ganzhi


# --- solar-term boundaries --------------------------------------------------------------------
# Purple Mountain Observatory: 立春 2024 at 2024-02-04 16:26:53, 惊蛰 at 2024-03-05 10:22:31
# (Beijing time). lunar-python's own term times agree to within a minute.


@pytest.mark.parametrize(
    ("clock", "year", "month"),
    [("16:20", "癸卯", "乙丑"), ("16:35", "甲辰", "丙寅")],
)
def test_lichun_changes_year_and_month_to_the_minute(clock: str, year: str, month: str) -> None:
    profile = chart(birthDate="2024-02-04", birthTime=clock)
    assert (profile.bazi.year, profile.bazi.month) == (year, month)


@pytest.mark.parametrize(("clock", "month"), [("10:15", "丙寅"), ("10:30", "丁卯")])
def test_jingzhe_changes_the_month_pillar(clock: str, month: str) -> None:
    assert chart(birthDate="2024-03-05", birthTime=clock).bazi.month == month


@pytest.mark.parametrize(("clock", "year"), [("03:20", "癸卯"), ("03:35", "甲辰")])
def test_term_boundary_is_an_instant_not_a_clock_time(clock: str, year: str) -> None:
    # 03:20 / 03:35 in New York (EST, UTC-5) are 16:20 / 16:35 in Beijing.
    profile = chart(birthDate="2024-02-04", birthTime=clock, timezone="America/New_York")
    assert profile.bazi.year == year
    assert profile.time.instant_beijing is not None
    assert profile.time.instant_beijing.startswith(f"2024-02-04T16:{clock[3:]}")


def test_unknown_hour_has_no_hour_pillar_and_says_so() -> None:
    profile = chart(birthDate="1990-05-17")
    assert profile.bazi.hour is None and profile.pillars["hour"] is None
    assert profile.time.hour_known is False
    assert any("hour unknown" in note for note in profile.notes)
    assert sum(profile.five_elements.values()) == 6


def test_unknown_hour_on_a_term_day_flags_the_uncertain_month() -> None:
    on_term = chart(birthDate="2024-02-04")
    off_term = chart(birthDate="2024-02-10")
    assert any("solar term" in note for note in on_term.notes)
    assert not any("solar term" in note for note in off_term.notes)


# --- daylight saving, true solar time, 子 hour ----------------------------------------------


def test_china_daylight_saving_time_is_removed() -> None:
    # 1988-06-01 09:30 on a Shanghai clock was 08:30 standard time (UTC+8): 辰 hour, not 巳.
    dst = chart(birthDate="1988-06-01", birthTime="09:30")
    fixed = chart(birthDate="1988-06-01", birthTime="09:30", timezone="Etc/GMT-8")
    assert dst.time.daylight_saving_minutes == 60
    assert dst.time.standard == "1988-06-01T08:30:00"
    assert dst.bazi.hour is not None and dst.bazi.hour[1] == "辰"
    assert fixed.bazi.hour is not None and fixed.bazi.hour[1] == "巳"


def test_first_daylight_saving_year_1986() -> None:
    profile = chart(birthDate="1986-05-04", birthTime="03:30")
    assert profile.time.utc_offset == "+09:00"
    assert profile.bazi.hour is not None and profile.bazi.hour[1] == "丑"


def test_repeated_clock_time_is_flagged() -> None:
    profile = chart(birthDate="1988-09-11", birthTime="01:30")
    assert profile.time.ambiguous is True


def test_true_solar_time_moves_the_hour_pillar() -> None:
    # Ürümqi (87.6°E) keeps Beijing time: 08:30 on the clock is about 05:24 true solar time.
    clock = chart(birthDate="1990-05-17", birthTime="08:30")
    solar = chart(birthDate="1990-05-17", birthTime="08:30", longitude=87.6)
    assert clock.bazi.hour is not None and clock.bazi.hour[1] == "辰"
    assert solar.bazi.hour is not None and solar.bazi.hour[1] == "卯"
    assert solar.time.true_solar is not None
    assert solar.time.longitude_correction_minutes == pytest.approx(-129.6)


@pytest.mark.parametrize(
    ("when", "minutes"),
    # The equation of time peaks near +16.4 min in early November and -14.2 min in mid February.
    [
        (dt.datetime(2024, 11, 3, 12, tzinfo=dt.UTC), 16.4),
        (dt.datetime(2024, 2, 11, 12, tzinfo=dt.UTC), -14.2),
    ],
)
def test_equation_of_time_extremes(when: dt.datetime, minutes: float) -> None:
    assert equation_of_time_minutes(when) == pytest.approx(minutes, abs=0.2)


def test_zi_hour_conventions() -> None:
    birth = BirthProfile.model_validate({"birthDate": "2000-03-10", "birthTime": "23:30"})
    next_day = derive_profile(birth, ZiHourConvention.NEXT_DAY)
    same_day = derive_profile(birth, ZiHourConvention.SAME_DAY)
    after_midnight = chart(birthDate="2000-03-11", birthTime="00:30")
    assert next_day.bazi.day == after_midnight.bazi.day
    assert same_day.bazi.day == chart(birthDate="2000-03-10", birthTime="12:00").bazi.day
    assert next_day.bazi.hour == same_day.bazi.hour == after_midnight.bazi.hour


# --- derived facts ----------------------------------------------------------------------------


def test_lunar_input_gives_the_lunar_date_back() -> None:
    profile = chart(birthDate="2023-02-15", calendar="lunar", leapMonth=True)
    assert profile.solar_date == "2023-04-05"
    assert (profile.lunar.year, profile.lunar.month, profile.lunar.day) == (2023, 2, 15)
    assert profile.lunar.leap_month is True


def test_ten_gods_hidden_stems_and_elements_are_consistent() -> None:
    profile = chart(birthDate="1955-02-24", birthTime="19:15", timezone="America/Los_Angeles")
    assert profile.day_master == "丙" and profile.day_master_element == "fire"
    assert profile.day_master_yin_yang == "yang"
    year = profile.pillars["year"]
    assert year is not None
    assert year.ten_god == "正印"  # 乙 (yin wood) produces 丙 (yang fire): direct resource
    assert year.hidden_stems == ["己", "丁", "乙"]  # 未
    assert year.na_yin == "沙中金"
    assert profile.five_elements == {"wood": 2, "fire": 1, "earth": 5, "metal": 0, "water": 0}
    assert sum(profile.five_elements.values()) == 8
    assert set(profile.favourable_elements) | set(profile.unfavourable_elements) == set(ELEMENTS)
    assert profile.kong_wang == "子丑"  # 丙辰 belongs to the 甲寅 decade


def test_zodiac_and_constellation() -> None:
    profile = chart(birthDate="1990-05-17", birthTime="08:30")
    assert profile.zodiac.zh == "马" and profile.zodiac.en == "Horse"
    assert profile.constellation.zh == "金牛座" and profile.constellation.en == "Taurus"


def test_zodiac_follows_lichun_and_notes_the_lunar_year_difference() -> None:
    profile = chart(birthDate="2024-02-08")  # after 立春, before the lunar new year (02-10)
    assert profile.zodiac.zh == "龙"
    assert any("lunar year 兔" in note for note in profile.notes)


def test_profile_json_uses_the_public_names() -> None:
    data = chart(birthDate="1990-05-17", birthTime="08:30").to_json_dict()
    assert set(data["bazi"]) == {"year", "month", "day", "hour"}
    assert set(data["lunar"]) >= {"year", "month", "day", "leapMonth"}
    assert set(data["fiveElements"]) == set(ELEMENTS)
    for key in ("zodiac", "constellation", "dayMaster", "kongWang", "strength", "time"):
        assert key in data


def test_day_almanac() -> None:
    almanac = day_almanac(dt.date(2026, 11, 24))
    assert almanac.day_ganzhi == "壬寅" and almanac.month_ganzhi == "己亥"
    assert almanac.year_ganzhi == "丙午"
    assert almanac.chong_zodiac == "猴"  # 寅 clashes with 申
    assert almanac.yi and almanac.ji
    assert almanac.cai_shen.en and almanac.xi_shen.en


def test_lunar_years_are_cached_per_year_and_match_a_fresh_computation() -> None:
    from lunar_python import LunarYear

    first = LunarYear.fromYear(1990)
    LunarYear.fromYear(2024)  # lunar-python alone would have dropped 1990 here
    assert LunarYear.fromYear(1990) is first
    fresh = LunarYear(1990)  # computed without any cache
    assert first.getJieQiJulianDays() == fresh.getJieQiJulianDays()
    assert [m.toString() for m in first.getMonths()] == [m.toString() for m in fresh.getMonths()]


def test_day_almanac_is_computed_once_per_day() -> None:
    day = dt.date(2024, 2, 10)
    assert day_almanac(day) is day_almanac(day)
    assert day_almanac(day).lunar.text == "二〇二四年正月初一"
