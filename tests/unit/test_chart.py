"""The professional chart beyond the four pillars: 星运 and 自坐, 胎元/胎息/命宫/身宫, relations,
神煞 and boundary warnings, against published charts and tables."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fortune_core.eight_char import growth_phase
from fortune_core.ganzhi import BRANCHES, STEMS
from fortune_core.luck import QiYunConvention
from fortune_core.profile import Conventions, DerivedProfile, ZiHourConvention, derive_profile
from fortune_core.relations import relations
from fortune_core.request import BirthProfile
from fortune_core.shensha import ShenShaSchool, shen_sha

LABELS = ("year", "month", "day", "hour")


def chart(conventions: Conventions | None = None, **fields: Any) -> DerivedProfile:
    return derive_profile(BirthProfile.model_validate(fields), conventions or Conventions())


def pillars(text: str) -> dict[str, str]:
    return dict(zip(LABELS, text.split(), strict=True))


# --- 星运 and 自坐: 韦千里《千里命稿·天干篇》 -----------------------------------------------------
#
# The 气 of each stem as the book prints it (books/千里命稿/articles/天干篇/source.md in
# github.com/Banny-Gao/mingli-research; "长在在巳" is the book's misprint of 长生在巳).
QIANLI_QI = {
    "甲": "长生在亥，沐浴在子，冠带在丑，临官在寅，帝旺在卯；"
    "衰于辰，病于巳，死于午，墓于未，绝于申，胎于酉，养于戌",
    "乙": "长生在午，沐浴在巳，冠带在辰，临官在卯，帝旺在寅；"
    "衰于丑，病于子，死于亥，墓在戌，绝于酉，胎于申，养于未",
    "丙": "长生在寅，沐浴在卯，冠带在辰，临官在巳，帝旺在午；"
    "衰于未，病于申，死于酉，墓于戌，绝于亥，胎于子，养于丑",
    "丁": "长生在酉，沐浴在申，冠带在未，临官在午，帝旺在巳；"
    "衰于辰，病于卯，死于寅，墓于丑，绝于子，胎于亥，养于戌",
    "戊": "长生在寅，沐浴在卯，冠带在辰，临官在巳，帝旺在午；"
    "衰于未，病于申，死于酉，墓于戌，绝于亥，胎于子，养于丑",
    "己": "长生在酉，沐浴在申，冠带在未，临官在午，帝旺在巳；"
    "衰于辰，病于卯，死于寅，墓于丑，绝于子，胎于亥，养于戌",
    "庚": "长在在巳，沐浴在午，冠带在未，临官在申，帝旺在酉；"
    "衰于戌，病于亥，死于子，墓于丑，绝于寅，胎于卯，养于辰",
    "辛": "长生在子，沐浴在亥，冠带在戌，临官在酉，帝旺在申；"
    "衰于未，病于午，死于巳，墓于辰，绝于卯，胎于寅，养于丑",
    "壬": "长生在申，沐浴在酉，冠带在戌，临官在亥。帝旺在子；"
    "衰于丑，病于寅，死于卯，墓于辰，绝于巳，胎于午，养于未",
    "癸": "长生在卯，沐浴在寅，冠带在丑，临官在子，帝旺在亥；"
    "衰于戌，病于酉，死于申，墓于未，绝于午，胎于巳，养于辰",
}  # fmt: skip
PHASE = re.compile(r"(长生|长在|沐浴|冠带|临官|帝旺|衰|病|死|墓|绝|胎|养)[在于](.)")


@pytest.mark.parametrize("stem", STEMS)
def test_growth_phases_follow_qianli_minggao(stem: str) -> None:
    table = {
        branch: phase.replace("长在", "长生") for phase, branch in PHASE.findall(QIANLI_QI[stem])
    }
    assert sorted(table) == sorted(BRANCHES)
    assert {branch: growth_phase(stem, branch) for branch in BRANCHES} == table


def test_xing_yun_and_zi_zuo_of_kang_youwei() -> None:
    """康有为, 咸丰八年二月初六日子时 (徐乐吾《穷通宝鉴评注·二月壬水》: 戊午 乙卯 壬子 庚子).
    星运: the day master 壬 at each branch; 自坐: each stem at its own branch (《千里命稿》's table
    above)."""
    profile = chart(birthDate="1858-02-06", calendar="lunar", birthTime="00:00", gender="male")
    cells = [cell for cell in (profile.pillars[key] for key in LABELS) if cell is not None]
    assert [c.ganzhi for c in cells] == ["戊午", "乙卯", "壬子", "庚子"]
    assert [c.xing_yun for c in cells] == ["胎", "死", "帝旺", "帝旺"]
    assert [c.zi_zuo for c in cells] == ["帝旺", "临官", "帝旺", "死"]


# --- 胎元, 胎息, 命宫, 身宫 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "fields", "shen_gong"),
    [
        # lunar-python v1.4.6 test/EightCharTest.py, test_shen_gong .. test_shen_gong3:
        # Solar.fromYmdHms(...).getLunar().getEightChar().getShenGong()
        ("test_shen_gong", {"birthDate": "1995-12-18", "birthTime": "10:28"}, "壬午"),
        ("test_shen_gong1", {"birthDate": "1994-12-06", "birthTime": "02:00"}, "丁丑"),
        ("test_shen_gong2", {"birthDate": "1990-12-11", "birthTime": "06:00"}, "庚辰"),
        ("test_shen_gong3", {"birthDate": "1993-05-23", "birthTime": "04:00"}, "庚申"),
    ],
)
def test_shen_gong_matches_lunar_pythons_test_suite(
    where: str, fields: dict[str, str], shen_gong: str
) -> None:
    profile = chart(**fields)
    assert profile.palaces is not None and profile.palaces.shen_gong is not None
    assert profile.palaces.shen_gong.ganzhi == shen_gong, where


@pytest.mark.parametrize(
    ("who", "fields", "bazi", "tai_yuan"),
    [
        # 徐乐吾《穷通宝鉴评注·二月己土》: "吴铁城命，光绪十四年正月二十七日丑时 ... 所喜胎元丙午"
        ("吴铁城", {"birthDate": "1888-01-27", "calendar": "lunar", "birthTime": "02:00"},
         "戊子 乙卯 己卯 乙丑", "丙午"),
        # 《穷通宝鉴评注·二月庚金》: "张作霖命，光绪元年二月十二日丑时 ... 胎元庚午"
        ("张作霖", {"birthDate": "1875-02-12", "calendar": "lunar", "birthTime": "02:00"},
         "乙亥 己卯 庚辰 丁丑", "庚午"),
    ],
)  # fmt: skip
def test_tai_yuan_of_published_charts(
    who: str, fields: dict[str, str], bazi: str, tai_yuan: str
) -> None:
    profile = chart(**fields)
    b = profile.bazi
    assert f"{b.year} {b.month} {b.day} {b.hour}" == bazi, who
    assert profile.palaces is not None and profile.palaces.tai_yuan.ganzhi == tai_yuan, who


def test_palaces_by_their_rules_and_with_na_yin() -> None:
    """1995-12-18 10:28: 乙亥 戊子 癸未 丁巳. 胎元 = the month stem +1, branch +3: 己卯; 胎息 =
    the day pillar's 五合 stem and 六合 branch: 戊午; 命宫: month (子 = 11 from 寅 = 1) + hour
    (巳 = 4) = 15 ≥ 14, so 26 − 15 = 11 → 子, its stem by 五虎遁 from the 乙 year (戊寅 first):
    戊子."""
    profile = chart(birthDate="1995-12-18", birthTime="10:28")
    assert (profile.bazi.day, profile.bazi.hour) == ("癸未", "丁巳")
    assert profile.palaces is not None
    p = profile.palaces
    assert (p.tai_yuan.ganzhi, p.tai_yuan.na_yin) == ("己卯", "城头土")
    assert (p.tai_xi.ganzhi, p.tai_xi.na_yin) == ("戊午", "天上火")
    assert p.ming_gong is not None and p.ming_gong.ganzhi == "戊子"
    no_hour = chart(birthDate="1995-12-18")
    assert no_hour.palaces is not None
    assert no_hour.palaces.ming_gong is None and no_hour.palaces.shen_gong is None


# --- relations: 徐乐吾's readings of the charts --------------------------------------------------


def _found(chart_pillars: dict[str, str]) -> set[tuple[str, tuple[str, ...], str]]:
    return {(r.kind, tuple(r.pillars), r.chars) for r in relations(chart_pillars)}


def test_kang_youwei_clashes_punishments_and_breaks() -> None:
    """《穷通宝鉴评注·二月壬水》 on 戊午 乙卯 壬子 庚子: "两子冲午，子卯相刑，卯午又破"."""
    found = _found(pillars("戊午 乙卯 壬子 庚子"))
    assert {("clash", ("year", "day"), "午子"), ("clash", ("year", "hour"), "午子")} <= found
    assert {("punish", ("month", "day"), "卯子"), ("punish", ("month", "hour"), "卯子")} <= found
    assert ("break", ("year", "month"), "午卯") in found


def test_pan_fu_combinations() -> None:
    """《穷通宝鉴评注·十月庚金》 on 潘复 癸未 癸亥 庚午 戊寅: "寅午会局 ... 好在戊癸相合，未亥会局":
    寅午 a 半合 (with the middle 午), 未亥 a 拱合 (the two ends of 亥卯未), 戊 combining both 癸."""
    found = _found(pillars("癸未 癸亥 庚午 戊寅"))
    assert ("half-trine", ("day", "hour"), "午寅") in found
    assert ("arch", ("year", "month"), "未亥") in found
    assert {
        ("stem-combine", ("year", "hour"), "癸戊"),
        ("stem-combine", ("month", "hour"), "癸戊"),
    } <= found


def test_guo_songling_clash() -> None:
    """《穷通宝鉴评注·三月丙火》 on 郭松龄 癸未 丙辰 丙午 戊子: "逢子冲午"."""
    assert ("clash", ("day", "hour"), "午子") in _found(pillars("癸未 丙辰 丙午 戊子"))


def test_groups_of_three_replace_their_pairs() -> None:
    # 申子辰 (水局, 《渊海子平·论十二支三合》) in three pillars: one 三合, not its 半合 and 拱合.
    found = _found(pillars("壬申 壬子 甲辰 甲戌"))
    assert ("trine", ("year", "month", "day"), "申子辰") in found
    assert not any(kind in ("half-trine", "arch") for kind, _, chars in found if chars != "辰戌")
    # 寅巳申 (三刑 of 《渊海子平·论十二支相刑》): one group, not three 相刑 pairs.
    assert ("three-punishment", ("year", "month", "day"), "寅巳申") in _found(
        pillars("甲寅 己巳 庚申 丙子")
    )
    # 三会: 亥子丑 all three; two of them alone are no 三会.
    assert ("meeting", ("year", "month", "hour"), "亥子丑") in _found(
        pillars("癸亥 甲子 丙午 己丑")
    )
    assert not any(kind == "meeting" for kind, *_ in _found(pillars("癸亥 甲子 丙午 己卯")))


def test_profile_lists_the_charts_relations() -> None:
    profile = chart(birthDate="1858-02-06", calendar="lunar", birthTime="00:00")
    assert {(r.kind, tuple(r.pillars)) for r in profile.relations} == {
        (kind, labels) for kind, labels, _ in _found(pillars("戊午 乙卯 壬子 庚子"))
    }


# --- 神煞: a worked chart per star ---------------------------------------------------------------


def _stars(text: str, school: ShenShaSchool = ShenShaSchool.TANYUAN) -> set[tuple[str, str, str]]:
    found = shen_sha(pillars(text), school).stars
    return {(star.name, star.basis, ",".join(star.pillars)) for star in found}


def test_tian_yi_and_wen_chang_on_mei_lanfang() -> None:
    """韦千里《千里命稿·应运篇上》: "此梅兰芳先生命也。全局木火太旺。喜日坐酉金……兼带贵人文昌"
    (甲午 甲戌 丁酉 癸卯): the 丁 day's 天乙 (亥酉) and 文昌 (酉) both on its own 酉."""
    stars = _stars("甲午 甲戌 丁酉 癸卯")
    assert ("天乙贵人", "day-stem", "day") in stars
    assert ("文昌", "day-stem", "day") in stars


