"""The Diffusion page in Chromium: a step draws samples, the reverse process plays, the forward slider moves t."""

from __future__ import annotations

import pytest

from scripts.browser import chromium, chromium_available, running_app, wait_until_rendered

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)


# Plotly draws the slider's current value as its first label ("t = 0"), the tick labels after it.
CURRENT_T = "document.querySelector('.st-key-df_reverse .slider-label').textContent"


def test_a_step_draws_samples_and_the_reverse_process_plays_from_noise_to_data():
    with running_app() as (url, _process), chromium(height=1600) as browser:
        page = browser.new_page()
        page.goto(f"{url}/diffusion?df_schedule=cosine&df_T=200&df_steps=20&df_points=1000")
        wait_until_rendered(page)
        page.locator(".st-key-df_step button").first.click()
        page.get_by_text("Samples from step 1 (DDIM, 20 steps)").wait_for(timeout=120_000)
        assert "samples at step 1" in page.locator(".st-key-df_samples .gtitle").first.text_content()

        page.get_by_role("tab", name="Reverse process").click()
        reverse = page.locator(".st-key-df_reverse")
        reverse.locator(".slider-label").first.wait_for(timeout=30_000)
        assert page.evaluate(CURRENT_T) == "t = 0"  # the animation opens on its result, x_0
        reverse.locator(".updatemenu-button").first.click()  # ▶ Play: from x_T = pure noise down to t = 0
        page.wait_for_function(f"() => {CURRENT_T} !== 't = 0'", timeout=10_000)
        page.wait_for_function(f"() => {CURRENT_T} === 't = 0'", timeout=30_000)

        page.get_by_role("tab", name="Forward process and schedule").click()
        slider = page.locator(".st-key-df_t input[type=range]")
        slider.focus()
        slider.press("End")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.st-key-df_forward .gtitle')]"
            ".some(title => title.textContent.includes('t = 200'))",
            timeout=30_000)
        assert page.locator("[data-testid=stException]").count() == 0
        assert "df_t=200" in page.url
