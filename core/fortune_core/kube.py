"""A small Kubernetes REST client for the components that run in a cluster, and the one way a
FortuneRequest's status is written.

Standard library only: the API creates FortuneRequests, the worker and the operator patch their
status, the operator also scales Deployments and holds a Lease; that is a handful of REST calls,
and the full `kubernetes` client would add tens of MB to every process. In-cluster configuration
(the ServiceAccount token, re-read on every request because the kubelet rotates it, the cluster CA,
KUBERNETES_SERVICE_HOST/PORT); one keep-alive HTTPS connection per thread.

A status write is one request: a JSON patch of the status subresource, never a read first. The
patch tests the resource's uid, so a FortuneRequest deleted and created again under the same
name is never given the old request's status (the API server answers 422), and it is ordered by
the MongoDB record's version (`status.recordVersion`): the CRD's validation rule refuses a status
older than the one shown (422), so two writers (operator and worker, two workers) can never leave
an older status on top of a newer one.
"""

from __future__ import annotations

import enum
import http.client
import json
import os
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fortune_core.resource import API_VERSION, GROUP, OLDER_STATUS_MESSAGE, PLURAL, VERSION

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


#: The message of the API server's bare 422 for a JSON patch that cannot be applied (apimachinery's
#: `NewGenericServerResponse`: no causes, the failed operation not named).
UNAPPLICABLE_PATCH = "the server rejected our request due to an error in our request"


