"""Which worker pools exist: a FortuneRequest naming a pool that no Deployment serves would wait in
a queue nobody consumes, so the operator fails it at once (see reconcile.py).

The autoscaler already knows the labelled Deployments it watches; a pool it does not know yet (the
operator has just started, its Deployment listing not in yet) is looked up with one LIST of the
watched namespaces' Deployments by label, so no request is failed by a race at start-up.
"""

from __future__ import annotations

from collections.abc import Callable

from fortune_core import KubeClient
from fortune_operator.autoscaler import Autoscaler
from fortune_operator.scaling import POOL_LABEL
from fortune_operator.settings import OperatorSettings


def pool_directory(
    settings: OperatorSettings, autoscaler: Autoscaler, kube: KubeClient
) -> Callable[[str], bool]:
    """`served(pool)`: whether a watched Deployment is labelled for `pool` (KubeError when the
    API server cannot tell: the reconcile is retried)."""

    def served(pool: str) -> bool:
        if autoscaler.served.get(pool):
            return True
        query = {"labelSelector": f"{POOL_LABEL}={pool}", "limit": "1"}
        if settings.cluster_wide:
            paths = ["/apis/apps/v1/deployments"]
        else:
            paths = [f"/apis/apps/v1/namespaces/{ns}/deployments" for ns in settings.namespaces]
        return any(kube.request("GET", path, query=query).get("items") for path in paths)

    return served
