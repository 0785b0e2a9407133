"""The H5 build as people use it: consent before any personal data leaves the device, a WeChat
login (the fake WeChat server behind a stand-in for wx.login), one history on two devices, the
refused name, a share that shows nothing personal, and "delete my data"."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import Stack, consent_modal, consented_earlier, login_as, open_page
from playwright.sync_api import Browser, Page, Request, Route, expect

pytestmark = pytest.mark.browser


def on(page: Page, name: str) -> Any:
    current = page.locator(f"#page-{name}")
    expect(current).to_be_visible()
    return current


def fill_form(page: Page, name: str, birth_date: str = "1990-05-17") -> None:
    form = on(page, "index")
    form.locator("#input-name input").fill(name)
    form.locator("#input-birthDate input").fill(birth_date)
    form.locator("#switch-time-unknown").click()


def request_id_of(page: Page) -> str:
    match = re.search(r"[?&]id=([0-9A-Z]{26})", page.url)
    assert match, page.url
    return match.group(1)


def device(browser: Browser, stack: Stack, openid: str | None) -> Page:
    """A phone: its own storage; logged in as `openid` through the wx.login stand-in."""
    page = open_page(browser, "zh-CN")
    consented_earlier(page)
    if openid is not None:
        login_as(page, stack.wechat, openid)
    return page


def read_fortune(page: Page, stack: Stack, name: str) -> str:
    """Form → chart → reading; the request id."""
    page.goto(stack.app_url)
    fill_form(page, name)
    on(page, "index").locator("#btn-chart").click()
    on(page, "chart").locator("#btn-ask").click()
    expect(on(page, "result").locator("#result-summary")).not_to_be_empty()
    return request_id_of(page)


def test_consent_comes_before_the_first_request_that_carries_personal_data(
    browser: Browser, stack: Stack, artifacts: Path
) -> None:
    page = open_page(browser, "zh-CN")  # no automatic consent here
    api_calls: list[str] = []

    def record(request: Request) -> None:
        if "/v1/" in request.url:
            api_calls.append(request.url)

    page.on("request", record)
    try:
        page.goto(stack.app_url)
        fill_form(page, "小满")
        on(page, "index").locator("#btn-chart").click()
        modal = consent_modal(page)
        expect(modal).to_be_visible()
        expect(modal).to_contain_text("出生日期")
        page.screenshot(path=artifacts / "30-consent-zh.png", full_page=True)
        assert api_calls == []  # nothing has left the device
        modal.locator(".taro-model__cancel").click()
        expect(on(page, "index").locator("#page-index .notice, .notice").first).to_be_visible()
        assert api_calls == []  # declined: still nothing
        on(page, "index").locator("#btn-chart").click()
        consent_modal(page).locator(".taro-model__confirm").click()
        expect(on(page, "chart").locator("#pillars")).to_be_visible()
        assert any("/v1/profiles" in url for url in api_calls)
        # asked once: the next chart goes without the notice
        page.goto(stack.app_url)
        on(page, "index").locator("#btn-chart").click()
        expect(on(page, "chart").locator("#pillars")).to_be_visible()
    finally:
        page.context.close()


def test_one_user_on_two_phones_sees_one_history_two_users_two(
    browser: Browser, stack: Stack
) -> None:
    openid = f"o-browser-{uuid.uuid4().hex[:6]}"
    exchanges = stack.wechat.stats()["exchanges"]
    phone1 = device(browser, stack, openid)
    phone2 = device(browser, stack, openid)
    stranger = device(browser, stack, openid + "-other")
    try:
        request_id = read_fortune(phone1, stack, "小满")
        assert stack.record(request_id)["client"].startswith("user:")

        phone2.goto(stack.app_url)
        fill_form(phone2, "小满")
        on(phone2, "index").locator("#btn-chart").click()  # consent, then the login
        on(phone2, "chart")
        phone2.goto(f"{stack.app_url}#/pages/history/index")
        history = on(phone2, "history")
        expect(history.locator(".shell__subtitle")).to_contain_text("所有设备")
        items = history.locator(".history__item")
        expect(items).to_have_count(1)
        items.first.click()
        expect(on(phone2, "result").locator("#result-summary")).not_to_be_empty()
        assert request_id_of(phone2) == request_id

        stranger.goto(stack.app_url)
        fill_form(stranger, "路人")
        on(stranger, "index").locator("#btn-chart").click()
        on(stranger, "chart")
        stranger.goto(f"{stack.app_url}#/pages/result/index?id={request_id}")
        expect(on(stranger, "result").locator("#trouble-notFound")).to_be_visible()
        # one code exchange per login: three phones, three logins
        assert stack.wechat.stats()["exchanges"] == exchanges + 3
    finally:
        for page in (phone1, phone2, stranger):
            page.context.close()


def test_a_name_wechat_refuses_is_shown_with_the_field(browser: Browser, stack: Stack) -> None:
    page = device(browser, stack, f"o-browser-{uuid.uuid4().hex[:6]}")
    try:
        page.goto(stack.app_url)
        fill_form(page, "违禁词")
        on(page, "index").locator("#btn-chart").click()
        on(page, "chart").locator("#btn-ask").click()
        error = on(page, "chart").locator("#error-ask")
        expect(error).to_contain_text("profile.name")
        expect(error).to_contain_text("微信内容安全检测")
    finally:
        page.context.close()


def test_a_share_shows_nothing_personal_and_stays_out_of_the_recipients_history(
    browser: Browser, stack: Stack, artifacts: Path
) -> None:
    owner = device(browser, stack, f"o-browser-{uuid.uuid4().hex[:6]}")
    recipient = device(browser, stack, None)
    try:
        owner.context.grant_permissions(["clipboard-read", "clipboard-write"])
        read_fortune(owner, stack, "李小龙")
        on(owner, "result").locator("#btn-share-link").click()
        expect(on(owner, "result").locator("#result-notice")).to_contain_text("分享链接已复制")
        link = str(owner.evaluate("navigator.clipboard.readText()"))
        assert "/pages/shared/index?share=" in link and "id=" not in link.split("#", 1)[1]

        recipient.goto(link)
        shared = on(recipient, "shared")
        expect(shared.locator("#shared-summary")).not_to_be_empty()
        expect(shared.locator("#shared-pillars")).not_to_be_empty()
        text = shared.inner_text()
        for personal in ("李小龙", "1990", "05-17"):
            assert personal not in text
        recipient.screenshot(path=artifacts / "31-shared-zh.png", full_page=True)
        recipient.goto(f"{stack.app_url}#/pages/history/index")
        expect(on(recipient, "history")).to_contain_text("还没有测过运势")
    finally:
        owner.context.close()
        recipient.context.close()


def test_delete_my_data_deletes_on_the_server_and_the_device(
    browser: Browser, stack: Stack
) -> None:
    page = device(browser, stack, f"o-browser-{uuid.uuid4().hex[:6]}")
    try:
        request_id = read_fortune(page, stack, "小满")
        page.goto(f"{stack.app_url}#/pages/privacy/index")
        privacy = on(page, "privacy")
        expect(privacy.locator("#privacy-policy")).to_contain_text("7 天")
        privacy.locator("#btn-delete-my-data").click()
        page.locator(".taro-model__confirm").click()
        expect(privacy.locator("#privacy-notice")).to_contain_text("服务器 1 条")
        kept = page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('cf.'))")
        assert kept in ([], ["cf.language"])  # only the interface language, if it was chosen
        with pytest.raises(AssertionError):
            stack.record(request_id)  # gone from MongoDB
    finally:
        page.context.close()


def test_a_reading_that_could_not_be_loaded_offers_a_retry(browser: Browser, stack: Stack) -> None:
    openid = f"o-browser-{uuid.uuid4().hex[:6]}"
    phone1, phone2 = device(browser, stack, openid), device(browser, stack, openid)
    try:
        request_id = read_fortune(phone1, stack, "小满")
        lost: list[str] = []

        def lose_first(route: Route) -> None:
            if not lost:
                lost.append(route.request.url)
                route.abort("connectionreset")
            else:
                route.continue_()

        phone2.route(re.compile(rf".*/v1/fortunes/{request_id}$"), lose_first)
        phone2.goto(f"{stack.app_url}#/pages/result/index?id={request_id}")  # not on this phone
        result = on(phone2, "result")
        expect(result.locator(".notice--error")).to_be_visible()
        result.locator("#btn-retry").click()
        expect(on(phone2, "result").locator("#result-summary")).not_to_be_empty()
        assert len(lost) == 1
    finally:
        phone1.context.close()
        phone2.context.close()
