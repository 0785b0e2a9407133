"""Providers that write a reading: the offline almanac engine, or an OpenAI-compatible LLM.

Both return the same `FortuneResult`; a failure is a `ProviderError` (retryable or permanent).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import redis
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from fortune_core import (
    DEFAULT_CONVENTIONS,
    BudgetExhaustedError,
    Conventions,
    FortuneContent,
    FortuneRequest,
    FortuneResult,
    Language,
    Reservation,
    TokenBudgets,
    Usage,
    ZiHourConvention,
    answer_character_bound,
    build_messages,
    content_json_schema,
    derive_profile,
)
from fortune_worker.endpoints import Endpoint, Endpoints
from fortune_worker.metrics import WorkerMetrics
from fortune_worker.retries import ProviderError, classify_exception
from fortune_worker.settings import ProviderName, WorkerSettings
from fortune_worker.usage import UsageMeter, estimated_usage, prompt_token_bound

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"


class Provider(Protocol):
    """Writes one reading."""

    name: str
    #: Whether a call goes to the LLM endpoint (and so needs a global LLM slot).
    uses_llm: bool
    #: The LLM endpoints it calls (None: no LLM).
    endpoints: Endpoints | None

    def describe(self) -> str:
        """What is active, for the start-up log line (no secrets)."""
        ...

    def reading(
        self,
        request: FortuneRequest,
        request_id: str,
        profile: dict[str, Any] | None = None,
        client: str | None = None,
    ) -> FortuneResult:
        """The reading for `request` (`profile`: its derived profile as stored with the record,
        when there is one; `client`: whose request it is, for its token budget); raises
        ProviderError."""
        ...


class AlmanacProvider:
    """Deterministic, offline, rule-based readings (`fortune_core.almanac`)."""

    name = "almanac"
    uses_llm = False
    endpoints: Endpoints | None = None

    def __init__(self, convention: Conventions | ZiHourConvention = DEFAULT_CONVENTIONS) -> None:
        self._convention = convention

    def describe(self) -> str:
        return "almanac (offline rule-based engine)"

    def reading(
        self,
        request: FortuneRequest,
        request_id: str,
        profile: dict[str, Any] | None = None,
        client: str | None = None,
    ) -> FortuneResult:
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
    """OpenAI-compatible chat completions endpoints (`fortune_worker.endpoints`: an ordered list
    with fallback and a circuit breaker each), through the openai SDK.

    The SDK does not retry (`max_retries=0`): the queue does, with delays, across workers. One
    repair attempt is made in the same call when the answer is not valid JSON for the schema.
    Every call carries `max_tokens`, the repair call too, and each first reserves its maximum
    (the prompt's bound plus `max_tokens`) of the client's daily token budget and settles with
    what it used (`fortune_core.budgets`).
    """

    name = "openai"
    uses_llm = True

    def __init__(
        self,
        *,
        endpoints: Endpoints,
        max_tokens: int,
        budgets: TokenBudgets | None = None,
        meter: UsageMeter | None = None,
        convention: Conventions | ZiHourConvention = DEFAULT_CONVENTIONS,
    ) -> None:
        self.endpoints: Endpoints | None = endpoints
        self._endpoints = endpoints
        self.max_tokens = max_tokens
        self._budgets = budgets
        self.meter = meter or UsageMeter(None, {})
        self._convention = convention
        self._response_format = response_format()  # the schema is the same for every call

    def describe(self) -> str:
        return f"openai (max_tokens {self.max_tokens}; endpoints {self._endpoints.describe()})"

    def _post(
        self,
        endpoint: Endpoint,
        messages: list[dict[str, str]],
        request_id: str,
        client: str | None,
    ) -> tuple[Endpoint, Any]:
        # The SDK's low-level `post` with the body as plain JSON: `chat.completions.create` first
        # walks every parameter through its typed-params transform (the 3.5 KB schema and up to
        # 13 KB of messages, ~0.7 ms of CPU a call) to produce the very same JSON.
        body = {
            "model": endpoint.model,
            "messages": messages,
            "response_format": self._response_format,
            "max_tokens": self.max_tokens,
        }
        try:
            response = endpoint.client.post(
                "/chat/completions",
                cast_to=ChatCompletion,
                body=body,
                options={"headers": {REQUEST_ID_HEADER: request_id}},
            )
        except Exception as exc:
            error = classify_exception(exc)
            self.meter.call(client, endpoint.name, endpoint.model, error.code, None)
            raise error from exc
        return endpoint, response

    def _reserve(self, client: str | None, maximum: int) -> Reservation | None:
        if self._budgets is None:
            return None
        try:
            return self._budgets.reserve(client, maximum)
        except BudgetExhaustedError as exc:
            self.meter.refused(client)
            raise ProviderError("budget_exhausted", str(exc), retryable=False) from exc
        except redis.RedisError as exc:
            raise ProviderError(
                "budget_unavailable", f"the token budget could not be checked: {exc!r}", True
            ) from exc

    def _complete(
        self, messages: list[dict[str, str]], request_id: str, client: str | None
    ) -> tuple[Endpoint, Any, Usage]:
        """One call (with fallback between the endpoints), within the client's budget."""
        reservation = self._reserve(client, prompt_token_bound(messages) + self.max_tokens)
        used = 0
        try:
            endpoint, response = self._endpoints.call(
                lambda e: self._post(e, messages, request_id, client)
            )
            usage = _usage(response) or estimated_usage(messages, _answer(response))
            used = usage.total
            self.meter.call(client, endpoint.name, endpoint.model, "ok", usage)
            return endpoint, response, usage
        finally:
            if reservation is not None:
                try:
                    reservation.settle(used)
                except redis.RedisError as exc:  # the reservation lapses after its lease
                    log.warning("could not settle a token reservation: %r", exc,
                                extra={"request_id": request_id})  # fmt: skip

    def reading(
        self,
        request: FortuneRequest,
        request_id: str,
        profile: dict[str, Any] | None = None,
        client: str | None = None,
    ) -> FortuneResult:
        messages = build_messages(request, self._convention, profile)
        endpoint, response, usage = self._complete(messages, request_id, client)
        answer = _answer(response)
        content, problems = validation_problems(answer)
        if content is None:
            log.warning(
                "invalid LLM answer, asking for a repair: %s",
                problems,
                extra={"request_id": request_id},
            )
            messages = [
                *messages,
                # The previous answer is bounded by max_tokens; its characters by the schema's.
                {"role": "assistant", "content": (answer or "")[: answer_character_bound()]},
                repair_message(problems, request.language),
            ]
            endpoint, response, more = self._complete(messages, request_id, client)
            usage = _add_usage(usage, more)
            content, problems = validation_problems(_answer(response))
            if content is None:
                raise ProviderError(
                    "invalid_output",
                    f"the LLM answer was still invalid after one repair attempt: {problems}",
                    retryable=False,
                )
        return FortuneResult(
            **content.model_dump(),
            provider=self.name,
            model=str(getattr(response, "model", None) or endpoint.model),
            usage=usage,
            endpoint=endpoint.name,
        )


def _answer(response: Any) -> str | None:
    choices = getattr(response, "choices", None) or []
    if not choices:
        return None
    message = choices[0].message
    content = getattr(message, "content", None)
    return content if isinstance(content, str) else None


def _usage(response: Any) -> Usage | None:
    """The usage the provider reported, or None when it reported none."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if prompt is None and completion is None:
        return None
    return Usage(promptTokens=prompt, completionTokens=completion)


def _add_usage(first: Usage, second: Usage) -> Usage:
    def total(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return Usage(
        promptTokens=total(first.promptTokens, second.promptTokens),
        completionTokens=total(first.completionTokens, second.completionTokens),
        estimated=True if first.estimated or second.estimated else None,
    )


def make_provider(
    settings: WorkerSettings,
    redis_client: redis.Redis | None = None,
    metrics: WorkerMetrics | None = None,
) -> Provider:
    """The provider chosen by the settings (`FORTUNE_LLM_PROVIDER`, resolved); for an LLM, the
    endpoints, the token budgets (when any client has one: Redis needed) and the usage meter."""
    convention = settings.core.conventions()
    if settings.provider == ProviderName.OPENAI:
        specs = settings.endpoint_specs
        if not all(spec.api_key for spec in specs):
            raise ValueError("the openai provider needs OPENAI_API_KEY (or FORTUNE_LLM_ENDPOINTS)")
        budgets = None
        if settings.budgets.enabled:
            if redis_client is None:
                raise ValueError("token budgets need Redis")
            budgets = TokenBudgets(
                redis_client,
                settings.budgets,
                # a reservation lasts as long as one call can: every endpoint's timeout
                lease_seconds=settings.llm_timeout_seconds * len(specs) + 30,
            )
        endpoints = Endpoints(
            specs,
            timeout_seconds=settings.llm_timeout_seconds,
            breaker_failures=settings.breaker_failures,
            breaker_cooldown_seconds=settings.breaker_cooldown_seconds,
            redis_client=redis_client,
            slot_lease_seconds=settings.llm_slot_lease_seconds,
            owner=settings.worker_id,
            observer=metrics,
        )
        return OpenAIProvider(
            endpoints=endpoints,
            max_tokens=settings.max_tokens,
            budgets=budgets,
            meter=UsageMeter(metrics, settings.llm_prices),
            convention=convention,
        )
    return AlmanacProvider(convention)
