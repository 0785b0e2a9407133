"""LLM usage and cost: what each call used, as metrics, priced from `FORTUNE_LLM_PRICES`.

Usage is what the provider reports (the response's `usage`, or a stream's final usage chunk
with `include_usage`); where it reports none, an estimate, marked as such (`Usage.estimated`,
the metric's `source="estimated"`): one token per character, the same bound the budget
reservation uses, so an estimate never counts less than was spent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fortune_core import Usage, client_label
from fortune_worker.metrics import WorkerMetrics

#: Tokens a chat message costs beyond its text (role and separators), as an upper bound.
MESSAGE_OVERHEAD_TOKENS = 8


def prompt_token_bound(messages: Sequence[Mapping[str, str]]) -> int:
    """At most how many prompt tokens `messages` are: one per character (a tokenizer puts one
    or more characters in a token) plus each message's overhead."""
    return sum(len(m.get("content") or "") + MESSAGE_OVERHEAD_TOKENS for m in messages)


def estimated_usage(messages: Sequence[Mapping[str, str]], answer: str | None) -> Usage:
    """The usage of a call whose provider reported none."""
    return Usage(
        promptTokens=prompt_token_bound(messages),
        completionTokens=len(answer or ""),
        estimated=True,
    )


class UsageMeter:
    """Records calls, tokens, refusals and costs in the worker's metrics."""

    def __init__(
        self, metrics: WorkerMetrics | None, prices: Mapping[str, tuple[float, float]]
    ) -> None:
        self.metrics = metrics
        self.prices = dict(prices)

    def cost(self, model: str | None, usage: Usage) -> float:
        """The price of `usage` on `model` (0 when the table has no price for it)."""
        prompt, completion = self.prices.get(model or "", (0.0, 0.0))
        return ((usage.promptTokens or 0) * prompt + (usage.completionTokens or 0) * completion) / (
            1_000_000
        )

    def call(
        self, client: str | None, endpoint: str, model: str, result: str, usage: Usage | None
    ) -> None:
        """One call to `endpoint` ended with `result` ("ok" or an error code)."""
        if self.metrics is None:
            return
        who = client_label(client)
        self.metrics.llm_calls.labels(who, endpoint, model, result).inc()
        if usage is None:
            return
        source = "estimated" if usage.estimated else "reported"
        tokens = self.metrics.llm_tokens
        tokens.labels(who, endpoint, model, "prompt", source).inc(usage.promptTokens or 0)
        tokens.labels(who, endpoint, model, "completion", source).inc(usage.completionTokens or 0)
        self.metrics.llm_cost.labels(who, endpoint, model).inc(self.cost(model, usage))

    def refused(self, client: str | None) -> None:
        """A call refused: the client's budget is used up."""
        if self.metrics is not None:
            self.metrics.budget_refusals.labels(client_label(client), "worker").inc()

    def reading(self, client: str | None, source: str, cost: float) -> None:
        """A reading stored (`source`: llm, reused or almanac) and what its calls cost."""
        if self.metrics is not None:
            self.metrics.readings.labels(client_label(client), source).inc()
            self.metrics.reading_cost.observe(cost)