def test_wen_chang_on_zhang_taiyan() -> None:
    """《千里命稿·应运篇上》: "章太炎先生……日坐文昌贵人" (戊辰 乙丑 癸卯 庚申): 癸's 文昌 is 卯
    ("癸人见兔入云梯"), which is also one of its 天乙 (卯巳)."""
    stars = _stars("戊辰 乙丑 癸卯 庚申")
    assert ("文昌", "day-stem", "day") in stars and ("天乙贵人", "day-stem", "day") in stars


def test_lu_yi_ma_and_tian_yi_on_wang_jingwei() -> None:
    """徐乐吾《穷通宝鉴评注·三月戊土》 on 江精卫 (汪精卫) 癸未 丙辰 戊申 丁巳: "归禄格，又值禄马同
    乡，戊禄在巳，未年驿马亦在巳 ... 癸之天乙亦在巳"."""
    stars = _stars("癸未 丙辰 戊申 丁巳")
    assert ("禄神", "day-stem", "hour") in stars
    assert ("驿马", "year-branch", "hour") in stars
    assert ("天乙贵人", "year-stem", "hour") in stars


def test_yang_ren_on_guo_songling() -> None:
    """《穷通宝鉴评注·三月丙火》 on 郭松龄 癸未 丙辰 丙午 戊子: "日坐阳刃"."""
    assert ("羊刃", "day-stem", "day") in _stars("癸未 丙辰 丙午 戊子")


