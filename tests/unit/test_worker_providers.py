"""Worker: validating and repairing LLM answers (pure code)."""

from __future__ import annotations

import json
from typing import Any

from fortune_core.request import Language
from fortune_core.result import content_json_schema
from fortune_worker.providers import repair_message, response_format, validation_problems

VALID: dict[str, Any] = {
    "summary": "A steady day.",
    "scores": {"overall": 70, "career": 60, "love": 65, "wealth": 55, "health": 80, "study": 75},
    "aspects": {
        "career": "Good.",
        "love": "Calm.",
        "wealth": "Careful.",
        "health": "Rest.",
        "study": "Read.",
    },
    "lucky": {"color": "red", "number": 7, "direction": "east"},
    "advice": {"do": ["Walk"], "avoid": ["Haste"]},
    "text": "The narrative.",
}


def test_a_valid_answer_is_accepted() -> None:
    content, problems = validation_problems(json.dumps(VALID))
    assert problems == "" and content is not None and content.lucky.number == 7


def test_a_fenced_answer_is_accepted() -> None:
    content, _ = validation_problems("```json\n" + json.dumps(VALID) + "\n```")
    assert content is not None and content.summary == "A steady day."


def test_invalid_json_is_described() -> None:
    content, problems = validation_problems("Here is your fortune: {not json")
    assert content is None and problems.startswith("the answer is not valid JSON")
    assert validation_problems(None) == (None, "the answer was empty")


def test_schema_errors_name_the_fields() -> None:
    wrong = json.loads(json.dumps(VALID))
    wrong["scores"]["love"] = 140
    del wrong["text"]
    content, problems = validation_problems(json.dumps(wrong))
    assert content is None
    assert "scores.love" in problems and "text" in problems


def test_repair_message_in_both_languages() -> None:
    en = repair_message("text: Field required", Language.EN)
    zh = repair_message("text: Field required", Language.ZH_CN)
    assert en["role"] == zh["role"] == "user"
    assert "text: Field required" in en["content"] and "only the corrected JSON" in en["content"]
    assert "text: Field required" in zh["content"] and "JSON" in zh["content"]


def test_response_format_carries_the_content_schema() -> None:
    spec = response_format()
    assert spec["type"] == "json_schema"
    assert spec["json_schema"]["name"] == "fortune"
    assert spec["json_schema"]["schema"] == content_json_schema()
    assert spec["json_schema"]["strict"] is False
