"""The result schema: one shape for every provider, exportable for structured output."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fortune_core.result import ASPECTS, SCORE_KEYS, FortuneResult, content_json_schema


def _result(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": "s",
        "scores": dict.fromkeys(SCORE_KEYS, 50),
        "aspects": dict.fromkeys(ASPECTS, "text"),
        "lucky": {"color": "red", "number": 7, "direction": "south"},
        "advice": {"do": ["rest"], "avoid": ["rush"]},
        "text": "narrative",
        "provider": "almanac",
        "model": "almanac-1",
    }
    body.update(overrides)
    return body


def test_valid_result_round_trips() -> None:
    result = FortuneResult.model_validate(_result())
    assert FortuneResult.model_validate_json(result.model_dump_json()) == result
    assert result.usage.promptTokens is None


@pytest.mark.parametrize(
    "bad",
    [
        {"scores": {**dict.fromkeys(SCORE_KEYS, 50), "love": 101}},
        {"scores": dict.fromkeys(SCORE_KEYS[:-1], 50)},
        {"advice": {"do": [], "avoid": ["x"]}},
        {"summary": ""},
        {"extra": 1},
    ],
)
def test_invalid_results_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FortuneResult.model_validate(_result(**bad))


def test_content_schema_is_closed_and_complete() -> None:
    schema = content_json_schema()
    assert set(schema["required"]) == {"summary", "scores", "aspects", "lucky", "advice", "text"}
    assert schema["additionalProperties"] is False
    scores = schema["$defs"]["Scores"]
    assert set(scores["required"]) == set(SCORE_KEYS)
    assert scores["properties"]["overall"]["maximum"] == 100
