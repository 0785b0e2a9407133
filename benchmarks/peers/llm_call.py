"""The job every peer runs (and the direct baseline): one chat completion from the fake LLM through
the openai SDK (the client our worker uses), returning the answer (~1 KB of JSON) for the peer's
result backend to store.

Configured by the environment: BENCH_LLM_BASE_URL (ends in /v1), BENCH_LLM_MODEL.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import openai

SYSTEM = (
    "You write a fortune reading from the data in the user message. Answer with one JSON object "
    "(summary, scores, aspects, lucky, advice, text) and nothing else."
)


@cache
def client() -> openai.OpenAI:
    """One SDK client per process (it is thread-safe), as our worker has."""
    return openai.OpenAI(
        api_key="bench", base_url=os.environ["BENCH_LLM_BASE_URL"], timeout=60.0, max_retries=0
    )


def call_llm(payload: dict[str, Any]) -> str:
    """The job: the request's data to the LLM, its JSON answer back."""
    data = json.dumps(payload["request"], ensure_ascii=False, sort_keys=True)
    create: Any = client().chat.completions.create
    response = create(
        model=os.environ.get("BENCH_LLM_MODEL", "fake-gpt"),
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"<fortune-data>\n{data}\n</fortune-data>"},
        ],
        response_format={"type": "json_object"},
        extra_headers={"X-Request-Id": payload["id"]},
    )
    return str(response.choices[0].message.content)
