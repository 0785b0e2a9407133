"""The operator's settings, from environment variables (all listed in docs/configuration.md)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, replace

from fortune_core.settings import CoreSettings, env_bool, env_float, env_int, env_str


@dataclass(frozen=True)
class OperatorSettings:
    """Grouped by concern; every field is one environment variable."""

    core: CoreSettings
    """Backends, retention, pool (shared with the API and the worker)."""

    namespaces: tuple[str, ...] = ()
    """FORTUNE_OPERATOR_NAMESPACES: namespaces to watch (comma-separated); empty: the operator's
    own namespace; `*`: the whole cluster (needs the chart's cluster-wide RBAC)."""
    concurrency: int = 8
    """FORTUNE_OPERATOR_CONCURRENCY: FortuneRequests reconciled at once."""

    stale_pending_seconds: float = 60.0
    """FORTUNE_STALE_PENDING_SECONDS: a request still pending after this long is queued again."""
    stale_queued_seconds: float = 600.0
    """FORTUNE_STALE_QUEUED_SECONDS: a queued request not picked up for this long (its message was
    lost, e.g. a purged queue) is queued again."""
    stale_running_seconds: float = 900.0
    """FORTUNE_STALE_RUNNING_SECONDS: a running request not updated for this long (its worker and
    its message are gone) is queued again; keep it above the LLM timeout times the attempts."""
    sweep_seconds: float = 10.0
    """FORTUNE_SWEEP_SECONDS: how often stale requests are looked for and statuses repaired."""

    leader_election: bool = True
    """FORTUNE_LEADER_ELECTION: hold a Lease so only one replica acts (true/false)."""
    lease_name: str = "cyberfortune-operator"
    """FORTUNE_LEADER_LEASE_NAME: the Lease (in the operator's namespace)."""
    lease_seconds: int = 15
    """FORTUNE_LEADER_LEASE_SECONDS: a leader that has not renewed for this long is replaced."""
    identity: str = field(default_factory=socket.gethostname)
    """POD_NAME (the downward API) or the host name: this replica's identity in the Lease."""

    port: int = 8080
    """FORTUNE_OPERATOR_PORT: /healthz, /readyz and /metrics."""
    log_level: str = "INFO"
    """FORTUNE_LOG_LEVEL (shared)."""

    @classmethod
    def from_env(cls) -> OperatorSettings:
        """Read the environment; ValueError names a bad variable."""
        raw_namespaces = os.environ.get("FORTUNE_OPERATOR_NAMESPACES", "")
        namespaces = tuple(n.strip() for n in raw_namespaces.split(",") if n.strip())
        return cls(
            core=CoreSettings.from_env(),
            namespaces=namespaces,
            concurrency=env_int("FORTUNE_OPERATOR_CONCURRENCY", 8, minimum=1),
            stale_pending_seconds=env_float("FORTUNE_STALE_PENDING_SECONDS", 60.0, minimum=1),
            stale_queued_seconds=env_float("FORTUNE_STALE_QUEUED_SECONDS", 600.0, minimum=1),
            stale_running_seconds=env_float("FORTUNE_STALE_RUNNING_SECONDS", 900.0, minimum=1),
            sweep_seconds=env_float("FORTUNE_SWEEP_SECONDS", 10.0, minimum=0.5),
            leader_election=env_bool("FORTUNE_LEADER_ELECTION", True),
            lease_name=os.environ.get("FORTUNE_LEADER_LEASE_NAME", "cyberfortune-operator"),
            lease_seconds=env_int("FORTUNE_LEADER_LEASE_SECONDS", 15, minimum=3),
            identity=os.environ.get("POD_NAME") or socket.gethostname(),
            port=env_int("FORTUNE_OPERATOR_PORT", 8080, minimum=1),
            log_level=env_str("FORTUNE_LOG_LEVEL", "INFO"),
        )

    def in_namespace(self, namespace: str) -> OperatorSettings:
        """These settings, watching `namespace` when no namespaces were configured."""
        return self if self.namespaces else replace(self, namespaces=(namespace,))

    @property
    def cluster_wide(self) -> bool:
        """Whether every namespace is watched."""
        return self.namespaces == ("*",)
