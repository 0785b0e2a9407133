"""The chart renders right for every kind of install, before anything touches a cluster: helm lint,
hardening and secrets in every rendered object, the schema refusing wrong values with a clear
message, a clean kube-score scan, and a valid skaffold.yaml."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.binaries import binary_path, ensure_binaries, fetched_file
from fortune_api.settings import ApiSettings
from fortune_worker.settings import WorkerSettings

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
    "large-numbers": ([Path(__file__).with_name("values-large-numbers.yaml")], []),
}


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ensure_binaries(["helm"])
    proc = subprocess.run(
        [str(binary_path("helm")), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def value_args(name: str) -> list[str]:
    """helm's arguments for value set `name` (`json:` settings go through --set-json)."""
    files, settings = VALUE_SETS[name]
    args: list[str] = []
    for path in files:
        args += ["-f", str(path)]
    for setting in settings:
        if setting.startswith("json:"):
            args += ["--set-json", setting.removeprefix("json:")]
        else:
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
def test_numbers_are_written_as_the_programs_read_them(name: str) -> None:
    """Helm reads values as floats; 1000000 must still reach a program as 1000000, not 1e+06."""
    number = re.compile(r"^-?\d+(\.\d+)?$")
    for obj in render(name):
        annotations = obj["metadata"].get("annotations") or {}
        texts = [v for k, v in annotations.items() if k.startswith("cyberfortune.io/")]
        for spec in pod_specs([obj]).values():
            for container in spec["containers"]:
                texts += [e["value"] for e in container.get("env", []) if "value" in e]
        for text in texts:
            assert "e+" not in text, (obj["metadata"]["name"], text)
        for key, value in annotations.items():
            if key.startswith("cyberfortune.io/"):
                assert number.match(value), (key, value)


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
    expected = 3 if name == "several-pools" else len(pools)
    assert len(workers) == expected
    keda = name == "keda"
    for deployment in workers:
        spec = deployment["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        grace = spec["terminationGracePeriodSeconds"]
        drain = int(env["FORTUNE_WORKER_SHUTDOWN_GRACE_SECONDS"])
        # The drain covers the longest call an admitted request can make (an answer and a
        # repair), and the pod's grace period covers the drain: no scale-down abandons a call.
        assert drain >= 2 * int(env["FORTUNE_LLM_TIMEOUT_SECONDS"])
        assert grace > drain
        pool = deployment["metadata"]["labels"]["cyberfortune.io/pool"]
        assert env["FORTUNE_POOL"] == pool
        annotations = deployment["metadata"].get("annotations") or {}
        scaling = {k for k in annotations if k.startswith("cyberfortune.io/")}
        scaler = deployment["metadata"]["labels"].get("cyberfortune.io/scaled-by")
        if keda:
            assert scaling == set(), "KEDA mode: no operator scaling annotations"
            assert scaler == "keda", "KEDA mode: the operator's scaler leaves the pool alone"
        else:
            assert scaler is None
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


def test_keda_mode_counts_work_in_progress_and_is_let_in_from_its_namespace() -> None:
    pool = {"name": "default", "concurrency": 8, "minReplicas": 0, "maxReplicas": 4}
    pools = json.dumps([{**pool, "scaleDownDelaySeconds": 45}])
    objects = render("keda", "--set-json", f"workers.pools={pools}")
    (scaled,) = [o for o in objects if o["kind"] == "ScaledObject"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    # Ready + unacknowledged messages, through the management API (AMQP counts only ready).
    assert trigger["metadata"]["protocol"] == "http"
    assert trigger["metadata"]["excludeUnacknowledged"] == "false"
    assert trigger["metadata"]["hostFromEnv"] == "RABBITMQ_MANAGEMENT_URL"
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 45
    # KEDA resolves the workers' URL from its own namespace: the Service's FQDN.
    (worker_secret,) = [
        o
        for o in objects
        if o["kind"] == "Secret" and o["metadata"]["name"].endswith("-worker-backends")
    ]
    url = worker_secret["stringData"]["rabbitmq-management-url"]
    assert re.fullmatch(
        r"http://cyberfortune-monitor:[^@]+@cf-cyberfortune-rabbitmq\.cf\.svc:15672", url
    )
    # and the NetworkPolicy lets KEDA's namespace reach the management port, nothing more.
    (policy,) = [
        o
        for o in objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "cf-cyberfortune-rabbitmq"
    ]
    keda_rules = [r for r in policy["spec"]["ingress"] if "namespaceSelector" in r["from"][0]]
    assert keda_rules == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
            ],
            "ports": [{"port": 15672}],
        }
    ]
    operator_mode = render("defaults")
    (policy,) = [
        o
        for o in operator_mode
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "cf-cyberfortune-rabbitmq"
    ]
    assert all("namespaceSelector" not in r["from"][0] for r in policy["spec"]["ingress"])


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
        (["budgets.perClient=alice"], "/budgets/perClient"),
        (["llm.reuseScope=everyone"], "value must be one of 'client', 'global'"),
    ],
)
def test_schema_refuses_wrong_values_with_the_path_and_reason(
    settings: list[str], message: str
) -> None:
    args = [item for setting in settings for item in ("--set", setting)]
    refused = helm("template", "cf", str(CHART), "--kube-version", "1.34.4", *args, check=False)
    assert refused.returncode != 0
    assert message in refused.stderr, refused.stderr


