"""Settings, declared once: every field names its environment variable, its default and what it
means, and `from_env` reads them all by the same rules (kopf's `_cogs/configs/configuration.py`
is the model: one dataclass per concern).

    @dataclass(frozen=True)
    class SweepSettings(Settings):
        sweep_seconds: float = setting(
            "FORTUNE_SWEEP_SECONDS", 10.0, minimum=0.5, doc="how often the sweep runs")

A value is parsed by the field's type (`str`, `int`, `float`, `bool`, a `StrEnum`, `X | None`,
`tuple[str, ...]` from a comma-separated list) or by its own `parse=`; an empty variable keeps the
default; a bad value is a `ValueError` naming the variable, so a component refuses to start with
a message instead of running misconfigured. Groups of settings nest (`group(CoreSettings)`).
`Settings.variables()` lists every variable with its default, which is how
tests/unit/test_docs.py checks docs/configuration.md against the code.

This module is the bottom layer of `fortune_core`: it imports nothing of the domain.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from fortune_core.conventions import (
    BOUNDARY_MINUTES,
    Conventions,
    QiYunConvention,
    ShenShaSchool,
    ZiHourConvention,
)

T = TypeVar("T")
_MISSING: Any = dataclasses.MISSING


def setting(
    env: str,
    default: T = _MISSING,
    *,
    doc: str,
    minimum: float | None = None,
    parse: Callable[[str], Any] | None = None,
    factory: Callable[[], T] | None = None,
    shown_default: str | None = None,
) -> T:
    """A field read from the environment variable `env` (`default`, or `factory()`, when unset).

    `minimum` bounds a number; `parse` replaces the type-driven parser; `shown_default` is how
    the documentation writes a default that is computed (e.g. the host name)."""
    metadata = {
        "env": env,
        "doc": doc,
        "minimum": minimum,
        "parse": parse,
        "shown_default": shown_default,
    }
    if factory is not None:
        field: T = dataclasses.field(default_factory=factory, metadata=metadata)
    else:
        field = dataclasses.field(default=default, metadata=metadata)
    return field


def group(cls: Callable[[], T], doc: str = "") -> T:
    """A nested group of settings (read with its own `from_env`)."""
    field: T = dataclasses.field(default_factory=cls, metadata={"group": True, "doc": doc})
    return field


@dataclass(frozen=True)
class Variable:
    """One environment variable a settings class reads."""

    name: str
    default: str
    doc: str
    owner: str


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _parse_as(name: str, kind: Any, raw: str) -> Any:
    """Parse `raw` as the annotated type `kind`."""
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _parse_as(name, options[0], raw)
    if origin is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind is bool:
        return _parse_bool(name, raw)
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError as exc:
            noun = "an integer" if kind is int else "a number"
            raise ValueError(f"{name} must be {noun}, got {raw!r}") from exc
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(raw.lower())
        except ValueError as exc:
            choices = ", ".join(str(member.value) for member in kind)
            raise ValueError(f"{name} must be one of {choices}, got {raw!r}") from exc
    return raw


def _shown(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(value)
    return "" if value is None else str(value)


class Settings:
    """Base of every settings dataclass: `from_env()` and `variables()`, generic over fields."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from `environ` (default: the process environment); ValueError names a
        bad variable."""
        env = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            meta = field.metadata
            if meta.get("group"):
                values[field.name] = hints[field.name].from_env(env)
                continue
            name = meta.get("env")
            if not name:
                continue
            raw = env.get(name, "").strip()
            if not raw:
                continue
            parse = meta.get("parse")
            value = parse(raw) if parse is not None else _parse_as(name, hints[field.name], raw)
            minimum = meta.get("minimum")
            if minimum is not None and value < minimum:
                raise ValueError(f"{name} must be at least {_shown(minimum)}, got {raw}")
            values[field.name] = value
        made = cls(**values)
        made.check()
        return made

    def check(self) -> None:
        """Rules between fields (override); raise ValueError naming the variables."""

    @classmethod
    def variables(cls) -> Iterator[Variable]:
        """Every variable read by this class and its groups."""
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            meta = field.metadata
            if meta.get("group"):
                yield from hints[field.name].variables()
            elif meta.get("env"):
                default = (
                    field.default_factory()
                    if field.default_factory is not dataclasses.MISSING
                    else field.default
                )
                shown = meta.get("shown_default")
                yield Variable(
                    meta["env"],
                    shown if shown is not None else _shown(default),
                    meta["doc"],
                    cls.__name__,
                )


@dataclass(frozen=True)
class CoreSettings(Settings):
    """Where the backends are, how long requests live, and the conventions every component
    shares."""

    mode: str = setting(
        "FORTUNE_MODE",
        "standalone",
        parse=str.lower,
        doc="standalone (the API queues requests itself) or kubernetes (the API creates "
        "FortuneRequests for the operator, the workers write their status)",
    )
    rabbitmq_url: str = setting(
        "RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F", doc="AMQP URL of RabbitMQ"
    )
    rabbitmq_management_url: str = setting(
        "RABBITMQ_MANAGEMENT_URL",
        "http://guest:guest@127.0.0.1:15672",
        doc="RabbitMQ management API (queue depth for scaling)",
    )
    redis_url: str = setting("REDIS_URL", "redis://127.0.0.1:6379/0", doc="Redis")
    mongodb_uri: str = setting(
        "MONGODB_URI", "mongodb://127.0.0.1:27017/cyberfortune", doc="MongoDB"
    )
    retention_seconds: int = setting(
        "FORTUNE_RETENTION_SECONDS",
        604800,
        minimum=60,
        doc="how long a request and its result are kept (MongoDB TTL); after it the id is 410",
    )
    cache_finished_seconds: int = setting(
        "FORTUNE_CACHE_FINISHED_SECONDS",
        600,
        minimum=0,
        doc="how long the Redis status cache keeps a finished request (MongoDB answers after)",
    )
    events_max_length: int = setting(
        "FORTUNE_EVENTS_MAX_LENGTH",
        2000,
        minimum=10,
        doc="most events a request's Redis event stream keeps (about: Redis trims whole nodes); "
        "the oldest deltas go first, the result is always the last event",
    )
    pool: str = setting("FORTUNE_POOL", "default", doc="the worker pool published to / consumed")
    webhook_allow_private: bool = setting(
        "FORTUNE_WEBHOOK_ALLOW_PRIVATE",
        False,
        doc="let webhooks go to plain http and to private, loopback and link-local addresses "
        "(tests, closed networks); off, only public https targets get them",
    )
    zi_hour_convention: ZiHourConvention = setting(
        "FORTUNE_ZI_HOUR_CONVENTION",
        ZiHourConvention.NEXT_DAY,
        doc="when the day pillar changes: next-day (23:00) or same-day (midnight)",
    )
    qi_yun_convention: QiYunConvention = setting(
        "FORTUNE_QI_YUN_CONVENTION",
        QiYunConvention.MINUTES,
        doc="how the birth–节 interval becomes the 起运 age: minutes (exact) or days (by hand)",
    )
    shen_sha_school: ShenShaSchool = setting(
        "FORTUNE_SHENSHA_SCHOOL",
        ShenShaSchool.TANYUAN,
        doc="whose 神煞 tables: tanyuan (命理探原) or yuanhai (渊海子平)",
    )
    boundary_warning_minutes: int = setting(
        "FORTUNE_BOUNDARY_WARNING_MINUTES",
        BOUNDARY_MINUTES,
        minimum=0,
        doc="a birth this close to a 节 or to 23:00/00:00 gets a boundary warning",
    )
    queue_max_length: int = setting(
        "FORTUNE_QUEUE_MAX_LENGTH",
        10_000,
        minimum=1,
        doc="most messages a pool's request queue holds (a quorum queue takes one more); beyond "
        "it a submission is refused (503 queue_full)",
    )
    dead_letter_max_length: int = setting(
        "FORTUNE_DEAD_LETTER_MAX_LENGTH",
        10_000,
        minimum=1,
        doc="most messages a pool's dead-letter queue keeps (the oldest dropped first)",
    )
    dead_letter_ttl_seconds: int = setting(
        "FORTUNE_DEAD_LETTER_TTL_SECONDS",
        604800,
        minimum=60,
        doc="how long a dead letter is kept",
    )
    log_level: str = setting("FORTUNE_LOG_LEVEL", "INFO", doc="log level (JSON lines on stderr)")

    def check(self) -> None:
        if self.mode not in {"standalone", "kubernetes"}:
            raise ValueError(f"FORTUNE_MODE must be standalone or kubernetes, got {self.mode!r}")

    @property
    def kubernetes(self) -> bool:
        """Whether this deployment runs in Kubernetes mode."""
        return self.mode == "kubernetes"

    def conventions(self) -> Conventions:
        """The derivation's conventions (子 hour, 起运, 神煞 school, boundary warnings)."""
        return Conventions(
            zi_hour=self.zi_hour_convention,
            qi_yun=self.qi_yun_convention,
            shen_sha=self.shen_sha_school,
            boundary_minutes=self.boundary_warning_minutes,
        )


