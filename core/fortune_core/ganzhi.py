"""Stems and branches (干支): their elements, the ten gods, hidden stems, 纳音 and 空亡, read from
lunar-python's tables."""

from __future__ import annotations

from lunar_python.util.LunarUtil import LunarUtil

STEMS = "甲乙丙丁戊己庚辛壬癸"
BRANCHES = "子丑寅卯辰巳午未申酉戌亥"
ELEMENTS = ("wood", "fire", "earth", "metal", "water")
ELEMENT_ZH = {"wood": "木", "fire": "火", "earth": "土", "metal": "金", "water": "水"}
ELEMENT_FROM_ZH = {zh: en for en, zh in ELEMENT_ZH.items()}
#: element → the element it generates (生) and the one it controls (克)
GENERATES = {"wood": "fire", "fire": "earth", "earth": "metal", "metal": "water", "water": "wood"}
CONTROLS = {"wood": "earth", "earth": "water", "water": "fire", "fire": "metal", "metal": "wood"}


def stem_element(stem: str) -> str:
    return ELEMENT_FROM_ZH[LunarUtil.WU_XING_GAN[stem]]


def branch_element(branch: str) -> str:
    return ELEMENT_FROM_ZH[LunarUtil.WU_XING_ZHI[branch]]


def ten_god(day_master: str, stem: str) -> str:
    """十神 of `stem` relative to the day master."""
    return str(LunarUtil.SHI_SHEN[day_master + stem])


def hidden_stems(branch: str) -> list[str]:
    """藏干 of a branch, main (本气) first."""
    return list(LunarUtil.ZHI_HIDE_GAN[branch])


def kong_wang(ganzhi: str) -> str:
    """空亡 branches of the decade (旬) the pillar belongs to."""
    return str(LunarUtil.getXunKong(ganzhi))


def na_yin(ganzhi: str) -> str:
    """纳音 of a pillar."""
    return str(LunarUtil.NAYIN[ganzhi])


def is_yang(stem: str) -> bool:
    return STEMS.index(stem) % 2 == 0
