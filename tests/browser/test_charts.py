"""A page's charts in Chromium (ui.chart_component): a new figure, from a control or a live refresh, redraws the same
plot, never leaving the chart blank (st.plotly_chart remade it: blank for a few frames each time); a click on a chart
reaches the page; the mode bar's full-screen button shows the chart alone; plotly.js holds the pages' trace types."""

from __future__ import annotations

import pytest

from scripts.browser import chromium, chromium_available, running_app, wait_until_rendered
from ui.chart_component import PLOTLY_BUNDLES

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

CONTOUR = ".st-key-opt_contour .gs-chart"

# At every frame: how many of the selected plots are there to see, and is it the plot first seen; and how many
# times that plot's data was replaced (a redraw).
WATCH_JS = """selector => {
    window.seen = [];
    window.redraws = 0;
    const first = document.querySelector(selector);
    let data = first.data;
    const frame = () => {
        const shown = [...document.querySelectorAll(selector)].filter(plot => {
            const box = plot.getBoundingClientRect();
            return box.height > 0 && getComputedStyle(plot).visibility !== 'hidden' && plot.querySelector('.main-svg');
        });
        window.seen.push([shown.length, shown.every(plot => plot === first)]);
        if (first.data !== data) { window.redraws += 1; data = first.data; }
        requestAnimationFrame(frame);
    };
    frame();
}"""

# Where on the screen a data point of the contour's axes is (plotly.js's own conversion).
PIXEL_JS = """([selector, x, y]) => {
    const plot = document.querySelector(selector), layout = plot._fullLayout, box = plot.getBoundingClientRect();
    return [box.left + layout.xaxis._offset + layout.xaxis.d2p(x),
            box.top + layout.yaxis._offset + layout.yaxis.d2p(y)];
}"""


def choose(page, key: str, option: str) -> None:
    page.locator(f".st-key-{key}").get_by_role("combobox").click()
    page.get_by_role("listbox").get_by_role("option", name=option, exact=True).click()