@dataclass(frozen=True)
class SweepSettings(Settings):
    """The stale-request sweep (`fortune_core.sweep`): run by the operator in Kubernetes mode and
    by the workers, under a Redis lease, everywhere else."""

    stale_pending_seconds: float = setting(
        "FORTUNE_STALE_PENDING_SECONDS",
        60.0,
        minimum=1,
        doc="a request still pending after this long is dispatched again",
    )
    stale_queued_seconds: float = setting(
        "FORTUNE_STALE_QUEUED_SECONDS",
        600.0,
        minimum=1,
        doc="a queued request not picked up for this long is published again, even while its "
        "pool's queue still holds messages",
    )
    stale_running_seconds: float = setting(
        "FORTUNE_STALE_RUNNING_SECONDS",
        900.0,
        minimum=1,
        doc="a running request not updated for this long (its worker and its message are gone) "
        "is dispatched again; keep it above twice the LLM timeout (an attempt may make a repair "
        "call) times the number of LLM endpoints (each may be tried in turn)",
    )
    lost_message_seconds: float = setting(
        "FORTUNE_LOST_MESSAGE_SECONDS",
        30.0,
        minimum=1,
        doc="a queued request whose message was due this long ago while its pool's queue is "
        "empty lost its message (purged, or a publish that failed): it is published again",
    )
    sweep_seconds: float = setting(
        "FORTUNE_SWEEP_SECONDS",
        10.0,
        minimum=0.5,
        doc="how often the sweep runs",
    )
    batch: int = setting(
        "FORTUNE_SWEEP_BATCH",
        500,
        minimum=1,
        doc="most requests one sweep acts on per kind (the rest wait for the next sweep)",
    )


