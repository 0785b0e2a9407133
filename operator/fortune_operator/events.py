"""Kubernetes Events about the objects the operator acts on (core/v1 Events, like kubectl shows
under `kubectl describe`). Posting never fails the caller: an Event is a courtesy, not state."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from typing import Any

from fortune_core import KubeClient, KubeError

log = logging.getLogger(__name__)
COMPONENT = "cyberfortune-operator"
EventPoster = Callable[[dict[str, Any], str, str, str], None]
"""(object body, type Normal|Warning, reason, message)."""


def event_poster(kube: KubeClient, host: str) -> EventPoster:
    """A poster that writes Events through `kube`, as `host` (the reporting instance)."""

    def post(body: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = body["metadata"]
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{os.urandom(8).hex()}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": body.get("apiVersion", ""),
                "kind": body.get("kind", ""),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT, "host": host},
            "reportingComponent": COMPONENT,
            "reportingInstance": host,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            kube.request("POST", f"/api/v1/namespaces/{meta['namespace']}/events", event)
        except KubeError as exc:
            log.warning(
                "could not post event %s on %s/%s: %s", reason, meta["namespace"], meta["name"], exc
            )

    return post
