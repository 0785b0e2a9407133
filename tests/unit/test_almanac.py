"""The offline almanac engine: deterministic, varied, grounded in the chart and the almanac."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from lunar_python import Solar
from lunar_python.util.LunarUtil import LunarUtil

from fortune_core.almanac import (
    COLOURS,
    DA_YUN_WEIGHT,
    HETU,
    MAX_SCORE,
    MIN_SCORE,
    MODEL,
    PROVIDER,
    TAI_SUI_DELTAS,
    TRINES,
    _scores,
    _tai_sui_delta,
    almanac_reading,
    analyse,
    branch_relations,
    read_pillar,
    reading_for_request,
    tai_sui_relations,
)
from fortune_core.almanac_terms import TERMS, relevance
from fortune_core.profile import (
    BRANCHES,
    DerivedProfile,
    day_almanac,
    derive_profile,
    stem_element,
    ten_god,
)
from fortune_core.request import BirthProfile, FortuneRequest, Language, Period, Topic
from fortune_core.result import ASPECTS, FortuneResult

CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")
TARGET = dt.date(2026, 11, 24)


def _profile(**birth: Any) -> DerivedProfile:
    return derive_profile(BirthProfile.model_validate(birth))


PROFILES = {
    "horse-1990": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "rat-1984-no-hour": {"birthDate": "1984-09-02", "gender": "male"},
    "named-1975": {"birthDate": "1975-12-30", "birthTime": "23:40", "name": "Alex Chen"},
}


def _reading(
    key: str = "horse-1990",
    target: dt.date = TARGET,
    topic: Topic = Topic.OVERALL,
    period: Period = Period.DAY,
    language: Language = Language.ZH_CN,
) -> FortuneResult:
    return almanac_reading(_profile(**PROFILES[key]), target, topic, period, language)


def _json(result: FortuneResult) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)


# --- determinism and variety ----------------------------------------------------------------------


def test_same_input_gives_identical_output() -> None:
    for period in Period:
        first = _reading(topic=Topic.LOVE, period=period)
        second = _reading(topic=Topic.LOVE, period=period)
        assert _json(first) == _json(second)


def test_same_input_gives_identical_output_in_a_fresh_process() -> None:
    code = (
        "import datetime, json\n"
        "from fortune_core.request import BirthProfile, Language, Period, Topic\n"
        "from fortune_core.profile import derive_profile\n"
        "from fortune_core.almanac import almanac_reading\n"
        f"p = derive_profile(BirthProfile.model_validate({PROFILES['named-1975']!r}))\n"
        "r = almanac_reading(p, datetime.date(2026, 11, 24), Topic.CAREER, Period.WEEK, "
        "Language.EN)\n"
        "print(json.dumps(r.model_dump(mode='json'), ensure_ascii=False, sort_keys=True))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    here = _reading("named-1975", topic=Topic.CAREER, period=Period.WEEK, language=Language.EN)
    assert out == _json(here)


def test_two_people_on_the_same_day_get_different_readings() -> None:
    first = _reading("horse-1990")
    second = _reading("rat-1984-no-hour")
    assert first.summary != second.summary
    assert first.text != second.text
    assert first.scores != second.scores


def test_one_person_across_seven_days_gets_varied_readings() -> None:
    profile = _profile(**PROFILES["horse-1990"])
    results = [
        almanac_reading(
            profile, TARGET + dt.timedelta(days=i), Topic.OVERALL, Period.DAY, Language.EN
        )
        for i in range(7)
    ]
    assert len({r.summary for r in results}) == 7
    assert len({tuple(r.scores.model_dump().values()) for r in results}) >= 5
    assert len({r.scores.overall for r in results}) >= 3


# --- schema, limits, language -------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_every_topic_period_and_language_validates(key: str) -> None:
    profile = _profile(**PROFILES[key])
    for topic, period, language in itertools.product(Topic, Period, Language):
        result = almanac_reading(profile, TARGET, topic, period, language)
        again = FortuneResult.model_validate(result.model_dump())
        assert again == result
        assert (result.provider, result.model) == (PROVIDER, MODEL)
        assert result.usage.promptTokens is None and result.usage.completionTokens is None
        scores = result.scores.model_dump()
        assert all(MIN_SCORE <= value <= MAX_SCORE for value in scores.values())
        assert result.advice.do and result.advice.avoid
        if profile.name:
            assert profile.name in result.summary and profile.name in result.text


def test_unknown_birth_hour_reads_three_pillars_only() -> None:
    profile = _profile(**PROFILES["rat-1984-no-hour"])
    assert profile.pillars["hour"] is None
    for period in Period:
        analysis = analyse(profile, TARGET, Topic.STUDY, period)
        assert all(rel.palace != "hour" for rel in analysis.pillar.relations)


def _english_strings(result: FortuneResult, name: str | None) -> list[str]:
    values = [
        result.summary,
        result.text,
        result.lucky.color,
        result.lucky.direction,
        *result.aspects.model_dump().values(),
        *result.advice.do,
        *result.advice.avoid,
    ]
    return [value.replace(name, "") if name else value for value in values]


def test_english_output_has_no_chinese_characters() -> None:
    """Ganzhi, ten gods, terms and directions are romanised or translated; only a name the user
    typed in Chinese is kept as given."""
    birth = {**PROFILES["horse-1990"], "name": "小林"}
    profile = _profile(**birth)
    for topic, period in itertools.product(Topic, Period):
        for offset in (0, 40, 200):
            result = almanac_reading(
                profile, TARGET + dt.timedelta(days=offset), topic, period, Language.EN
            )
            assert "小林" in result.summary
            for value in _english_strings(result, "小林"):
                assert not CJK.search(value), value


def test_chinese_output_names_the_period_pillar_and_ten_god() -> None:
    profile = _profile(**PROFILES["horse-1990"])
    almanac = day_almanac(TARGET)
    expected = {
        Period.DAY: almanac.day_ganzhi,
        Period.MONTH: almanac.month_ganzhi,
        Period.YEAR: almanac.year_ganzhi,
    }
    for period, ganzhi in expected.items():
        result = almanac_reading(profile, TARGET, Topic.OVERALL, period, Language.ZH_CN)
        assert ganzhi in result.text
        assert ten_god(profile.day_master, ganzhi[0]) in result.text


# --- almanac terms --------------------------------------------------------------------------------


def test_every_yi_ji_term_has_an_english_phrase() -> None:
    table = LunarUtil._LunarUtil__YI_JI
    assert len(table) == 142
    for term in table:
        assert term in TERMS, term
        entry = TERMS[term]
        assert entry.en.strip() and not CJK.search(entry.en), term
        assert entry.zh.strip(), term
        assert entry.tags, term


def _first_day_with(term: str, where: str, start: dt.date = TARGET) -> dt.date:
    for offset in range(800):
        day = start + dt.timedelta(days=offset)
        if term in getattr(day_almanac(day), where):
            return day
    raise AssertionError(f"no day with {term} in {where}")


def test_advice_comes_from_the_days_yi_and_ji_in_english() -> None:
    profile = _profile(**PROFILES["horse-1990"])
    result = almanac_reading(profile, TARGET, Topic.WEALTH, Period.DAY, Language.EN)
    almanac = day_almanac(TARGET)
    yi_phrases = {TERMS[t].en for t in almanac.yi}
    ji_phrases = {TERMS[t].en for t in almanac.ji}
    assert yi_phrases & set(result.advice.do)
    assert ji_phrases & set(result.advice.avoid)
    assert not yi_phrases & set(result.advice.avoid)


def test_medical_care_is_never_advised_against() -> None:
    medical = [term for term, entry in TERMS.items() if "medical" in entry.tags]
    day = _first_day_with("治病", "ji")
    for language in Language:
        result = _reading(target=day, topic=Topic.HEALTH, language=language)
        for term in medical:
            phrase = TERMS[term].en if language == Language.EN else term
            assert not any(phrase in item for item in result.advice.avoid)


def test_topic_relevant_yi_terms_come_first() -> None:
    day = _first_day_with("纳财", "yi")
    almanac = day_almanac(day)
    for topic in Topic:
        result = _reading(target=day, topic=topic, language=Language.EN)
        by_phrase = {TERMS[t].en: t for t in almanac.yi}
        listed = [by_phrase[item] for item in result.advice.do if item in by_phrase]
        assert listed, topic
        ranks = [relevance(term, topic.value) for term in listed]
        assert ranks == sorted(ranks)
        assert min(relevance(t, topic.value) for t in almanac.yi) == ranks[0]


# --- lucky colour, number, direction -------------------------------------------------------------


def test_lucky_colour_and_number_come_from_one_favourable_element() -> None:
    for birth in PROFILES.values():
        profile = _profile(**birth)
        for offset in range(5):
            result = almanac_reading(
                profile, TARGET + dt.timedelta(days=offset), Topic.OVERALL, Period.DAY, Language.EN
            )
            elements = [
                e for e in profile.favourable_elements if COLOURS[e][1] == result.lucky.color
            ]
            assert len(elements) == 1
            assert result.lucky.number in HETU[elements[0]]


def test_lucky_direction_is_the_god_of_wealth_for_wealth_and_joy_otherwise() -> None:
    almanac = day_almanac(TARGET)
    wealth = _reading(topic=Topic.WEALTH, language=Language.EN)
    love = _reading(topic=Topic.LOVE, language=Language.EN)
    assert wealth.lucky.direction == almanac.cai_shen.en
    assert love.lucky.direction == almanac.xi_shen.en
    assert _reading(topic=Topic.LOVE).lucky.direction == almanac.xi_shen.zh


# --- the relations ------------------------------------------------------------------------------


def test_branch_relation_tables_agree_with_lunar_python() -> None:
    for index, branch in enumerate(BRANCHES):
        clash = [b for b in BRANCHES if "clash" in branch_relations(branch, b)]
        combine = [b for b in BRANCHES if "combine" in branch_relations(branch, b)]
        assert clash == [LunarUtil.CHONG[index]]
        assert combine == [LunarUtil.HE_ZHI_6[index]]
        trine = [b for b in BRANCHES if "trine" in branch_relations(branch, b)]
        group = next(t for t in TRINES if branch in t)
        assert sorted(trine) == sorted(set(group) - {branch})
    assert branch_relations("午", "午") == ("same", "punish")  # 午 punishes itself
    assert branch_relations("寅", "巳") == ("punish", "harm")


def test_period_pillars_and_ten_gods_follow_the_calendar() -> None:
    profile = _profile(**PROFILES["named-1975"])
    lunar = Solar.fromYmdHms(TARGET.year, TARGET.month, TARGET.day, 12, 0, 0).getLunar()
    expected = {
        Period.DAY: lunar.getDayInGanZhi(),
        Period.WEEK: lunar.getDayInGanZhi(),
        Period.MONTH: lunar.getMonthInGanZhiExact(),
        Period.YEAR: lunar.getYearInGanZhiByLiChun(),
    }
    for period, ganzhi in expected.items():
        analysis = analyse(profile, TARGET, Topic.OVERALL, period)
        assert analysis.pillar.ganzhi == ganzhi
        assert analysis.pillar.ten_god == ten_god(profile.day_master, ganzhi[0])


def test_week_names_its_best_and_worst_day() -> None:
    profile = _profile(**PROFILES["horse-1990"])
    analysis = analyse(profile, TARGET, Topic.CAREER, Period.WEEK)
    assert [d.date for d in analysis.days] == [TARGET + dt.timedelta(days=i) for i in range(7)]
    assert analysis.best_day is not None and analysis.worst_day is not None
    career = [d.scores["career"] for d in analysis.days]
    assert analysis.best_day.scores["career"] == max(career)
    assert analysis.worst_day.scores["career"] == min(career)
    assert analysis.scores["career"] == round(sum(career) / 7)
    result = almanac_reading(profile, TARGET, Topic.CAREER, Period.WEEK, Language.ZH_CN)
    for day in (analysis.best_day, analysis.worst_day):
        assert f"{day.date.month}月{day.date.day}日" in result.text
        assert day.pillar.ganzhi in result.text


@functools.cache
def _day_ganzhi(day: dt.date) -> str:
    return day_almanac(day).day_ganzhi


def _touches_only_the_day_branch(profile: DerivedProfile, day: dt.date, kind: str) -> bool:
    relations = read_pillar(profile, _day_ganzhi(day), skip_year_palace=False).relations
    return bool(relations) and all(r.palace == "day" and r.kind == kind for r in relations)


def _clash_and_combine_days(profile: DerivedProfile) -> list[tuple[dt.date, dt.date]]:
    """Pairs of days within 120 days of TARGET: one whose branch clashes the birth day branch,
    one whose branch combines with it; neither touches another birth branch, and their stems
    share an element, so the spouse-palace relation is the main difference between them."""
    natal = profile.pillars["day"]
    assert natal is not None
    days = [TARGET + dt.timedelta(days=i) for i in range(120)]
    by_kind: dict[str, list[dt.date]] = {"clash": [], "combine": []}
    for day in days:
        kinds = branch_relations(_day_ganzhi(day)[1], natal.branch)
        for kind, found in by_kind.items():
            if kind in kinds and _touches_only_the_day_branch(profile, day, kind):
                found.append(day)
    return [
        (c, m)
        for c in by_kind["clash"]
        for m in by_kind["combine"]
        if stem_element(_day_ganzhi(c)[0]) == stem_element(_day_ganzhi(m)[0])
    ]


def test_a_clash_on_the_spouse_palace_lowers_love_against_a_combination() -> None:
    checked = 0
    for offset in range(0, 3000, 97):  # a spread of birth dates; keep those with such days
        birth = dt.date(1970, 1, 1) + dt.timedelta(days=offset)
        for gender, hour in (("female", "10:00"), ("male", None)):
            data = {"birthDate": birth.isoformat(), "gender": gender}
            if hour:
                data["birthTime"] = hour
            profile = _profile(**data)
            pairs = _clash_and_combine_days(profile)
            for clash_day, combine_day in pairs[:3]:
                clash = analyse(profile, clash_day, Topic.LOVE, Period.DAY)
                combine = analyse(profile, combine_day, Topic.LOVE, Period.DAY)
                assert clash.scores["love"] < combine.scores["love"], (data, clash_day)
                zh = almanac_reading(profile, clash_day, Topic.LOVE, Period.DAY, Language.ZH_CN)
                assert f"{clash.pillar.branch}与你日支" in zh.text and "相冲" in zh.text
                checked += 1
        if checked >= 12:
            break
    assert checked >= 12


def test_tai_sui_for_a_horse_year_person_in_2026_is_zhi_tai_sui() -> None:
    profile = _profile(**PROFILES["horse-1990"])
    assert profile.bazi.year[1] == "午"
    day = dt.date(2026, 6, 1)
    assert day_almanac(day).year_ganzhi == "丙午"
    analysis = analyse(profile, day, Topic.OVERALL, Period.YEAR)
    assert analysis.tai_sui[0] == "same"
    zh = almanac_reading(profile, day, Topic.OVERALL, Period.YEAR, Language.ZH_CN)
    en = almanac_reading(profile, day, Topic.OVERALL, Period.YEAR, Language.EN)
    assert "值太岁" in zh.text and "冲太岁" not in zh.text
    assert "zhi tai sui" in en.text


def test_tai_sui_for_a_rat_year_person_in_2026_is_chong_tai_sui() -> None:
    profile = _profile(**PROFILES["rat-1984-no-hour"])
    assert profile.bazi.year[1] == "子"
    day = dt.date(2026, 6, 1)
    assert tai_sui_relations("子", day_almanac(day).year_ganzhi[1]) == ("clash",)
    analysis = analyse(profile, day, Topic.OVERALL, Period.YEAR)
    assert analysis.tai_sui == ("clash",)
    zh = almanac_reading(profile, day, Topic.OVERALL, Period.YEAR, Language.ZH_CN)
    en = almanac_reading(profile, day, Topic.OVERALL, Period.YEAR, Language.EN)
    assert "冲太岁" in zh.text and "值太岁" not in zh.text
    assert "chong tai sui" in en.text


def test_tai_sui_without_a_tie_is_reported_as_calm() -> None:
    profile = _profile(birthDate="1988-06-01")  # 戊辰: 辰 has no relation to 午
    assert profile.bazi.year[1] == "辰"
    day = dt.date(2026, 6, 1)
    assert analyse(profile, day, Topic.OVERALL, Period.YEAR).tai_sui == ()
    text = almanac_reading(profile, day, Topic.OVERALL, Period.YEAR, Language.ZH_CN).text
    assert "太岁在午" in text
    assert not any(f"{name}太岁" in text for name in ("值", "冲", "刑", "害", "破", "合"))


def test_tai_sui_lowers_the_year_score() -> None:
    """The same year pillar read for two charts that differ only in their 太岁 relation is
    not available, so check the rule directly: a clash with 太岁 costs points in a year reading
    and less in a day reading."""
    profile = _profile(**PROFILES["rat-1984-no-hour"])
    day = dt.date(2026, 6, 1)
    year = analyse(profile, day, Topic.OVERALL, Period.YEAR)
    assert year.luck is not None and year.luck.decade is not None
    deltas = {
        aspect: value + DA_YUN_WEIGHT[Period.YEAR] * year.luck.decade.deltas[aspect]
        for aspect, value in year.pillar.deltas.items()
    }
    without = _scores(deltas, 0.0)
    assert year.scores["overall"] == without["overall"] + round(TAI_SUI_DELTAS["clash"])


@pytest.mark.parametrize("period", [Period.YEAR, Period.MONTH])
def test_the_luck_pillar_weighs_in_year_and_month_scores(period: Period) -> None:
    """A year or month reading adds the 大运's own reading at DA_YUN_WEIGHT; the same chart
    without its 大运 (as one stored before it was derived) scores on the period pillar and 太岁
    alone."""
    profile = _profile(**PROFILES["horse-1990"])
    unknown = profile.model_copy(update={"da_yun": None})
    with_luck = analyse(profile, TARGET, Topic.OVERALL, period)
    without_luck = analyse(unknown, TARGET, Topic.OVERALL, period)
    assert with_luck.luck is not None and with_luck.luck.decade is not None
    assert without_luck.luck is not None and without_luck.luck.decade is None
    assert with_luck.pillar == without_luck.pillar
    tai_sui = _tai_sui_delta(with_luck.tai_sui, period)
    assert without_luck.scores == _scores(without_luck.pillar.deltas, tai_sui)
    deltas = {
        aspect: value + DA_YUN_WEIGHT[period] * with_luck.luck.decade.deltas[aspect]
        for aspect, value in with_luck.pillar.deltas.items()
    }
    assert with_luck.scores == _scores(deltas, tai_sui)
    assert with_luck.scores != without_luck.scores


def test_year_and_month_readings_name_the_luck_pillar_and_the_year() -> None:
    """horse-1990 (female, 庚午 year: backward) is in the 丁丑 大运 from 2024 (ages 35-44) and
    the 2026 流年 丙午 at age 37; day and week readings do not bring the luck in."""
    profile = _profile(**PROFILES["horse-1990"])
    assert profile.da_yun is not None
    decade = next(p for p in profile.da_yun.pillars if p.start_year == 2024)
    assert (decade.ganzhi, decade.start_age, decade.end_age) == ("丁丑", 35, 44)
    for period in (Period.YEAR, Period.MONTH):
        zh = almanac_reading(profile, TARGET, Topic.OVERALL, period, Language.ZH_CN).text
        en = almanac_reading(profile, TARGET, Topic.OVERALL, period, Language.EN).text
        assert "正行丁丑大运（2024年起，35至44岁）" in zh and "流年丙午（37岁）" in zh
        assert "luck pillar (da yun) is Ding-Chou (Yin Fire Ox), from 2024 (ages 35 to 44)" in en
        assert "liu nian) is Bing-Wu (Yang Fire Horse), at age 37" in en
    for period in (Period.DAY, Period.WEEK):
        text = almanac_reading(profile, TARGET, Topic.OVERALL, period, Language.ZH_CN).text
        assert "大运" not in text


# --- the request entry point ----------------------------------------------------------------------


def test_reading_for_request_matches_the_explicit_call() -> None:
    request = FortuneRequest.model_validate(
        {
            "profile": PROFILES["named-1975"],
            "topic": "study",
            "period": "month",
            "date": "2026-03-15",
            "language": "en",
        }
    )
    expected = almanac_reading(
        derive_profile(request.profile),
        dt.date(2026, 3, 15),
        Topic.STUDY,
        Period.MONTH,
        Language.EN,
    )
    assert _json(reading_for_request(request)) == _json(expected)


def test_a_name_is_inserted_as_plain_text() -> None:
    odd = "{topic} <b>%s"
    result = almanac_reading(
        _profile(birthDate="1990-05-17", name=odd), TARGET, Topic.LOVE, Period.DAY, Language.EN
    )
    assert result.summary.startswith(odd)
    assert odd in result.text


def test_the_topic_aspect_gets_the_most_text() -> None:
    profile = _profile(**PROFILES["horse-1990"])
    for topic in (Topic.CAREER, Topic.LOVE, Topic.WEALTH, Topic.HEALTH, Topic.STUDY):
        for language in Language:
            result = almanac_reading(profile, TARGET, topic, Period.DAY, language)
            aspects = result.aspects.model_dump()
            assert max(aspects, key=lambda a: len(aspects[a])) == topic.value
            assert set(aspects) == set(ASPECTS)
