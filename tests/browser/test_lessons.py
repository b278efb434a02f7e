"""Every lesson in Chromium: its text and formula render, and each of its links, clicked, opens the page on
the preset (no exception, no “settings not used” notice, the values in the URL and in the controls).
No training: tests/test_lessons.py runs the experiments."""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from scripts.browser import chromium, chromium_available, wait_until_rendered
from ui.lessons import LESSONS, Preset, lesson_label, lesson_query

if not chromium_available():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

@pytest.fixture(scope="module")
def browser():
    with chromium(height=1400) as context:
        yield context


ALL_PRESETS = [(number, preset) for number, lesson in enumerate(LESSONS, start=1) for preset in lesson.presets]


def lesson_url(app_url: str, number: int) -> str:
    query = urlencode(lesson_query(number))
    return f"{app_url}/lessons" + (f"?{query}" if query else "")


def assert_clean(page) -> None:
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()
    notices = page.locator("[data-testid=stAlert]").filter(has_text="settings in the link")
    assert notices.count() == 0, notices.first.inner_text()


def control_shows(page, key: str, value) -> bool:
    """Whether the control with this key displays `value` (as its URL parameter writes it)."""
    control = page.locator(f".st-key-{key}")
    if control.count() != 1:
        return False
    tabs = control.locator("[role=tablist]")
    if tabs.count():  # URL-bound tabs: the open one (its own tab list, not one inside its content)
        return tabs.first.locator("[role=tab][aria-selected=true]").inner_text().strip() == value
    checkbox = control.locator("input[type=checkbox]")
    if checkbox.count():  # toggles
        return checkbox.first.is_checked() == (value == "true")
    chosen = control.locator("button[aria-checked=true]")  # segmented controls and pills
    if control.locator("button[aria-checked]").count():
        return sorted(chosen.all_inner_texts()) == sorted((value,) if isinstance(value, str) else value)
    radio = control.locator("label:has(input[type=radio]:checked)")
    if control.locator("input[type=radio]").count():
        return radio.count() == 1 and radio.inner_text().strip() == value
    slider = control.locator("input[type=range]")
    if slider.count():  # sliders and select sliders show the value (or option label) as aria-valuetext
        return _same(slider.first.get_attribute("aria-valuetext"), value)
    if not isinstance(value, str):  # a multiselect shows each chosen label as a tag
        text = control.inner_text()
        return all(label in text for label in value)
    area = control.locator("textarea")
    if area.count():  # a text area holds its text
        return area.first.input_value() == value
    box = control.locator("input")  # a select box's combobox holds the chosen label; a number box its number
    return box.count() > 0 and _same(box.first.input_value(), value)


def _same(shown: str | None, value: str) -> bool:
    try:
        return float(shown) == float(value)
    except (TypeError, ValueError):
        return shown == value


def test_every_lesson_renders_its_text_formula_and_links(app_url, browser):
    page = browser.new_page()
    try:
        for number, lesson in enumerate(LESSONS, start=1):
            page.goto(lesson_url(app_url, number))
            wait_until_rendered(page)
            assert_clean(page)
            main = page.locator("[data-testid=stMain]")
            assert main.get_by_role("heading", name=lesson_label(number)).count() == 1
            assert main.locator(".katex").count() >= 1
            assert main.locator(".katex-error").count() == 0, f"lesson {number}: the formula does not parse"
            for preset in lesson.presets:
                assert main.get_by_role("link", name=preset.label).count() == 1, preset.label
    finally:
        page.close()


def assert_preset_shown(page, preset: Preset) -> None:
    page.wait_for_url(f"**/{preset.page}**")
    wait_until_rendered(page)
    assert_clean(page)
    title = page.locator("[data-testid=stMain] h1").first.inner_text()
    assert title.lower() == preset.target.title.lower()
    for key, value in preset.params.items():
        assert f"{key}=" in page.url, f"?{key}= left the URL (refused, or the default)"
        folded = page.locator("[data-testid=stSidebar] [class*=st-key-folded_] details:not([open]) summary")
        while not page.locator(f".st-key-{key}").count() and folded.count():  # held in a folded sidebar panel:
            folded.first.click()  # opened, as a user would (each opening reruns the page)
            wait_until_rendered(page)
        deadline = time.monotonic() + 15  # a loaded machine may still be drawing the controls
        while not control_shows(page, key, value) and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        assert control_shows(page, key, value), f"{key} does not show {value}"


def url_settings(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_every_lesson_link_clicked_in_order_in_one_session_opens_exactly_its_preset(app_url, browser):
    """As a class works through the course: one tab, the Lessons page, each link clicked in turn and the
    sidebar back to the lessons. Every link opens its own experiment (each value in its control, nothing
    else in the address bar: whatever an earlier link set is back at its default), with no error box.
    (tests/test_lessons.py checks that each opens the same experiment as in a fresh session.)"""
    page = browser.new_page()
    try:
        page.goto(lesson_url(app_url, 1))
        wait_until_rendered(page)
        for number, preset in ALL_PRESETS:
            main = page.locator("[data-testid=stMain]")
            if main.get_by_role("heading", name=lesson_label(number)).count() == 0:
                main.locator(".st-key-lesson label").filter(has_text=lesson_label(number)).click()
                main.get_by_role("heading", name=lesson_label(number)).wait_for()
            main.get_by_role("link", name=preset.label).click()
            assert_preset_shown(page, preset)
            wanted = {key: list((value,) if isinstance(value, str) else value) for key, value in preset.params.items()}
            deadline = time.monotonic() + 10  # the URL follows the page's run
            while url_settings(page) != wanted and time.monotonic() < deadline:
                page.wait_for_timeout(300)
            assert url_settings(page) == wanted, f"lesson {number}, {preset.label}"
            page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Lessons").click()
            page.wait_for_url("**/lessons**")
            wait_until_rendered(page)
    finally:
        page.close()


def test_clicking_a_lesson_link_opens_the_preset_in_the_same_tab(app_url, browser):
    page = browser.new_page()
    try:
        preset = LESSONS[1].presets[-1]
        page.goto(lesson_url(app_url, 2))
        wait_until_rendered(page)
        page.locator("[data-testid=stMain]").get_by_role("link", name=preset.label).click()
        assert_preset_shown(page, preset)
        assert len(browser.pages) == 1
    finally:
        page.close()
