"""The mini-program's H5 build in headless Chromium against the real stack: what people do.

Every test starts from an empty browser profile. A test that must see the waiting page stops
the worker first, so the request stays queued until the test starts the worker again; nothing
here depends on timing. Screenshots of each page go to .local/test-artifacts/browser/.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import io
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import PHONE, TABLET, Stack, consented_earlier, open_page
from PIL import Image
from playwright.sync_api import Browser, Page, Request, Response, Route, expect

from fortune_core.ids import new_request_id
from fortune_core.luck import LuckAt
from fortune_core.profile import derive_profile, luck_for
from fortune_core.request import BirthProfile
from localservices.jsonhttp import http_json

pytestmark = pytest.mark.browser
BIRTH = {"name": "小满", "birthDate": "1990-05-17", "birthTime": "08:30"}


def on(page: Page, name: str) -> Any:
    """The page `name` as shown now (H5 keeps earlier pages of the stack hidden in the DOM)."""
    current = page.locator(f"#page-{name}")
    expect(current).to_be_visible()
    return current


def fill_form(page: Page, name: str, birth_date: str, birth_time: str = "") -> None:
    form = on(page, "index")
    form.locator("#input-name input").fill(name)
    form.locator("#input-birthDate input").fill(birth_date)
    if birth_time:
        form.locator("#input-birthTime input").fill(birth_time)


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=artifacts / f"{name}.png", full_page=True)


def luck_today(**birth: str) -> LuckAt:
    """The luck the chart page shows: the profile route's default date is today in the birth's
    time zone."""
    profile = BirthProfile.model_validate(birth)
    today = dt.datetime.now(ZoneInfo(profile.timezone)).date()
    return luck_for(derive_profile(profile), today)


def request_id_of(page: Page) -> str:
    match = re.search(r"[?&]id=([0-9A-Z]{26})", page.url)
    assert match, page.url
    return match.group(1)


def test_a_reading_from_the_form_to_the_poster(
    page: Page, stack: Stack, artifacts: Path, tmp_path: Path
) -> None:
    stack.stop_worker()  # the request waits in the queue until the worker is started below
    try:
        page.goto(stack.app_url)
        form = on(page, "index")
        expect(form).to_contain_text("填写生辰")
        shot(page, artifacts, "01-form-zh")
        fill_form(page, BIRTH["name"], BIRTH["birthDate"], BIRTH["birthTime"])
        form.locator("#gender-female").click()
        form.locator("#topic-career").click()
        expect(form.locator("#field-name")).to_contain_text("2/32")
        form.locator("#btn-chart").click()

        chart = on(page, "chart")
        # 1990-05-17 08:30 in Shanghai (summer time then): 庚午 辛巳 壬午 甲辰 (docs/domain.md)
        for pillar in ("庚", "午", "辛", "巳", "壬", "甲", "辰"):
            expect(chart.locator("#pillars")).to_contain_text(pillar)
        expect(chart.locator("#zodiac")).to_have_text("马")
        expect(chart.locator("#constellation")).to_have_text("金牛座")
        expect(chart.locator("#almanac")).to_contain_text("宜")
        # 大运 (female, 庚午 year: backward), the one containing today marked, and the 流年
        luck = luck_today(birthDate=BIRTH["birthDate"], birthTime=BIRTH["birthTime"],
                          gender="female")  # fmt: skip
        assert luck.da_yun is not None
        expect(chart.locator("#qi-yun")).to_contain_text("起运")
        expect(chart.locator("#qi-yun")).to_contain_text("逆排")
        expect(chart.locator("#childhood")).to_contain_text("童限")
        expect(chart.locator("#da-yun-current")).to_contain_text(luck.da_yun.ganzhi)
        expect(chart.locator("#da-yun-current")).to_contain_text("当前")
        expect(chart.locator("#liu-nian-current")).to_contain_text(luck.liu_nian[0].ganzhi)
        expect(chart.locator("#liu-nian .luck__step")).to_have_count(10)
        expect(chart.locator("#shen-sha")).to_contain_text("神煞")
        shot(page, artifacts, "02-chart-zh")
        chart.locator("#btn-ask").click()

        waiting = on(page, "waiting")
        expect(waiting.locator("#waiting-status")).to_have_text("排队中，马上轮到你")
        request_id = request_id_of(page)
        assert stack.status_of(request_id) == "queued"
        shot(page, artifacts, "03-waiting-zh")

        # reload mid-wait: the id is in the URL and in storage; the page picks up polling
        page.reload()
        expect(on(page, "waiting").locator("#waiting-status")).to_have_text("排队中，马上轮到你")
        # close and reopen the app: the start page offers the reading in progress
        page.goto("about:blank")
        page.goto(stack.app_url)
        banner = on(page, "index").locator("#resume-banner")
        expect(banner).to_be_visible()
        banner.click()
        expect(on(page, "waiting").locator("#waiting-status")).to_be_visible()
        assert request_id_of(page) == request_id
    finally:
        stack.start_worker()

    result = on(page, "result")
    assert request_id_of(page) == request_id
    expect(result.locator("#result-summary")).not_to_be_empty()
    overall = int(result.locator("#score-overall").inner_text())
    assert 0 <= overall <= 100
    for aspect in ("career", "love", "wealth", "health", "study"):
        expect(result.locator(f"#score-{aspect}")).to_contain_text(re.compile(r"\d+"))
    expect(result.locator("#lucky")).to_contain_text("幸运色")
    expect(result.locator("#advice")).to_contain_text("宜")
    expect(result.locator("#narrative")).to_contain_text(
        "小满"
    )  # the name, as data, in the reading
    assert stack.status_of(request_id) == "succeeded"
    shot(page, artifacts, "04-result-zh")

    result.locator("#btn-poster").click()
    poster = on(page, "poster")
    expect(poster.locator("#poster-image")).to_be_visible()
    shot(page, artifacts, "05-poster-page-zh")
    with page.expect_download() as download_info:
        poster.locator("#btn-save").click()
    saved = tmp_path / "poster.png"
    download_info.value.save_as(saved)
    shutil.copy(saved, artifacts / "06-poster-zh.png")
    assert_real_picture(saved)
    expect(poster.locator("#poster-message")).to_have_text("图片已下载")

    page.goto(stack.app_url + "#/pages/history/index")
    history = on(page, "history")
    expect(history.locator("#history-list")).to_contain_text("今日事业运势")
    expect(history.locator("#history-list")).to_contain_text(str(overall))
    shot(page, artifacts, "07-history-zh")
    # no reading in progress any more
    page.goto(stack.app_url)
    expect(on(page, "index").locator("#resume-banner")).to_have_count(0)


def assert_real_picture(path: Path) -> None:
    """A PNG of the poster's size with real content: many colours, not one flat fill."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (750, 1334)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 500, "the poster looks blank"
        # text drawn in light colours on the dark sky: some pixels are bright
        bright = sum(count for count, (r, g, b) in colours if r + g + b > 600)
        assert bright > 2000
        # the gold score ring and the element colours are there, not only greys
        assert any(r > 200 and 150 < g < 230 and b < 140 for _, (r, g, b) in colours)


