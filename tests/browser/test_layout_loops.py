"""`scripts.browser.chromium`'s guard against charts that plotly.js redraws in a loop. In a module of its own: a
Playwright session cannot start while another module's is open in the same thread."""

from __future__ import annotations

import pytest

from scripts.browser import PLOTLY_LAYOUT_LOOP, chromium, chromium_available

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)


def test_a_chart_plotly_redraws_in_a_loop_fails_the_block():
    """What every browser test relies on: plotly.js's warning when it gives up looking for a chart's margins
    (seconds of a frozen tab: the VAE's latent map did it with a legend placed below the plot) fails the block,
    and a benchmark that allows it gets the count."""
    warning = f"console.warn('WARN: {PLOTLY_LAYOUT_LOOP}.')"
    with pytest.raises(AssertionError, match="in a loop"):
        with chromium() as context:
            context.new_page().evaluate(warning)
    with chromium(allow_layout_loops=True) as context:
        page = context.new_page()
        page.evaluate(warning)
        page.evaluate("console.warn('something else')")
    assert len(context.layout_loops) == 1
