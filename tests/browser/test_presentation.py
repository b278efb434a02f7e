"""Presentation mode at projector sizes, read from the DOM of every page in Chromium: no chart is drawn
larger than the box that shows it or twice (its margins short of what stands in them), no animation's buttons or
slider over each other or over the x axis' labels, text is larger than in normal mode, and the page's main chart
(or, on a page that has not drawn it yet, some chart) lies wholly on the first screen. Normal mode at 1400x1000 is
checked for clipping too. One browser, a few seconds a page."""

from __future__ import annotations

import os
import time

import pytest

from scripts.browser import chart_boxes, charts_drawn_twice, chromium, chromium_available, clipped, \
    controls_over_axes, on_first_screen, wait_until_rendered
from tests.conftest import ROOT
from ui.catalog import PAGES

if not chromium_available():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

PROJECTORS = [(1024, 768), (1280, 720), (1366, 768), (1920, 1080)]
CHART_PAGES = [info for info in PAGES if info.url_path != "lessons"]
SHOTS = ROOT / "artifacts" / "presentation"


def settled_boxes(page, timeout_s: float = 8.0) -> list[dict]:
    """The charts' boxes once every chart is drawn and none is clipped, or as they are at the deadline
    (Plotly draws a chart, then lays it out again when its box takes the screen's height)."""
    deadline = time.monotonic() + timeout_s
    while True:
        boxes = chart_boxes(page)
        drawn = boxes and all(box["drawn_width"] > 0 for box in boxes)
        if (drawn and not any(clipped(box) for box in boxes)) or time.monotonic() > deadline:
            return boxes
        page.wait_for_timeout(250)


def open_page(page, url: str) -> list[dict]:
    page.goto(url)
    wait_until_rendered(page)
    page.mouse.move(0, 0)
    return settled_boxes(page)


def root_font_px(page) -> float:
    return page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")


def describe(box: dict) -> str:
    return (f"{box['key']}: box {box['width']:.0f}x{box['height']:.0f} at ({box['left']:.0f}, {box['top']:.0f}), "
            f"drawn {box['drawn_width']:.0f}x{box['drawn_height']:.0f}")


def test_every_page_fits_projectors_in_presentation_mode_and_its_window_in_normal_mode(app_url):
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with chromium(1400, 1000) as browser:
        page = browser.new_page()
        normal_font = None
        for info in CHART_PAGES:
            boxes = open_page(page, f"{app_url}/{info.url_path}")
            normal_font = root_font_px(page)
            problems += [f"normal {info.url_path} clipped {describe(b)}" for b in boxes if clipped(b)]
        for width, height in PROJECTORS:
            page.set_viewport_size({"width": width, "height": height})
            for info in CHART_PAGES:
                where = f"{width}x{height} {info.url_path}"
                boxes = open_page(page, f"{app_url}/{info.url_path}?present=true")
                page.screenshot(path=str(SHOTS / f"{info.url_path}-{width}x{height}.png"))
                assert boxes, f"{where}: no chart drawn"
                problems += [f"{where} clipped {describe(b)}" for b in boxes if clipped(b)]
                problems += [f"{where} drawn twice (margins short of what stands in them): {chart}"
                             for chart in charts_drawn_twice(page)]
                problems += [f"{where}: {overlap}" for overlap in controls_over_axes(page)]
                if root_font_px(page) <= normal_font:
                    problems.append(f"{where}: text {root_font_px(page)} px, not larger than normal {normal_font} px")
                main = [b for b in boxes if page.locator(f".st-key-{b['key']}_screen").count()]  # fit_to_screen's
                wanted = main or boxes
                if not any(on_first_screen(b) for b in wanted):
                    problems.append(f"{where}: {'the main chart' if main else 'no chart'} wholly on the first screen: "
                                    f"{[describe(b) for b in boxes]}")
        page.close()
    assert not problems, "\n".join(problems)
