"""Fixtures shared by the chart tier's render and install tests."""

from __future__ import annotations

import os

import pytest

from controlplane.binaries import binary_path, ensure_binaries


@pytest.fixture(scope="module")
def skaffold_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """skaffold's environment: the pinned helm and kubectl first on PATH, a private HOME whose
    global config turns off usage metrics and the update check (nothing may phone home)."""
    ensure_binaries(["skaffold", "helm", "kubectl"])
    home = tmp_path_factory.mktemp("skaffold-home")
    (home / ".skaffold").mkdir()
    (home / ".skaffold" / "config").write_text("global:\n  collect-metrics: false\n")
    tools = [str(binary_path(name).parent) for name in ("helm", "kubectl")]
    path = os.pathsep.join([*tools, os.environ["PATH"]])
    return {"PATH": path, "HOME": str(home), "SKAFFOLD_UPDATE_CHECK": "false"}
