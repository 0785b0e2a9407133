"""Root of the tests: make `dev/` (localservices, controlplane) and `tests/` (fakes, e2e_cluster)
importable, and hold the fixtures of the tiers that need the local Kubernetes cluster (e2e, chart),
so that one session starts one cluster for both.

The cluster (control plane, containerd/kubelet/kube-proxy node, CoreDNS, volumes) is started once
per session in a temp dir on free ports (never clashing with `make cluster-up`'s ports), after
`make images`' build (cached: seconds when nothing changed), or reused if CYBERFORTUNE_KUBECONFIG
names the admin kubeconfig of a running one (then the images are built and loaded into it too).
Only one node can run on a machine: with `make cluster-up` running, set
CYBERFORTUNE_KUBECONFIG=.local/kubeconfig. Each test gets fresh namespaces, an admin client and
clients authenticated as ServiceAccounts.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

for _path in (REPO_ROOT / "dev", TESTS_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from e2e_cluster import WIDGET_CRD, Cluster, ServiceAccountClient  # noqa: E402
from kubernetes import client, watch  # noqa: E402

from controlplane import images  # noqa: E402
from controlplane.cluster import LocalCluster, start_on_free_ports  # noqa: E402
from controlplane.node import running_node  # noqa: E402


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster for the session: reused from CYBERFORTUNE_KUBECONFIG or started here."""
    archives = images.build_all()
    cache = tmp_path_factory.mktemp("kubectl-cache")
    reuse = os.environ.get("CYBERFORTUNE_KUBECONFIG")
    if reuse:
        state_dir = Path(reuse).resolve().parent / "cluster"
        node = running_node(state_dir)
        if node is not None:
            images.load_into(node, archives)
        local = LocalCluster(state_dir) if node is not None else None
        yield Cluster(Path(reuse), cache, local)
        return
    local = start_on_free_ports(tmp_path_factory.mktemp("cluster"))
    try:
        yield Cluster(local.kubeconfig, cache, local)
    finally:
        local.down()
    # `make test` must leave nothing behind: no daemon, shim, mount, link or Service rule.
    assert local.leftovers() == []


@pytest.fixture(scope="session")
def admin_client(cluster: Cluster) -> client.ApiClient:
    """ApiClient with cluster-admin rights."""
    return cluster.admin_client()


@pytest.fixture(scope="session")
def core(admin_client: client.ApiClient) -> client.CoreV1Api:
    """CoreV1Api as the admin."""
    return client.CoreV1Api(admin_client)


def _new_namespace(core: client.CoreV1Api) -> str:
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


@pytest.fixture
def make_namespace(core: client.CoreV1Api) -> Iterator[Callable[[], str]]:
    """Factory of fresh namespaces, all deleted after the test."""
    created: list[str] = []

    def make() -> str:
        created.append(_new_namespace(core))
        return created[-1]

    yield make
    for name in created:
        try:
            core.delete_namespace(name)
        except client.ApiException as exc:
            if exc.status != 404:  # the test deleted it itself
                raise


@pytest.fixture
def namespace(make_namespace: Callable[[], str]) -> str:
    """A fresh namespace for one test, deleted after it."""
    return make_namespace()


@pytest.fixture(scope="module")
def module_namespace(core: client.CoreV1Api) -> Iterator[str]:
    """A namespace shared by the tests of one module (deleted after them)."""
    name = _new_namespace(core)
    yield name
    core.delete_namespace(name)


@pytest.fixture
def service_account_client(admin_client: client.ApiClient) -> ServiceAccountClient:
    """`(namespace, name) -> ApiClient` authenticated as that ServiceAccount with a bound token.

    The ServiceAccount is created if missing; the token comes from the TokenRequest API, exactly as
    a pod's projected token would, so the client has only the rights RBAC grants that account.
    """
    core = client.CoreV1Api(admin_client)

    def make(ns: str, name: str) -> client.ApiClient:
        try:
            core.create_namespaced_service_account(
                ns, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
            )
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        )
        token = core.create_namespaced_service_account_token(name, ns, request).status.token
        admin_cfg = admin_client.configuration
        cfg = client.Configuration()
        cfg.host = admin_cfg.host
        cfg.ssl_ca_cert = admin_cfg.ssl_ca_cert
        cfg.verify_ssl = True
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(cfg)

    return make


@pytest.fixture(scope="session")
def widget_crd(admin_client: client.ApiClient) -> Iterator[dict[str, Any]]:
    """The Widget CRD, created for the session and Established (deleted afterwards)."""
    ext = client.ApiextensionsV1Api(admin_client)
    name = WIDGET_CRD["metadata"]["name"]
    try:
        ext.create_custom_resource_definition(WIDGET_CRD)
    except client.ApiException as exc:
        if exc.status != 409:  # left over from a reused cluster: keep it
            raise
    stream = watch.Watch().stream(
        ext.list_custom_resource_definition,
        field_selector=f"metadata.name={name}",
        timeout_seconds=60,
    )
    established = False
    for event in stream:
        conditions = event["object"].status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            established = True
            break
    assert established, f"CRD {name} not Established"
    yield WIDGET_CRD
    ext.delete_custom_resource_definition(name)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item (`item.report_call`), for the fixtures below."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _diagnose_failed_release(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed test that used a chart release prints what the release's pods were doing
    (pods, Events, the operator's threads, the logs), read in the test's teardown output."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed or "release" not in request.fixturenames:
        return
    release = request.getfixturevalue("release")
    diagnose = getattr(release, "diagnose", None)
    if diagnose is not None:
        print(diagnose())