def test_hua_gai_and_tian_yi_on_yin_guang() -> None:
    """《穷通宝鉴评注·十二月丙火》 on 印光老法师, 咸丰十一年十二月十三日辰时 (辛酉 辛丑 丙寅 壬辰):
    "丙贵在酉，辛贵在寅，满盘天乙而值华盖" (华盖 of the 酉 year: 丑)."""
    profile = chart(birthDate="1861-12-13", calendar="lunar", birthTime="08:00")
    b = profile.bazi
    assert f"{b.year} {b.month} {b.day} {b.hour}" == "辛酉 辛丑 丙寅 壬辰"
    assert profile.shen_sha is not None
    stars = {(s.name, s.basis, ",".join(s.pillars)) for s in profile.shen_sha.stars}
    assert ("天乙贵人", "day-stem", "year") in stars  # 丙 → 酉
    assert ("天乙贵人", "year-stem", "day") in stars  # 辛 → 寅
    assert ("华盖", "year-branch", "month") in stars


def test_tao_hua_in_san_ming_tong_hui() -> None:
    """《三命通会·正偏自处》: "癸未 壬戌 癸巳 壬子 ... 壬子水旺 ... 又带桃花": the 未 year's 桃花
    (亥卯未 → 子) on the 壬子 hour."""
    assert ("桃花", "year-branch", "hour") in _stars("癸未 壬戌 癸巳 壬子")


