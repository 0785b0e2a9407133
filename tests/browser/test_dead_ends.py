"""No dead ends: a call that fails (here the network really down: the browser offline) shows why,
in the chosen language, with a retry and a way back; the retry, once the network is back, goes on.
The navigation title follows the chosen language too."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Stack, consented_earlier, open_page
from playwright.sync_api import Browser, Page, expect
from test_sizes import offences

pytestmark = pytest.mark.browser


def on(page: Page, name: str) -> Any:
    """The page `name` as shown now (H5 keeps earlier pages of the stack hidden in the DOM)."""
    current = page.locator(f"#page-{name}")
    expect(current).to_be_visible()
    return current


def test_the_chart_request_without_network_offers_a_retry(page: Page, stack: Stack) -> None:
    page.goto(stack.app_url)
    form = on(page, "index")
    expect(page).to_have_title("赛博运势")
    form.locator("#input-birthDate input").fill("1990-05-17")
    form.locator("#input-birthTime input").fill("08:30")

    page.context.set_offline(True)
    form.locator("#btn-chart").click()
    failure = form.locator("#error-form")
    expect(failure).to_contain_text("网络好像断开了")
    expect(form.locator("#btn-retry")).to_have_text("重试")
    assert offences(page, "index") == []  # the failure's text and buttons are big enough too

    # the reason and the navigation title follow the language switch
    form.locator("#lang-switch").click()
    expect(failure).to_contain_text("You seem to be offline")
    expect(form.locator("#btn-retry")).to_have_text("Retry")
    expect(page).to_have_title("CyberFortune")

    page.context.set_offline(False)
    form.locator("#btn-retry").click()
    chart = on(page, "chart")
    expect(chart.locator("#zodiac")).to_have_text("Horse")
    expect(page).to_have_title("Your chart")


def test_a_shared_reading_without_network_offers_a_retry_and_a_way_back(
    browser: Browser, stack: Stack
) -> None:
    owner = open_page(browser, "zh-CN")
    recipient = open_page(browser, "zh-CN")
    consented_earlier(owner)
    try:
        owner.context.grant_permissions(["clipboard-read", "clipboard-write"])
        owner.goto(stack.app_url)
        form = on(owner, "index")
        form.locator("#input-birthDate input").fill("1990-05-17")
        form.locator("#switch-time-unknown").click()
        form.locator("#btn-chart").click()
        on(owner, "chart").locator("#btn-ask").click()
        expect(on(owner, "result").locator("#result-summary")).not_to_be_empty()
        on(owner, "result").locator("#btn-share-link").click()
        expect(on(owner, "result").locator("#result-notice")).to_contain_text("分享链接已复制")
        link = str(owner.evaluate("navigator.clipboard.readText()"))

        # a link that opens nothing: said so, with a retry and the way back
        recipient.goto(f"{stack.app_url}#/pages/shared/index?share=no-such-share-token")
        shared = on(recipient, "shared")
        expect(shared.locator("#failure")).to_contain_text("这个分享链接打不开了")
        expect(shared.locator("#btn-failure-back")).to_have_text("返回首页")
        assert offences(recipient, "shared") == []

        # the real link while the network is down (the page's code is loaded already)
        recipient.context.set_offline(True)
        recipient.goto(link)
        shared = on(recipient, "shared")
        expect(shared.locator("#failure")).to_contain_text("网络好像断开了")
        recipient.context.set_offline(False)
        shared.locator("#btn-retry").click()
        expect(shared.locator("#shared-summary")).not_to_be_empty()
        expect(shared.locator("#failure")).to_have_count(0)
        shared.locator("#btn-own-reading").click()
        on(recipient, "index")
    finally:
        owner.context.close()
        recipient.context.close()
