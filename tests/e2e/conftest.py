"""Fixtures for the e2e tier: a real kube-apiserver + etcd (+ kube-controller-manager).

The control plane is started once per session in a temp dir on free ports (so it never clashes with
`make cluster-up`), or reused if CYBERFORTUNE_KUBECONFIG names the kubeconfig of a running one.
Each test gets a fresh namespace, an admin client, and clients authenticated as ServiceAccounts.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_cluster import WIDGET_CRD, Cluster, ServiceAccountClient, controlplane
from kubernetes import client, watch


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The control plane for the session: reused from CYBERFORTUNE_KUBECONFIG or started here."""
    controlplane.ensure_binaries(["kubectl"])
    cache = tmp_path_factory.mktemp("kubectl-cache")
    reuse = os.environ.get("CYBERFORTUNE_KUBECONFIG")
    if reuse:
        yield Cluster(Path(reuse), cache, None)
        return
    plane = controlplane.start_on_free_ports(tmp_path_factory.mktemp("controlplane"))
    try:
        yield Cluster(plane.kubeconfig, cache, plane)
    finally:
        plane.down()


@pytest.fixture(scope="session")
def admin_client(cluster: Cluster) -> client.ApiClient:
    """ApiClient with cluster-admin rights."""
    return cluster.admin_client()


@pytest.fixture
def make_namespace(admin_client: client.ApiClient) -> Iterator[Callable[[], str]]:
    """Factory of fresh namespaces, all deleted after the test."""
    core = client.CoreV1Api(admin_client)
    created: list[str] = []

    def make() -> str:
        name = f"e2e-{uuid.uuid4().hex[:10]}"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        created.append(name)
        return name

    yield make
    for name in created:
        core.delete_namespace(name)


@pytest.fixture
def namespace(make_namespace: Callable[[], str]) -> str:
    """A fresh namespace for one test, deleted after it."""
    return make_namespace()


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
