"""CyberFortune shared library (`fortune_core`): what the API, the worker and the operator share.

The deployables import from here, never from the modules behind it (an import-linter contract in
`make lint` checks it; kopf's `kopf/__init__.py` is the model): the names below are the contract,
grouped by what they are for. The one exception is the offline almanac text engine,
`fortune_core.almanac`, which only the worker imports, lazily (its tables cost memory no other
component needs).

Layers, from the top (each imports only from below; `.importlinter` keeps it so): the sweep, the
lifecycle, the stores and the Kubernetes status (records, status cache, queue, lease, kube,
resource), the domain (prompt, almanac, profile, request, result), the views and statuses, and at
the bottom settings, conventions and plumbing.
"""

from fortune_core.backoff import delays, jittered, spread
from fortune_core.budgets import (
    BudgetExhaustedError,
    BudgetStatus,
    Reservation,
    TokenBudgets,
    client_label,
)
from fortune_core.clock import Clock, system_clock
from fortune_core.conventions import (
    DEFAULT_CONVENTIONS,
    Conventions,
    QiYunConvention,
    ShenShaSchool,
    ZiHourConvention,
)
from fortune_core.events import EVENT_ID, Event, EventLog, later_id
from fortune_core.failpoints import failpoint
from fortune_core.ids import is_request_id, new_request_id, request_id_from
from fortune_core.kube import (
    MERGE_PATCH,
    KubeClient,
    KubeError,
    ResourceRef,
    Written,
    fortune_requests_path,
)
from fortune_core.lease import RedisLease
from fortune_core.lifecycle import (
    Claim,
    Dispatched,
    DispatchLostError,
    ExpiredRequestError,
    Lifecycle,
    NotAcceptedError,
    Skip,
    Skipped,
    Submission,
    UnknownRequestError,
    message_of,
)
from fortune_core.logs import configure_logging
from fortune_core.luck import LuckAt
from fortune_core.lunar_years import warm_in_background as warm_lunar_years
from fortune_core.probes import serve as serve_probes
from fortune_core.profile import DayAlmanac, DerivedProfile, day_almanac, derive_profile, luck_for
from fortune_core.prompt import PROMPT_VERSION, build_messages
from fortune_core.queue import (
    Publisher,
    PublishError,
    QueueBounds,
    QueueFullError,
    QueueMessage,
    dead_letter_queue,
    declare_topology,
    publisher_for,
    queue_bounds,
    requests_queue,
    retry_delay_ms,
)
from fortune_core.records import (
    FortuneRecord,
    client_records,
    connect_records,
    ensure_history_index,
    ensure_indexes,
    ensure_ttl_index,
    get_record,
)
from fortune_core.request import (
    DEFAULT_TTL_SECONDS_AFTER_FINISHED,
    MAX_TARGET_DATE,
    MIN_BIRTH_DATE,
    MIN_TARGET_DATE,
    NAME_FORBIDDEN_CATEGORIES,
    NAME_MAX_LENGTH,
    WEBHOOK_HTTPS_PATTERN,
    WEBHOOK_PATTERN,
    BirthProfile,
    FieldMessage,
    FortuneRequest,
    Language,
    time_zones,
    validate_request,
    webhook_target_problem,
)
from fortune_core.resource import (
    CLIENT_ANNOTATION,
    CRD_NAME,
    FINISHED_PHASES,
    GROUP,
    PLURAL,
    REQUEST_ID_ANNOTATION,
    UNFINISHED_SELECTOR,
    VERSION,
    crd,
    resource_name,
)
from fortune_core.result import (
    FortuneContent,
    FortuneResult,
    Usage,
    answer_character_bound,
    answer_token_bound,
    content_json_schema,
)
from fortune_core.reuse import Flight, ReuseIndex, ReuseScope, reading_facts, reading_identity
from fortune_core.settings import (
    BudgetSettings,
    CoreSettings,
    Settings,
    SweepSettings,
    WeChatSettings,
    group,
    setting,
)
from fortune_core.status import ACTIVE, TERMINAL, Status
from fortune_core.status_cache import StatusCache
from fortune_core.sweep import STANDALONE_SCOPE, Sweep, SweepReport, namespaces_scope
from fortune_core.views import RequestView, iso_millis
from fortune_core.webhook_queue import Delivery, WebhookQueue
from fortune_core.wechat import (
    CodeSession,
    ContentVerdict,
    WeChatClient,
    WeChatError,
    ask_to_notify,
    forget_openid,
    notification_key,
    openid_of,
    remember_openid,
    take_notification,
)

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022  (grouped by purpose, not sorted)
    # the request and what is derived from it
    "BirthProfile",
    "Conventions",
    "DEFAULT_CONVENTIONS",
    "DEFAULT_TTL_SECONDS_AFTER_FINISHED",
    "DayAlmanac",
    "DerivedProfile",
    "FieldMessage",
    "FortuneContent",
    "FortuneRequest",
    "FortuneResult",
    "Language",
    "LuckAt",
    "MAX_TARGET_DATE",
    "MIN_BIRTH_DATE",
    "MIN_TARGET_DATE",
    "NAME_FORBIDDEN_CATEGORIES",
    "NAME_MAX_LENGTH",
    "WEBHOOK_HTTPS_PATTERN",
    "WEBHOOK_PATTERN",
    "QiYunConvention",
    "ShenShaSchool",
    "Usage",
    "ZiHourConvention",
    "build_messages",
    "content_json_schema",
    "day_almanac",
    "derive_profile",
    "luck_for",
    "time_zones",
    "validate_request",
    "warm_lunar_years",
    "webhook_target_problem",
    # LLM cost: bounded answers, reuse of identical readings, token budgets
    "BudgetExhaustedError",
    "BudgetStatus",
    "Flight",
    "PROMPT_VERSION",
    "Reservation",
    "ReuseIndex",
    "ReuseScope",
    "TokenBudgets",
    "answer_character_bound",
    "answer_token_bound",
    "client_label",
    "reading_facts",
    "reading_identity",
    # the lifecycle: every transition, its projections, the sweep
    "ACTIVE",
    "Claim",
    "DispatchLostError",
    "Dispatched",
    "ExpiredRequestError",
    "Lifecycle",
    "NotAcceptedError",
    "RequestView",
    "STANDALONE_SCOPE",
    "Skip",
    "Skipped",
    "Status",
    "Submission",
    "Sweep",
    "SweepReport",
    "TERMINAL",
    "UnknownRequestError",
    "iso_millis",
    "message_of",
    "namespaces_scope",
    # stores and channels
    "FortuneRecord",
    "PublishError",
    "Publisher",
    "QueueBounds",
    "QueueFullError",
    "QueueMessage",
    "Delivery",
    "EVENT_ID",
    "Event",
    "EventLog",
    "RedisLease",
    "StatusCache",
    "WebhookQueue",
    "client_records",
    "connect_records",
    "dead_letter_queue",
    "declare_topology",
    "ensure_history_index",
    "ensure_indexes",
    "ensure_ttl_index",
    "get_record",
    "publisher_for",
    "queue_bounds",
    "requests_queue",
    "retry_delay_ms",
    # Kubernetes: the FortuneRequest and the API server
    "CLIENT_ANNOTATION",
    "CRD_NAME",
    "FINISHED_PHASES",
    "GROUP",
    "KubeClient",
    "KubeError",
    "MERGE_PATCH",
    "PLURAL",
    "REQUEST_ID_ANNOTATION",
    "ResourceRef",
    "UNFINISHED_SELECTOR",
    "VERSION",
    "Written",
    "crd",
    "fortune_requests_path",
    "resource_name",
    # WeChat: the server API, and the openid behind an identity
    "CodeSession",
    "ContentVerdict",
    "WeChatClient",
    "WeChatError",
    "ask_to_notify",
    "forget_openid",
    "notification_key",
    "openid_of",
    "remember_openid",
    "take_notification",
    # settings
    "BudgetSettings",
    "CoreSettings",
    "Settings",
    "SweepSettings",
    "WeChatSettings",
    "group",
    "setting",
    # plumbing
    "Clock",
    "configure_logging",
    "delays",
    "failpoint",
    "is_request_id",
    "jittered",
    "later_id",
    "new_request_id",
    "request_id_from",
    "serve_probes",
    "spread",
    "system_clock",
]