def test_a_bad_date_is_shown_next_to_the_date_field(
    page: Page, stack: Stack, artifacts: Path
) -> None:
    page.goto(stack.app_url)
    form = on(page, "index")
    fill_form(page, "小满", "1990-02-30")
    form.locator("#btn-chart").click()
    # the API's own words (422 fields), in Chinese, right under the date
    expect(form.locator("#error-birthDate")).to_have_text("不是有效的日期")
    expect(form.locator("#error-form")).to_be_visible()
    shot(page, artifacts, "08-form-error-zh")
    # a local check needs no API call: a time that is not a time
    form.locator("#input-birthDate input").fill("1990-05-17")
    form.locator("#input-birthTime input").fill("25:61")
    form.locator("#btn-chart").click()
    expect(form.locator("#error-birthTime")).to_contain_text("时:分")
    expect(form.locator("#error-birthDate")).to_have_count(0)

    form.locator("#lang-switch").click()
    form.locator("#input-birthTime input").fill("")
    form.locator("#input-birthDate input").fill("2999-01-01")
    form.locator("#btn-chart").click()
    expect(form.locator("#error-birthDate")).to_have_text("cannot be in the future")
    shot(page, artifacts, "09-form-error-en")


def test_lunar_dates_show_the_leap_switch_only_in_leap_years(page: Page, stack: Stack) -> None:
    page.goto(stack.app_url)
    form = on(page, "index")
    form.locator("#calendar-lunar").click()
    form.locator("#input-birthDate input").fill("2024-02-15")
    expect(form.locator("#leap-row")).to_have_count(0)
    form.locator("#input-birthDate input").fill("2023-02-15")
    expect(form.locator("#leap-row")).to_contain_text("闰二月")
    form.locator("#switch-leap").click()
    expect(form.locator("#lunar-reading")).to_have_text("农历 2023年 闰二月十五")
    form.locator("#btn-chart").click()
    chart = on(page, "chart")
    # 闰二月十五 of 2023 is 2023-04-05 (docs/domain.md)
    expect(page.locator("#page-chart .shell__subtitle")).to_contain_text("2023年4月5日")
    expect(chart.locator("#pillars")).to_contain_text("时辰未知")


