"""The Attention page in Chromium: train, type a sequence, scrub back through training."""

from __future__ import annotations

import re

import pytest

from scripts.browser import chromium, chromium_available, running_app, train_one_epoch, wait_until_rendered

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)


def test_train_type_a_sequence_and_scrub_the_timeline():
    with running_app() as (url, _process), chromium(height=1600) as browser:
        page = browser.new_page()
        page.goto(f"{url}/attention?at_speed=max")
        wait_until_rendered(page)
        assert train_one_epoch(page, "at", 64) == 64  # one epoch: 64 steps

        # The tab first, settled, then the sequence: a tab clicked while the sequence's run was still out (sent with
        # the tab it started with) was switched back once in CI, beside another test worker.
        page.get_by_role("tab", name="Your sequence").click()
        page.get_by_text("Type a sequence").or_(page.get_by_text("prediction")).first.wait_for(timeout=30_000)
        wait_until_rendered(page)
        typed = page.locator(".st-key-at_query input")
        typed.fill("1 2 3 4 5 6 7 8")
        typed.press("Enter")
        page.wait_for_function("() => document.querySelector('[data-testid=stMainBlockContainer]').innerText"
                               ".includes('expected 8 7 6 5 4 3 2 1')", timeout=30_000)
        assert page.get_by_text("prediction").first.is_visible()

        page.get_by_role("tab", name="Training timeline").click()
        titles = page.locator(".st-key-at_timeline .gtitle")
        titles.first.wait_for(timeout=30_000)
        assert int(re.search(r"step ([\d,]+)", titles.first.text_content()).group(1).replace(",", "")) > 0
        scrubber = page.locator(".st-key-at_scrub input[type=range]")
        scrubber.focus()
        scrubber.press("Home")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.st-key-at_timeline .gtitle')]"
            ".some(t => /step 0 /.test(t.textContent))", timeout=30_000)
        assert not page.locator("[data-testid=stException]").count()
