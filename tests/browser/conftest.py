"""Fixtures for the browser tier: the mini-program's H5 build in Debian's headless Chromium, driven
by Playwright, against the real stack (RabbitMQ, Redis, SecantusDB, the gunicorn API serving the
build at /app/, and a worker with the offline almanac provider), all started here on free ports
and stopped by PID.

The worker can be stopped and started (`stack.stop_worker()`, `stack.start_worker()`): with no
worker, a request stays queued, so the waiting page is seen for certain and not by timing.
Screenshots go to `.local/test-artifacts/browser/` (see docs/miniapp.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymongo
import pytest
from fakes.fake_wechat import FakeWeChat
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from localservices.backends import RabbitMQServer, RedisServer, SecantusDBServerProcess
from localservices.programs import ApiProgram, WorkerProgram
from localservices.supervisor import free_port

ROOT = Path(__file__).resolve().parents[2]
MINIAPP = ROOT / "miniapp"
ARTIFACTS = ROOT / ".local" / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; without the background-networking flags it tries to reach
# Google's services, which this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 375, "height": 812}
TABLET = {"width": 820, "height": 1180}


def build_miniapp(*steps: str) -> None:
    """The cached build script: npm ci and the builds run only when their inputs changed."""
    subprocess.run(["bash", str(MINIAPP / "scripts/build.sh"), *steps], check=True, cwd=ROOT)


@pytest.fixture(scope="session")
def h5_dir() -> Path:
    """miniapp/dist/h5, built (or found up to date) for this session."""
    build_miniapp("h5")
    directory = MINIAPP / "dist" / "h5"
    assert (directory / "index.html").is_file()
    return directory


@dataclass
class Stack:
    """The running stack: the API's base URL, the worker's controls, and the one other origin
    the API allows by CORS (for a copy of the app served elsewhere)."""

    base_url: str
    env: dict[str, str]
    logs: Path
    cors_origin: str
    wechat: FakeWeChat
    worker: WorkerProgram | None = None
    starts: int = field(default=0)

    @property
    def app_url(self) -> str:
        return f"{self.base_url}/app/"

    def start_worker(self, **overrides: str) -> None:
        """Start the worker (with `overrides` on its environment, e.g. another provider)."""
        if self.worker is not None and self.worker.running():
            return
        log = self.logs / f"worker-{self.starts}.log"
        self.starts += 1

        def consuming() -> bool:
            return b'"consuming ' in log.read_bytes()

        env = {**self.env, **overrides}
        self.worker = WorkerProgram(env, log, ready=consuming, stop_timeout=40).start()

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def status_of(self, request_id: str) -> str:
        """The request's status in MongoDB (the API shows a session's request only to it)."""
        return str(self.record(request_id)["status"])

    def record(self, request_id: str) -> dict[str, Any]:
        client: pymongo.MongoClient[Any] = pymongo.MongoClient(self.env["MONGODB_URI"])
        try:
            found = client.get_default_database()["fortunes"].find_one({"_id": request_id})
        finally:
            client.close()
        assert found is not None, request_id
        return dict(found)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, h5_dir: Path) -> Iterator[Stack]:
    """RabbitMQ, Redis, SecantusDB, the API (serving the H5 build at /app/) and a worker."""
    logs = tmp_path_factory.mktemp("browser-stack")
    with contextlib.ExitStack() as services:
        rabbit = services.enter_context(RabbitMQServer(logs / "rabbitmq", free_port()))
        redis_server = services.enter_context(RedisServer(logs / "redis", free_port()))
        mongo = services.enter_context(SecantusDBServerProcess(logs / "mongodb", free_port()))
        (logs / "prometheus").mkdir()
        cors_origin = f"http://127.0.0.1:{free_port()}"
        wechat = FakeWeChat().start()
        services.callback(wechat.stop)
        env = {
            **os.environ,
            "RABBITMQ_URL": rabbit.amqp_url,
            "RABBITMQ_MANAGEMENT_URL": f"http://guest:guest@127.0.0.1:{rabbit.management_port}",
            "REDIS_URL": redis_server.redis_url,
            "MONGODB_URI": f"{mongo.mongodb_uri}/cyberfortune_browser",
            "FORTUNE_POOL": "browser",
            "FORTUNE_LLM_PROVIDER": "almanac",
            "FORTUNE_WEBAPP_DIR": str(h5_dir),
            "FORTUNE_POLL_INTERVAL_SECONDS": "1",
            "FORTUNE_CORS_ORIGINS": cors_origin,
            "FORTUNE_WORKER_METRICS_PORT": "0",  # another stack on this machine may hold 9100
            # sessions, and the WeChat app on the fake WeChat server (the H5 build logs in
            # through a stand-in for wx.login: `login_as`)
            "FORTUNE_SESSION_KEYS": "k1:browser-tier-session-key-0123456789",
            "FORTUNE_IDENTITY_KEY": "browser-tier-identity-key-0123456789",
            "FORTUNE_SESSION_RATE_LIMIT_PER_MINUTE": "0",
            "FORTUNE_WECHAT_API_BASE": wechat.base_url,
            "FORTUNE_WECHAT_APP_ID": wechat.app_id,
            "FORTUNE_WECHAT_APP_SECRET": wechat.app_secret,
            "PROMETHEUS_MULTIPROC_DIR": str(logs / "prometheus"),
        }
        api = services.enter_context(ApiProgram(free_port(), env, logs / "api.log"))
        running = Stack(api.url, env, logs, cors_origin, wechat)
        services.callback(running.stop_worker)
        running.start_worker()
        yield running


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(
    playwright_instance: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Debian's chromium, headless (Playwright never downloads a browser here)."""
    assert Path(CHROMIUM).exists(), "chromium is missing: run make system-packages (apt chromium)"
    launched = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots and posters of this run (emptied at the start of a session)."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


