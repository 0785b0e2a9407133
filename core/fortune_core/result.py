"""The fortune result: one structure from every provider (LLM or the offline almanac).

`FortuneContent` is what a provider writes (an LLM answers in its JSON schema); `FortuneResult`
adds who produced it (`provider`, `model`, `usage`).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ASPECTS: tuple[str, ...] = ("career", "love", "wealth", "health", "study")
SCORE_KEYS: tuple[str, ...] = ("overall", *ASPECTS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Scores(_Strict):
    """Scores 0–100, overall and per aspect."""

    overall: int = Field(ge=0, le=100, description="Overall score, 0–100")
    career: int = Field(ge=0, le=100, description="Career score, 0–100")
    love: int = Field(ge=0, le=100, description="Love and relationships score, 0–100")
    wealth: int = Field(ge=0, le=100, description="Wealth score, 0–100")
    health: int = Field(ge=0, le=100, description="Health score, 0–100")
    study: int = Field(ge=0, le=100, description="Study score, 0–100")


class Aspects(_Strict):
    """A short reading per aspect."""

    career: str = Field(min_length=1, max_length=600, description="Career reading")
    love: str = Field(min_length=1, max_length=600, description="Love and relationships reading")
    wealth: str = Field(min_length=1, max_length=600, description="Wealth reading")
    health: str = Field(min_length=1, max_length=600, description="Health reading")
    study: str = Field(min_length=1, max_length=600, description="Study reading")


class Lucky(_Strict):
    """Lucky colour, number and direction."""

    color: str = Field(min_length=1, max_length=40, description="Lucky colour")
    number: int = Field(ge=0, le=99, description="Lucky number")
    direction: str = Field(min_length=1, max_length=40, description="Lucky direction")


class Advice(_Strict):
    """What to do and what to avoid."""

    do: list[str] = Field(min_length=1, max_length=8, description="Things to do")
    avoid: list[str] = Field(min_length=1, max_length=8, description="Things to avoid")


class FortuneContent(_Strict):
    """What a provider writes: the reading itself."""

    summary: str = Field(min_length=1, max_length=300, description="One or two sentence summary")
    scores: Scores
    aspects: Aspects
    lucky: Lucky
    advice: Advice
    text: str = Field(min_length=1, max_length=4000, description="The narrative reading")


class Usage(_Strict):
    """Token usage where the provider reports it."""

    promptTokens: int | None = Field(default=None, ge=0)  # noqa: N815 (public JSON name)
    completionTokens: int | None = Field(default=None, ge=0)  # noqa: N815


class FortuneResult(FortuneContent):
    """A finished fortune: the content plus who produced it."""

    provider: str = Field(description="Provider that produced the reading: almanac or openai")
    model: str = Field(description="Model name (the almanac engine's version for almanac)")
    usage: Usage = Field(default_factory=Usage)


@cache
def _content_schema() -> dict[str, Any]:
    return FortuneContent.model_json_schema()


def content_json_schema() -> dict[str, Any]:
    """JSON schema of `FortuneContent`, for LLM structured output (strict: no extra keys).

    Generated once per process (pydantic takes milliseconds to build it); each caller gets its
    own copy."""
    return copy.deepcopy(_content_schema())
