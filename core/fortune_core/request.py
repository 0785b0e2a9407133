"""The fortune request: the one definition used by API validation, the CRD and the queue message.

`validate_request` is the entry point for untrusted input: it never raises, it returns either a
`FortuneRequest` or a mapping from field path (``profile.birthDate``) to a message in English and
Chinese. `spec_openapi_schema` gives the same schema as a structural OpenAPI v3 schema for the CRD.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidationInfo

from fortune_core.clock import system_clock

#: Births from 1600 on: lunar-python's tables and the tz database cover them (docs/domain.md).
MIN_BIRTH_DATE = dt.date(1600, 1, 1)
#: Target dates the calendar tables cover comfortably.
MIN_TARGET_DATE = dt.date(1901, 1, 1)
MAX_TARGET_DATE = dt.date(2099, 12, 31)
NAME_MAX_LENGTH = 32
#: Unicode categories a name may not contain: controls, format (invisible: zero-width, bidi
#: overrides) and surrogates.
NAME_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_POOL = "default"
DEFAULT_TTL_SECONDS_AFTER_FINISHED = 3600

# ASCII digits only: Python's \d also matches other scripts' digits (１９９０), which the API
# server's RE2 refuses for the same pattern in the CRD; both must say the same.
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_POOL_RE = r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$"


class Calendar(StrEnum):
    """How `birthDate` is written."""

    SOLAR = "solar"
    LUNAR = "lunar"


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNSPECIFIED = "unspecified"


class Topic(StrEnum):
    OVERALL = "overall"
    CAREER = "career"
    LOVE = "love"
    WEALTH = "wealth"
    HEALTH = "health"
    STUDY = "study"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class Language(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


@cache
def time_zones() -> frozenset[str]:
    """The IANA zone names accepted for `timezone` (the tz database's list, without the host's
    own `localtime` and the placeholder `Factory`)."""
    return frozenset(available_timezones() - {"localtime", "Factory"})


#: A webhook URL: http(s), at most this long (https only, unless private targets are allowed:
#: `webhook_target_problem`; the worker checks the resolved addresses at each delivery).
WEBHOOK_MAX_LENGTH = 2048
_PORT = (
    r"(?:[0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]"
    r"|6553[0-5])"
)
#: A host name or IPv4 address, an optional port (0-65535), then a path, query or fragment
#: without spaces or control characters (explicit ranges: JavaScript's `\s` and Python's differ).
WEBHOOK_PATTERN = rf"^https?://[A-Za-z0-9.-]+(?::{_PORT})?(?:[/?#][^\x00-\x20\x7f]*)?$"
#: The same with https only (what the API accepts unless private targets are allowed).
WEBHOOK_HTTPS_PATTERN = WEBHOOK_PATTERN.replace("https?", "https", 1)
_WEBHOOK_RE = re.compile(WEBHOOK_PATTERN)


def webhook_target_problem(url: str, allow_private: bool) -> FieldMessage | None:
    """Why `url` may not receive webhooks, as far as the URL itself tells (None: it may): only
    https unless `allow_private`. Its addresses are checked when it is called (the worker
    refuses a private, loopback or link-local one, whether written or resolved)."""
    if allow_private or url.startswith("https://"):
        return None
    return FieldMessage("must be an https URL", "必须是 https 网址")


def _err(code: str, en: str, zh: str) -> PydanticCustomError:
    """A field error carrying its English text and, in the context, its Chinese text."""
    return PydanticCustomError(code, en, {"zh": zh})


def _now(info: ValidationInfo) -> dt.datetime:
    """The validation's "now": `context={"now": ...}` (see `validate_request`), else the clock."""
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get("now")
    return now if isinstance(now, dt.datetime) else system_clock()


def _today_in(tz_name: str, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(tz_name)).date()


def lunar_date_exists(year: int, month: int, day: int, leap: bool) -> tuple[bool, str, str]:
    """Whether a Chinese lunar date exists; when not, why (English, Chinese)."""
    from lunar_python import LunarYear

    if not 1 <= month <= 12:
        return False, "lunar month must be 1 to 12", "农历月份必须在 1 到 12 之间"
    lunar_year = LunarYear.fromYear(year)
    if leap and lunar_year.getLeapMonth() != month:
        leap_month = lunar_year.getLeapMonth()
        has = f"its leap month is {leap_month}" if leap_month else "it has no leap month"
        has_zh = f"闰月是{leap_month}月" if leap_month else "没有闰月"
        return (
            False,
            f"lunar year {year} has no leap month {month} ({has})",
            f"农历{year}年没有闰{month}月（该年{has_zh}）",
        )
    lunar_month = lunar_year.getMonth(-month if leap else month)
    days = lunar_month.getDayCount() if lunar_month is not None else 0
    if not 1 <= day <= days:
        kind, kind_zh = ("leap month", "闰") if leap else ("month", "")
        return (
            False,
            f"lunar {kind} {month} of {year} has {days} days, not {day}",
            f"农历{year}年{kind_zh}{month}月只有{days}天，没有第{day}天",
        )
    return True, "", ""


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )


