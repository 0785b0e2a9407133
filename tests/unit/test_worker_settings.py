"""Worker: provider selection and settings from the environment (pure code)."""

from __future__ import annotations

import pytest

from fortune_core.conventions import ZiHourConvention
from fortune_core.request import validate_request
from fortune_worker.providers import AlmanacProvider, OpenAIProvider, make_provider
from fortune_worker.settings import ProviderName, WorkerSettings, resolve_provider


def test_auto_picks_openai_only_with_an_api_key() -> None:
    assert resolve_provider("auto", "sk-test") == ProviderName.OPENAI
    assert resolve_provider("auto", None) == ProviderName.ALMANAC
    assert resolve_provider(" AUTO ", "") == ProviderName.ALMANAC


def test_explicit_providers() -> None:
    assert resolve_provider("almanac", "sk-test") == ProviderName.ALMANAC
    assert resolve_provider("openai", "sk-test") == ProviderName.OPENAI
    with pytest.raises(ValueError, match="needs OPENAI_API_KEY"):
        resolve_provider("openai", None)
    with pytest.raises(ValueError, match="FORTUNE_LLM_PROVIDER must be one of"):
        resolve_provider("gemini", "sk-test")


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "FORTUNE_WORKER_CONCURRENCY": "3",
        "FORTUNE_MAX_ATTEMPTS": "6",
        "FORTUNE_WORKER_SHUTDOWN_GRACE_SECONDS": "12.5",
        "FORTUNE_LLM_PROVIDER": "auto",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "FORTUNE_LLM_MODEL": "qwen-plus",
        "FORTUNE_LLM_GLOBAL_CONCURRENCY": "2",
        "FORTUNE_LLM_SLOT_LEASE_SECONDS": "30",
        "FORTUNE_WORKER_ID": "worker-a",
        "FORTUNE_POOL": "vip",
    }.items():
        monkeypatch.setenv(name, value)
    settings = WorkerSettings.from_env()
    assert settings.concurrency == 3 and settings.max_attempts == 6
    assert settings.shutdown_grace_seconds == 12.5
    assert settings.provider == ProviderName.OPENAI
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"
    assert settings.llm_model == "qwen-plus"
    assert settings.llm_global_concurrency == 2 and settings.llm_slot_lease_seconds == 30
    assert settings.worker_id == "worker-a" and settings.core.pool == "vip"


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "FORTUNE_LLM_PROVIDER",
        "FORTUNE_WORKER_CONCURRENCY",
        "FORTUNE_MAX_ATTEMPTS",
        "FORTUNE_LLM_GLOBAL_CONCURRENCY",
        "FORTUNE_LLM_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = WorkerSettings.from_env()
    assert settings.provider == ProviderName.ALMANAC
    assert settings.concurrency == 8 and settings.max_attempts == 4
    assert settings.llm_global_concurrency == 16 and settings.llm_model == "gpt-4o-mini"


def test_bad_numbers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORTUNE_WORKER_CONCURRENCY", "0")
    with pytest.raises(ValueError, match="FORTUNE_WORKER_CONCURRENCY"):
        WorkerSettings.from_env()


def test_make_provider_follows_the_settings() -> None:
    almanac = make_provider(WorkerSettings(provider=ProviderName.ALMANAC))
    assert isinstance(almanac, AlmanacProvider) and not almanac.uses_llm
    openai_provider = make_provider(
        WorkerSettings(
            provider=ProviderName.OPENAI,
            openai_api_key="sk-test",
            openai_base_url="http://127.0.0.1:9/v1",
        )
    )
    assert isinstance(openai_provider, OpenAIProvider) and openai_provider.uses_llm
    assert "gpt-4o-mini" in openai_provider.describe()
    assert "sk-test" not in openai_provider.describe()


def test_almanac_provider_writes_a_result() -> None:
    request = validate_request(
        {"profile": {"birthDate": "1990-05-17", "birthTime": "08:30"}, "date": "2025-03-01"}
    ).request
    assert request is not None
    result = AlmanacProvider(ZiHourConvention.NEXT_DAY).reading(request, "r1")
    assert result.provider == "almanac"
    assert 0 <= result.scores.overall <= 100 and result.text
