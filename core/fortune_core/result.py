"""The fortune result: one structure from every provider (LLM or the offline almanac).

`FortuneContent` is what a provider writes (an LLM answers in its JSON schema); `FortuneResult`
adds who produced it (`provider`, `model`, `usage`).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


#: One piece of advice (bounded like every string of the result, so an answer's size is too).
AdviceItem = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Advice(_Strict):
    """What to do and what to avoid."""

    do: list[AdviceItem] = Field(min_length=1, max_length=8, description="Things to do")
    avoid: list[AdviceItem] = Field(min_length=1, max_length=8, description="Things to avoid")


class FortuneContent(_Strict):
    """What a provider writes: the reading itself."""

    summary: str = Field(min_length=1, max_length=300, description="One or two sentence summary")
    scores: Scores
    aspects: Aspects
    lucky: Lucky
    advice: Advice
    text: str = Field(min_length=1, max_length=4000, description="The narrative reading")


class Usage(_Strict):
    """Token usage: as the provider reports it, or estimated (`estimated`) where it gives none."""

    promptTokens: int | None = Field(default=None, ge=0)  # noqa: N815 (public JSON name)
    completionTokens: int | None = Field(default=None, ge=0)  # noqa: N815
    estimated: bool | None = Field(
        default=None, description="True when the counts are estimates (the provider gave none)"
    )

    @property
    def total(self) -> int:
        """Prompt plus completion tokens (unknown counts as 0)."""
        return (self.promptTokens or 0) + (self.completionTokens or 0)


class FortuneResult(FortuneContent):
    """A finished fortune: the content plus who produced it."""

    provider: str = Field(description="Provider that produced the reading: almanac or openai")
    model: str = Field(description="Model name (the almanac engine's version for almanac)")
    usage: Usage = Field(default_factory=Usage)
    endpoint: str | None = Field(
        default=None, description="Name of the LLM endpoint that answered (LLM readings only)"
    )
    reusedFrom: str | None = Field(  # noqa: N815 (public JSON name)
        default=None,
        description="Set when this reading was not written for this request but reused: the id "
        "of the request whose identical reading it is (no LLM call was made; usage is zero)",
    )


@cache
def _content_schema() -> dict[str, Any]:
    return FortuneContent.model_json_schema()


def _string_budget(schema: dict[str, Any], defs: dict[str, Any]) -> int:
    """Characters of the longest JSON text valid for `schema` (keys, quotes and punctuation
    included); integers count as 3 characters (every one here is at most 100)."""
    if "$ref" in schema:
        return _string_budget(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    kind = schema.get("type")
    if kind == "string":
        return int(schema["maxLength"]) + 2
    if kind == "integer":
        return 3
    if kind == "array":
        items = _string_budget(schema["items"], defs)
        return 2 + int(schema["maxItems"]) * (items + 2)
    if kind == "object":
        properties = schema.get("properties", {})
        return 2 + sum(len(name) + 4 + _string_budget(p, defs) for name, p in properties.items())
    raise ValueError(f"the result schema has an unbounded part: {schema}")


@cache
def answer_character_bound() -> int:
    """The most characters a valid answer (`FortuneContent` as JSON, compact) can have, from the
    schema's limits: every string, list and number in it is bounded."""
    schema = _content_schema()
    return _string_budget(schema, schema.get("$defs", {}))


def answer_token_bound() -> int:
    """`max_tokens` for an answer when none is configured: one token per character of the
    longest valid answer (tokenizers put one or more characters in a token, for Chinese too),
    plus room for whitespace a model puts between the JSON's parts."""
    return answer_character_bound() + 256


def content_json_schema() -> dict[str, Any]:
    """JSON schema of `FortuneContent`, for LLM structured output (strict: no extra keys).

    Generated once per process (pydantic takes milliseconds to build it); each caller gets its
    own copy."""
    return copy.deepcopy(_content_schema())