def test_the_app_follows_the_system_language_and_switches(
    browser: Browser, stack: Stack, artifacts: Path
) -> None:
    page = open_page(browser, "en-US", TABLET)
    consented_earlier(page)
    try:
        page.goto(stack.app_url)
        form = on(page, "index")
        expect(form).to_contain_text("About you")
        expect(form.locator("#language-en")).to_have_class(re.compile("chip--on"))
        shot(page, artifacts, "10-form-en-tablet")
        fill_form(page, "Ann", "1988-06-01", "09:30")
        form.locator("#gender-male").click()
        form.locator("#city-london").click()
        form.locator("#btn-chart").click()
        chart = on(page, "chart")
        expect(chart).to_contain_text("Your chart")
        expect(chart.locator("#zodiac")).to_have_text("Dragon")
        # 戊辰 (yang) year, male: forward; the luck pillars and annual pillars in English
        luck = luck_today(birthDate="1988-06-01", birthTime="09:30", timezone="Europe/London",
                          gender="male")  # fmt: skip
        assert luck.da_yun is not None
        expect(chart.locator("#qi-yun")).to_contain_text("Luck starts at")
        expect(chart.locator("#qi-yun")).to_contain_text("(forward)")
        expect(chart.locator("#childhood")).to_contain_text("Childhood span")
        current = chart.locator("#da-yun-current")
        expect(current).to_contain_text(luck.da_yun.ganzhi)
        expect(current).to_contain_text("now")
        expect(chart.locator("#liu-nian-current")).to_contain_text(luck.liu_nian[0].ganzhi)
        expect(chart.locator("#luck")).to_contain_text("Annual pillars (Liu Nian)")
        shot(page, artifacts, "11-chart-en-tablet")
        chart.locator("#btn-ask").click()
        result = on(page, "result")
        expect(result).to_contain_text("Overall fortune, today")
        expect(page).to_have_title("Overall fortune, today")  # the navigation title, in English
        expect(result.locator("#lucky")).to_contain_text("Colour")
        shot(page, artifacts, "12-result-en-tablet")
        # switch to Chinese: the interface changes at once and stays after a reload
        result.locator("#lang-switch").click()
        expect(result).to_contain_text("各项运势")
        page.reload()
        expect(on(page, "result")).to_contain_text("各项运势")
        result = on(page, "result")
        result.locator("#btn-poster").click()
        poster = on(page, "poster")
        expect(poster.locator("#poster-image")).to_be_visible()
        shot(page, artifacts, "13-poster-page-tablet")
    finally:
        page.context.close()


def test_a_double_tap_starts_one_reading(page: Page, stack: Stack) -> None:
    starts: list[Request] = []
    page.on(
        "request",
        lambda r: (
            starts.append(r) if r.method == "POST" and r.url.endswith("/v1/fortunes") else None
        ),
    )
    stack.stop_worker()
    try:
        page.goto(stack.app_url)
        fill_form(page, "小满", "1990-05-17", "08:30")
        on(page, "index").locator("#btn-chart").click()
        on(page, "chart").locator("#btn-ask").dblclick()
        expect(on(page, "waiting").locator("#waiting-status")).to_be_visible()
        assert len(starts) == 1
    finally:
        stack.start_worker()
    expect(on(page, "result").locator("#result-summary")).not_to_be_empty()


def test_a_retry_after_a_lost_answer_gets_the_same_reading(page: Page, stack: Stack) -> None:
    """The first start reaches the API but its answer is lost; the retry with the same
    Idempotency-Key is answered with the same id (Idempotent-Replayed), so one reading exists."""
    seen: list[dict[str, Any]] = []

    def lose_first_answer(route: Route) -> None:
        answer = route.fetch()  # the real API takes the request
        seen.append({"key": route.request.headers.get("idempotency-key"), "body": answer.json()})
        if len(seen) == 1:
            route.abort("connectionreset")  # ... but the client never hears back
        else:
            route.fulfill(response=answer)

    page.route(re.compile(r".*/v1/fortunes$"), lose_first_answer)
    page.goto(stack.app_url)
    fill_form(page, "小满", "1990-05-17", "08:30")
    on(page, "index").locator("#btn-chart").click()
    on(page, "chart").locator("#btn-ask").click()
    result = on(page, "result")
    expect(result.locator("#result-summary")).not_to_be_empty()
    assert len(seen) == 2
    assert seen[0]["key"] and seen[0]["key"] == seen[1]["key"]
    assert seen[0]["body"]["id"] == seen[1]["body"]["id"] == request_id_of(page)


