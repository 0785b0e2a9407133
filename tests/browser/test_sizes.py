"""Readable text and tappable targets on a phone: every page of the H5 build at 375 × 667 (the
design is 750 px wide, so one design px is half a CSS px here: 24 design px of text are 12 px).

From the computed styles and bounding boxes Chromium gives: every visible text is at least 12 px
and every tap target (a native control, an element with a role a person taps, or one React
gave a click handler) at least 44 px high, and 44 px wide unless it spans the row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Stack, consented_earlier, open_page
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser
PHONE_SE = {"width": 375, "height": 667}
MIN_TEXT_PX = 12
MIN_TARGET_PX = 44

MEASURE = (Path(__file__).parent / "measure_sizes.js").read_text()


def on(page: Page, name: str) -> Any:
    current = page.locator(f"#page-{name}")
    expect(current).to_be_visible()
    return current


def offences(page: Page, name: str) -> list[str]:
    on(page, name)
    found: list[str] = page.evaluate(MEASURE, [f"#page-{name}", MIN_TEXT_PX, MIN_TARGET_PX])
    return [f"{name}: {offence}" for offence in found]


def test_every_page_has_readable_text_and_big_enough_tap_targets(
    browser: Browser, stack: Stack
) -> None:
    page = open_page(browser, "zh-CN", PHONE_SE)
    consented_earlier(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    found: list[str] = []
    try:
        page.goto(stack.app_url)
        found += offences(page, "index")
        form = on(page, "index")
        form.locator("#input-name input").fill("小满")
        form.locator("#input-birthDate input").fill("1990-05-17")
        form.locator("#input-birthTime input").fill("08:30")
        form.locator("#btn-chart").click()
        found += offences(page, "chart")

        stack.stop_worker()  # the reading waits in line: the waiting page stays
        try:
            on(page, "chart").locator("#btn-ask").click()
            queued = on(page, "waiting").locator("#waiting-status")
            expect(queued).to_have_text("排队中，马上轮到你")
            found += offences(page, "waiting")
        finally:
            stack.start_worker()
        result = on(page, "result")
        expect(result.locator("#result-summary")).not_to_be_empty()
        found += offences(page, "result")

        result.locator("#btn-share-link").click()
        expect(result.locator("#result-notice")).to_contain_text("分享链接已复制")
        link = str(page.evaluate("navigator.clipboard.readText()"))

        result.locator("#btn-poster").click()
        expect(on(page, "poster").locator("#poster-image")).to_be_visible()
        found += offences(page, "poster")

        for name in ("history", "privacy"):
            page.goto(f"{stack.app_url}#/pages/{name}/index")
            found += offences(page, name)

        page.goto(link)
        expect(on(page, "shared").locator("#shared-summary")).not_to_be_empty()
        found += offences(page, "shared")
    finally:
        page.context.close()
    assert not found, "\n".join(found)