def test_the_schools_differ_on_tian_yi_for_geng_and_on_yin_yang_ren() -> None:
    """《命理探原》's 古歌 "甲戊庚牛羊 ... 六辛逢虎马" puts 庚's 天乙 on 丑未; 《渊海子平·论起玉堂
    天乙贵人》 "庚辛逢马虎" on 寅午. 《渊海子平·论羊刃》: "乙己丁辛癸五阴无刃"; 《命理探原》:
    乙日羊刃在辰."""
    geng = "甲寅 丁丑 庚午 丙子"  # 庚 day with 丑 (month) and 午 (day)
    assert ("天乙贵人", "day-stem", "month") in _stars(geng, ShenShaSchool.TANYUAN)
    assert ("天乙贵人", "day-stem", "day") not in _stars(geng, ShenShaSchool.TANYUAN)
    assert ("天乙贵人", "day-stem", "day") in _stars(geng, ShenShaSchool.YUANHAI)
    assert ("天乙贵人", "day-stem", "month") not in _stars(geng, ShenShaSchool.YUANHAI)
    yi = "甲辰 丙子 乙丑 丁亥"  # 乙 day with 辰 (year)
    assert ("羊刃", "day-stem", "year") in _stars(yi, ShenShaSchool.TANYUAN)
    assert not any(name == "羊刃" for name, *_ in _stars(yi, ShenShaSchool.YUANHAI))


