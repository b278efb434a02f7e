"""Every page in headless Chromium against a real `streamlit run app.py`.

Opens each page, presses Train where there is one, waits for the step counter
and the charts to change, fails on any stException, and saves a screenshot of
each page under artifacts/screenshots/; a chart that plotly.js had to draw twice (its
margins too short for its labels, colour bar or legend: viz.theme.margins_for_one_draw) fails it too. Every other
view of a page (its tabs, parts and modes) is opened by its link and checked the same way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from scripts.browser import (charts_drawn_twice, chromium, chromium_available, running_app, step_counter,
                             wait_until_rendered)
from tests.conftest import ROOT
from ui.catalog import HOME, PAGES

if not chromium_available():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    with chromium(height=2200) as context:  # tall: the main area scrolls inside the page
        yield context


def charts_signature(page) -> str:
    return "".join(page.locator(".js-plotly-plot .main-svg").evaluate_all("els => els.map(e => e.innerHTML)"))


def assert_no_exception(page) -> None:
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()


@pytest.mark.parametrize("info", [HOME, *PAGES], ids=lambda info: info.url_path)
def test_page_opens_trains_and_shows_it(app_url, browser, info):
    page = browser.new_page()
    try:
        page.goto(f"{app_url}/{info.url_path}")
        wait_until_rendered(page)
        assert_no_exception(page)
        assert charts_drawn_twice(page) == [], "a chart's margins did not hold what stands in them"
        train = page.get_by_role("button", name="Train", exact=True)
        if train.count():
            before_step, before_charts = step_counter(page), charts_signature(page)
            train.first.click()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(1.0)
                step = step_counter(page)
                if step is not None and step > (before_step or 0) and charts_signature(page) != before_charts:
                    break
            else:
                pytest.fail(f"{info.title}: the step counter or the charts did not change after Train")
            page.get_by_role("button", name="Pause", exact=True).first.click()
            wait_until_rendered(page)
        assert_no_exception(page)
        assert charts_drawn_twice(page) == [], "a chart's margins did not hold what stands in them (trained)"
        page.mouse.move(0, 0)  # no tooltip in the picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{info.url_path}.png"), full_page=True)
    finally:
        page.close()


# The views a page opens besides its first (its tabs, parts and modes, as links give them): each must open
# without an error and draw each of its charts once.
OTHER_VIEWS = [
    *(f"attention?at_tab={view}" for view in ("Head+lines", "Your+sequence", "Training+timeline", "Curves",
                                               "Ablation", "Positions")),
    *(f"cnn?cnn_tab={tab}" for tab in ("Arithmetic", "Kernels", "Upsampling")),
    *(f"cnn?cnn_view={view}" for view in ("Filters+and+feature+maps", "Mistakes", "Shift", "Saliency+and+attacks")),
    *(f"diffusion?df_tab={tab}" for tab in ("Reverse+process", "Forward+process+and+schedule")),
    *(f"generalization?gl_view={view}" for view in ("Complexity+sweep", "Regularization", "Early+stopping")),
    "generative?gen_model=GAN", "generative?gen_view=Samples+and+reconstructions", "generative?gen_view=Training",
    "gradients?gf_mode=Through+time", "optimizers?opt_tab=3-D+surface", "optimizers?opt_tab=Step-size+theory",
    "words?wd_part=Word+vectors", "words?wd_part=Character+model",
    "words?wd_part=Word+vectors&wd_view=Neighbours+and+analogies", "words?wd_part=Word+vectors&wd_view=Training",
]


def test_every_other_view_opens_and_draws_each_chart_once(app_url, browser):
    page = browser.new_page()
    problems = []
    try:
        for view in OTHER_VIEWS:
            page.goto(f"{app_url}/{view}")
            wait_until_rendered(page)
            if page.locator("[data-testid=stException]").count():
                problems.append(f"{view}: {page.locator('[data-testid=stException]').first.inner_text()}")
            if page.get_by_text("Some settings in the link were not used").count():
                problems.append(f"{view}: the link's view was not used")
            problems += [f"{view}: drawn twice: {chart}" for chart in charts_drawn_twice(page)]
    finally:
        page.close()
    assert not problems, "\n".join(problems)


def test_home_links_to_every_page(app_url, browser):
    page = browser.new_page()
    try:
        page.goto(app_url)
        wait_until_rendered(page)
        main = page.locator("[data-testid=stMain]")
        for info in PAGES:
            assert main.get_by_text(info.title).count() >= 1, info.title
        clipped = main.locator("[data-testid=stPageLink] span").evaluate_all(
            "labels => labels.filter(label => label.scrollWidth > label.clientWidth).map(label => label.textContent)")
        assert clipped == []  # (a long lesson title wraps)
        # each card's picture: the top of the page's screenshot, at the width st.image sends at most
        pictures = main.locator("[data-testid=stImage] img")
        assert pictures.count() == sum(info.screenshot.exists() for info in PAGES)
        page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stImage] img')]"
                               ".every(picture => picture.complete)")
        assert set(pictures.evaluate_all("pictures => pictures.map(p => p.naturalWidth)")) == {1460}
    finally:
        page.close()


def test_a_deep_link_as_the_first_visit_gets_the_full_app(browser):
    """The first session after a server start must run app.py (navigation, sidebar), not the page alone."""
    with running_app() as (url, _process):
        page = browser.new_page()
        page.goto(f"{url}/playground?pg_layers=3")
        wait_until_rendered(page)
        assert page.get_by_text("Force CPU").count() == 1
        assert page.locator("[data-testid=stSidebarNav]").get_by_text("Network Playground").count() == 1
        assert "pg_layers=3" in page.url


def test_closing_the_tab_stops_its_training_thread(browser):
    """No thread outlives its session: the job's thread ends soon after its tab closes.

    Reads the names of the server's OS threads (a job's thread is named `gradscape-<job>` there too,
    engine.common.device.name_os_thread): one trains while the tab is open, none is left after it closes."""
    with running_app() as (url, process):
        def training_threads() -> list[str]:
            names = []
            for task in os.listdir(f"/proc/{process.pid}/task"):
                try:
                    names.append(Path(f"/proc/{process.pid}/task/{task}/comm").read_text().strip())
                except FileNotFoundError:  # the thread ended while listed
                    pass
            return [name for name in names if name.startswith("gradscape-")]

        def within(seconds: float, condition) -> bool:
            deadline = time.monotonic() + seconds
            while not condition() and time.monotonic() < deadline:
                time.sleep(0.5)
            return condition()

        page = browser.new_page()
        page.goto(f"{url}/playground")
        wait_until_rendered(page)
        page.get_by_role("button", name="Train", exact=True).first.click()
        assert within(30, lambda: training_threads() == ["gradscape-Playg"]), training_threads()
        page.close()
        assert within(30, lambda: training_threads() == []), training_threads()