def test_a_new_figure_redraws_the_plot_in_place_and_clicks_and_full_screen_work():
    with running_app() as (url, _process), chromium(width=1400, height=1100) as browser:
        page = browser.new_page()
        page.goto(f"{url}/optimizers")
        wait_until_rendered(page)
        assert page.evaluate("() => [typeof Plotly2d, typeof Plotly3d]") == ["object", "undefined"]  # (2-D charts)
        # The settings table (ui.tables, Markdown): each cell shows its text, the escaped signs as themselves
        rows = page.evaluate("() => [...document.querySelectorAll('[data-testid=stMarkdown] table tr')]"
                             ".map(row => [...row.cells].map(cell => cell.innerText))")
        assert rows[0][:4] == ["optimizer", "torch", "hyperparameters", "lr schedule"] and len(rows) == 5
        assert rows[2][:3] == ["Momentum", "torch.optim.SGD(momentum)", "η=0.5, μ=0.9"]
        assert rows[4][-1] == "within 0.001 of the target at step 1"
        page.evaluate(WATCH_JS, CONTOUR)
        for function in ("Rosenbrock", "Himmelblau", "Quadratic"):
            before = page.evaluate(f"() => document.querySelector('{CONTOUR}').layout.images[0].source")
            choose(page, "opt_fn", function)
            page.wait_for_function(f"b => document.querySelector('{CONTOUR}').layout.images[0].source !== b",
                                   arg=before, timeout=30_000)
            wait_until_rendered(page)
        seen = page.evaluate("window.seen")
        assert len(seen) > 30 and all(shown == [1, True] for shown in seen)  # one plot, the same, at every frame

        # A click near a point of the click grid (45 x 45 over the view, far from the paths) starts the race there
        x_range = page.evaluate(f"() => document.querySelector('{CONTOUR}')._fullLayout.xaxis.range")
        y_range = page.evaluate(f"() => document.querySelector('{CONTOUR}')._fullLayout.yaxis.range")
        grid_x = x_range[0] + 40 * (x_range[1] - x_range[0]) / 44
        grid_y = y_range[0] + 3 * (y_range[1] - y_range[0]) / 44
        page.locator(CONTOUR).scroll_into_view_if_needed()
        px, py = page.evaluate(PIXEL_JS, [CONTOUR, grid_x, grid_y])
        page.mouse.move(px, py)
        page.mouse.click(px, py)
        # (both boxes: the run's messages update them one after the other, and the y box was once read between)
        page.wait_for_function("([x, y]) => document.querySelector('.st-key-opt_x0 input').value === x && "
                               "document.querySelector('.st-key-opt_y0 input').value === y",
                               arg=[f"{grid_x:.3f}", f"{grid_y:.3f}"], timeout=30_000)

        page.locator(CONTOUR).hover()
        # (plotly.js 4's "Share chart..." would upload the figure to Plotly's cloud: viz.theme.chart_config drops it)
        assert page.locator(CONTOUR).locator(".modebar-btn[data-title='Download plot as a PNG']").count() == 1
        assert not page.locator(CONTOUR).locator(".modebar-btn[data-title='Share chart...']").count()
        page.locator(CONTOUR).locator("[data-title='Full screen']").click()
        page.wait_for_function(f"() => document.fullscreenElement === document.querySelector('{CONTOUR}') && "
                               f"document.querySelector('{CONTOUR} .main-svg').getBoundingClientRect().width === "
                               "window.innerWidth", timeout=10_000)
        page.evaluate("() => document.exitFullscreen()")

        # A 3-D chart loads the 3-D bundle (scripts/build_plotly_js.sh); each registers the trace types it is built for
        page.get_by_role("tab", name="3-D surface").click()
        surface = page.locator(".st-key-opt_surface3d .gs-chart:not([data-drawing]) .gl-container canvas")
        surface.wait_for(timeout=30_000)
        for bundle, traces in PLOTLY_BUNDLES.items():
            assert sorted(page.evaluate(f"() => Object.keys(Plotly{bundle}.PlotSchema.get().traces)")) == sorted(traces)
        assert not page.locator("[data-testid=stException]").count()


def test_live_refreshes_redraw_a_training_chart_in_place():
    with running_app() as (url, _process), chromium(width=1280, height=720) as browser:
        page = browser.new_page()
        page.goto(f"{url}/playground?present=true")
        wait_until_rendered(page)
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_role("button", name="Pause", exact=True).wait_for(timeout=30_000)
        page.evaluate(WATCH_JS, ".st-key-pg_boundary .gs-chart")
        page.wait_for_function("() => window.redraws >= 3", timeout=30_000)  # three live refreshes drawn
        seen = page.evaluate("window.seen")
        assert all(shown == [1, True] for shown in seen)


def test_one_chart_drawn_in_2d_then_3d_then_2d_again():
    """Loss Landscape's surface chart: a contour (the 2-D bundle), then the 3-D surface (drawn anew by the 3-D
    bundle), then the contour again (by the 3-D bundle, which draws every chart)."""
    surface = ".st-key-ls_surface .gs-chart"
    with running_app() as (url, _process), chromium() as browser:
        page = browser.new_page()
        page.goto(f"{url}/landscape")
        wait_until_rendered(page)
        for view, types, canvases in (("3-D surface", ["scatter3d", "surface"], 1),
                                      ("Contour", ["contour", "scatter"], 0)):
            page.locator(".st-key-ls_view").get_by_text(view, exact=True).click()
            page.wait_for_function(f"t => document.querySelector('{surface}:not([data-drawing])')?._fullData"
                                   ".some(trace => trace.type === t)", arg=types[0], timeout=30_000)
            drawn = page.evaluate(f"() => document.querySelector('{surface}')._fullData.map(trace => trace.type)")
            assert sorted(set(drawn)) == types
            assert page.locator(f"{surface} .gl-container canvas").count() == canvases
        assert not page.locator("[data-testid=stException]").count()
