"""大运 with its 起运, and 流年, 流月, 小运 of a date, against published cases."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from published_cases import QI_YUN_CASES

from fortune_core.luck import QiYunConvention
from fortune_core.profile import Conventions, DerivedProfile, derive_profile, luck_for
from fortune_core.request import BirthProfile

JIA_ZI = [
    "甲子乙丑丙寅丁卯戊辰己巳庚午辛未壬申癸酉甲戌乙亥丙子丁丑戊寅己卯庚辰辛巳壬午癸未"
    "甲申乙酉丙戌丁亥戊子己丑庚寅辛卯壬辰癸巳甲午乙未丙申丁酉戊戌己亥庚子辛丑壬寅癸卯"
    "甲辰乙巳丙午丁未戊申己酉庚戌辛亥壬子癸丑甲寅乙卯丙辰丁巳戊午己未庚申辛酉壬戌癸亥"[i : i + 2]
    for i in range(0, 120, 2)
]


def chart(qi_yun: QiYunConvention = QiYunConvention.MINUTES, **fields: Any) -> DerivedProfile:
    return derive_profile(BirthProfile.model_validate(fields), Conventions(qi_yun=qi_yun))


# --- 起运: lunar-python's published cases (tests/published_cases.py) ------------------------------


@pytest.mark.parametrize(
    ("where", "fields", "convention", "interval", "start"),
    QI_YUN_CASES,
    ids=[case[0] for case in QI_YUN_CASES],
)
def test_qi_yun_matches_lunar_pythons_test_suite(
    where: str,
    fields: dict[str, Any],
    convention: str,
    interval: tuple[int, int, int] | None,
    start: str,
) -> None:
    profile = chart(QiYunConvention(convention), **fields)
    assert profile.da_yun is not None, where
    got = profile.da_yun.start
    if interval is not None:
        assert (got.years, got.months, got.days) == interval, where
    assert got.start_date[:10] == start, where
    assert profile.da_yun.pillars[0].start_date == got.start_date


def test_the_minutes_convention_gives_the_handover_time() -> None:
    # YunTest.test5 (solar 2022-03-09 20:51 male, sect 2): 8 years 9 months 2 days; the
    # remaining minutes (1 min = 2 h) move the handover to the morning of 2030-12-12.
    profile = chart(birthDate="2022-03-09", birthTime="20:51", gender="male")
    assert profile.da_yun is not None
    start = profile.da_yun.start
    assert (start.years, start.months, start.days, start.hours) == (8, 9, 2, 10)
    assert start.start_date == "2030-12-12T06:51:00+08:00"
    # the days convention (sect 1) gives a date only
    days = chart(QiYunConvention.DAYS, birthDate="2022-03-09", birthTime="20:51", gender="male")
    assert days.da_yun is not None and days.da_yun.start.start_date == "2030-12-19"


def test_san_ming_tong_hui_worked_example_of_the_three_day_rule() -> None:
    """《三命通会·论大运》: "假如甲子阳男十二月二十四日巳时生，是月也二十九日申时立春 ... 正得五日
    三时之节气 ... 乃一岁奇九月之大运": a yang-year male born five days and three 时辰 (巳 → 申)
    before 立春 starts luck at one year nine months. The same interval in a real 甲子 year: 立春
    1925-02-04 15:36 (申时), born 1925-01-30 10:00 (巳时), counted as the book does (days)."""
    profile = chart(QiYunConvention.DAYS, birthDate="1925-01-30", birthTime="10:00", gender="male")
    assert profile.bazi.year == "甲子"
    assert profile.da_yun is not None and profile.da_yun.forward
    start = profile.da_yun.start
    assert start.term.name == "立春" and start.term.instant.startswith("1925-02-04T15:36")
    assert (start.years, start.months, start.days) == (1, 9, 0)


def test_direction_and_sequence_follow_the_year_stem_and_the_month_pillar() -> None:
    """《三命通会·论大运》: 阳男阴女 forward from the month pillar, 阴男阳女 backward; the year stem
    is the 立春-based one."""
    fields = {"birthDate": "1981-01-29", "birthTime": "23:37"}  # 庚申 (yang) year, 己丑 month
    female, male = chart(**fields, gender="female"), chart(**fields, gender="male")
    assert female.da_yun is not None and male.da_yun is not None
    assert not female.da_yun.forward and male.da_yun.forward
    month = JIA_ZI.index(female.bazi.month)
    assert [p.ganzhi for p in female.da_yun.pillars] == [JIA_ZI[month - i] for i in range(1, 11)]
    assert [p.ganzhi for p in male.da_yun.pillars] == [JIA_ZI[month + i] for i in range(1, 11)]
    assert female.da_yun.start.term.name == "小寒" and male.da_yun.start.term.name == "立春"
    # Born before 立春 1981: the year is still 庚申 though the Gregorian year is 1981.
    assert female.bazi.year == "庚申"


def test_ages_are_xu_sui_and_the_span_before_the_first_pillar_is_childhood() -> None:
    # YunTest.test: 起运 1989-02-18 for the 1981 female: 童限 1981-1988 (ages 1-8), the first
    # pillar 1989-1998 at ages 9-18, each pillar ten years.
    profile = chart(
        QiYunConvention.DAYS, birthDate="1981-01-29", birthTime="23:37", gender="female"
    )
    assert profile.da_yun is not None
    child = profile.da_yun.childhood
    assert (child.start_year, child.end_year, child.start_age, child.end_age) == (
        1981,
        1988,
        1,
        8,
    )
    spans = [(p.start_year, p.end_year, p.start_age, p.end_age) for p in profile.da_yun.pillars]
    assert spans[:2] == [(1989, 1998, 9, 18), (1999, 2008, 19, 28)]
    assert all(b[0] == a[0] + 10 and b[2] == a[2] + 10 for a, b in itertools.pairwise(spans))
    assert [p.start_date for p in profile.da_yun.pillars[:2]] == ["1989-02-18", "1999-02-18"]


def test_qi_yun_is_measured_on_the_beijing_instant_not_true_solar_time() -> None:
    """Ürümqi keeps Beijing time: its true solar time is three hours behind. The pillars of the day
    and hour use it, the 起运 interval never does (it would move by about two weeks)."""
    birth = {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "male"}
    plain, urumqi = chart(**birth), chart(**birth, longitude=87.6)
    assert plain.da_yun is not None and urumqi.da_yun is not None
    assert plain.bazi.hour != urumqi.bazi.hour  # 辰 → 卯
    assert urumqi.da_yun.start == plain.da_yun.start
    # The same instant seen from New York (13 h behind in May 1990, EDT): the same 起运.
    new_york = chart(
        birthDate="1990-05-16", birthTime="19:30", timezone="America/New_York", gender="male"
    )
    assert new_york.da_yun is not None and new_york.da_yun.start == plain.da_yun.start


def test_no_gender_no_da_yun_and_the_profile_says_why() -> None:
    profile = chart(birthDate="1990-05-17", birthTime="08:30")
    assert profile.da_yun is None
    assert any("no gender" in note and "大运" in note for note in profile.notes)
    luck = luck_for(profile, dt.date(2026, 6, 1), years=2)
    assert luck.da_yun is None and not luck.in_childhood and luck.xiao_yun is None
    assert [y.ganzhi for y in luck.liu_nian] == ["丙午", "丁未"]  # 流年 need no gender


def test_unknown_hour_gives_an_approximate_da_yun() -> None:
    profile = chart(birthDate="1990-05-17", gender="female")
    assert profile.da_yun is not None and not profile.da_yun.exact
    assert any("起运 measured from noon" in note for note in profile.notes)


# --- a second, independent source: 徐乐吾《穷通宝鉴评注》 ----------------------------------------
#
# 徐乐吾's notes to 《穷通宝鉴》 (《造化元钥评注》, 1930s) print a chart, then "X命，<reign date>
# <时辰>" and, for many, the 运 a dated event fell in ("卒于午运丙子年") and the 虚岁 then. Text:
# books/穷通宝鉴/articles/<chapter>/source.md in github.com/Banny-Gao/mingli-research (names as
# printed there: 陈符 is 陈箓, 江精卫 汪精卫). A 运 of one character is that luck pillar's stem or
# branch (徐乐吾 reads a pillar's stem for its first five years and its branch for the last five;
# only the pillar is checked). Birth hours are the middle of the 时辰. Six more statements in
# those chapters miss our pillar by a year or more (陆宝忠 丁运, 杨宇霆's neighbour 杨杏佛, 尹昌衡
# 1913, 冯国璋, 赵铁桥, 张啸林); docs/domain.md lists them.

#: (who, chapter, the printed chart, lunar birth, leap month, clock, gender, quote, [(运, year)])
XU_LEWU: list[tuple[str, str, str, str, bool, str, str, str, list[tuple[str, int]]]] = [
    ("李纯", "七八九月己土", "乙亥 乙酉 己卯 庚午", "1875-08-15", False, "12:00", "male",
     "光绪元年八月十五日午时……庚辰运，庚申年自戕殒命", [("庚辰", 1920)]),
    ("陆宝忠", "七月丙火", "庚戌 甲申 丙申 癸巳", "1850-07-06", False, "10:00", "male",
     "道光三十年七月初六日巳时……戊运，辛卯年值南书房，子运，丁酉年在浙江学政任丁内艰",
     [("戊", 1891), ("子", 1897)]),
    ("杨宇霆", "七月丙火", "乙酉 甲申 丙辰 戊戌", "1885-07-20", False, "20:00", "male",
     "光绪十一年七月廿日戌时……辰运戊辰年，死於非命", [("辰", 1928)]),
    ("郭松龄", "三月丙火", "癸未 丙辰 丙午 戊子", "1883-03-26", False, "00:00", "male",
     "光绪九年三月廿六日子时……壬运甲子年，两子冲午……倒戈被戮", [("壬", 1924)]),
    ("陈符", "三月戊土", "丁丑 甲辰 戊寅 丙辰", "1877-03-22", False, "08:00", "male",
     "光绪三年三月廿二日辰时……戊运己卯年元旦，被刺殒命", [("戊", 1939)]),
    ("江精卫", "三月戊土", "癸未 丙辰 戊申 丁巳", "1883-03-28", False, "10:00", "male",
     "光绪九年三月廿八日巳时……寅运辛亥年谋刺摄政……亥运戊寅年被迫下台",
     [("寅", 1911), ("亥", 1938)]),
    ("王丹揆", "九月庚金", "庚申 丙戌 庚戌 壬午", "1860-09-20", False, "12:00", "male",
     "咸丰十年九月二十日午时……丑运庚寅年，以进士分部", [("丑", 1890)]),
    ("康有为", "二月壬水", "戊午 乙卯 壬子 庚子", "1858-02-06", False, "00:00", "male",
     "咸丰八年二月初六日子时……未运戊戌年……酉运戊午年……壬运丁卯年卒",
     [("未", 1898), ("酉", 1918), ("壬", 1927)]),
    ("程潜", "二月己土", "壬午 癸卯 己巳 庚午", "1882-02-13", False, "12:00", "male",
     "光绪八年二月十三日午时……酉运己卯年，被炸受伤殒命", [("酉", 1939)]),
    ("张作霖", "二月庚金", "乙亥 己卯 庚辰 丁丑", "1875-02-12", False, "02:00", "male",
     "光绪元年二月十二日丑时……戌运戊辰年，皇姑屯被炸殒命", [("戌", 1928)]),
    ("张敬尧", "八月乙木", "辛巳 丁酉 乙卯 己卯", "1881-07-25", True, "06:00", "male",
     "光绪七年闰七月廿五日卯时……辰运癸酉年，被剌殒命", [("辰", 1933)]),
    ("张麟书", "八月壬水", "乙酉 乙酉 壬午 甲辰", "1885-08-16", False, "08:00", "male",
     "光绪十一年八月十六日辰时……辰运戊寅年五月，惨遭暗杀殒命", [("辰", 1938)]),
    ("福康安", "六月丙火", "甲戌 辛未 丙寅 乙未", "1754-06-18", False, "14:00", "male",
     "乾隆十九年六月十八日未时……初行癸酉运丁亥年，十四岁授侍卫……交丙运丙辰年卒",
     [("癸酉", 1767), ("丙", 1796)]),
    ("尹昌衡", "六月壬水", "甲申 辛未 壬戌 戊申", "1884-05-19", True, "16:00", "male",
     "光绪十年闰五月十九日申时……酉运中岁值壬子、癸丑……一跃而为都督", [("酉", 1912)]),
    ("赵舒翘", "六月庚金", "戊申 己未 庚午 丙戌", "1848-06-28", False, "20:00", "male",
     "道光廿八年六月廿八日戌时……丑运辛丑年，合起阳刃，以附和拳匪伏法", [("丑", 1901)]),
    ("清德宗", "六月辛金", "壬申 丁未 辛巳 戊子", "1872-06-28", False, "00:00", "male",
     "实生于十一年六月廿八日子时……运至亥运殂，年三十七", [("亥", 1908)]),
    ("姜登选", "十一、十二月戊土", "辛巳 辛丑 戊申 甲寅", "1881-11-20", False, "04:00", "male",
     "光绪七年十一月二十日寅时……在丙申运，丙寅年", [("丙申", 1926)]),
    ("周湘舱", "十一月丙火", "甲子 丙子 丙寅 丙申", "1864-11-29", False, "16:00", "male",
     "同治三年十一月廿九日申时……殁于未运甲戌年", [("未", 1934)]),
    ("史量才", "十一月庚金", "己卯 丙子 庚寅 辛巳", "1879-11-21", False, "10:00", "male",
     "光绪五年十一月廿一日巳时……至未运甲戌年，破己土印，被刺殒命", [("未", 1934)]),
    ("傅传宗耀", "十一月辛金", "壬申 壬子 辛亥 癸巳", "1872-12-01", False, "10:00", "male",
     "同治十一年十二月初一日巳时……未运庚辰年……被害殒命", [("未", 1940)]),
    ("陶澍", "十二月丙火", "戊戌 乙丑 丙辰 戊戌", "1778-11-30", False, "20:00", "male",
     "乾隆四十三年十一月三十日戌时……巳运壬午任皖抚，午运庚寅年督两江……卒于未运己亥年",
     [("巳", 1822), ("午", 1830), ("未", 1839)]),
    ("李国杰", "十二月庚金", "辛巳 辛丑 庚申 辛巳", "1881-12-02", False, "10:00", "male",
     "光绪七年十二月初二日巳时……至乙未运……己卯年正月，突遭暗杀弊命", [("乙未", 1939)]),
    ("慈禧", "十月乙木", "乙未 丁亥 乙丑 丙子", "1835-10-10", False, "00:00", "female",
     "道光十五年十月初十日子时……卒于乙运戊申年", [("乙", 1908)]),
    ("潘复", "十月庚金", "癸未 癸亥 庚午 戊寅", "1883-10-23", False, "04:00", "male",
     "光绪九年十月廿三日寅时……卒于午运丙子年", [("午", 1936)]),
    ("王一亭", "十月戊土", "丁卯 辛亥 戊午 壬戌", "1867-11-09", False, "20:00", "male",
     "同治六年十一月初九日戌时……至甲运戊寅年十一月殁", [("甲", 1938)]),
    ("载沣", "正月丁火", "癸未 甲寅 丁亥 己酉", "1883-01-05", False, "18:00", "male",
     "光绪九年正月初五日酉时……辛运，戊申己酉年摄政，亥运，辛亥年逊国",
     [("辛", 1908), ("辛", 1909), ("亥", 1911)]),
    ("韩复榘", "正月庚金", "辛卯 庚寅 庚午 己卯", "1891-01-05", False, "06:00", "male",
     "光绪十七年正月初五日卯时……酉运丁丑年，失律遭刑", [("酉", 1937)]),
    ("蒋锡侯", "五月戊土", "己卯 庚午 戊寅 丙辰", "1879-05-05", False, "08:00", "male",
     "光绪五年五月初五日辰时……大运亦唯晚岁乙丑十年耳……民国十七年戊辰，任浙海关监督",
     [("乙丑", 1928)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "chapter", "pillars", "lunar", "leap", "clock", "gender", "quote", "events"),
    XU_LEWU,
    ids=[case[0] for case in XU_LEWU],
)
def test_xu_lewu_charts_and_the_luck_pillars_of_their_events(
    who: str,
    chapter: str,
    pillars: str,
    lunar: str,
    leap: bool,
    clock: str,
    gender: str,
    quote: str,
    events: list[tuple[str, int]],
) -> None:
    profile = chart(
        birthDate=lunar, calendar="lunar", leapMonth=leap, birthTime=clock, gender=gender
    )
    b = profile.bazi
    assert f"{b.year} {b.month} {b.day} {b.hour}" == pillars, (who, chapter)
    assert profile.da_yun is not None
    for named, year in events:
        decade = next(p for p in profile.da_yun.pillars if p.start_year <= year <= p.end_year)
        if len(named) == 2:
            assert decade.ganzhi == named, (who, quote, year)
        else:
            assert named in decade.ganzhi, (who, quote, year)


#: 徐乐吾's 虚岁 in a year: (who, lunar birth, clock, gender, year, the year's pillar, age, quote)
XU_LEWU_AGES = [
    ("福康安", "1754-06-18", "14:00", "male", 1767, "丁亥", 14, "初行癸酉运丁亥年，十四岁授侍卫"),
    ("福康安", "1754-06-18", "14:00", "male", 1796, "丙辰", 43, "交丙运丙辰年卒，年四十三"),
    ("蒋锡侯", "1879-05-05", "08:00", "male", 1936, "丙子", 58, "丙子年卒于任，年五十八"),
    ("康有为", "1858-02-06", "00:00", "male", 1927, "丁卯", 70, "壬运丁卯年卒，寿七十"),
    ("慈禧", "1835-10-10", "00:00", "female", 1908, "戊申", 74, "卒于乙运戊申年，寿七十四"),
    ("王一亭", "1867-11-09", "20:00", "male", 1938, "戊寅", 72, "至甲运戊寅年十一月殁，寿七十二"),
    ("张啸林", "1877-05-04", "04:00", "male", 1940, "庚辰", 64, "庚辰年七月，被狙击殒命，寿六十四"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "lunar", "clock", "gender", "year", "ganzhi", "age", "quote"), XU_LEWU_AGES
)
def test_xu_lewu_ages_are_xu_sui_by_gregorian_year(
    who: str, lunar: str, clock: str, gender: str, year: int, ganzhi: str, age: int, quote: str
) -> None:
    profile = chart(birthDate=lunar, calendar="lunar", birthTime=clock, gender=gender)
    luck = luck_for(profile, dt.date(year, 7, 1), years=1)
    assert (luck.liu_nian[0].year, luck.liu_nian[0].ganzhi) == (year, ganzhi), who
    assert luck.age == luck.liu_nian[0].age == age, (who, quote)


@pytest.mark.parametrize(
    ("who", "lunar", "gregorian", "year", "age", "quote"),
    [
        ("陶澍", "1778-11-30", "1779-01-17", 1839, 62, "卒于未运己亥年，寿六十二"),
        ("李国杰", "1881-12-02", "1882-01-21", 1939, 59, "己卯年正月，突遭暗杀弊命，年五十九"),
    ],
)
def test_xu_sui_counts_gregorian_years_where_xu_lewu_counts_the_birth_pillars_year(
    who: str, lunar: str, gregorian: str, year: int, age: int, quote: str
) -> None:
    """Born in January, before 立春: 徐乐吾 counts the 虚岁 from the 戊戌 (辛巳) year of the
    chart, lunar-python (and this project, by the issue's convention) from the Gregorian year of
    birth, one year later: one year less (docs/domain.md)."""
    profile = chart(birthDate=lunar, calendar="lunar", birthTime="10:00", gender="male")
    assert profile.solar_date == gregorian
    luck = luck_for(profile, dt.date(year, 7, 1), years=1)
    assert luck.age == age - 1, (who, quote)


# --- the luck of a date ---------------------------------------------------------------------------


FEMALE_1981 = {"birthDate": "1981-01-29", "birthTime": "23:37", "gender": "female"}


def test_the_da_yun_of_a_date_is_decided_by_its_exact_handover() -> None:
    profile = chart(QiYunConvention.DAYS, **FEMALE_1981)  # first handover 1989-02-18
    before = luck_for(profile, dt.date(1989, 2, 17), years=1)
    on = luck_for(profile, dt.date(1989, 2, 18), years=1)
    assert before.da_yun is None and before.in_childhood
    assert on.da_yun is not None and on.da_yun.ganzhi == "戊子" and not on.in_childhood
    later = luck_for(profile, dt.date(2026, 6, 1), years=1)
    assert later.da_yun is not None
    assert (later.da_yun.ganzhi, later.da_yun.start_date) == ("乙酉", "2019-02-18")


def test_the_liu_nian_of_a_date_changes_at_li_chun() -> None:
    """立春 2025 is 2025-02-03 22:10 (Beijing): at noon of 2025-02-03 the year pillar is still
    甲辰, from 2025-02-04 乙巳."""
    profile = chart(**FEMALE_1981)
    before = luck_for(profile, dt.date(2025, 2, 3), years=2)
    after = luck_for(profile, dt.date(2025, 2, 4), years=2)
    assert [(y.year, y.ganzhi, y.age) for y in before.liu_nian] == [(2024, "甲辰", 44),
                                                                    (2025, "乙巳", 45)]  # fmt: skip
    assert [(y.year, y.ganzhi) for y in after.liu_nian] == [(2025, "乙巳"), (2026, "丙午")]
    assert before.liu_nian[0].current and not before.liu_nian[1].current
    assert after.liu_nian[0].start_date == "2025-02-03"


def test_the_twelve_liu_yue_follow_the_five_tigers_rule_and_the_jie() -> None:
    """《五虎遁》: "丙辛之年寻庚上": the 丙午 流年 2026 runs 庚寅 … 辛丑, each month from its 节."""
    profile = chart(**FEMALE_1981)
    luck = luck_for(profile, dt.date(2026, 4, 20), years=1)
    start = JIA_ZI.index("庚寅")
    assert [m.ganzhi for m in luck.liu_yue] == [JIA_ZI[start + i] for i in range(12)]
    assert [m.term for m in luck.liu_yue] == [
        "立春", "惊蛰", "清明", "立夏", "芒种", "小暑",
        "立秋", "白露", "寒露", "立冬", "大雪", "小寒",
    ]  # fmt: skip
    assert luck.liu_yue[11].start_date.startswith("2027-01")
    assert [m.ganzhi for m in luck.liu_yue if m.current] == ["壬辰"]  # 清明 2026-04-05 → 立夏


def test_xiao_yun_starts_from_the_hour_pillar() -> None:
    """《三命通会·论小运》 (醉醒子's rule, lunar-python's): "男女小运皆由时生而行之，逆顺亦以年
    定。如阳命阳年甲子时生堕地，即行乙丑，二岁丙寅 ... 阴命阳年逆行亦然": a male of a yang year born
    in a 甲子 hour has 小运 乙丑 at 1 and 丙寅 at 2; a female of that year goes backward."""
    birth = {"birthDate": "1984-03-06", "birthTime": "00:30"}  # 甲子 year, 己亥 day, 甲子 hour
    male, female = chart(**birth, gender="male"), chart(**birth, gender="female")
    assert (male.bazi.year, male.bazi.hour) == ("甲子", "甲子")
    first_years = luck_for(male, dt.date(1984, 6, 1), years=2).liu_nian
    assert [(y.age, y.xiao_yun) for y in first_years] == [(1, "乙丑"), (2, "丙寅")]
    backward = luck_for(female, dt.date(1984, 6, 1), years=2).liu_nian
    assert [(y.age, y.xiao_yun) for y in backward] == [(1, "癸亥"), (2, "壬戌")]


def test_luck_relations_name_the_luck_pillars() -> None:
    # 2026 for the 1981 female: 大运 乙酉 (since 2019), 流年 丙午. 乙 combines with the year stem
    # 庚 (乙庚 → metal); 午 clashes with the hour branch 子 and harms the month branch 丑.
    profile = chart(QiYunConvention.DAYS, **FEMALE_1981)
    luck = luck_for(profile, dt.date(2026, 6, 1), years=1)
    found = {(r.kind, tuple(r.pillars), r.chars) for r in luck.relations}
    assert ("stem-combine", ("year", "daYun"), "庚乙") in found
    assert ("clash", ("hour", "liuNian"), "子午") in found
    assert ("harm", ("month", "liuNian"), "丑午") in found
    assert all({"daYun", "liuNian"} & set(r.pillars) for r in luck.relations)


def test_a_stored_profile_gives_the_same_luck() -> None:
    """The worker reads the profile stored at submission back from its JSON."""
    profile = chart(**FEMALE_1981)
    stored = DerivedProfile.model_validate(profile.to_json_dict())
    day = dt.date(2026, 6, 1)
    assert luck_for(stored, day, 3) == luck_for(profile, day, 3)