def test_the_school_is_chosen_by_the_conventions() -> None:
    fields = {"birthDate": "1990-05-17", "birthTime": "08:30"}
    for school in ShenShaSchool:
        profile = chart(Conventions(shen_sha=school), **fields)
        assert profile.shen_sha is not None and profile.shen_sha.school == school


# --- boundary warnings --------------------------------------------------------------------------


def test_a_birth_minutes_before_li_chun_is_warned_about() -> None:
    """立春 2024 at 16:27:07 Beijing time (lunar-python; the Purple Mountain Observatory gives
    16:26:53): born at 16:20, seven minutes earlier; across it the year and month pillars and the
    起运 change."""
    profile = chart(birthDate="2024-02-04", birthTime="16:20", gender="male")
    assert (profile.bazi.year, profile.bazi.month) == ("癸卯", "乙丑")
    [warning] = [w for w in profile.boundaries if w.kind == "solar-term"]
    assert warning.term == "立春" and warning.minutes == -7
    assert warning.boundary == "2024-02-04T16:27:07+08:00"
    changes = {c.what: (c.actual, c.other) for c in warning.changes}
    assert changes["year"] == ("癸卯", "甲辰") and changes["month"] == ("乙丑", "丙寅")
    assert "qiYun" in changes and "day" not in changes and "hour" not in changes
    assert "born 7 min before 立春" in warning.note


def test_a_birth_near_23_00_warns_about_the_day_and_hour() -> None:
    profile = chart(birthDate="2000-05-17", birthTime="22:50")  # no daylight saving time in 2000
    [warning] = profile.boundaries
    assert (warning.kind, warning.minutes, warning.boundary) == ("zi-hour", -10, "2000-05-17T23:00")
    changes = {c.what: (c.actual, c.other) for c in warning.changes}
    assert set(changes) == {"day", "hour"}  # the next-day convention: the day changes at 23:00
    assert changes["hour"][0][1] == "亥" and changes["hour"][1][1] == "子"


def test_midnight_matters_only_under_the_same_day_convention() -> None:
    fields = {"birthDate": "2000-05-18", "birthTime": "00:10"}
    next_day = chart(**fields)
    assert [w.kind for w in next_day.boundaries] == []  # the day already changed at 23:00
    same_day = chart(Conventions(zi_hour=ZiHourConvention.SAME_DAY), **fields)
    [warning] = same_day.boundaries
    assert warning.kind == "midnight" and warning.minutes == 10
    assert [c.what for c in warning.changes] == ["day"]


def test_the_days_convention_moves_qi_yun_at_midnight_too() -> None:
    """Under the days convention (sect 1) 起运 counts calendar days, so it moves by 10 days when the
    birth crosses midnight even where no pillar does."""
    fields = {"birthDate": "1981-01-29", "birthTime": "23:37", "gender": "female"}
    profile = chart(Conventions(qi_yun=QiYunConvention.DAYS), **fields)
    [warning] = profile.boundaries
    assert warning.kind == "midnight" and [c.what for c in warning.changes] == ["qiYun"]
    assert warning.changes[0].actual == "8y0m20d backward"


def test_boundary_minutes_are_configurable_and_need_the_hour() -> None:
    fields = {"birthDate": "2024-02-04", "birthTime": "16:20", "gender": "male"}
    assert chart(Conventions(boundary_minutes=5), **fields).boundaries == []
    assert chart(Conventions(boundary_minutes=0), **fields).boundaries == []
    assert chart(birthDate="2024-02-04", gender="male").boundaries == []
