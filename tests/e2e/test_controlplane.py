"""The local control plane is a real Kubernetes API: CRDs with CEL, subresources, watches, kubectl,
RBAC with ServiceAccount tokens, and the controller manager's controllers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from e2e_cluster import (
    CEL_MESSAGE,
    GROUP,
    PLURAL,
    VERSION,
    Cluster,
    ServiceAccountClient,
    widget,
)
from kubernetes import client, watch

from localservices.supervisor import wait_for

pytestmark = pytest.mark.e2e


def status_of(call: Callable[[], Any]) -> int:
    """HTTP status of an API call: 200 if it succeeded, else the ApiException's status."""
    try:
        call()
    except client.ApiException as exc:
        return int(exc.status)
    return 200


def rejection(call: Callable[[], Any]) -> tuple[int, str]:
    """(status, message) of an API call that must be refused."""
    with pytest.raises(client.ApiException) as info:
        call()
    return int(info.value.status), str(json.loads(info.value.body)["message"])


def names(api: client.CustomObjectsApi, namespace: str) -> list[str]:
    items = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    return sorted(item["metadata"]["name"] for item in items)


def test_cel_rule_rejects_an_invalid_object_with_its_message(
    admin_client: client.ApiClient, widget_crd: dict[str, Any], namespace: str
) -> None:
    api = client.CustomObjectsApi(admin_client)

    def create(name: str, **spec: Any) -> Any:
        return api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, widget(name, **spec)
        )

    ok = create("valid", color="red", minReplicas=1, maxReplicas=2)
    assert ok["spec"] == {"color": "red", "minReplicas": 1, "maxReplicas": 2}

    status, message = rejection(
        lambda: create("invalid", color="red", minReplicas=5, maxReplicas=2)
    )
    assert status == 422
    assert CEL_MESSAGE in message

    # The rule also sees defaults: maxReplicas defaults to 3, so minReplicas=4 breaks it.
    status, message = rejection(lambda: create("invalid-default", color="red", minReplicas=4))
    assert (status, CEL_MESSAGE in message) == (422, True)
    assert names(api, namespace) == ["valid"]


def test_structural_schema_defaults_prunes_and_validates_types(
    admin_client: client.ApiClient, widget_crd: dict[str, Any], namespace: str
) -> None:
    api = client.CustomObjectsApi(admin_client)
    created = api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, widget("pruned", color="green", unknownField="dropped")
    )
    assert created["spec"] == {"color": "green", "minReplicas": 1, "maxReplicas": 3}

    def create(name: str, **spec: Any) -> Any:
        return api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, widget(name, **spec)
        )

    status, message = rejection(lambda: create("bad-enum", color="purple"))
    assert status == 422
    assert 'Unsupported value: "purple"' in message
    status, message = rejection(lambda: create("bad-type", color="red", minReplicas="many"))
    assert status == 422
    assert "must be of type integer" in message
    status, message = rejection(lambda: create("missing-color", minReplicas=1))
    assert status == 422
    assert "spec.color: Required value" in message
    assert names(api, namespace) == ["pruned"]


def test_status_subresource_ignores_spec_and_main_resource_ignores_status(
    admin_client: client.ApiClient, widget_crd: dict[str, Any], namespace: str
) -> None:
    api = client.CustomObjectsApi(admin_client)
    created = api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, widget("w", color="red")
    )
    assert created["metadata"]["generation"] == 1
    assert "status" not in created

    via_status = api.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        "w",
        {"spec": {"color": "blue"}, "status": {"phase": "Ready"}},
    )
    assert via_status["status"] == {"phase": "Ready"}
    assert via_status["spec"]["color"] == "red"
    assert via_status["metadata"]["generation"] == 1  # status writes do not bump generation

    via_main = api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        "w",
        {"spec": {"color": "green"}, "status": {"phase": "Broken"}},
    )
    assert via_main["spec"]["color"] == "green"
    assert via_main["status"] == {"phase": "Ready"}
    assert via_main["metadata"]["generation"] == 2

    stored = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w")
    assert (stored["spec"]["color"], stored["status"]) == ("green", {"phase": "Ready"})


