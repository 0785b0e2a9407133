"""The operator's sweep: `fortune_core.sweep` over the requests of the watched namespaces.

A stuck request whose FortuneRequest no longer exists (deleted while the operator was down) is
cancelled instead of being sent on: `resource_gone` asks the API server, once per stuck request
(a GET, so only requests the sweep acts on cost a call). The sweep reads indexed MongoDB ranges,
so its cost is what it finds, never the number of live FortuneRequests.
"""

from __future__ import annotations

from collections.abc import Callable

from fortune_core import (
    KubeClient,
    KubeError,
    Lifecycle,
    ResourceRef,
    Sweep,
    fortune_requests_path,
    namespaces_scope,
)
from fortune_operator.settings import OperatorSettings

_NOT_FOUND = 404


def resource_gone(kube: KubeClient) -> Callable[[ResourceRef], bool]:
    """Whether a FortuneRequest no longer exists (other API server errors are raised)."""

    def gone(ref: ResourceRef) -> bool:
        try:
            kube.request("GET", fortune_requests_path(ref.namespace, ref.name))
        except KubeError as exc:
            if exc.status != _NOT_FOUND:
                raise
            return True
        return False

    return gone


def operator_sweep(
    settings: OperatorSettings,
    lifecycle: Lifecycle,
    kube: KubeClient,
    queue_depth: Callable[[str], int],
) -> Sweep:
    """The sweep of the namespaces `settings` watch."""
    namespaces = None if settings.cluster_wide else settings.namespaces
    return Sweep(
        lifecycle,
        settings.sweep,
        scope=namespaces_scope(namespaces),
        queue_depth=queue_depth,
        resource_gone=resource_gone(kube),
    )
