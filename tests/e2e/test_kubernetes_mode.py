"""Kubernetes mode end to end: the chart installed on the local cluster (our images as pods, the
stand-in backends bundled), the fake LLM on the host behind a fixed latency. FortuneRequests made
with kubectl and through the HTTP API, a burst that scales a pool from zero and back, the operator
killed mid-burst, a purged queue, TTL garbage collection and each component's rights."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_cluster import Cluster, Release, install, wait_rollout
from fakes.fake_llm import FakeLLM
from fakes.fake_wechat import FakeWeChat
from kubernetes import client, watch

from controlplane import keda as keda_manifests
from controlplane.network import NODE_IP
from fortune_core import KubeClient, ResourceRef, Written
from fortune_core.resource import GROUP, PLURAL, VERSION, resource_name
from localservices.supervisor import wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "fortunerequest.yaml"
LLM_LATENCY = 0.5
BODY = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "career",
    "language": "en",
}


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    """The fake OpenAI-compatible server on the node address, so pods reach it."""
    with FakeLLM(host=NODE_IP, latency=LLM_LATENCY) as llm:
        yield llm


@pytest.fixture(scope="module")
def fake_wechat() -> Iterator[FakeWeChat]:
    """The fake WeChat server API on the node address, so the API's pods reach it."""
    fake = FakeWeChat().start(host=NODE_IP)
    try:
        yield fake
    finally:
        fake.stop()


def release_values(fake_llm: FakeLLM, fake_wechat: FakeWeChat) -> dict[str, Any]:
    """The e2e releases' values: workers from zero, short stale timeouts, the fake LLM, the
    WeChat app pointed at the fake WeChat server."""
    return {
        "api": {"rateLimitPerMinute": 100000, "pollRateLimitPerMinute": 100000},
        "operator": {
            "stalePendingSeconds": 5,
            "staleQueuedSeconds": 12,
            "staleRunningSeconds": 120,
            "sweepSeconds": 1,
        },
        "workers": {
            "pools": [
                {
                    "name": "default",
                    "concurrency": 8,
                    "minReplicas": 0,
                    "maxReplicas": 4,
                    "targetBacklogPerReplica": 8,
                    "activationBacklog": 0,
                    "scaleDownDelaySeconds": 8,
                    "pollSeconds": 1,
                    "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}},
                }
            ]
        },
        "llm": {
            "provider": "openai",
            "baseUrl": fake_llm.base_url,
            "apiKey": "sk-e2e",
            "timeoutSeconds": 30,
            "globalConcurrency": 32,
            "reuse": False,  # these tests count one LLM call per request of the same body
        },
        "wechat": {
            "appId": fake_wechat.app_id,
            "appSecret": fake_wechat.app_secret,
            "apiBase": fake_wechat.base_url,
        },
    }