class BirthProfile(_Model):
    """What the user tells us. Field order matters: later validators read earlier fields."""

    calendar: Calendar = Field(
        default=Calendar.SOLAR,
        description="How birthDate is written: solar (Gregorian) or lunar (Chinese lunar calendar)",
    )
    leap_month: bool = Field(
        default=False,
        strict=True,
        description="Lunar calendar only: the month in birthDate is the leap month (闰月)",
    )
    timezone: str = Field(
        default=DEFAULT_TIMEZONE,
        max_length=64,
        description="IANA time zone of the birth place, e.g. Asia/Shanghai; the clock time is "
        "civil time there (daylight saving time is removed)",
    )
    longitude: float | None = Field(
        default=None,
        strict=True,
        ge=-180,
        le=180,
        description="Longitude of the birth place in degrees, east positive; when given, the "
        "hour pillar uses true solar time",
    )
    birth_date: str = Field(
        max_length=10,
        description="Birth date YYYY-MM-DD: a Gregorian date, or for calendar lunar the lunar "
        "year-month-day written the same way (2023-02-15 with leapMonth is 闰二月十五 of 2023)",
    )
    birth_time: str | None = Field(
        default=None,
        max_length=5,
        description="Birth clock time HH:MM (24 h); omit when unknown (then no hour pillar)",
    )
    gender: Gender = Field(default=Gender.UNSPECIFIED, description="male, female or unspecified")
    name: str | None = Field(
        default=None,
        description=f"Optional name or nickname, at most {NAME_MAX_LENGTH} characters; used as "
        "data only",
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        if value not in time_zones():
            raise _err(
                "timezone",
                "unknown time zone; use an IANA name such as Asia/Shanghai",
                "未知时区，请使用 IANA 名称，例如 Asia/Shanghai",
            )
        return value

    @field_validator("birth_date")
    @classmethod
    def _check_birth_date(cls, value: str, info: ValidationInfo) -> str:
        if not _DATE_RE.match(value):
            raise _err("date_format", "must be a date YYYY-MM-DD", "日期格式必须是 YYYY-MM-DD")
        year, month, day = (int(part) for part in value.split("-"))
        calendar = info.data.get("calendar", Calendar.SOLAR)
        tz_name = info.data.get("timezone", DEFAULT_TIMEZONE)
        if calendar == Calendar.LUNAR:
            if year < MIN_BIRTH_DATE.year:
                raise _err(
                    "date_range",
                    f"must be in {MIN_BIRTH_DATE.year} or later",
                    f"必须在 {MIN_BIRTH_DATE.year} 年或以后",
                )
            ok, en, zh = lunar_date_exists(year, month, day, bool(info.data.get("leap_month")))
            if not ok:
                raise _err("lunar_date", en, zh)
            solar = lunar_to_solar(year, month, day, bool(info.data.get("leap_month")))
        else:
            if info.data.get("leap_month"):
                raise _err(
                    "leap_month",
                    "leapMonth applies only to calendar lunar",
                    "leapMonth 只适用于农历（calendar 为 lunar）",
                )
            try:
                solar = dt.date(year, month, day)
            except ValueError as exc:
                raise _err("date_invalid", "is not a real date", "不是有效的日期") from exc
        if solar < MIN_BIRTH_DATE:
            raise _err(
                "date_range",
                f"must be {MIN_BIRTH_DATE} or later",
                f"必须在 {MIN_BIRTH_DATE} 或以后",
            )
        if tz_name is not None and solar > _today_in(tz_name, _now(info)):
            raise _err("date_future", "cannot be in the future", "不能是未来的日期")
        return value

    @field_validator("birth_time")
    @classmethod
    def _check_birth_time(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value == "":
            return None
        if not _TIME_RE.match(value):
            raise _err("time_format", "must be a time HH:MM (00:00–23:59)", "时间格式必须是 HH:MM")
        if "birth_date" not in info.data or "timezone" not in info.data:
            return value  # the date or zone already has its own error
        probe = BirthProfile.model_construct(**{**info.data, "birth_time": value})
        zone = ZoneInfo(info.data["timezone"])
        civil = dt.datetime.combine(probe.solar_birth_date(), dt.time.fromisoformat(value), zone)
        if civil.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != civil.replace(
            tzinfo=None
        ):
            raise _err(
                "time_skipped",
                "this clock time did not exist there (clocks jumped forward for daylight saving)",
                "该时区当天没有这个时刻（夏令时拨快时跳过）",
            )
        if civil > _now(info):
            raise _err("time_future", "cannot be in the future", "不能是未来的时间")
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value) > NAME_MAX_LENGTH:
            raise _err(
                "name_length",
                f"must be at most {NAME_MAX_LENGTH} characters",
                f"最多 {NAME_MAX_LENGTH} 个字符",
            )
        if any(unicodedata.category(ch) in NAME_FORBIDDEN_CATEGORIES for ch in value):
            raise _err(
                "name_characters",
                "must not contain control or invisible characters",
                "不能包含控制字符或不可见字符",
            )
        return value

    def solar_birth_date(self) -> dt.date:
        """The birth date on the Gregorian calendar."""
        year, month, day = (int(part) for part in self.birth_date.split("-"))
        if self.calendar == Calendar.LUNAR:
            return lunar_to_solar(year, month, day, self.leap_month)
        return dt.date(year, month, day)


def lunar_to_solar(year: int, month: int, day: int, leap: bool) -> dt.date:
    """Convert an existing Chinese lunar date to its Gregorian date."""
    from lunar_python import Lunar

    solar = Lunar.fromYmd(year, -month if leap else month, day).getSolar()
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


class FortuneRequest(_Model):
    """A fortune request: who (profile), about what (topic), for when (period, date), in which
    language."""

    profile: BirthProfile = Field(description="The person's birth data")
    topic: Topic = Field(
        default=Topic.OVERALL,
        description="What the reading is about: overall, career, love, wealth, health or study",
    )
    period: Period = Field(
        default=Period.DAY,
        description="The span the reading covers, starting at date: day, week, month or year",
    )
    date: str | None = Field(
        default=None,
        max_length=10,
        description="The day the fortune is for, YYYY-MM-DD (default: today in the profile's "
        "time zone)",
    )
    language: Language = Field(
        default=Language.ZH_CN, description="Language of the reading: zh-CN or en"
    )
    webhook: str | None = Field(
        default=None,
        max_length=WEBHOOK_MAX_LENGTH,
        description="An https URL that gets the finished request POSTed to it, signed per "
        "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)",
    )

    @field_validator("webhook")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _WEBHOOK_RE.fullmatch(value):
            raise _err(
                "webhook_url",
                "must be an http(s) URL: a host name or IPv4 address, an optional port, a path",
                "必须是 http(s) 网址：主机名或 IPv4 地址、可选端口、路径",
            )
        return value

    @field_validator("date")
    @classmethod
    def _check_date(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _DATE_RE.match(value):
            raise _err("date_format", "must be a date YYYY-MM-DD", "日期格式必须是 YYYY-MM-DD")
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError as exc:
            raise _err("date_invalid", "is not a real date", "不是有效的日期") from exc
        if not MIN_TARGET_DATE <= parsed <= MAX_TARGET_DATE:
            raise _err(
                "date_range",
                f"must be between {MIN_TARGET_DATE} and {MAX_TARGET_DATE}",
                f"必须在 {MIN_TARGET_DATE} 与 {MAX_TARGET_DATE} 之间",
            )
        return value

    def target_date(self, now: dt.datetime | None = None) -> dt.date:
        """The day the fortune is for: `date`, or today (at `now`) in the profile's time zone."""
        if self.date:
            return dt.date.fromisoformat(self.date)
        return _today_in(self.profile.timezone, now or system_clock())

    def with_resolved_date(self, now: dt.datetime | None = None) -> FortuneRequest:
        """A copy with `date` filled in, so every later step reads the same day."""
        return self.model_copy(update={"date": self.target_date(now).isoformat()})

    def to_json_dict(self) -> dict[str, Any]:
        """The public JSON form (camelCase, enums as strings, unset optionals left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class FortuneSpec(FortuneRequest):
    """The FortuneRequest custom resource's spec: the request plus where and how long."""

    pool: str = Field(
        default=DEFAULT_POOL,
        pattern=_POOL_RE,
        description="Worker pool that processes the request (a DNS label, at most 40 characters)",
    )
    ttl_seconds_after_finished: int = Field(
        default=DEFAULT_TTL_SECONDS_AFTER_FINISHED,
        ge=0,
        le=30 * 24 * 3600,
        description="Seconds after the request finished before the resource is deleted",
    )


# --- errors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMessage:
    """A field error in English and Chinese."""

    en: str
    zh: str

    def as_dict(self) -> dict[str, str]:
        return {"en": self.en, "zh": self.zh}


@dataclass
class Validated:
    """Outcome of `validate_request`: a request, or field errors (never both)."""

    request: FortuneRequest | None = None
    errors: dict[str, FieldMessage] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.request is not None


_GENERIC_ZH = {
    "missing": "必填字段",
    "extra_forbidden": "未知字段",
    "string_type": "必须是字符串",
    "bool_type": "必须是 true 或 false",
    "bool_parsing": "必须是 true 或 false",
    "float_type": "必须是数字",
    "float_parsing": "必须是数字",
    "int_type": "必须是整数",
    "int_parsing": "必须是整数",
    "dict_type": "必须是对象",
    "model_type": "必须是对象",
    "model_attributes_type": "必须是对象",
    "string_too_long": "太长",
    "string_pattern_mismatch": "格式不正确",
}


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc]
    return ".".join(parts) if parts else "body"


def _message(error: Any) -> FieldMessage:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if "zh" in ctx:
        return FieldMessage(error["msg"], ctx["zh"])
    if kind == "enum":
        expected = ctx.get("expected", "")
        return FieldMessage(f"must be one of {expected}", f"必须是以下之一：{expected}")
    if kind in {"greater_than_equal", "less_than_equal"}:
        return FieldMessage(error["msg"].lower(), "超出允许范围：" + error["msg"].lower())
    if kind == "missing":
        return FieldMessage("is required", _GENERIC_ZH[kind])
    if kind == "extra_forbidden":
        return FieldMessage("is not a known field", _GENERIC_ZH[kind])
    return FieldMessage(error["msg"], _GENERIC_ZH.get(kind, "值无效"))


def errors_from(exc: ValidationError) -> dict[str, FieldMessage]:
    """Field path → message, first error per field."""
    errors: dict[str, FieldMessage] = {}
    for error in exc.errors(include_url=False):
        errors.setdefault(_field_path(tuple(error["loc"])), _message(error))
    return errors


def validate_request(data: Any, now: dt.datetime | None = None) -> Validated:
    """Validate untrusted JSON-like input. Never raises for bad input. `now` (timezone-aware, by
    default the system clock) decides what is in the future."""
    if not isinstance(data, dict):
        return Validated(errors={"body": FieldMessage("must be a JSON object", "必须是 JSON 对象")})
    try:
        context = {"now": now or system_clock()}
        return Validated(request=FortuneRequest.model_validate(data, context=context))
    except ValidationError as exc:
        return Validated(errors=errors_from(exc))


def validate_profile(
    data: Any, now: dt.datetime | None = None
) -> tuple[BirthProfile | None, dict[str, FieldMessage]]:
    """Validate a bare birth profile (for `POST /v1/profiles`); errors under ``profile.``."""
    outcome = validate_request({"profile": data} if isinstance(data, dict) else data, now)
    if outcome.request is not None:
        return outcome.request.profile, {}
    return None, outcome.errors


# --- OpenAPI schema for the CRD --------------------------------------------------------------


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Turn a pydantic JSON schema node into a structural OpenAPI v3 node (no $ref, no anyOf)."""
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    node = dict(node)
    variants = node.pop("anyOf", None)
    if variants is not None:
        non_null = [v for v in variants if v.get("type") != "null"]
        if len(non_null) != 1:
            raise ValueError(f"cannot express anyOf {variants!r} structurally")
        # Optional fields are simply absent when unset, so `null` needs no place in the schema.
        return _structural({**non_null[0], **node}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in {"title", "$defs"}:
            continue
        if key == "default" and value is None:
            continue
        if key == "properties":
            out[key] = {name: _structural(sub, defs) for name, sub in value.items()}
        elif key in {"items", "additionalProperties"} and isinstance(value, dict):
            out[key] = _structural(value, defs)
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" in out:
        out.pop("additionalProperties", None)
    return out


def _add_formats(schema: dict[str, Any]) -> None:
    """Formats and patterns the API server checks itself."""
    profile = schema["properties"]["profile"]["properties"]
    profile["birthDate"]["pattern"] = _DATE_RE.pattern
    profile["birthTime"]["pattern"] = _TIME_RE.pattern
    profile["name"]["maxLength"] = NAME_MAX_LENGTH
    schema["properties"]["date"]["format"] = "date"
    schema["properties"]["date"]["pattern"] = _DATE_RE.pattern


def spec_openapi_schema() -> dict[str, Any]:
    """The FortuneRequest spec as a structural OpenAPI v3 schema, ready to embed in a CRD."""
    raw = FortuneSpec.model_json_schema(by_alias=True)
    defs = raw.get("$defs", {})
    schema: dict[str, Any] = _structural(raw, defs)
    _add_formats(schema)
    schema["description"] = (
        "A fortune request: the person's birth data, the topic, period, date and language, and "
        "the worker pool that processes it. Immutable once created."
    )
    return schema
