"""What browsers need from the API: CORS for a client on another origin, and the H5 app at /app/
(`FORTUNE_CORS_ORIGINS`, `FORTUNE_WEBAPP_DIR`), against the real backing services."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from api_testing import api_client, api_settings

from fortune_api.cors import parse_origins
from fortune_api.settings import ApiSettings

pytestmark = pytest.mark.integration

APP_ORIGIN = "http://127.0.0.1:5173"
BODY: dict[str, Any] = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30"},
    "topic": "love",
    "language": "zh-CN",
}


@pytest.fixture
def settings(rabbitmq: Any, redis_server: Any, mongodb: Any) -> ApiSettings:
    """Settings pointing at the real services, with a fresh database and pool per test."""
    return api_settings(rabbitmq, redis_server, mongodb, "browser")


def test_origins_are_parsed_from_a_comma_separated_list() -> None:
    assert parse_origins("") == ()
    assert parse_origins(" https://a.example/ , http://127.0.0.1:5173") == (
        "https://a.example",
        "http://127.0.0.1:5173",
    )
    assert parse_origins("*") == ("*",)


def test_without_configured_origins_no_cors_headers_are_sent(settings: ApiSettings) -> None:
    with api_client(settings) as client:
        response = client.post("/v1/profiles", json=BODY, headers={"Origin": APP_ORIGIN})
        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight_from_an_allowed_origin_is_answered_before_authentication(
    settings: ApiSettings,
) -> None:
    secured = replace(settings, cors_origins=(APP_ORIGIN,), api_keys={"secret": "app"})
    with api_client(secured) as client:
        response = client.options(
            "/v1/fortunes",
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, idempotency-key",
            },
        )
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert "idempotency-key" in allowed and "content-type" in allowed
        # the real request still needs the key
        assert (
            client.post("/v1/fortunes", json=BODY, headers={"Origin": APP_ORIGIN}).status_code
            == 401
        )


def test_preflight_from_another_origin_is_refused(settings: ApiSettings) -> None:
    with api_client(replace(settings, cors_origins=(APP_ORIGIN,))) as client:
        response = client.options(
            "/v1/fortunes",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert response.status_code == 403
        assert "Access-Control-Allow-Origin" not in response.headers


def test_responses_to_an_allowed_origin_expose_retry_after(settings: ApiSettings) -> None:
    with api_client(replace(settings, cors_origins=(APP_ORIGIN,))) as client:
        started = client.post(
            "/v1/fortunes",
            json=BODY,
            headers={"Origin": APP_ORIGIN, "Idempotency-Key": "cors-1"},
        )
        assert started.status_code == 202
        assert started.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        exposed = {h.strip() for h in started.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"Retry-After", "Idempotent-Replayed", "Location"} <= exposed
        polled = client.get(started.headers["Location"], headers={"Origin": APP_ORIGIN})
        assert polled.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert "Retry-After" in polled.headers
        invalid = client.post(
            "/v1/fortunes",
            json={"profile": {"birthDate": "1990-02-30"}},
            headers={"Origin": APP_ORIGIN},
        )
        # the mini-program's long poll: Prefer may be sent, Preference-Applied may be read
        preflight = client.options(
            started.headers["Location"],
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "prefer",
            },
        )
        assert "prefer" in preflight.headers["Access-Control-Allow-Headers"].lower()
        held = client.get(
            started.headers["Location"], headers={"Origin": APP_ORIGIN, "Prefer": "wait=1"}
        )
        assert held.headers["Preference-Applied"] == "wait=1"  # no worker: held, still queued
        assert "Preference-Applied" in held.headers["Access-Control-Expose-Headers"]
        assert invalid.status_code == 422
        assert invalid.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_a_wildcard_allows_any_origin(settings: ApiSettings) -> None:
    with api_client(replace(settings, cors_origins=("*",))) as client:
        response = client.get("/healthz", headers={"Origin": "http://anywhere.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.fixture
def webapp_dir(tmp_path: Path) -> Path:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>赛博运势</title>", encoding="utf-8")
    (tmp_path / "js" / "app.1234abcd.js").write_text("console.log('hi')", encoding="utf-8")
    (tmp_path.parent / "secret.txt").write_text("not served", encoding="utf-8")
    return tmp_path


def test_the_h5_app_is_served_under_app(settings: ApiSettings, webapp_dir: Path) -> None:
    with api_client(replace(settings, webapp_dir=str(webapp_dir))) as client:
        index = client.get("/app/")
        assert index.status_code == 200
        assert "赛博运势" in index.get_data(as_text=True)
        assert index.headers["Cache-Control"] == "no-cache"
        asset = client.get("/app/js/app.1234abcd.js")
        assert asset.status_code == 200
        assert asset.get_data(as_text=True) == "console.log('hi')"
        assert "immutable" in asset.headers["Cache-Control"]
        redirect = client.get("/app")
        assert redirect.status_code == 308
        assert redirect.headers["Location"].endswith("/app/")
        assert client.get("/app/js/missing.js").status_code == 404
        assert client.get("/app/../secret.txt").status_code == 404
        assert client.get("/app/%2e%2e/secret.txt").status_code == 404


def test_the_h5_app_needs_no_api_key(settings: ApiSettings, webapp_dir: Path) -> None:
    secured = replace(settings, webapp_dir=str(webapp_dir), api_keys={"secret": "app"})
    with api_client(secured) as client:
        assert client.get("/app/").status_code == 200
        assert client.get("/app").status_code == 308
        assert client.post("/v1/profiles", json=BODY).status_code == 401


def test_without_a_webapp_dir_there_is_no_app_route(settings: ApiSettings) -> None:
    with api_client(settings) as client:
        assert client.get("/app/").status_code == 404
