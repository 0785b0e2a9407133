"""The operator's settings: every environment variable it reads, declared once with its default
and meaning (`fortune_core.settings`; all of them are listed in docs/configuration.md)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace

from fortune_core import CoreSettings, Settings, SweepSettings, group, setting


@dataclass(frozen=True)
class OperatorSettings(Settings):
    """Grouped by concern: backends and the sweep are shared with the other components."""

    core: CoreSettings = group(CoreSettings)
    sweep: SweepSettings = group(SweepSettings)
    namespaces: tuple[str, ...] = setting(
        "FORTUNE_OPERATOR_NAMESPACES",
        (),
        shown_default="the operator's own namespace",
        doc="namespaces to watch (comma-separated); `*`: the whole cluster",
    )
    concurrency: int = setting(
        "FORTUNE_OPERATOR_CONCURRENCY", 8, minimum=1, doc="FortuneRequests reconciled at once"
    )
    leader_election: bool = setting(
        "FORTUNE_LEADER_ELECTION", True, doc="hold a Lease so only one replica acts"
    )
    lease_name: str = setting(
        "FORTUNE_LEADER_LEASE_NAME", "cyberfortune-operator", doc="the Lease's name"
    )
    lease_seconds: int = setting(
        "FORTUNE_LEADER_LEASE_SECONDS",
        15,
        minimum=3,
        doc="a leader that has not renewed for this long is replaced",
    )
    identity: str = setting(
        "POD_NAME",
        factory=socket.gethostname,
        shown_default="the host name",
        doc="this replica's identity in the Lease",
    )
    port: int = setting(
        "FORTUNE_OPERATOR_PORT", 8080, minimum=1, doc="/healthz, /readyz and /metrics"
    )

    def in_namespace(self, namespace: str) -> OperatorSettings:
        """These settings, watching `namespace` when no namespaces were configured."""
        return self if self.namespaces else replace(self, namespaces=(namespace,))

    @property
    def cluster_wide(self) -> bool:
        """Whether every namespace is watched."""
        return self.namespaces == ("*",)
