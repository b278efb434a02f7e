"""The Convolutional networks page in Chromium: open the shift and attack views of the trained CNN, switch the
attack, click a unit of the arithmetic's output and see its receptive field."""

from __future__ import annotations


import pytest

from scripts.browser import chart_text, chromium, chromium_available, running_app, step_counter, train_one_epoch, \
    wait_until_rendered

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

# Where the centre of the clickable output cell (row, col) of the arithmetic's figure is drawn, in the window
# (scrolled to show the chart).
CELL_POSITION = """([row, col]) => {
    const gd = document.querySelector('.st-key-cnn_fig_stack .js-plotly-plot');
    gd.scrollIntoView({block: 'center'});
    const trace = gd._fullData.find(t => t.name === 'click a unit');
    const xa = gd._fullLayout['xaxis' + trace.xaxis.slice(1)], ya = gd._fullLayout['yaxis' + trace.yaxis.slice(1)];
    const box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(col), box.top + ya._offset + ya.l2p(row)];
}"""


def test_attack_the_trained_cnn_then_click_a_unit_of_the_arithmetic():
    with running_app() as (url, _process), chromium(height=1600) as browser:
        page = browser.new_page()
        page.goto(f"{url}/cnn")
        wait_until_rendered(page)
        assert train_one_epoch(page, "cnn", 23) >= 23  # 1,437 training digits in batches of 64
        # The views measured only while open, opened by a click on the paused job (a click reruns the live area
        # alone: the page must still tell the job to measure them)
        page.get_by_role("tab", name="Shift", exact=True).click()
        page.locator(".st-key-cnn_fig_shift .js-plotly-plot").wait_for(timeout=30_000)
        page.get_by_role("tab", name="Saliency and attacks", exact=True).click()
        page.wait_for_function("() => /Accuracy under FGSM/.test(document.body.innerText)", timeout=30_000)
        # (its text holds a formula: it shows once KaTeX's code has come, a moment after the charts)
        page.wait_for_function("() => /the CNN now says/.test(document.querySelector("
                               "'[data-testid=stMainBlockContainer]').innerText)", timeout=10_000)

        page.locator(".st-key-cnn_attack").get_by_text("BIM / PGD (10 steps)").click()
        page.wait_for_function("() => /Accuracy under BIM/.test(document.body.innerText)", timeout=30_000)
        assert step_counter(page) >= 23  # the attack is inspected live: the run goes on where it was

        page.get_by_role("tab", name="Arithmetic", exact=True).click()
        page.locator(".st-key-cnn_fig_stack .js-plotly-plot").wait_for(timeout=30_000)
        assert "What unit (0, 0)" in chart_text(page, "cnn_fig_stack")
        x, y = page.evaluate(CELL_POSITION, [2, 1])
        page.mouse.click(x, y)
        page.wait_for_function("() => [...document.querySelectorAll('.st-key-cnn_fig_stack .annotation-text')]"
                               ".some(t => /What unit \\(2, 1\\)/.test(t.textContent))", timeout=30_000)
        page.wait_for_function("() => document.querySelector('.st-key-cnn_row input').value === '2' && "
                               "document.querySelector('.st-key-cnn_col input').value === '1'", timeout=30_000)
        assert not page.locator("[data-testid=stException]").count()