class KubeError(Exception):
    """The API server refused a request (or could not be reached: status 0); `causes` are the
    Status's `details.causes` (`{"field", "message", "reason"}`: which field a 422 refused)."""

    def __init__(
        self, status: int, reason: str, message: str, causes: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes or []

    def says(self, text: str) -> bool:
        """Whether the refusal's message or one of its causes contains `text`."""
        return text in self.message or any(text in str(c.get("message", "")) for c in self.causes)


@dataclass(frozen=True)
class ResourceRef:
    """Which FortuneRequest: its namespace, name and, once it exists, its uid (a name can be
    reused by a new resource; the uid cannot)."""

    namespace: str
    name: str
    uid: str | None = None

    def as_dict(self) -> dict[str, str]:
        """JSON form (travels in the queue message and the MongoDB record)."""
        data = {"namespace": self.namespace, "name": self.name}
        if self.uid:
            data["uid"] = self.uid
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ResourceRef | None:
        """Parse the JSON form; None when absent or malformed."""
        if isinstance(data, dict) and data.get("namespace") and data.get("name"):
            uid = data.get("uid")
            return cls(str(data["namespace"]), str(data["name"]), str(uid) if uid else None)
        return None

    def same_resource(self, other: ResourceRef) -> bool:
        """Whether both name one resource (the uids agree wherever both are known)."""
        if (self.namespace, self.name) != (other.namespace, other.name):
            return False
        return self.uid is None or other.uid is None or self.uid == other.uid


class Written(enum.Enum):
    """What became of a status write."""

    WRITTEN = "written"
    NEWER_SHOWN = "newer"  # the resource already shows this record version or a newer one
    GONE = "gone"  # the resource was deleted


def fortune_requests_path(namespace: str, name: str | None = None) -> str:
    """REST path of the FortuneRequests of a namespace (or of one)."""
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{path}/{name}" if name else path


class KubeClient:
    """REST calls to the API server, authenticated with a bearer token file."""

    def __init__(
        self,
        host: str,
        port: int,
        token_file: Path,
        ca_file: Path,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        self.token_file = token_file
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._local = threading.local()

    @classmethod
    def in_cluster(cls, timeout: float = 10.0) -> KubeClient:
        """The client of the pod's ServiceAccount; RuntimeError outside a cluster."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host or not (SERVICE_ACCOUNT_DIR / "token").exists():
            raise RuntimeError(
                "not running in a Kubernetes pod (no KUBERNETES_SERVICE_HOST or no ServiceAccount "
                "token); FORTUNE_MODE=kubernetes needs one"
            )
        return cls(
            host, int(port), SERVICE_ACCOUNT_DIR / "token", SERVICE_ACCOUNT_DIR / "ca.crt", timeout
        )

    @staticmethod
    def own_namespace() -> str:
        """The namespace of the pod this runs in."""
        return (SERVICE_ACCOUNT_DIR / "namespace").read_text().strip()

    def _connection(self) -> http.client.HTTPSConnection:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self._ssl
            )
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Any:
        """One call; the decoded JSON answer. KubeError for any non-2xx answer."""
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        data = None if body is None else json.dumps(body).encode()
        headers = {
            "Authorization": f"Bearer {self.token_file.read_text().strip()}",
            "Accept": "application/json",
        }
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
            try:
                conn = self._connection()
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                if attempt == 2:
                    raise KubeError(0, "Unreachable", f"API server unreachable: {exc!r}") from exc
        answer = json.loads(raw) if raw else {}
        if response.status >= 300:
            status = answer if isinstance(answer, dict) else {}
            details = status.get("details") if isinstance(status.get("details"), dict) else {}
            causes = [c for c in (details or {}).get("causes") or [] if isinstance(c, dict)]
            raise KubeError(
                response.status,
                str(status.get("reason", response.reason)),
                str(status.get("message", raw[:300])),
                causes,
            )
        return answer

    # --- FortuneRequests ------------------------------------------------------------------

    def create_fortune_request(
        self,
        namespace: str,
        name: str,
        spec: dict[str, Any],
        labels: dict[str, str],
        annotations: dict[str, str],
    ) -> dict[str, Any]:
        """Create a FortuneRequest; KubeError 409 if one of that name exists."""
        body = {
            "apiVersion": API_VERSION,
            "kind": "FortuneRequest",
            "metadata": {"name": name, "labels": labels, "annotations": annotations},
            "spec": spec,
        }
        created: dict[str, Any] = self.request("POST", fortune_requests_path(namespace), body)
        return created

    def write_status(self, ref: ResourceRef, status: dict[str, Any]) -> Written:
        """Write `status` (from `resource.status_of`) in one JSON patch: WRITTEN, NEWER_SHOWN
        when the resource shows this record version or a newer one (the CRD's rule refused it),
        GONE when the resource of this uid no longer exists (deleted, or another of its name).

        The patch's first operation tests `metadata.uid` (the API server applies a JSON patch to
        the whole object, so the test sees the real uid; a uid in a merge patch of the status
        subresource would simply be dropped), the second sets the status."""
        path = fortune_requests_path(ref.namespace, ref.name) + "/status"
        patch: list[dict[str, Any]] = []
        if ref.uid:
            patch.append({"op": "test", "path": "/metadata/uid", "value": ref.uid})
        patch.append({"op": "add", "path": "/status", "value": status})
        try:
            self.request("PATCH", path, patch, JSON_PATCH)
        except KubeError as exc:
            if exc.status == 404:
                return Written.GONE
            if exc.status == 422 and exc.says(OLDER_STATUS_MESSAGE):
                return Written.NEWER_SHOWN
            if exc.status == 422 and ref.uid and not exc.causes and exc.says(UNAPPLICABLE_PATCH):
                # The patch could not be applied, and of its two operations only the uid test
                # can fail: a new resource has the old name. (The API server answers a failed
                # JSON patch test with a bare 422 that names neither the operation nor the path,
                # so this is the way to know it without reading the resource.)
                return Written.GONE
            raise
        return Written.WRITTEN

    def delete_fortune_request(self, ref: ResourceRef) -> None:
        """Delete a FortuneRequest (with its uid as a precondition when known, so a newer one of
        the same name is never deleted); one already gone is no error."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if ref.uid:
            body["preconditions"] = {"uid": ref.uid}
        try:
            self.request("DELETE", fortune_requests_path(ref.namespace, ref.name), body)
        except KubeError as exc:
            if exc.status not in (404, 409):
                raise

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop_connection()