def test_the_cost_settings_reach_the_api_and_the_workers_and_the_dashboard_renders() -> None:
    objects = render(
        "defaults",
        "--set", "dashboards.enabled=true",
        "--set", "budgets.dailyTokens=2000000",
        "--set", "budgets.perClient=alice:500000\\,bob:0",
        "--set", "llm.reuse=false",
        "--set", "llm.maxTokens=4000",
    )  # fmt: skip
    wanted = ("cf-cyberfortune-api", "cf-cyberfortune-worker-default")
    containers = {
        obj["metadata"]["name"]: obj["spec"]["template"]["spec"]["containers"][0]
        for obj in objects
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] in wanted
    }
    env = {name: {e["name"]: e.get("value") for e in c["env"]} for name, c in containers.items()}
    api, worker = env["cf-cyberfortune-api"], env["cf-cyberfortune-worker-default"]
    for program in (api, worker):
        assert program["FORTUNE_DAILY_TOKEN_BUDGET"] == "2000000"
        assert program["FORTUNE_CLIENT_TOKEN_BUDGETS"] == "alice:500000,bob:0"
    assert worker["FORTUNE_REUSE"] == "false" and worker["FORTUNE_LLM_MAX_TOKENS"] == "4000"
    # and the programs read them so (the values given; the Secrets' ones are left out here)
    read = WorkerSettings.from_env({k: v for k, v in worker.items() if v is not None})
    assert not read.reuse and read.max_tokens == 4000
    assert (
        read.budgets.budget_of("key:alice") == 500_000 and read.budgets.budget_of("key:bob") is None
    )
    assert read.budgets.budget_of("key:carol") == 2_000_000
    served = ApiSettings.from_env({k: v for k, v in api.items() if v is not None})
    assert served.budgets == read.budgets
    [dashboards] = [o for o in objects if o["kind"] == "ConfigMap" and "dashboards" in
                    o["metadata"]["name"]]  # fmt: skip
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboards["data"]["llm-cost.json"])
    assert dashboard == json.loads((CHART / "dashboards" / "llm-cost.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in ("llm_cost_total", "readings_total", "llm_tokens_total", "llm_fallbacks_total",
                   "llm_breaker_state", "budget_refusals_total"):  # fmt: skip
        assert f"cyberfortune_{metric}" in exprs
    assert not [o for o in render("defaults") if "dashboards" in o["metadata"]["name"]]


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
# The skaffold binary is built from its Go module by build.sh. The local profile is the one this
# machine can run: the production profile's docker builder needs a daemon and a registry, so it is
# rendered (tags fall back to `latest` without a registry) but not diagnosed.

COMPONENTS = ("api", "worker", "operator")
SKAFFOLD_TAG = re.compile(r"^ - (cyberfortune/\w+) -> (cyberfortune/\w+):([0-9a-f]{64})$", re.M)


def skaffold(
    env: dict[str, str],
    *args: str,
    config: Path = ROOT / "skaffold.yaml",
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """The pinned skaffold on `config`, run in the repository root (env: skaffold_env)."""
    proc = subprocess.run(
        [str(binary_path("skaffold")), *args, "--filename", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert not check or proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _skaffold_schema() -> Any:
    import jsonschema_rs

    ensure_binaries(["helm"])  # build.sh fetches the schema with the binaries
    if not fetched_file("skaffold").exists():
        subprocess.run(["bash", str(ROOT / "dev/controlplane/build.sh")], check=True)
    return jsonschema_rs.Draft7Validator(json.loads(fetched_file("skaffold").read_text()))


@pytest.mark.parametrize("profile", ["local", "production"])
def test_skaffold_effective_config_follows_the_published_schema(
    skaffold_env: dict[str, str], profile: str
) -> None:
    """skaffold applies the profile itself (`diagnose --yaml-only`); the result must follow the
    schema published with this skaffold, and every path it names must exist."""
    validator = _skaffold_schema()
    diagnosed = skaffold(skaffold_env, "diagnose", "--yaml-only", "-p", profile)
    effective = yaml.safe_load(diagnosed.stdout)
    assert effective["apiVersion"] == "skaffold/v4beta13"
    assert [e.message for e in validator.iter_errors(effective)] == []
    artifacts = effective["build"]["artifacts"]
    assert [a["image"] for a in artifacts] == [f"cyberfortune/{c}" for c in COMPONENTS]
    builders = {"custom" if "custom" in a else "docker" for a in artifacts}
    assert builders == ({"custom"} if profile == "local" else {"docker"})
    for artifact in artifacts:
        context = Path(artifact["context"])
        if "docker" in artifact:
            assert (context / artifact["docker"]["dockerfile"]).is_file()
        else:
            script = context / artifact["custom"]["buildCommand"].split()[0]
            assert script.is_file() and os.access(script, os.X_OK)
            for path in artifact["custom"]["dependencies"]["paths"]:
                assert (context / path).is_dir(), path
    assert effective["build"]["local"]["push"] is (profile == "production")
    (release,) = effective["manifests"]["helm"]["releases"]
    assert (Path(release["chartPath"]) / "Chart.yaml").is_file()
    assert [Path(v).name for v in release.get("valuesFiles", [])] == (
        ["values-local.yaml"] if profile == "local" else []
    )


def test_skaffold_refuses_a_broken_config(skaffold_env: dict[str, str], tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    config["build"]["artifacts"][0]["dockr"] = config["build"]["artifacts"][0].pop("docker")
    broken = tmp_path / "skaffold.yaml"
    broken.write_text(yaml.safe_dump(config))
    refused = skaffold(skaffold_env, "diagnose", "--yaml-only", config=broken, check=False)
    assert refused.returncode != 0 and "dockr" in refused.stdout + refused.stderr
    assert [e.message for e in _skaffold_schema().iter_errors(config)]  # the schema agrees


def test_skaffold_diagnose_lists_the_local_builds(skaffold_env: dict[str, str]) -> None:
    """The local profile's custom builds: each image tagged by the digest of its inputs, each with
    the files skaffold watches in the dev loop."""
    out = skaffold(skaffold_env, "diagnose", "-p", "local").stdout
    tags = {m[1]: m[3] for m in SKAFFOLD_TAG.finditer(out) if m[1] == m[2]}
    assert sorted(tags) == ["cyberfortune/api", "cyberfortune/operator", "cyberfortune/worker"]
    assert len(set(tags.values())) == 3  # different inputs, different tags
    watched = dict(re.findall(r"^Custom artifact: (\S+)\n - Dependencies: (\d+) files", out, re.M))
    assert sorted(watched) == sorted(tags) and all(int(n) > 10 for n in watched.values()), out


def _without_generated_passwords(objects: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """kind/name -> object, the chart's generated Secret reduced to its keys (its passwords are
    random on every render that has no cluster to look the current ones up in)."""
    result = {}
    for obj in objects:
        kept = obj
        if obj["kind"] == "Secret" and "stringData" in obj:
            kept = {**obj, "stringData": sorted(obj["stringData"])}
        result[(obj["kind"], obj["metadata"]["name"])] = kept
    return result


def test_skaffold_render_local_is_the_chart_with_the_built_tags(
    skaffold_env: dict[str, str],
) -> None:
    """`skaffold render -p local` = `helm template` of the chart with values-local.yaml and the
    tags skaffold's build computes for our three images, nothing more and nothing less."""
    planned = json.loads(skaffold(skaffold_env, "build", "-p", "local", "--dry-run", "-q").stdout)
    tags = {
        b["imageName"].split("/")[1]: b["tag"].split(":")[1]
        for b in planned["builds"]
        if b["tag"].startswith(b["imageName"] + ":")
    }
    assert sorted(tags) == ["api", "operator", "worker"], planned
    rendered = skaffold(
        skaffold_env, "render", "-p", "local", "--digest-source=tag", "--offline=true"
    )
    images = [
        f"--set={key}.image.repository=cyberfortune/{image},{key}.image.tag={tags[image]}"
        for key, image in (("api", "api"), ("workers", "worker"), ("operator", "operator"))
    ]
    expected = helm(
        "template", "cyberfortune", str(CHART), "-n", "cyberfortune", "--kube-version", "1.34.4",
        "-f", str(CHART / "values-local.yaml"), *images,
    ).stdout  # fmt: skip
    got = _without_generated_passwords([d for d in yaml.safe_load_all(rendered.stdout) if d])
    assert got == _without_generated_passwords([d for d in yaml.safe_load_all(expected) if d])
    ours = {
        c["image"]
        for obj in got.values()
        if obj["kind"] == "Deployment"
        for c in obj["spec"]["template"]["spec"]["containers"]
        if c["image"].split(":")[0] in {f"cyberfortune/{i}" for i in tags}
    }
    assert ours == {f"cyberfortune/{image}:{tag}" for image, tag in tags.items()}


def test_skaffold_render_production_pushes_to_the_default_repo(
    skaffold_env: dict[str, str],
) -> None:
    rendered = skaffold(
        skaffold_env, "render", "-p", "production", "--default-repo", "registry.example/acme",
        "--digest-source=tag", "--offline=true",
    ).stdout  # fmt: skip
    objects = [d for d in yaml.safe_load_all(rendered) if d]
    images = {
        c["image"].rsplit(":", 1)[0]
        for obj in objects
        if obj["kind"] in ("Deployment", "StatefulSet")
        for c in obj["spec"]["template"]["spec"]["containers"]
    }
    ours = {i for i in images if i.startswith("registry.example/acme/")}
    assert ours == {f"registry.example/acme/cyberfortune_{c}" for c in COMPONENTS}
    # The production profile keeps the chart's defaults (no values-local.yaml): real MongoDB.
    assert "mongo" in {i.rsplit("/", 1)[-1] for i in images - ours}
