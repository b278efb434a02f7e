"""In Chromium: a control changed by hand lands in the page's share link, and that link opens
the same experiment in a new tab; presentation mode and hidden controls work from the URL."""

from __future__ import annotations

import re
import time

import pytest

from scripts.browser import (chromium, chromium_available, record_positions, recorded_positions,
                             wait_until_rendered)
from ui.catalog import PAGES

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

# A number box on each page that defines its experiment, and a value other than its default.
TYPED = {"playground": ("pg_seed", "11"), "optimizers": ("opt_x0", "-1.25"), "landscape": ("ls_seed", "4"),
         "gradients": ("gf_seed", "9"), "attention": ("at_seed", "6"), "diffusion": ("df_seed", "3")}


@pytest.fixture(scope="module")
def browser():
    with chromium(height=1400) as context:
        yield context


def share_link(page) -> str:
    page.get_by_text("Share and present").click()
    link = page.locator("[data-testid=stSidebar] [data-testid=stCode] code")
    link.wait_for()
    return link.inner_text().strip()


def main_text(page) -> str:
    """The page's text with timings (which differ from run to run) blanked out."""
    return re.sub(r"[\d.,]+ ?(ms|s)\b", "…", page.locator("[data-testid=stMainBlockContainer]").inner_text())


@pytest.mark.parametrize("info", [page for page in PAGES if page.url_path in TYPED], ids=lambda info: info.url_path)
def test_a_control_typed_by_hand_travels_in_the_link(app_url, browser, info):
    key, value = TYPED[info.url_path]
    page = browser.new_page()
    copy = browser.new_page()
    try:
        page.goto(f"{app_url}/{info.url_path}")
        wait_until_rendered(page)
        box = page.locator(f".st-key-{key} input")
        box.fill(value)
        box.press("Enter")
        page.wait_for_url(f"**{key}={value}**")
        wait_until_rendered(page)
        link = share_link(page)
        assert f"{key}={value}" in link

        copy.goto(link)
        wait_until_rendered(copy)
        time.sleep(1)
        assert copy.locator(f".st-key-{key} input").input_value().rstrip("0").rstrip(".") == value.rstrip("0")
        assert copy.locator("[data-testid=stAlert]").filter(has_text="settings in the link").count() == 0
        assert share_link(copy) == link
        assert main_text(copy) == main_text(page)  # same experiment: the same numbers at step 0
    finally:
        page.close()
        copy.close()


def test_presentation_mode_enlarges_the_page_and_hides_the_named_controls(app_url, browser):
    page = browser.new_page()
    try:
        page.goto(f"{app_url}/playground?present=true&hide=pg_noise")
        wait_until_rendered(page)
        text_px = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert text_px >= 18  # rem text grows (Streamlit's normal is 16 px); no zoom after layout
        assert page.locator("[data-testid=stMainBlockContainer]").evaluate("e => getComputedStyle(e).zoom") == "1"
        assert page.locator("[data-testid=stSidebar]").bounding_box()["width"] == 0  # folded away
        assert not page.locator(".st-key-pg_noise").is_visible()
        assert page.locator(".st-key-pg_points").count() == 1
    finally:
        page.close()


def test_a_link_with_a_label_from_before_a_relabelling_opens_its_option(app_url, browser):
    """The app rewrites the old label in the address and starts the run again (ui.sharing.open_old_labels): the
    task box, the address bar and the share link then hold today's label, and there is no notice."""
    page = browser.new_page()
    try:
        page.goto(f"{app_url}/attention?at_task=Induction (continue a repeated segment)&at_layers=2")
        wait_until_rendered(page)
        page.wait_for_url("**at_task=Induction&**")
        assert page.locator(".st-key-at_task input").input_value() == "Induction"  # the box holds the label
        assert page.locator("[data-testid=stAlert]").filter(has_text="settings in the link").count() == 0
        assert "at_task=Induction&at_layers=2" in share_link(page)
    finally:
        page.close()


def test_nothing_in_the_sidebar_moves_while_a_change_reruns_the_page_with_the_export_panel_open(app_url, browser):
    """The panels that a run fills late (the exports, where the job trains) keep the last run's content until
    then: blanked for the run, they pulled every control under them up and back down (~500 px)."""
    page = browser.new_page()
    try:
        page.goto(f"{app_url}/playground")
        wait_until_rendered(page)
        page.locator("[data-testid=stSidebar]").get_by_text("Export", exact=True).click()
        page.get_by_role("button", name="Download settings (JSON)").wait_for()
        time.sleep(1)  # (the panel opens in an animation)
        record_positions(page, "[data-testid=stSidebarUserContent]", 4)
        box = page.locator(".st-key-pg_seed input")
        box.fill("5")
        box.press("Enter")
        page.wait_for_url("**pg_seed=5**")
        positions = recorded_positions(page)
        assert "pg_data" in positions and "export_pg_json" in positions
        assert {key: ys for key, ys in positions.items() if len(ys) > 1} == {}
    finally:
        page.close()