CONSENT_TITLE = re.compile("个人信息保护提示|Your personal data")
CONSENT_VERSION = 1  # miniapp/src/lib/privacy.ts


def consent_modal(page: Page) -> Any:
    """The consent notice (Taro's H5 modal: its content box, the wrapper has no size) as shown
    before personal data leaves the device."""
    return page.locator(".taro-modal__content", has_text=CONSENT_TITLE)


def consented_earlier(page: Page) -> None:
    """A user who agreed to the consent notice before (the tests that are not about it): the
    app's record of it (`cf.consent`, in Taro's H5 storage format) is there when a page loads.
    tests/browser/test_people.py goes through the notice itself."""
    page.add_init_script(  # every document, also those without storage (about:blank)
        "try { if (!localStorage.getItem('cf.consent')) localStorage.setItem('cf.consent', "
        f"JSON.stringify({{data: JSON.stringify({{version: {CONSENT_VERSION}, at: Date.now()}})}}))"
        " } catch (e) {}"
    )


def login_as(page: Page, wechat: FakeWeChat, openid: str) -> None:
    """The H5 build's stand-in for wx.login: a code of `openid` from the fake WeChat server."""
    page.add_init_script(
        "window.CYBERFORTUNE_WX_LOGIN = () => fetch("
        f"'{wechat.base_url}/_login?openid={openid}').then((r) => r.json()).then((b) => b.code)"
    )


def open_page(browser: Browser, locale: str, viewport: dict[str, int] | None = None) -> Page:
    context = browser.new_context(
        viewport=viewport or PHONE,  # type: ignore[arg-type]
        device_scale_factor=2,
        locale=locale,
        accept_downloads=True,
        is_mobile=(viewport or PHONE)["width"] < 600,
        has_touch=True,
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh phone-sized page in Chinese (new context: empty local storage but the consent
    given earlier)."""
    opened = open_page(browser, "zh-CN")
    consented_earlier(opened)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    opened.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "browser: drives the H5 build in headless Chromium")
