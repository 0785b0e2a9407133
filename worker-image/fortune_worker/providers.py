"""Providers that write a reading: the offline almanac engine, or an OpenAI-compatible LLM.

Both return the same `FortuneResult`; a failure is a `ProviderError` (retryable or permanent).
Both tell a `TextSink` the narrative as it is written (`fortune_worker.deltas`): the LLM's answer
is streamed (`stream: true` with `include_usage`), the almanac's is told a sentence at a time.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import ValidationError

from fortune_core import (
    DEFAULT_CONVENTIONS,
    Conventions,
    FortuneContent,
    FortuneRequest,
    FortuneResult,
    Language,
    Usage,
    ZiHourConvention,
    build_messages,
    content_json_schema,
    derive_profile,
)
from fortune_worker.deltas import NarrativeDeltas, NoSink, TextSink
from fortune_worker.retries import ProviderError, classify_exception
from fortune_worker.settings import ProviderName, WorkerSettings

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
NO_SINK = NoSink()
#: Where the almanac's narrative is cut into deltas: after a sentence's end.
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+")


class Provider(Protocol):
    """Writes one reading."""

    name: str
    #: Whether a call goes to the LLM endpoint (and so needs a global LLM slot).
    uses_llm: bool

    def describe(self) -> str:
        """What is active, for the start-up log line (no secrets)."""
        ...

    def reading(
        self,
        request: FortuneRequest,
        request_id: str,
        profile: dict[str, Any] | None = None,
        sink: TextSink = NO_SINK,
    ) -> FortuneResult:
        """The reading for `request` (`profile`: its derived profile as stored with the record,
        when there is one), its narrative told to `sink` as it is written; raises
        ProviderError."""
        ...


class AlmanacProvider:
    """Deterministic, offline, rule-based readings (`fortune_core.almanac`)."""

    name = "almanac"
    uses_llm = False

    def __init__(
        self,
        convention: Conventions | ZiHourConvention = DEFAULT_CONVENTIONS,
        sentence_seconds: float = 0.0,
    ) -> None:
        self._convention = convention
        self._sentence_seconds = sentence_seconds

    def describe(self) -> str:
        return "almanac (offline rule-based engine)"

    def reading(
        self,
        request: FortuneRequest,
        request_id: str,
        profile: dict[str, Any] | None = None,
        sink: TextSink = NO_SINK,
    ) -> FortuneResult:
        result = self._reading(request)
        for index, sentence in enumerate(sentences(result.text)):
            if index and self._sentence_seconds:
                time.sleep(self._sentence_seconds)
            sink.text(sentence)
        return result

    def _reading(self, request: FortuneRequest) -> FortuneResult:
        # The same as `almanac.reading_for_request`, with the configured zi-hour convention; the
        # engine needs the typed profile, which deriving (cached calendar) gives as cheaply as
        # parsing the stored one.
        # Imported here: the engine's tables cost a few MB that an LLM worker does not need.
        from fortune_core.almanac import almanac_reading

        try:
            derived = derive_profile(request.profile, self._convention)
            return almanac_reading(
                derived, request.target_date(), request.topic, request.period, request.language
            )
        except Exception as exc:  # a bug or an input the engine cannot read: never retried
            raise ProviderError(
                "almanac_error", f"the almanac engine failed: {type(exc).__name__}: {exc}", False
            ) from exc


def sentences(text: str) -> list[str]:
    """`text` cut after each sentence's end (the pieces join back to `text`)."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end > start:
            pieces.append(text[start:end])
            start = end
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def response_format() -> dict[str, Any]:
    """Structured output: the reading's JSON schema (non-strict: pydantic validates it)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "fortune", "schema": content_json_schema(), "strict": False},
    }


def validation_problems(answer: str | None) -> tuple[FortuneContent | None, str]:
    """Parse and validate an answer; (content, "") or (None, what is wrong, in English)."""
    if answer is None or not answer.strip():
        return None, "the answer was empty"
    text = _strip_code_fence(answer)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"the answer is not valid JSON ({exc})"
    try:
        return FortuneContent.model_validate(data), ""
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors(include_url=False)[:20]
        ]
        return None, "the JSON does not match the schema: " + "; ".join(problems)


def _strip_code_fence(text: str) -> str:
    """Accept ```json fenced answers, which some models produce despite instructions."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped[3:-3]
        if stripped.startswith("json"):
            stripped = stripped[4:]
    return stripped.strip()


def repair_message(problems: str, language: Language) -> dict[str, str]:
    """The user message asking for a corrected answer."""
    if language == Language.ZH_CN:
        content = (
            f"上面的回答不符合要求：{problems}。请只输出修正后的 JSON 对象，"
            "符合系统消息中的 JSON Schema，不要输出其他文字。"
        )
    else:
        content = (
            f"Your previous answer is not usable: {problems}. Reply with only the corrected JSON "
            "object, matching the JSON Schema in the system message, and nothing else."
        )
    return {"role": "user", "content": content}


class OpenAIProvider:
    """An OpenAI-compatible chat completions endpoint, through the openai SDK.

    The SDK does not retry (`max_retries=0`): the queue does, with delays, across workers. One
    repair attempt is made in the same call when the answer is not valid JSON for the schema.
    """

    name = "openai"
    uses_llm = True

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        timeout_seconds: float,
        convention: Conventions | ZiHourConvention = DEFAULT_CONVENTIONS,
    ) -> None:
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0
        )
        self._timeout = timeout_seconds
        self._model = model
        self._base_url = base_url
        self._convention = convention
        self._response_format = response_format()  # the schema is the same for every call

    def describe(self) -> str:
        return f"openai (model {self._model}, endpoint {self._client.base_url})"

    def _complete(
        self, messages: list[dict[str, str]], request_id: str, deltas: NarrativeDeltas
    ) -> Answer:
        """One streamed call: the answer, its narrative told to `deltas` as it arrives."""
        # The SDK's low-level `post` with the body as plain JSON: `chat.completions.create` first
        # walks every parameter through its typed-params transform (the 3.5 KB schema and up to
        # 13 KB of messages, ~0.7 ms of CPU a call) to produce the very same JSON.
        body = {
            "model": self._model,
            "messages": messages,
            "response_format": self._response_format,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        try:
            stream = self._client.post(
                "/chat/completions",
                cast_to=ChatCompletion,
                body=body,
                options={"headers": {REQUEST_ID_HEADER: request_id}},
                stream=True,
                stream_cls=openai.Stream[ChatCompletionChunk],
            )
            with stream:  # the SDK's timeout bounds each read; this, the whole answer
                return collect(stream, deltas, time.monotonic() + self._timeout)
        except Exception as exc:
            raise classify_exception(exc) from exc

    def reading(
        self,
        request: FortuneRequest,
        request_id: str,
        profile: dict[str, Any] | None = None,
        sink: TextSink = NO_SINK,
    ) -> FortuneResult:
        messages = build_messages(request, self._convention, profile)
        deltas = NarrativeDeltas(sink)
        answer = self._complete(messages, request_id, deltas)
        usage = answer.usage
        content, problems = validation_problems(answer.content)
        if content is None:
            log.warning(
                "invalid LLM answer, asking for a repair: %s",
                problems,
                extra={"request_id": request_id},
            )
            messages = [
                *messages,
                {"role": "assistant", "content": answer.content},
                repair_message(problems, request.language),
            ]
            deltas.restart()
            answer = self._complete(messages, request_id, deltas)
            usage = _add_usage(usage, answer.usage)
            content, problems = validation_problems(answer.content)
            if content is None:
                raise ProviderError(
                    "invalid_output",
                    f"the LLM answer was still invalid after one repair attempt: {problems}",
                    retryable=False,
                )
        return FortuneResult(
            **content.model_dump(),
            provider=self.name,
            model=answer.model or self._model,
            usage=usage,
        )


@dataclass(frozen=True)
class Answer:
    """A streamed answer, put together: its content, usage (from the usage chunk), model."""

    content: str
    usage: Usage
    model: str | None


def collect(chunks: Any, deltas: NarrativeDeltas, deadline: float) -> Answer:
    """Put a stream of `chat.completion.chunk`s together, feeding `deltas` as content arrives.
    An answer cut before its end raises (the SDK's or httpx's error, classified by the caller);
    one still arriving at `deadline` (monotonic) is a timeout."""
    parts: list[str] = []
    usage = Usage()
    model: str | None = None
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise ProviderError("llm_timeout", "the LLM call timed out", retryable=True)
        model = model or getattr(chunk, "model", None)
        if getattr(chunk, "usage", None) is not None:
            usage = _usage(chunk)
        for choice in getattr(chunk, "choices", None) or []:
            piece = getattr(choice.delta, "content", None)
            if isinstance(piece, str) and piece:
                parts.append(piece)
                deltas.feed(piece)
    return Answer("".join(parts), usage, model)


def _usage(response: Any) -> Usage:
    usage = getattr(response, "usage", None)
    if usage is None:
        return Usage()
    return Usage(
        promptTokens=getattr(usage, "prompt_tokens", None),
        completionTokens=getattr(usage, "completion_tokens", None),
    )


def _add_usage(first: Usage, second: Usage) -> Usage:
    def total(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return Usage(
        promptTokens=total(first.promptTokens, second.promptTokens),
        completionTokens=total(first.completionTokens, second.completionTokens),
    )


def make_provider(settings: WorkerSettings) -> Provider:
    """The provider chosen by the settings (`FORTUNE_LLM_PROVIDER`, resolved)."""
    convention = settings.core.conventions()
    if settings.provider == ProviderName.OPENAI:
        if not settings.openai_api_key:
            raise ValueError("the openai provider needs OPENAI_API_KEY")
        return OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            model=settings.llm_model,
            timeout_seconds=settings.llm_timeout_seconds,
            convention=convention,
        )
    return AlmanacProvider(convention, settings.almanac_sentence_seconds)
