"""Settings shared by the deployables, read from environment variables (all documented in
docs/configuration.md). Each deployable adds its own in its own settings module."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TypeVar

from fortune_core.luck import QiYunConvention
from fortune_core.profile import BOUNDARY_MINUTES, Conventions, ZiHourConvention
from fortune_core.queue import DeadLetterLimits
from fortune_core.shensha import ShenShaSchool

N = TypeVar("N", int, float)


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_number(name: str, default: N, minimum: N, kind: type[N]) -> N:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        noun = "an integer" if kind is int else "a number"
        raise ValueError(f"{name} must be {noun}, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_int(name: str, default: int, minimum: int = 0) -> int:
    return _env_number(name, default, minimum, int)


def env_float(name: str, default: float, minimum: float = 0.0) -> float:
    return _env_number(name, default, minimum, float)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class CoreSettings:
    """Where the backends are and how long requests live."""

    rabbitmq_url: str = field(default="amqp://guest:guest@127.0.0.1:5672/%2F")
    rabbitmq_management_url: str = field(default="http://guest:guest@127.0.0.1:15672")
    redis_url: str = field(default="redis://127.0.0.1:6379/0")
    mongodb_uri: str = field(default="mongodb://127.0.0.1:27017/cyberfortune")
    retention_seconds: int = 604800
    pool: str = "default"
    zi_hour_convention: ZiHourConvention = ZiHourConvention.NEXT_DAY
    qi_yun_convention: QiYunConvention = QiYunConvention.MINUTES
    shen_sha_school: ShenShaSchool = ShenShaSchool.TANYUAN
    boundary_warning_minutes: int = BOUNDARY_MINUTES
    dead_letter_max_length: int = 10_000
    dead_letter_ttl_seconds: int = 604800
    #: "standalone" (the API queues requests itself) or "kubernetes" (the API creates
    #: FortuneRequests for the operator, the workers write their status).
    mode: str = "standalone"

    @property
    def kubernetes(self) -> bool:
        """Whether this deployment runs in Kubernetes mode."""
        return self.mode == "kubernetes"

    @classmethod
    def from_env(cls) -> CoreSettings:
        mode = env_str("FORTUNE_MODE", cls.mode).lower()
        if mode not in {"standalone", "kubernetes"}:
            raise ValueError(f"FORTUNE_MODE must be standalone or kubernetes, got {mode!r}")
        return cls(
            mode=mode,
            rabbitmq_url=env_str("RABBITMQ_URL", cls.rabbitmq_url),
            rabbitmq_management_url=env_str("RABBITMQ_MANAGEMENT_URL", cls.rabbitmq_management_url),
            redis_url=env_str("REDIS_URL", cls.redis_url),
            mongodb_uri=env_str("MONGODB_URI", cls.mongodb_uri),
            retention_seconds=env_int("FORTUNE_RETENTION_SECONDS", cls.retention_seconds, 60),
            pool=env_str("FORTUNE_POOL", cls.pool),
            zi_hour_convention=ZiHourConvention(
                env_str("FORTUNE_ZI_HOUR_CONVENTION", ZiHourConvention.NEXT_DAY.value)
            ),
            qi_yun_convention=QiYunConvention(
                env_str("FORTUNE_QI_YUN_CONVENTION", cls.qi_yun_convention.value)
            ),
            shen_sha_school=ShenShaSchool(
                env_str("FORTUNE_SHENSHA_SCHOOL", cls.shen_sha_school.value)
            ),
            boundary_warning_minutes=env_int(
                "FORTUNE_BOUNDARY_WARNING_MINUTES", cls.boundary_warning_minutes, 0
            ),
            dead_letter_max_length=env_int(
                "FORTUNE_DEAD_LETTER_MAX_LENGTH", cls.dead_letter_max_length, 1
            ),
            dead_letter_ttl_seconds=env_int(
                "FORTUNE_DEAD_LETTER_TTL_SECONDS", cls.dead_letter_ttl_seconds, 60
            ),
        )

    def conventions(self) -> Conventions:
        """The derivation's conventions (子 hour, 起运, 神煞 school, boundary warnings)."""
        return Conventions(
            zi_hour=self.zi_hour_convention,
            qi_yun=self.qi_yun_convention,
            shen_sha=self.shen_sha_school,
            boundary_minutes=self.boundary_warning_minutes,
        )

    def dead_letter_limits(self) -> DeadLetterLimits:
        """Bounds of the dead-letter queues."""
        return DeadLetterLimits(self.dead_letter_max_length, self.dead_letter_ttl_seconds)