def install_release(
    cluster: Cluster, values: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Release:
    """The chart with `values` in a fresh namespace."""
    namespace = f"cf-e2e-{uuid.uuid4().hex[:8]}"
    path = tmp_path_factory.mktemp("values") / "e2e.yaml"
    path.write_text(yaml.safe_dump(values))
    return install(cluster, "cyberfortune", namespace, values=[path])


@pytest.fixture(scope="module")
def release(
    cluster: Cluster,
    fake_llm: FakeLLM,
    fake_wechat: FakeWeChat,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Release]:
    """The chart in a fresh namespace with `release_values`."""
    installed = install_release(cluster, release_values(fake_llm, fake_wechat), tmp_path_factory)
    yield installed
    cluster.kubectl("delete", "namespace", installed.namespace, "--wait=false")


@pytest.fixture
def llm(fake_llm: FakeLLM) -> FakeLLM:
    """The fake LLM, counters reset."""
    fake_llm.reset()
    return fake_llm


def custom(release: Release) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(release.cluster.admin_client())


def fortune_request(release: Release, name: str) -> dict[str, Any] | None:
    """The FortuneRequest `name`, or None when it does not exist."""
    try:
        found: dict[str, Any] = custom(release).get_namespaced_custom_object(
            GROUP, VERSION, release.namespace, PLURAL, name
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return found


def phase(release: Release, name: str) -> str | None:
    found = fortune_request(release, name)
    return ((found or {}).get("status") or {}).get("phase")


def api(
    release: Release,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One call to the release's API through its ClusterIP (kube-proxy routes it from the host)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(release.api_url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def finished(release: Release, request_id: str) -> dict[str, Any] | None:
    """The API's view of a request once it finished (None while in flight)."""
    status, body, _ = api(release, "GET", f"/v1/fortunes/{request_id}")
    assert status == 200, body
    return body if body["status"] not in ("pending", "queued", "running") else None


def worker_replicas(release: Release) -> int:
    apps = client.AppsV1Api(release.cluster.admin_client())
    scale = apps.read_namespaced_deployment_scale(
        release.component("worker-default"), release.namespace
    )
    return int(scale.spec.replicas or 0)


def worker_pods(release: Release) -> list[str]:
    """The pool's worker pods that still exist (terminating ones included: they may still be
    finishing or giving back what they took)."""
    core = client.CoreV1Api(release.cluster.admin_client())
    selector = "app.kubernetes.io/component=worker"
    return [
        p.metadata.name
        for p in core.list_namespaced_pod(release.namespace, label_selector=selector).items
    ]


def wait_pool_asleep(release: Release) -> None:
    """The pool at zero replicas and its last worker gone (a scale patch to zero leaves the
    workers running until they have stopped)."""
    wait_for(
        lambda: worker_replicas(release) == 0 and not worker_pods(release),
        120,
        "the worker pool back at zero, its workers gone",
        0.5,
    )


def test_kubectl_apply_queues_runs_and_finishes_a_fortune_request(
    release: Release, llm: FakeLLM
) -> None:
    name = "xiaoman-career"
    phases: list[str] = []
    stop = threading.Event()

    def record_phases() -> None:
        stream = watch.Watch().stream(
            custom(release).list_namespaced_custom_object,
            GROUP,
            VERSION,
            release.namespace,
            PLURAL,
            field_selector=f"metadata.name={name}",
            timeout_seconds=120,
        )
        for event in stream:
            seen = (event["object"].get("status") or {}).get("phase")
            if seen and (not phases or phases[-1] != seen):
                phases.append(seen)
            if seen == "Succeeded" or stop.is_set():
                return

    watcher = threading.Thread(target=record_phases, daemon=True)
    watcher.start()
    release.kubectl("apply", "-f", str(EXAMPLE))
    watcher.join(120)
    stop.set()
    assert phases[-1:] == ["Succeeded"], phases
    # Two status writes a reading: Queued and the outcome (running shows in the HTTP API).
    assert set(phases) <= {"Queued", "Succeeded"}, phases

    resource = fortune_request(release, name)
    assert resource is not None
    status = resource["status"]
    assert status["attempts"] == 1 and status["summary"]
    assert set(status["scores"]) == {"overall", "career", "love", "wealth", "health", "study"}
    assert [c["type"] for c in status["conditions"]] == ["Accepted", "Complete"]
    assert events_of(release, name) == []  # Events only where a person needs one
    wide = release.kubectl("get", "fr", name, "-o", "wide").stdout
    assert "Succeeded" in wide and status["summary"][:20] in wide

    # The reading itself is in MongoDB, served by the API under status.requestId.
    reading = finished(release, status["requestId"])
    assert reading is not None and reading["status"] == "succeeded"
    assert reading["result"]["summary"] == status["summary"]
    assert llm.calls(status["requestId"]) == 1


def test_an_invalid_spec_is_rejected_by_the_api_server_with_field_and_reason(
    release: Release,
) -> None:
    bad = EXAMPLE.read_text().replace('birthDate: "1990-05-17"', 'birthDate: "1990-5-17"')
    bad = bad.replace("topic: career", "topic: fame").replace("xiaoman-career", "bad-input")
    refused = release.kubectl("apply", "-f", "-", input=bad, check=False)
    assert refused.returncode != 0
    assert "spec.profile.birthDate" in refused.stderr and "should match" in refused.stderr
    assert 'spec.topic: Unsupported value: "fame"' in refused.stderr
    assert fortune_request(release, "bad-input") is None


def test_a_date_the_schema_cannot_check_fails_with_the_field_and_reason(release: Release) -> None:
    # February 30th matches the pattern; only our validation knows it is no date.
    bad = (
        EXAMPLE.read_text()
        .replace("1990-05-17", "1990-02-30")
        .replace("xiaoman-career", "no-such-day")
    )
    release.kubectl("apply", "-f", "-", input=bad)
    wait_for(lambda: phase(release, "no-such-day") == "Failed", 60, "phase Failed", 0.25)
    resource = fortune_request(release, "no-such-day")
    assert resource is not None
    assert "spec.profile.birthDate: is not a real date" in resource["status"]["message"]
    described = release.kubectl("describe", "fr", "no-such-day").stdout
    assert "InvalidSpec" in described


def test_the_http_api_creates_fortune_requests_and_keeps_its_contract(
    release: Release, llm: FakeLLM
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    status, accepted, headers = api(release, "POST", "/v1/fortunes", BODY, key)
    assert status == 202, accepted
    request_id = accepted["id"]
    assert accepted["status"] == "pending" and headers["Location"] == f"/v1/fortunes/{request_id}"
    again, replayed, replay_headers = api(release, "POST", "/v1/fortunes", BODY, key)
    assert (again, replayed["id"], replay_headers["Idempotent-Replayed"]) == (
        202,
        request_id,
        "true",
    )

    resource = fortune_request(release, resource_name(request_id))
    assert resource is not None, "the API creates the FortuneRequest"
    annotations = resource["metadata"]["annotations"]
    assert annotations["cyberfortune.io/request-id"] == request_id
    assert resource["metadata"]["labels"]["cyberfortune.io/topic"] == "career"

    reading = wait_for(lambda: finished(release, request_id), 120, "the reading", 0.25)
    assert reading["status"] == "succeeded" and reading["result"]["scores"]
    wait_for(lambda: phase(release, resource_name(request_id)) == "Succeeded", 30, "status", 0.25)
    assert llm.calls(request_id) == 1


def test_a_wechat_identity_reaches_the_operator_as_the_trusted_annotation(
    release: Release, fake_wechat: FakeWeChat
) -> None:
    openid = f"o-e2e-{uuid.uuid4().hex[:8]}"

    def login(who: str) -> dict[str, str]:
        status, body, _ = api(
            release, "POST", "/v1/sessions/wechat", {"code": fake_wechat.login_code(who)}
        )
        assert status == 200, body
        return {"Authorization": f"Bearer {body['token']}"}

    phone1, phone2, stranger = login(openid), login(openid), login(openid + "-other")
    status, accepted, _ = api(release, "POST", "/v1/fortunes", BODY, phone1)
    assert status == 202, accepted
    request_id = accepted["id"]
    resource = fortune_request(release, resource_name(request_id))
    assert resource is not None
    client_annotation = resource["metadata"]["annotations"]["cyberfortune.io/client"]
    assert client_annotation.startswith("user:")
    text = json.dumps(resource)
    assert openid not in text  # the identity, never the openid, nor the session key
    assert not any(key in text for key in fake_wechat.stats()["sessionKeys"])

    # the operator's record carries the same identity: ownership and history hold across phones
    wait_for(lambda: api(release, "GET", f"/v1/fortunes/{request_id}", headers=phone2)[0] == 200,
             60, "the reading on the second phone", 0.25)  # fmt: skip
    assert api(release, "GET", f"/v1/fortunes/{request_id}", headers=stranger)[0] == 404
    assert api(release, "GET", f"/v1/fortunes/{request_id}")[0] == 404
    status, listed, _ = api(release, "GET", "/v1/fortunes", headers=phone2)
    assert status == 200 and [item["id"] for item in listed["items"]] == [request_id]
    assert api(release, "GET", "/v1/fortunes", headers=stranger)[1]["items"] == []

    def done() -> bool:
        body = api(release, "GET", f"/v1/fortunes/{request_id}", headers=phone1)[1]
        return body["status"] == "succeeded"

    wait_for(done, 120, "the reading", 0.25)
    status, _, _ = api(release, "DELETE", f"/v1/fortunes/{request_id}", headers=phone2)
    assert status == 204
    assert api(release, "GET", f"/v1/fortunes/{request_id}", headers=phone1)[0] == 404
    wait_for(lambda: fortune_request(release, resource_name(request_id)) is None, 30,
             "the FortuneRequest deleted with the reading", 0.25)  # fmt: skip


def test_an_api_server_refusal_answers_503_and_leaves_nothing(release: Release) -> None:
    binding = release.kubectl("get", "rolebinding", release.component("api"), "-o", "json").stdout
    before = len(
        custom(release).list_namespaced_custom_object(GROUP, VERSION, release.namespace, PLURAL)[
            "items"
        ]
    )
    release.kubectl("delete", "rolebinding", release.component("api"))
    try:

        def refused() -> dict[str, Any] | None:
            status, body, _ = api(release, "POST", "/v1/fortunes", BODY)
            return body if status == 503 else None  # RBAC changes reach the authorizer promptly

        answer = wait_for(refused, 30, "the API to be refused by the API server", 0.5)
        assert answer["error"]["backend"] == "kubernetes"
    finally:
        kept = json.loads(binding)
        for field in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            kept["metadata"].pop(field, None)
        release.kubectl("apply", "-f", "-", input=json.dumps(kept))
    after = len(
        custom(release).list_namespaced_custom_object(GROUP, VERSION, release.namespace, PLURAL)[
            "items"
        ]
    )
    assert after == before


def burst(release: Release, llm: FakeLLM, count: int = 200) -> None:
    """The burst test of a pool's scaler, whichever it is: `count` requests on a sleeping pool
    all succeed with one LLM call each, the pool grows beyond one replica on the way and goes
    back to zero afterwards without losing or repeating anything."""
    wait_pool_asleep(release)

    def submit(_: int) -> str:
        status, body, _headers = api(release, "POST", "/v1/fortunes", BODY)
        assert status == 202, body
        return str(body["id"])

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(submit, range(count)))
    peak = 0

    def all_done() -> bool:
        nonlocal peak
        peak = max(peak, worker_replicas(release))
        return all(finished(release, request_id) for request_id in ids)

    wait_for(all_done, 300, f"{count} readings", 1.0)
    statuses = {finished(release, request_id)["status"] for request_id in ids}  # type: ignore[index]
    assert statuses == {"succeeded"}
    assert peak > 1, "the pool grew beyond one replica"
    calls = llm.stats()["calls"]
    assert all(calls.get(request_id) == 1 for request_id in ids), "exactly one LLM call each"
    assert llm.stats()["total"] == count
    # Back to the minimum once the delay has passed, without losing or repeating anything.
    wait_pool_asleep(release)
    assert llm.stats()["total"] == count


def kubectl_events(release: Release, name: str, kind: str = "Deployment") -> str:
    """`kubectl get events` of the object `kind`/`name` in the release's namespace."""
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    return str(release.kubectl("get", "events", "--field-selector", selector).stdout)


def test_a_burst_scales_the_pool_from_zero_and_back_with_one_llm_call_each(
    release: Release, llm: FakeLLM
) -> None:
    burst(release, llm)
    events = kubectl_events(release, release.component("worker-default"))
    assert "ScaledUp" in events and "ScaledDown" in events


def test_operator_killed_mid_burst_loses_nothing_and_calls_the_llm_once_each(
    release: Release, llm: FakeLLM
) -> None:
    count = 120
    ids: list[str] = []
    half = threading.Event()

    def submit_all() -> None:
        for n in range(count):
            ids.append(api(release, "POST", "/v1/fortunes", BODY)[1]["id"])
            if n == count // 3:
                half.set()

    submitter = threading.Thread(target=submit_all)
    submitter.start()
    half.wait(120)
    # kill -9 of the operator's container while the burst is still arriving and being queued.
    operators = [
        c
        for c in release.cluster.containers(release.namespace)
        if c["metadata"]["name"] == "operator"
    ]
    assert len(operators) == 1
    assert release.cluster.local is not None
    stopped = release.cluster.local.node.crictl("stop", "--timeout", "0", operators[0]["id"])
    assert stopped.returncode == 0, stopped.stderr
    submitter.join(300)
    assert len(ids) == count
    wait_for(lambda: all(finished(release, i) for i in ids), 300, f"{count} readings", 1.0)
    assert {finished(release, i)["status"] for i in ids} == {"succeeded"}  # type: ignore[index]
    calls = llm.stats()["calls"]
    assert [i for i in ids if calls.get(i) != 1] == []
    pods = release.kubectl(
        "get", "pods", "-l", "app.kubernetes.io/component=operator", "-o", "json"
    )
    operator_status = json.loads(pods.stdout)["items"][0]["status"]
    assert operator_status["containerStatuses"][0]["restartCount"] >= 1


def events_of(release: Release, name: str) -> list[str]:
    """The reasons of the Events about the FortuneRequest `name`."""
    core = client.CoreV1Api(release.cluster.admin_client())
    found = core.list_namespaced_event(
        release.namespace, field_selector=f"involvedObject.name={name}"
    )
    return [event.reason for event in found.items]


def _annotate_pool(release: Release, **annotations: str) -> None:
    args = [f"cyberfortune.io/{k.replace('_', '-')}={v}" for k, v in annotations.items()]
    release.kubectl(
        "annotate", "deployment", release.component("worker-default"), "--overwrite", *args
    )


def test_a_purged_queue_is_requeued_by_the_stale_sweep(release: Release, llm: FakeLLM) -> None:
    # Keep the pool asleep (a change of annotation takes effect at the next poll), queue five.
    _annotate_pool(release, activation_backlog="1000")
    try:
        wait_pool_asleep(release)
        ids = [api(release, "POST", "/v1/fortunes", BODY)[1]["id"] for _ in range(5)]
        wait_for(
            lambda: all(phase(release, resource_name(i)) == "Queued" for i in ids),
            60,
            "queued",
            0.25,
        )
        # Purge the pool's queue through RabbitMQ's management API.
        management = release.secret_value(f"{release.fullname}-backends", "rabbitmq-management-url")
        purge_url = management.replace(
            f"{release.fullname}-rabbitmq", _service_ip(release, "rabbitmq")
        )
        _purge(purge_url, "cyberfortune.requests.default")
    finally:
        _annotate_pool(release, activation_backlog="0")
    wait_for(lambda: all(finished(release, i) for i in ids), 120, "the purged requests", 0.5)
    readings = [finished(release, i) for i in ids]
    assert {r["status"] for r in readings} == {"succeeded"}  # type: ignore[index]
    assert [llm.calls(i) for i in ids] == [1] * 5
    assert all(r["attempts"] == 1 for r in readings)  # type: ignore[index]


def _service_ip(release: Release, component: str) -> str:
    return release.kubectl(
        "get", "service", release.component(component), "-o", "jsonpath={.spec.clusterIP}"
    ).stdout


def _purge(management_url: str, queue: str) -> None:
    import base64
    import urllib.parse

    parts = urllib.parse.urlsplit(management_url)
    url = f"{parts.scheme}://{parts.hostname}:{parts.port}/api/queues/%2F/{queue}/contents"
    request = urllib.request.Request(url, method="DELETE")
    token = base64.b64encode(
        f"{parts.username}:{urllib.parse.unquote(parts.password or '')}".encode()
    )
    request.add_header("Authorization", f"Basic {token.decode()}")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 204)


def test_finished_resources_go_after_their_ttl_and_their_reading_stays(release: Release) -> None:
    short = EXAMPLE.read_text().replace(
        "ttlSecondsAfterFinished: 3600", "ttlSecondsAfterFinished: 2"
    )
    short = short.replace("xiaoman-career", "short-lived")
    release.kubectl("apply", "-f", "-", input=short)
    wait_for(lambda: phase(release, "short-lived") == "Succeeded", 120, "Succeeded", 0.25)
    resource = fortune_request(release, "short-lived")
    assert resource is not None
    request_id = resource["status"]["requestId"]
    wait_for(lambda: fortune_request(release, "short-lived") is None, 60, "the TTL deletion", 0.25)
    reading = finished(release, request_id)
    assert reading is not None and reading["status"] == "succeeded"


@pytest.mark.parametrize(
    ("component", "allowed", "refused"),
    [
        (
            "api",
            [
                "create fortunerequests.cyberfortune.io",
                "get fortunerequests.cyberfortune.io",
                "delete fortunerequests.cyberfortune.io",  # a user deleting a finished reading
            ],
            [
                "patch fortunerequests.cyberfortune.io --subresource=status",
                "list fortunerequests.cyberfortune.io",
                "get secrets",
            ],
        ),
        (
            "worker",
            ["patch fortunerequests.cyberfortune.io --subresource=status"],
            [
                "get fortunerequests.cyberfortune.io --subresource=status",
                "create fortunerequests.cyberfortune.io",
                "get fortunerequests.cyberfortune.io",
                "delete fortunerequests.cyberfortune.io",
                "get secrets",
            ],
        ),
        (
            "operator",
            [
                "watch fortunerequests.cyberfortune.io",
                "delete fortunerequests.cyberfortune.io",
                "patch fortunerequests.cyberfortune.io --subresource=status",
                "patch deployments.apps --subresource=scale",
                "create events",
            ],
            [
                "create fortunerequests.cyberfortune.io",
                "patch deployments.apps",
                "get secrets",
                "create pods",
            ],
        ),
    ],
)
def test_each_component_has_exactly_the_rights_it_needs(
    release: Release, component: str, allowed: list[str], refused: list[str]
) -> None:
    account = f"system:serviceaccount:{release.namespace}:{release.component(component)}"

    def can(check: str) -> str:
        out = release.kubectl("auth", "can-i", *check.split(), "--as", account, check=False)
        return out.stdout.strip()

    assert {check: can(check) for check in allowed} == dict.fromkeys(allowed, "yes")
    assert {check: can(check) for check in refused} == dict.fromkeys(refused, "no")


def _leader_gauge(release: Release, pod: str) -> str:
    code = (
        "import urllib.request; text = urllib.request.urlopen('http://127.0.0.1:8080/metrics')"
        ".read().decode(); print([l for l in text.splitlines()"
        " if l.startswith('cyberfortune_operator_leader ')][0].split()[1])"
    )
    return release.kubectl("exec", pod, "--", "python", "-c", code).stdout.strip()


def test_two_operators_one_leads_and_hands_over_on_a_graceful_stop(
    release: Release, llm: FakeLLM
) -> None:
    name = release.component("operator")
    release.kubectl("scale", "deployment", name, "--replicas=2")
    release.kubectl("rollout", "status", f"deployment/{name}", "--timeout=120s")
    core = client.CoreV1Api(release.cluster.admin_client())
    selector = "app.kubernetes.io/component=operator"

    def pods() -> list[str]:
        items = core.list_namespaced_pod(release.namespace, label_selector=selector).items
        return [p.metadata.name for p in items if p.metadata.deletion_timestamp is None]

    coordination = client.CoordinationV1Api(release.cluster.admin_client())

    def holder() -> str:
        lease = coordination.read_namespaced_lease(name, release.namespace)
        return str(lease.spec.holder_identity or "")

    leader = wait_for(lambda: holder() in pods() and holder(), 60, "a leader among the pods", 0.5)
    gauges = {pod: _leader_gauge(release, pod) for pod in pods()}
    assert sorted(gauges.values()) == ["0.0", "1.0"] and gauges[leader] == "1.0", gauges

    # The leader stops on SIGTERM (exit 0, not killed at the end of its grace period) and the
    # standby takes the Lease and serves.
    final: dict[str, Any] = {}

    def watch_exit() -> None:
        for event in watch.Watch().stream(
            core.list_namespaced_pod,
            release.namespace,
            field_selector=f"metadata.name={leader}",
            timeout_seconds=90,
        ):
            for status in event["object"].status.container_statuses or []:
                if status.state.terminated is not None:
                    final["state"] = status.state.terminated
                    return

    watcher = threading.Thread(target=watch_exit)
    watcher.start()
    core.delete_namespaced_pod(leader, release.namespace)
    watcher.join(90)
    assert final["state"].exit_code == 0, final["state"]
    successor = wait_for(lambda: holder() not in ("", leader) and holder(), 60, "a new leader", 0.5)
    assert successor in pods()
    status, accepted, _ = api(release, "POST", "/v1/fortunes", BODY)
    assert status == 202
    reading = wait_for(lambda: finished(release, accepted["id"]), 120, "a reading", 0.5)
    assert reading["status"] == "succeeded"
    release.kubectl("scale", "deployment", name, "--replicas=1")


# --- the cluster trusts only what it should ---------------------------------------------------


def _example(name: str, **changes: Any) -> dict[str, Any]:
    body = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"] = {"name": name, **changes.pop("metadata", {})}
    body["spec"].update(changes)
    return dict(body)


def test_only_the_api_may_set_the_annotations_the_operator_trusts(release: Release) -> None:
    """A ValidatingAdmissionPolicy: anyone else who may create or update FortuneRequests (here
    the cluster admin) is refused the cyberfortune.io/* annotations; the API's ServiceAccount is
    not."""
    forged = _example(
        "forged", metadata={"annotations": {"cyberfortune.io/client": "key:someone-else"}}
    )
    refused = release.kubectl("create", "-f", "-", input=json.dumps(forged), check=False)
    assert refused.returncode != 0
    assert "only the CyberFortune API may set or change" in refused.stderr
    api_account = f"system:serviceaccount:{release.namespace}:{release.component('api')}"
    allowed = release.kubectl(
        "create", "-f", "-", "--as", api_account, input=json.dumps(forged), check=False
    )
    assert allowed.returncode == 0, allowed.stderr
    release.kubectl("apply", "-f", "-", input=json.dumps(_example("plain")))
    changed = release.kubectl(
        "annotate", "fr", "plain", "cyberfortune.io/request-id=01KB4ZB2X3V4W5X6Y7Z8A9B0C1",
        check=False,
    )  # fmt: skip
    assert changed.returncode != 0 and "only the CyberFortune API" in changed.stderr
    release.kubectl("delete", "fr", "forged", "plain", "--wait=false")


def _worker_kube_client(release: Release, tmp_path: Path) -> KubeClient:
    """A `KubeClient` as the release's workers have it: their ServiceAccount's token (from the
    TokenRequest API) against the API server of the admin kubeconfig."""
    token = release.kubectl("create", "token", release.component("worker")).stdout.strip()
    (tmp_path / "token").write_text(token)
    server = yaml.safe_load(release.cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    if "certificate-authority-data" in server:
        ca = tmp_path / "ca.crt"
        ca.write_bytes(base64.b64decode(server["certificate-authority-data"]))
    else:
        ca = Path(server["certificate-authority"])
    url = urllib.parse.urlsplit(server["server"])
    assert url.hostname is not None and url.port is not None
    return KubeClient(url.hostname, url.port, tmp_path / "token", ca)


def test_a_status_write_of_an_old_resource_never_lands_on_a_new_one_of_its_name(
    release: Release, tmp_path: Path
) -> None:
    """Status writes carry the resource's uid: a late write for a FortuneRequest that was
    deleted and created again under the same name is refused (its uid test fails), and the new
    resource gets a request of its own."""
    _annotate_pool(release, activation_backlog="1000")
    try:
        wait_pool_asleep(release)
        release.kubectl("apply", "-f", "-", input=json.dumps(_example("again")))
        wait_for(lambda: phase(release, "again") == "Queued", 60, "queued", 0.25)
        first = fortune_request(release, "again")
        assert first is not None
        release.kubectl("delete", "fr", "again")
        release.kubectl("apply", "-f", "-", input=json.dumps(_example("again")))
        wait_for(lambda: phase(release, "again") == "Queued", 60, "queued again", 0.25)
        second = fortune_request(release, "again")
        assert second is not None
        assert second["metadata"]["uid"] != first["metadata"]["uid"]
        assert second["status"]["requestId"] != first["status"]["requestId"]
        # The write a worker of the first request would make, late: the production call
        # (`KubeClient.write_status`, a JSON patch testing the uid, then setting the status) with
        # the workers' own ServiceAccount token. It is refused; nothing changes.
        late = _worker_kube_client(release, tmp_path).write_status(
            ResourceRef(release.namespace, "again", first["metadata"]["uid"]), first["status"]
        )
        assert late is Written.GONE
        shown = fortune_request(release, "again")
        assert shown is not None and shown["status"]["requestId"] == second["status"]["requestId"]
    finally:
        _annotate_pool(release, activation_backlog="0")
    release.kubectl("delete", "fr", "again", "--wait=false")


def test_a_pool_nobody_serves_fails_at_once_with_the_reason(release: Release) -> None:
    release.kubectl("apply", "-f", "-", input=json.dumps(_example("lonely", pool="nobody")))
    wait_for(lambda: phase(release, "lonely") == "Failed", 60, "failed", 0.25)
    resource = fortune_request(release, "lonely")
    assert resource is not None
    assert "spec.pool: no worker pool 'nobody'" in resource["status"]["message"]
    assert events_of(release, "lonely") == ["UnservedPool"]
    release.kubectl("delete", "fr", "lonely", "--wait=false")


def test_a_resource_quota_caps_fortunerequests_and_the_api_says_429(release: Release) -> None:
    """An administrator caps FortuneRequests per namespace with a ResourceQuota
    (count/fortunerequests.cyberfortune.io, docs/helm.md); past it the API server refuses the
    create and the HTTP API answers 429 quota_exceeded, leaving nothing behind."""
    _annotate_pool(release, activation_backlog="1000")
    try:
        wait_pool_asleep(release)
        present = len(
            custom(release).list_namespaced_custom_object(
                GROUP, VERSION, release.namespace, PLURAL
            )["items"]
        )
        quota = {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "fortunerequests"},
            "spec": {"hard": {"count/fortunerequests.cyberfortune.io": str(present + 1)}},
        }
        release.kubectl("apply", "-f", "-", input=json.dumps(quota))
        try:
            # The quota controller computes what is used before the quota admits anything.
            def used() -> bool:
                got = json.loads(release.kubectl("get", "resourcequota", "fortunerequests",
                                                 "-o", "json").stdout)  # fmt: skip
                return bool((got.get("status") or {}).get("used"))

            wait_for(used, 60, "the quota's usage", 0.5)
            first = api(release, "POST", "/v1/fortunes", BODY)
            second = api(release, "POST", "/v1/fortunes", BODY)
        finally:
            release.kubectl("delete", "resourcequota", "fortunerequests")
        assert first[0] == 202, first[1]
        assert second[0] == 429 and second[1]["error"]["code"] == "quota_exceeded"
        assert second[2]["Retry-After"] == "30"
    finally:
        _annotate_pool(release, activation_backlog="0")


def _rolled_out(release: Release, deployment: str) -> None:
    """The Deployment rolled out and its Service answering again (kube-proxy programs the new
    endpoints up to a sync period after the rollout)."""
    release.kubectl("rollout", "status", f"deployment/{deployment}", "--timeout=180s")

    def answers() -> bool:
        try:
            return api(release, "GET", "/readyz")[0] == 200
        except OSError:
            return False

    wait_for(answers, 60, "the API to answer", 0.5)


def test_a_full_queue_is_refused_by_the_api_with_503(release: Release) -> None:
    """The API (Kubernetes mode) reads the pool's queue depth from the management API as the
    monitoring user and refuses a submission while the queue is at its bound."""
    deployment = release.component("api")
    release.kubectl("set", "env", f"deployment/{deployment}", "FORTUNE_QUEUE_MAX_LENGTH=3")
    _rolled_out(release, deployment)
    _annotate_pool(release, activation_backlog="1000")
    try:
        wait_pool_asleep(release)
        accepted: list[str] = []

        def refused() -> dict[str, Any] | None:
            status, body, headers = api(release, "POST", "/v1/fortunes", BODY)
            if status == 202:
                accepted.append(body["id"])
                return None
            assert status == 503, body
            return {"body": body, "headers": headers}

        answer = wait_for(refused, 120, "a submission refused at the bound", 1.0)
        assert answer["body"]["error"]["code"] == "queue_full"
        assert answer["headers"]["Retry-After"] == "30"
        assert len(accepted) >= 3
    finally:
        _annotate_pool(release, activation_backlog="0")
        release.kubectl("set", "env", f"deployment/{deployment}", "FORTUNE_QUEUE_MAX_LENGTH-")
        _rolled_out(release, deployment)
    wait_for(lambda: all(finished(release, i) for i in accepted), 180, "the accepted", 0.5)


def test_the_bundled_backends_run_with_the_memory_bounds_of_the_chart(release: Release) -> None:
    """What bounds the bundled backends' memory (helm.md) is what they run with: Redis's
    maxmemory and eviction policy, and RabbitMQ's Raft WAL size (quorum queues hold what they
    wrote to the WAL in memory until it rolls over)."""
    defaults = yaml.safe_load((REPO / "charts" / "cyberfortune" / "values.yaml").read_text())
    password = release.secret_value(f"{release.fullname}-backends", "redis-password")
    redis_config = release.kubectl(
        "exec", f"{release.component('redis')}-0", "--",
        "redis-cli", "--no-auth-warning", "-a", password, "config", "get", "maxmemory*",
    ).stdout.split()  # fmt: skip
    settings = dict(zip(redis_config[::2], redis_config[1::2], strict=True))
    assert settings["maxmemory-policy"] == defaults["redis"]["maxmemoryPolicy"]
    megabytes = int(defaults["redis"]["maxmemory"].removesuffix("mb"))  # Redis: 1mb = 2**20 B
    assert settings["maxmemory"] == str(megabytes * 2**20)
    wal = release.kubectl(
        "exec", f"{release.component('rabbitmq')}-0", "--",
        "rabbitmqctl", "eval", "application:get_env(ra, wal_max_size_bytes).",
    ).stdout.strip()  # fmt: skip
    assert wal == f"{{ok,{defaults['rabbitmq']['walMaxSizeBytes']}}}"


def test_a_scale_down_during_long_calls_abandons_none(release: Release, llm: FakeLLM) -> None:
    """The pool is scaled down while 20-second calls run: each worker drains for as long as
    its longest possible call, so every request finishes with exactly one LLM call. (The pool's
    label is taken off first, so the operator leaves the Deployment alone while it is scaled by
    hand, as any scale-down does: the ReplicaSet deletes the pod, the worker gets SIGTERM.)"""
    deployment = release.component("worker-default")
    wait_pool_asleep(release)
    llm.configure(latency=20)
    try:
        ids = [api(release, "POST", "/v1/fortunes", BODY)[1]["id"] for _ in range(3)]
        wait_for(lambda: llm.stats()["inFlight"] == 3, 120, "three calls in flight", 0.5)
        release.kubectl("label", "deployment", deployment, "cyberfortune.io/pool-")
        release.kubectl("scale", "deployment", deployment, "--replicas=0")
        wait_for(lambda: worker_replicas(release) == 0, 60, "the scale-down", 0.5)
        assert llm.stats()["inFlight"] == 3  # the stopping worker drains; nothing was cut off
        wait_for(lambda: all(finished(release, i) for i in ids), 180, "the calls", 0.5)
        wait_for(lambda: not worker_pods(release), 120, "the drained worker to exit", 0.5)
    finally:
        llm.configure(latency=LLM_LATENCY)
        release.kubectl("label", "deployment", deployment, "cyberfortune.io/pool=default")
    readings = [finished(release, i) for i in ids]
    assert {r["status"] for r in readings} == {"succeeded"}  # type: ignore[index]
    assert [llm.calls(i) for i in ids] == [1, 1, 1]


# --- KEDA mode: the same burst, scaled by KEDA built from its Go module ---------------------------

KEDA_LLM_LATENCY = 2.0
"""The KEDA burst's call latency: the HorizontalPodAutoscaler KEDA makes acts every 15 s (the
controller manager's default sync period), and at 0.5 s a call one replica would finish the
burst before the HPA had looked once."""


def as_list(items: list[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def keda_diagnosis(cluster: Cluster) -> str:
    """KEDA's pods, Events, APIService and logs, for a failed start."""
    ns = keda_manifests.NAMESPACE
    parts = []
    for args in (
        ("-n", ns, "get", "pods", "-o", "wide"),
        ("-n", ns, "get", "events", "--sort-by=.lastTimestamp"),
        ("get", "apiservice", keda_manifests.API_SERVICE, "-o", "yaml"),
        ("-n", ns, "logs", f"deployment/{keda_manifests.OPERATOR}", "--tail=80"),
        ("-n", ns, "logs", f"deployment/{keda_manifests.METRICS_SERVER}", "--tail=40"),
    ):
        proc = cluster.kubectl(*args, check=False)
        parts.append(f"--- kubectl {' '.join(args)}\n{proc.stdout}{proc.stderr}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def keda(cluster: Cluster) -> Iterator[None]:
    """KEDA's operator and metrics API server in their namespace (dev/controlplane/keda.py), the
    external metrics API served. Removed afterwards, its CRDs kept (the chart tier uses them)."""
    items = keda_manifests.objects()
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=as_list(items))
    try:
        for name in (keda_manifests.OPERATOR, keda_manifests.METRICS_SERVER):
            wait_rollout(cluster, keda_manifests.NAMESPACE, f"deployment/{name}")
        cluster.kubectl(
            "wait",
            "--for=condition=Available",
            f"apiservice/{keda_manifests.API_SERVICE}",
            "--timeout=180s",
            timeout=190,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{keda_diagnosis(cluster)}") from exc
    yield
    removal = as_list(keda_manifests.removal(items))
    cluster.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", input=removal)


@pytest.fixture(scope="module")
def keda_release(
    cluster: Cluster,
    keda: None,
    fake_llm: FakeLLM,
    fake_wechat: FakeWeChat,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Release]:
    """The chart with scaling.mode=keda: the same pool, scaled by a ScaledObject."""
    values = release_values(fake_llm, fake_wechat)
    values["scaling"] = {"mode": "keda", "keda": {"pollingInterval": 1, "cooldownPeriod": 10}}
    installed = install_release(cluster, values, tmp_path_factory)
    yield installed
    # KEDA's finalizer is on the ScaledObjects: they go while KEDA runs, then the namespace.
    installed.kubectl("delete", "scaledobjects", "--all", "--timeout=120s", timeout=130)
    cluster.kubectl("delete", "namespace", installed.namespace, "--wait=false")


def test_keda_mode_scales_the_pool_from_zero_and_back_with_one_llm_call_each(
    keda_release: Release, llm: FakeLLM
) -> None:
    """scaling.mode=keda: the burst of the operator's scaler, scaled by KEDA's RabbitMQ scaler
    (the management API, read from KEDA's namespace) and the HPA it makes; the operator leaves
    the pool alone."""
    llm.configure(latency=KEDA_LLM_LATENCY)
    burst(keda_release, llm)
    name = keda_release.component("worker-default")
    operator_events = kubectl_events(keda_release, name)
    assert "ScaledUp" not in operator_events and "ScaledDown" not in operator_events
    keda_events = kubectl_events(keda_release, name, "ScaledObject")
    assert "KEDAScaleTargetActivated" in keda_events, keda_events
    assert "KEDAScaleTargetDeactivated" in keda_events, keda_events
    assert "SuccessfulRescale" in kubectl_events(
        keda_release, f"keda-hpa-{name}", "HorizontalPodAutoscaler"
    )


def keda_metric(release: Release, hpa: str) -> float | None:
    """The value KEDA's metrics API server serves for the HPA's (one) external metric."""
    spec = json.loads(release.kubectl("get", "hpa", hpa, "-o", "json").stdout)["spec"]
    metric = spec["metrics"][0]["external"]["metric"]
    selector = ",".join(f"{k}={v}" for k, v in metric["selector"]["matchLabels"].items())
    path = (
        f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{release.namespace}/"
        f"{metric['name']}?labelSelector={urllib.parse.quote(selector)}"
    )
    proc = release.cluster.kubectl("get", "--raw", path, check=False)
    if proc.returncode != 0:
        return None
    items = json.loads(proc.stdout)["items"]
    return float(items[0]["value"].rstrip("m")) / (1000 if items[0]["value"].endswith("m") else 1)


def test_keda_counts_the_requests_in_progress_as_backlog(
    keda_release: Release, llm: FakeLLM
) -> None:
    """Three long calls in flight and nothing ready in the queue: KEDA's metric is 3 (ready +
    unacknowledged messages), so a busy pool is never taken for an idle one."""
    wait_pool_asleep(keda_release)
    # Calls of 25 s, under the release's 30 s LLM timeout (no retry), released once KEDA's
    # metric is read: RabbitMQ's management statistics are at most 5 s old.
    llm.configure(latency=25)
    try:
        ids = [api(keda_release, "POST", "/v1/fortunes", BODY)[1]["id"] for _ in range(3)]
        wait_for(lambda: llm.stats()["inFlight"] == 3, 120, "three calls in flight", 0.5)
        hpa = f"keda-hpa-{keda_release.component('worker-default')}"
        wait_for(lambda: keda_metric(keda_release, hpa) == 3, 18, "KEDA's metric at 3", 1.0)
        assert worker_replicas(keda_release) >= 1
    finally:
        llm.release()
    wait_for(lambda: all(finished(keda_release, i) for i in ids), 120, "the calls", 0.5)
    assert [llm.calls(i) for i in ids] == [1, 1, 1]
