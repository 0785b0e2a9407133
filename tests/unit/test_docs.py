"""Documentation stays true: every environment variable the code reads is documented, and each
one a settings class declares is documented with the default the code has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fortune_api.settings import ApiSettings
from fortune_core.settings import Settings, Variable
from fortune_operator.settings import OperatorSettings
from fortune_worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs/configuration.md"
SOURCES = ["core/fortune_core", "api-image/fortune_api", "worker-image/fortune_worker",
           "operator/fortune_operator", "dev", "tests/e2e"]  # fmt: skip
# Variables read directly (outside a settings class): os.environ, os.getenv, `ENV = "..."`.
READ = re.compile(
    r"""(?:os\.environ(?:\.get)?[\[(]|os\.getenv\(|\bENV\s*=\s*)\s*["']([A-Z][A-Z0-9_]+)["']"""
)
NOT_OURS = {"HOME", "PATH", "CI", "USER"}  # system variables read in passing
SETTINGS: list[type[Settings]] = [ApiSettings, WorkerSettings, OperatorSettings]
ROW = re.compile(r"^\|([^|]*`[A-Z][A-Z0-9_]+`[^|]*)\|([^|]*)\|", re.MULTILINE)
NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def _declared() -> list[Variable]:
    return [variable for cls in SETTINGS for variable in cls.variables()]


def _read_directly() -> set[str]:
    names: set[str] = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            names.update(READ.findall(path.read_text(encoding="utf-8")))
    return names - NOT_OURS


def _documented() -> dict[str, str]:
    """Variable → the default column of its row in docs/configuration.md."""
    return {
        name: default.replace("`", "").strip()
        for names, default in ROW.findall(CONFIGURATION.read_text())
        for name in NAME.findall(names)
    }


def test_every_environment_variable_is_documented() -> None:
    declared = {variable.name for variable in _declared()}
    read = _read_directly()
    assert declared and read, "the scan found no variables at all"
    assert (declared | read) - set(_documented()) == set()


def test_documented_defaults_are_the_codes() -> None:
    documented = _documented()
    wrong = {
        variable.name: (variable.default, documented[variable.name])
        for variable in _declared()
        if variable.name in documented and variable.default not in documented[variable.name]
    }
    assert wrong == {}, "docs/configuration.md shows another default: (code, docs)"


def test_empty_variables_keep_the_defaults_and_bad_ones_name_the_variable() -> None:
    empty = {variable.name: " " for variable in _declared()}
    settings = WorkerSettings.from_env(empty)
    assert settings == WorkerSettings(worker_id=settings.worker_id)
    with pytest.raises(ValueError, match="FORTUNE_SWEEP_SECONDS must be a number, got 'soon'"):
        WorkerSettings.from_env({"FORTUNE_SWEEP_SECONDS": "soon"})
    with pytest.raises(ValueError, match=r"FORTUNE_SWEEP_SECONDS must be at least 0\.5, got 0\.1"):
        WorkerSettings.from_env({"FORTUNE_SWEEP_SECONDS": "0.1"})
    with pytest.raises(ValueError, match="FORTUNE_LEADER_ELECTION must be true or false"):
        OperatorSettings.from_env({"FORTUNE_LEADER_ELECTION": "maybe"})
    with pytest.raises(ValueError, match="FORTUNE_ZI_HOUR_CONVENTION must be one of"):
        ApiSettings.from_env({"FORTUNE_ZI_HOUR_CONVENTION": "midnight"})