@dataclass(frozen=True)
class WeChatSettings(Settings):
    """The WeChat mini-program the API logs users in for and the worker notifies (both read the
    same app settings; the secret comes from a Secret in the chart)."""

    api_base: str = setting(
        "FORTUNE_WECHAT_API_BASE",
        "https://api.weixin.qq.com",
        doc="base URL of the WeChat server API (the tests point it at a fake)",
    )
    app_id: str = setting(
        "FORTUNE_WECHAT_APP_ID", "", shown_default="empty (WeChat off)", doc="the AppID"
    )
    app_secret: str = setting(
        "FORTUNE_WECHAT_APP_SECRET",
        "",
        shown_default="empty (WeChat off)",
        doc="the AppSecret (a Secret in the chart)",
    )
    timeout_seconds: float = setting(
        "FORTUNE_WECHAT_TIMEOUT_SECONDS", 5.0, minimum=0.1, doc="timeout of one WeChat call"
    )
    subscribe_template_id: str = setting(
        "FORTUNE_WECHAT_SUBSCRIBE_TEMPLATE_ID",
        "",
        shown_default="empty (no subscribe messages)",
        doc='the one-time subscribe message template ("your reading is ready")',
    )

    @property
    def configured(self) -> bool:
        """Whether WeChat calls can be made (an AppID and its secret are set)."""
        return bool(self.app_id and self.app_secret)


def parse_client_budgets(raw: str) -> dict[str, int]:
    """`name:tokens,name2:tokens` → {client id: tokens}. A name is a client of FORTUNE_API_KEYS
    (client id `key:<name>`) or a whole client id (`ip:…`, `k8s:<namespace>`); 0 exempts it."""
    budgets: dict[str, int] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, tokens = item.rpartition(":")
        name = name.strip()
        if not sep or not name:
            raise ValueError(
                f"FORTUNE_CLIENT_TOKEN_BUDGETS: {item!r} is not client:tokens (e.g. alice:200000)"
            )
        try:
            value = int(tokens)
        except ValueError as exc:
            raise ValueError(
                f"FORTUNE_CLIENT_TOKEN_BUDGETS: the tokens of {name!r} must be an integer, "
                f"got {tokens!r}"
            ) from exc
        if value < 0:
            raise ValueError(f"FORTUNE_CLIENT_TOKEN_BUDGETS: the tokens of {name!r} must be >= 0")
        client = name if name.split(":", 1)[0] in CLIENT_KINDS else f"key:{name}"
        budgets[client] = value
    return budgets


#: Prefixes of client ids (`key:<name>` with API keys, `ip:<address>` without, `k8s:<ns>`).
CLIENT_KINDS = frozenset({"key", "ip", "k8s"})


@dataclass(frozen=True)
class BudgetSettings(Settings):
    """Per-client daily token budgets (`fortune_core.budgets`): read by the API (refusal at
    submission) and by the workers (the reservation before every LLM call)."""

    daily_token_budget: int = setting(
        "FORTUNE_DAILY_TOKEN_BUDGET",
        0,
        minimum=0,
        shown_default="0 (off)",
        doc="LLM tokens (prompt + completion) each client may use per UTC day; past it a "
        "submission gets 429 budget_exhausted and a queued request fails with that code",
    )
    client_token_budgets: dict[str, int] = setting(
        "FORTUNE_CLIENT_TOKEN_BUDGETS",
        factory=dict,
        parse=parse_client_budgets,
        shown_default="empty",
        doc="per-client daily budgets, name:tokens pairs (names as in FORTUNE_API_KEYS, or a "
        "whole client id such as k8s:<namespace>); they replace FORTUNE_DAILY_TOKEN_BUDGET for "
        "that client, 0 exempts it",
    )

    def budget_of(self, client: str | None) -> int | None:
        """The daily budget of `client` in tokens, or None when it has none."""
        if client is not None and client in self.client_token_budgets:
            value = self.client_token_budgets[client]
        else:
            value = self.daily_token_budget
        return value or None

    @property
    def enabled(self) -> bool:
        """Whether any client has a budget."""
        return bool(self.daily_token_budget) or any(self.client_token_budgets.values())
