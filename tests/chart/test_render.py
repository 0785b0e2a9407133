"""The chart renders right for every kind of install, before anything touches a cluster: helm lint,
hardening and secrets in every rendered object, the schema refusing wrong values with a clear
message, a clean kube-score scan, and a valid skaffold.yaml."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.binaries import binary_path, ensure_binaries, fetched_file

pytestmark = pytest.mark.chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "cyberfortune"
SECRET_KEY = "sk-never-in-a-configmap"

# name -> (values files, --set assignments): the kinds of install the chart supports.
VALUE_SETS: dict[str, tuple[list[Path], list[str]]] = {
    "defaults": ([], []),
    "local": ([CHART / "values-local.yaml"], []),
    "external-backends": (
        [],
        [
            "rabbitmq.bundled=false",
            "rabbitmq.external.existingSecret=broker",
            "redis.bundled=false",
            "redis.external.existingSecret=cache",
            "mongodb.bundled=false",
            "mongodb.external.existingSecret=db",
            "llm.provider=openai",
            f"llm.apiKey={SECRET_KEY}",
        ],
    ),
    "several-pools": (
        [],
        [
            "workers.pools[0].name=default",
            "workers.pools[0].concurrency=8",
            "workers.pools[0].minReplicas=0",
            "workers.pools[0].maxReplicas=10",
            "workers.pools[1].name=vip",
            "workers.pools[1].concurrency=4",
            "workers.pools[1].minReplicas=1",
            "workers.pools[1].maxReplicas=3",
            "workers.pools[2].name=batch",
            "workers.pools[2].concurrency=16",
            "workers.pools[2].minReplicas=0",
            "workers.pools[2].maxReplicas=2",
        ],
    ),
    "keda": ([], ["scaling.mode=keda", "serviceMonitor.enabled=true"]),
    "minimal": (
        [],
        [
            "api.replicas=1",
            "operator.replicas=1",
            "api.podDisruptionBudget.enabled=false",
            "workers.podDisruptionBudget.enabled=false",
            "api.resources.requests.cpu=10m",
            "api.resources.requests.memory=64Mi",
            "api.resources.limits.memory=128Mi",
            "operator.resources.requests.cpu=10m",
        ],
    ),
}


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ensure_binaries(["helm"])
    proc = subprocess.run(
        [str(binary_path("helm")), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def value_args(name: str) -> list[str]:
    files, settings = VALUE_SETS[name]
    args: list[str] = []
    for path in files:
        args += ["-f", str(path)]
    for setting in settings:
        args += ["--set", setting]
    return args


def render(name: str, *extra: str) -> list[dict[str, Any]]:
    """The objects `helm template` makes for value set `name` (Kubernetes 1.34)."""
    out = helm(
        "template",
        "cf",
        str(CHART),
        "-n",
        "cf",
        "--kube-version",
        "1.34.4",
        *value_args(name),
        *extra,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """kind/name -> pod spec of every workload (and the helm test pod)."""
    specs = {}
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet"):
            specs[f"{kind}/{name}"] = obj["spec"]["template"]["spec"]
        elif kind == "Pod":
            specs[f"Pod/{name}"] = obj["spec"]
    return specs


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint(name: str) -> None:
    out = helm("lint", str(CHART), "--strict", "--kube-version", "1.34.4", *value_args(name))
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_object_is_labelled(name: str) -> None:
    for obj in render(name):
        labels = obj["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/name") == "cyberfortune", obj["metadata"]["name"]
        assert labels.get("app.kubernetes.io/instance") == "cf"
        assert labels.get("app.kubernetes.io/managed-by") == "Helm"
        assert labels.get("app.kubernetes.io/component"), obj["metadata"]["name"]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_pod_is_hardened(name: str) -> None:
    specs = pod_specs(render(name))
    assert specs
    for where, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            resources = container["resources"]
            assert {"cpu", "memory", "ephemeral-storage"} <= set(resources["requests"]), where
            assert {"memory", "ephemeral-storage"} <= set(resources["limits"]), where
            if not where.startswith("Pod/"):
                assert "readinessProbe" in container, where


@pytest.mark.parametrize("name", VALUE_SETS)
def test_workers_are_never_cut_short_and_carry_their_pool(name: str) -> None:
    objects = render(name)
    workers = [
        o
        for o in objects
        if o["kind"] == "Deployment"
        and o["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    ]
    pools = [p for p in (yaml.safe_load((CHART / "values.yaml").read_text())["workers"]["pools"])]
    expected = len(pools) if name != "several-pools" else 3
    assert len(workers) == expected
    keda = name == "keda"
    for deployment in workers:
        spec = deployment["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        grace = spec["terminationGracePeriodSeconds"]
        assert grace > int(env["FORTUNE_LLM_TIMEOUT_SECONDS"]) + int(
            env["FORTUNE_WORKER_SHUTDOWN_GRACE_SECONDS"]
        )
        pool = deployment["metadata"]["labels"]["cyberfortune.io/pool"]
        assert env["FORTUNE_POOL"] == pool
        annotations = deployment["metadata"].get("annotations") or {}
        scaling = {k for k in annotations if k.startswith("cyberfortune.io/")}
        if keda:
            assert scaling == set(), "KEDA mode: no operator scaling annotations"
        else:
            assert scaling == {
                "cyberfortune.io/min-replicas",
                "cyberfortune.io/max-replicas",
                "cyberfortune.io/target-backlog-per-replica",
                "cyberfortune.io/activation-backlog",
                "cyberfortune.io/scale-down-delay-seconds",
                "cyberfortune.io/poll-seconds",
            }
    scaled = [o for o in objects if o["kind"] == "ScaledObject"]
    assert len(scaled) == (len(workers) if keda else 0)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_no_secret_outside_a_secret(name: str) -> None:
    objects = render(name, "--set", f"llm.apiKey={SECRET_KEY}", "--set", "llm.provider=openai")
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        assert SECRET_KEY not in json.dumps(obj), f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "ConfigMap":
            assert "password" not in json.dumps(obj).lower()
    bundled = next(
        (
            o
            for o in objects
            if o["kind"] == "Secret" and o["metadata"]["name"] == "cf-cyberfortune-backends"
        ),
        None,
    )
    passwords = [
        v for k, v in ((bundled or {}).get("stringData") or {}).items() if k.endswith("-password")
    ]
    for password in passwords:
        for obj in objects:
            if obj["kind"] != "Secret":
                assert password not in json.dumps(obj)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["api.replicaz=3"], "additional properties 'replicaz' not allowed"),
        (
            [
                "workers.pools[0].name=Bad_Pool",
                "workers.pools[0].concurrency=8",
                "workers.pools[0].minReplicas=0",
                "workers.pools[0].maxReplicas=2",
            ],
            "'Bad_Pool' does not match pattern",
        ),
        (["llm.provider=openai"], "/llm/apiKey"),
        (["redis.bundled=false"], "/redis/external/existingSecret"),
        (["scaling.mode=both"], "value must be one of 'operator', 'keda'"),
        (["api.replicas=0"], "minimum: got 0, want 1"),
        (["image.pullPolicy=Sometimes"], "value must be one of"),
    ],
)
def test_schema_refuses_wrong_values_with_the_path_and_reason(
    settings: list[str], message: str
) -> None:
    args = [item for setting in settings for item in ("--set", setting)]
    refused = helm("template", "cf", str(CHART), "--kube-version", "1.34.4", *args, check=False)
    assert refused.returncode != 0
    assert message in refused.stderr, refused.stderr


@pytest.mark.parametrize("name", VALUE_SETS)
def test_kube_score_finds_nothing_critical(name: str, tmp_path: Path) -> None:
    """kube-score's checks, every exception justified in the chart (see its comments)."""
    ensure_binaries(["kube-score"])
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(render(name)))
    scan = subprocess.run(
        [
            str(binary_path("kube-score")),
            "score",
            str(manifest),
            "--output-format",
            "ci",
            # No CPU limits by design (values.yaml explains why).
            "--ignore-container-cpu-limit",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    critical = [line for line in scan.stdout.splitlines() if line.startswith("[CRITICAL]")]
    assert critical == [] and scan.returncode == 0, scan.stdout
    # The warnings left are the ones the chart explains (open egress, few replicas by value).
    warnings = {
        line.split(": ", 1)[1] for line in scan.stdout.splitlines() if line.startswith("[WARNING]")
    }
    assert warnings <= {
        "The pod does not have a matching egress NetworkPolicy",
        "Deployment few replicas",
        "Deployment does not have a host podAntiAffinity set",
    }, warnings


# --- skaffold ---------------------------------------------------------------------------------


def _skaffold_schema() -> Any:
    import jsonschema_rs

    ensure_binaries(["helm"])  # build.sh fetches the schema with the binaries
    if not fetched_file("skaffold").exists():
        subprocess.run(["bash", str(ROOT / "dev/controlplane/build.sh")], check=True)
    return jsonschema_rs.Draft7Validator(json.loads(fetched_file("skaffold").read_text()))


def _patched(config: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply a profile's JSON patches (add and replace: what skaffold.yaml uses)."""
    result = copy.deepcopy(config)
    for patch in patches:
        *parents, last = [p for p in patch["path"].split("/") if p]
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert patch["op"] in ("add", "replace"), patch
        if isinstance(node, list):
            index = int(last)
            assert patch["op"] == "add" or index < len(node), f"no element at {patch['path']}"
            node[index] = patch["value"]
        else:
            assert patch["op"] == "add" or last in node, f"nothing to replace at {patch['path']}"
            node[last] = patch["value"]
    return result


def test_skaffold_config_and_each_profile_follow_the_published_schema() -> None:
    validator = _skaffold_schema()
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert config["apiVersion"] == "skaffold/v4beta13"
    assert [e.message for e in validator.iter_errors(config)] == []
    profiles = config.pop("profiles")
    assert {p["name"] for p in profiles} == {"local", "production"}
    for profile in profiles:
        effective = _patched(config, profile.get("patches", []))
        assert [e.message for e in validator.iter_errors(effective)] == [], profile["name"]
        for artifact in effective["build"]["artifacts"]:
            if "docker" in artifact:
                assert (ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).is_file()
            if "custom" in artifact:
                script = ROOT / artifact["custom"]["buildCommand"].split()[0]
                assert script.is_file() and os.access(script, os.X_OK)
                for path in artifact["custom"]["dependencies"]["paths"]:
                    assert (ROOT / path).is_dir(), path
        for release in effective["deploy"]["helm"]["releases"]:
            assert (ROOT / release["chartPath"] / "Chart.yaml").is_file()
            for values in release.get("valuesFiles", []):
                assert (ROOT / values).is_file()
    # The schema does catch mistakes (a misspelt builder).
    broken = copy.deepcopy(config)
    broken["build"]["artifacts"][0]["dockr"] = broken["build"]["artifacts"][0].pop("docker")
    assert list(validator.iter_errors(broken))