def test_cancel_while_waiting(page: Page, stack: Stack, artifacts: Path) -> None:
    stack.stop_worker()
    try:
        page.goto(stack.app_url)
        fill_form(page, "小满", "1990-05-17")
        on(page, "index").locator("#switch-time-unknown").click()
        on(page, "index").locator("#btn-chart").click()
        on(page, "chart").locator("#btn-ask").click()
        waiting = on(page, "waiting")
        expect(waiting.locator("#waiting-status")).to_be_visible()
        request_id = request_id_of(page)
        waiting.locator("#btn-cancel").click()
        page.locator(".taro-model__confirm").click()
        expect(on(page, "waiting").locator("#trouble-cancelled")).to_contain_text("已取消")
        assert stack.status_of(request_id) == "cancelled"
        shot(page, artifacts, "14-cancelled-zh")
    finally:
        stack.start_worker()
    # asking again makes a new reading, which the worker now finishes
    on(page, "waiting").locator("#btn-ask-again").click()
    expect(on(page, "result").locator("#result-summary")).not_to_be_empty()
    assert request_id_of(page) != request_id


def test_an_expired_reading_is_explained_kindly(page: Page, stack: Stack, artifacts: Path) -> None:
    eight_days_ago = time.time() - 8 * 24 * 3600
    expired = new_request_id(eight_days_ago)
    code, body = http_json("GET", f"{stack.base_url}/v1/fortunes/{expired}")
    assert code == 410 and body["error"]["code"] == "expired"
    page.goto(f"{stack.app_url}#/pages/result/index?id={expired}")
    trouble = on(page, "result").locator("#trouble-expired")
    expect(trouble).to_contain_text("这份运势已过期")
    expect(trouble).to_contain_text("7 天")
    expect(trouble.locator("#btn-ask-again")).to_be_visible()
    shot(page, artifacts, "15-expired-zh")


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_origin(stack: Stack, h5_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A copy of the H5 build served on the API's allowed CORS origin, configured (in its
    index.html, no rebuild) to call the API on its own origin."""
    site = tmp_path / "site"
    shutil.copytree(h5_dir, site / "app")
    index = site / "app" / "index.html"
    config = f"<script>window.CYBERFORTUNE_API_BASE = {json.dumps(stack.base_url)}</script>"
    index.write_text(index.read_text(encoding="utf-8").replace("<head>", "<head>" + config, 1))
    port = int(stack.cors_origin.rsplit(":", 1)[1])
    handler = functools.partial(_StaticHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stack.cors_origin
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_app_on_another_origin_calls_the_api_through_cors(
    page: Page, stack: Stack, other_origin: str
) -> None:
    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if r.url.startswith(stack.base_url) else None)
    page.goto(f"{other_origin}/app/")
    fill_form(page, "小满", "1990-05-17", "08:30")
    on(page, "index").locator("#btn-chart").click()
    expect(on(page, "chart").locator("#pillars")).to_contain_text("壬")
    on(page, "chart").locator("#btn-ask").click()
    expect(on(page, "result").locator("#result-summary")).not_to_be_empty()
    # every API call crossed origins, and the browser let the page read each answer
    calls = {(r.request.method, r.url.split("/v1/")[1].split("/")[0]) for r in answers}
    assert {("POST", "profiles"), ("POST", "fortunes"), ("GET", "fortunes")} <= calls
    for answer in answers:
        assert answer.headers.get("access-control-allow-origin") == other_origin
    accepted = next(r for r in answers if r.request.method == "POST" and r.status == 202)
    assert "retry-after" in accepted.all_headers()
    assert "Retry-After" in accepted.headers["access-control-expose-headers"]


def test_phone_layout_has_no_sideways_scroll(page: Page, stack: Stack) -> None:
    def page_width() -> int:
        return int(page.evaluate("document.documentElement.scrollWidth"))

    page.goto(stack.app_url)
    on(page, "index")
    assert page_width() <= PHONE["width"]
    fill_form(page, "小满", "1990-05-17", "08:30")
    on(page, "index").locator("#btn-chart").click()
    on(page, "chart")
    assert page_width() <= PHONE["width"]
