"""A reading that appears as it is written: the H5 build follows the request's event stream
while the worker streams the answer from the fake LLM (which holds its stream at two points of
the narrative until the test lets it go on, so nothing depends on timing)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Stack
from fakes.fake_llm import FakeLLM
from playwright.sync_api import Page, expect
from test_app import BIRTH, fill_form, on, request_id_of, shot

from localservices.supervisor import wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def streaming_worker(stack: Stack) -> Iterator[FakeLLM]:
    """The stack's worker on the openai provider, against a fake LLM that streams slowly."""
    fake = FakeLLM().start()
    fake.configure(chunk_chars=3, chunk_seconds=0.01)
    stack.stop_worker()
    stack.start_worker(
        FORTUNE_LLM_PROVIDER="openai", OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="browser"
    )
    try:
        yield fake
    finally:
        fake.release()
        stack.stop_worker()
        fake.stop()
        stack.start_worker()


def narrative_shown(page: Page) -> str:
    text: str = on(page, "waiting").locator("#waiting-text").inner_text()
    return text


def test_the_reading_grows_on_the_waiting_page_then_the_result_is_the_same(
    page: Page, stack: Stack, streaming_worker: FakeLLM, artifacts: Path
) -> None:
    fake = streaming_worker
    fake.configure(pause_in_text=[6, 16])  # each stream holds 6, then 16 characters in
    page.goto(stack.app_url)
    fill_form(page, BIRTH["name"], BIRTH["birthDate"], BIRTH["birthTime"])
    on(page, "index").locator("#btn-chart").click()
    on(page, "chart").locator("#btn-ask").click()
    waiting = on(page, "waiting")
    request_id = request_id_of(page)
    first = wait_for(lambda: waiting.locator("#waiting-text").inner_text() or None, 60,
                     "the first words on the waiting page")  # fmt: skip
    expect(waiting.locator("#waiting-status")).to_have_text(re.compile(".+"))
    shot(page, artifacts, "16-streaming-first-zh")
    fake.resume()
    second = wait_for(
        lambda: (text := waiting.locator("#waiting-text").inner_text()) != first and text,
        60,
        "more words",
    )
    shot(page, artifacts, "17-streaming-more-zh")
    assert second.startswith(first) and len(second) > len(first)
    fake.resume()

    result = on(page, "result")
    assert request_id_of(page) == request_id
    narrative = result.locator("#narrative").inner_text()
    # The API shows the request only to the page's session: read the stored record.
    record = stack.record(request_id)
    assert record["status"] == "succeeded"
    stored = record["result"]
    assert stored["provider"] == "openai"
    assert stored["text"].startswith(second) and stored["text"] in narrative
    shot(page, artifacts, "18-streaming-result-zh")
    shown = result.inner_text()
    page.reload()  # the same result page from GET alone, as a reading that was not streamed
    reloaded = on(page, "result")
    expect(reloaded.locator("#narrative")).to_contain_text(stored["text"])
    assert reloaded.locator("#narrative").inner_text() == narrative
    assert reloaded.inner_text() == shown
