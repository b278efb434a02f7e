"""The Generalization page in Chromium: the decomposition answers a new degree, the sweep marks the interpolation
threshold where the training error reaches zero, and the MLP trains to its early-stopping point."""

from __future__ import annotations

import pytest

from scripts.browser import chart_text, chromium, chromium_available, running_app, step_counter, wait_until_rendered

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)


def metric(page, label: str) -> float:
    box = page.locator("[data-testid=stMetric]").filter(has=page.get_by_text(label, exact=True)).first
    return float(box.locator("[data-testid=stMetricValue]").inner_text().split("±")[0].replace(",", ""))


# The sweep's least-squares training error as Plotly drew it: (width, error) where the error is drawn.
TRAINING_ERROR = """() => {
    const gd = document.querySelector('.st-key-gl_fig_sweep .js-plotly-plot');
    const t = gd._fullData.find(t => t.name === 'training error (median)');
    return Array.from(t.x).map((x, i) => [x, t.y[i]]);
}"""


def test_decomposition_sweep_and_early_stopping():
    with running_app() as (url, _process), chromium(height=1300) as browser:
        page = browser.new_page()
        page.goto(f"{url}/generalization")
        wait_until_rendered(page)
        assert "100 refits of a polynomial, degree 3" in chart_text(page, "gl_fig_fan")
        low_variance = metric(page, "variance")
        page.goto(f"{url}/generalization?gl_degree=12")
        wait_until_rendered(page)
        assert "degree 12" in chart_text(page, "gl_fig_fan") and metric(page, "variance") > 100 * low_variance

        page.get_by_role("tab", name="Complexity sweep", exact=True).click()
        page.locator(".st-key-gl_fig_sweep .js-plotly-plot").wait_for(timeout=30_000)
        wait_until_rendered(page)
        text = chart_text(page, "gl_fig_sweep")
        threshold = float(text.split("rank N at ")[1].split()[0])
        points = page.evaluate(TRAINING_ERROR)
        # Past the threshold the least-squares fit goes through every training point (rounding error is left,
        # far below the log axis), while just below it the training error is still there.
        assert all(y < 1e-20 for x, y in points if x >= threshold)
        assert [y for x, y in points if x < threshold][-1] > 1e-8
        assert "gl_view=Complexity+sweep" in page.url or "gl_view=Complexity%20sweep" in page.url

        page.get_by_role("tab", name="Early stopping", exact=True).click()
        page.locator(".st-key-gl_mlp_play button").first.wait_for(timeout=30_000)
        wait_until_rendered(page)
        page.locator(".st-key-gl_mlp_play button").first.click()
        page.wait_for_function("() => /Trained the 3,000 steps set/.test(document.body.innerText)", timeout=120_000)
        wait_until_rendered(page)
        assert step_counter(page) == 3000
        assert "validation's minimum" in chart_text(page, "gl_fig_mlp_errors")
        early, now = metric(page, "Test error, early stopped"), metric(page, "Test error")
        assert early < now  # 3,000 steps overfit the 40 noisy points; the early-stopped network did not
        assert not page.locator("[data-testid=stException]").count()