def test_watch_resumes_from_a_resource_version(
    admin_client: client.ApiClient, widget_crd: dict[str, Any], namespace: str
) -> None:
    api = client.CustomObjectsApi(admin_client)

    def create(name: str) -> None:
        api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, widget(name, color="red")
        )

    create("before-1")
    create("before-2")
    resource_version = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)[
        "metadata"
    ]["resourceVersion"]
    create("after-1")
    api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "before-1", {"spec": {"color": "blue"}}
    )
    api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "before-2")

    events: list[tuple[str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(
        api.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        resource_version=resource_version,
        timeout_seconds=60,
    ):
        events.append((event["type"], event["object"]["metadata"]["name"]))
        if len(events) == 3:
            stream.stop()
    # Exactly the changes after the resourceVersion, in order; nothing from before it.
    assert events == [("ADDED", "after-1"), ("MODIFIED", "before-1"), ("DELETED", "before-2")]


def test_kubectl_apply_get_explain_and_create_token(
    cluster: Cluster, admin_client: client.ApiClient, widget_crd: dict[str, Any], namespace: str
) -> None:
    manifest = json.dumps(widget("from-kubectl", color="blue", maxReplicas=4))
    applied = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    assert applied.stdout.strip() == f"widget.{GROUP}/from-kubectl created"
    again = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    assert again.stdout.strip() == f"widget.{GROUP}/from-kubectl unchanged"

    got = json.loads(cluster.kubectl("get", "widgets", "-n", namespace, "-o", "json").stdout)
    assert [(i["metadata"]["name"], i["spec"]) for i in got["items"]] == [
        ("from-kubectl", {"color": "blue", "minReplicas": 1, "maxReplicas": 4})
    ]
    table = cluster.kubectl("get", "wd", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "COLOR", "PHASE"]  # the CRD's printer columns
    assert table[1].split()[:2] == ["from-kubectl", "blue"]

    # The CRD's schema reaches the OpenAPI document shortly after the CRD is Established.
    explain = wait_for(
        lambda: (
            (p := cluster.kubectl("explain", "widgets.spec.color", check=False)).returncode == 0
            and p
        ),
        what="kubectl explain to know the Widget schema",
    )
    assert "Paint color of the widget." in explain.stdout
    assert "KIND:       Widget" in explain.stdout

    cluster.kubectl("create", "serviceaccount", "tokened", "-n", namespace)
    token = cluster.kubectl("create", "token", "tokened", "-n", namespace).stdout.strip()
    review = client.AuthenticationV1Api(admin_client).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token))
    )
    assert review.status.authenticated is True
    assert review.status.user.username == f"system:serviceaccount:{namespace}:tokened"


def test_service_account_gets_exactly_what_its_role_grants(
    admin_client: client.ApiClient,
    service_account_client: ServiceAccountClient,
    make_namespace: Callable[[], str],
) -> None:
    namespace, other = make_namespace(), make_namespace()
    core = client.CoreV1Api(admin_client)
    for ns in (namespace, other):
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"k": "v"})
        )
    as_sa = service_account_client(namespace, "reader")
    sa_core = client.CoreV1Api(as_sa)

    me = client.AuthenticationV1Api(as_sa).create_self_subject_review(client.V1SelfSubjectReview())
    assert me.status.user_info.username == f"system:serviceaccount:{namespace}:reader"

    def read_own() -> Any:
        return sa_core.read_namespaced_config_map("settings", namespace)

    assert status_of(read_own) == 403

    rbac = client.RbacAuthorizationV1Api(admin_client)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="configmap-reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="configmap-reader"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="configmap-reader"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=namespace)
            ],
        ),
    )
    wait_for(lambda: status_of(read_own) == 200, what="the RoleBinding to take effect")
    assert read_own().data == {"k": "v"}

    assert status_of(lambda: sa_core.list_namespaced_config_map(namespace)) == 403
    assert status_of(lambda: sa_core.delete_namespaced_config_map("settings", namespace)) == 403
    assert status_of(lambda: sa_core.read_namespaced_config_map("settings", other)) == 403
    assert status_of(lambda: sa_core.read_namespaced_secret("anything", namespace)) == 403
    assert core.read_namespaced_config_map("settings", namespace).data == {"k": "v"}


def test_controller_manager_runs_the_cluster_controllers(
    cluster: Cluster, admin_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(admin_client)
    ns = f"e2e-kcm-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

    def read_or_none(read: Callable[[], Any]) -> Any:
        try:
            return read()
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    # serviceaccount controller and root-ca-cert-publisher fill every new namespace.
    wait_for(
        lambda: read_or_none(lambda: core.read_namespaced_service_account("default", ns)),
        what="the serviceaccount controller to create the default ServiceAccount",
    )
    root_ca = wait_for(
        lambda: read_or_none(lambda: core.read_namespaced_config_map("kube-root-ca.crt", ns)),
        what="the root-ca-cert-publisher to create kube-root-ca.crt",
    )
    if cluster.local is not None:
        assert root_ca.data["ca.crt"] == (cluster.local.plane.pki / "ca.crt").read_text()

    # garbage collector: a dependent goes when its owner goes.
    owner = core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    ref = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="child", owner_references=[ref]))
    )
    core.delete_namespaced_config_map("owner", ns)
    wait_for(
        lambda: status_of(lambda: core.read_namespaced_config_map("child", ns)) == 404,
        what="the garbage collector to delete the dependent",
    )

    # namespace controller: a deleted namespace is emptied and finally removed.
    core.delete_namespace(ns)
    wait_for(
        lambda: status_of(lambda: core.read_namespace(ns)) == 404,
        what="the namespace controller to finish deleting the namespace",
    )
