"""Helpers for the e2e tier: the cluster handle, waiting, and a test-only CRD (Widget)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT / "dev") not in sys.path:  # tests/conftest.py does the same
    sys.path.insert(0, str(REPO_ROOT / "dev"))
from controlplane import controlplane  # noqa: E402  (dev/controlplane/controlplane.py)


@dataclass
class Cluster:
    """A running control plane reachable through an admin kubeconfig."""

    kubeconfig: Path
    kubectl_cache: Path
    plane: controlplane.ControlPlane | None

    def admin_client(self) -> client.ApiClient:
        """A new ApiClient authenticated with the admin client certificate (system:masters)."""
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl (built at the server's version) against the cluster.

        `check`: fail the test if kubectl exits non-zero.
        """
        cmd = [
            str(controlplane.binary_path("kubectl")),
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.kubectl_cache),
        ]
        proc = subprocess.run(
            [*cmd, *args], input=input, capture_output=True, text=True, timeout=60, check=False
        )
        assert not check or proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stderr}"
        return proc


ServiceAccountClient = Callable[[str, str], client.ApiClient]
"""`(namespace, name) -> ApiClient` authenticated as that ServiceAccount."""


# --- a test-only CustomResourceDefinition ---------------------------------------------------------

GROUP = "test.cyberfortune.io"
VERSION = "v1"
PLURAL = "widgets"
CEL_MESSAGE = "minReplicas must not exceed maxReplicas"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "description": "A Widget exercises the API server in the e2e tier.",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "Desired state of the widget.",
                                "required": ["color"],
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.minReplicas <= self.maxReplicas",
                                        "message": CEL_MESSAGE,
                                    }
                                ],
                                "properties": {
                                    "color": {
                                        "type": "string",
                                        "description": "Paint color of the widget.",
                                        "enum": ["red", "green", "blue"],
                                    },
                                    "minReplicas": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "default": 1,
                                        "description": "Fewest replicas of the widget.",
                                    },
                                    "maxReplicas": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "default": 3,
                                        "description": "Most replicas of the widget.",
                                    },
                                },
                            },
                            "status": {
                                "type": "object",
                                "description": "Observed state of the widget.",
                                "properties": {
                                    "phase": {"type": "string", "description": "Lifecycle phase."}
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    """A Widget object with the given spec fields."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }
