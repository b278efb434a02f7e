"""The Generative models page in Chromium: step a GAN's discriminator and generator apart, train it and see the
points move over D's heatmap; then open the VAE tab and see its digits' latent map drawn."""

from __future__ import annotations

import pytest

from scripts.browser import chart_text, chromium, chromium_available, running_app, step_counter, train_one_epoch, \
    wait_until_rendered
from viz.generative import FAKE_COLOR
from viz.raster import hex_rgb

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

# The GAN field's traces as Plotly drew them: name -> number of points (heatmap: cells; the points are a picture).
FIELD_TRACES = """() => {
    const gd = document.querySelector('.st-key-gen_fig_field .js-plotly-plot');
    return Object.fromEntries(gd._fullData.map(t => [t.name, t.type === 'heatmap' ? t.z.length * t.z[0].length
                                                                               : (t.x || []).length]));
}"""
# The generated points as the browser shows them: the pixels of the field's picture (viz.raster) in G's colour,
# mapped back to the plane through the picture's place on the axes: how many, and their mean distance from 0.
FAKE_PIXELS = """async ([r, g, b]) => {
    const gd = document.querySelector('.st-key-gen_fig_field .js-plotly-plot');
    const image = gd.layout.images[0];
    const picture = new Image();
    picture.src = image.source;
    await picture.decode();
    const canvas = document.createElement('canvas');
    [canvas.width, canvas.height] = [picture.width, picture.height];
    const context = canvas.getContext('2d');
    context.drawImage(picture, 0, 0);
    const pixels = context.getImageData(0, 0, picture.width, picture.height).data;
    let count = 0, sum = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        const off = Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b);
        if (pixels[i + 3] < 128 || off > 60) continue;
        const col = (i / 4) % picture.width, row = Math.floor(i / 4 / picture.width);
        sum += Math.hypot(image.x + (col + 0.5) / picture.width * image.sizex,
                          image.y - (row + 0.5) / picture.height * image.sizey);
        count += 1;
    }
    return {count, meanRadius: sum / count};
}"""
FAKE_RGB = hex_rgb(FAKE_COLOR).tolist()


def test_step_the_gan_apart_train_it_then_open_the_vae():
    with running_app() as (url, _process), chromium(height=1400) as browser:
        page = browser.new_page()
        page.goto(f"{url}/generative?gen_model=GAN")
        wait_until_rendered(page)
        page.locator(".st-key-gen_gan_step_d button").first.click()
        page.wait_for_function("() => /GAN, step 1\\b/.test(document.body.innerText)", timeout=30_000)
        traces = page.evaluate(FIELD_TRACES)
        assert traces["D(x)"] == 64 * 64 and traces["modes"] == 8
        assert traces["G(latent grid)"] > 0 and traces["G's gradient"] > 0
        fake = page.evaluate(FAKE_PIXELS, FAKE_RGB)
        assert fake["count"] > 100  # 600 points drawn (bunched up near the centre: they overlap)
        assert fake["meanRadius"] < 1.0  # an untrained generator puts its points near the centre, inside the ring

        page.locator(".st-key-gen_gan_play button").first.click()
        page.wait_for_function("() => { const m = document.body.innerText.match(/GAN, step ([\\d,]+)/);"
                               " return m && +m[1].replace(/,/g, '') >= 1500; }", timeout=90_000)
        page.locator(".st-key-gen_gan_pause button").first.click()
        wait_until_rendered(page)
        # The generator has moved its points out to the ring of radius 2.
        assert abs(page.evaluate(FAKE_PIXELS, FAKE_RGB)["meanRadius"] - 2.0) < 0.3
        assert "Mode coverage of 2,500 samples" in chart_text(page, "gen_fig_coverage")

        page.get_by_role("tab", name="VAE", exact=True).click()
        page.locator(".st-key-gen_vae_epoch button").first.wait_for(timeout=30_000)
        assert "gen_model=GAN" not in page.url  # the address (a link, a reload) now opens the VAE
        wait_until_rendered(page)
        assert train_one_epoch(page, "gen_vae", 12) >= 12  # 1,437 training digits in batches of 128
        # The Epoch's page run may still be redrawing (on a loaded machine the page runs once more when the live
        # area sees the epoch done): while it does, the last run's chart is there beside the new one.
        wait_until_rendered(page)
        page.locator(".st-key-gen_fig_latent .js-plotly-plot").wait_for(timeout=30_000)
        labels = page.locator(".st-key-gen_fig_latent .textpoint").all_text_contents()
        assert sorted(labels) == sorted(2 * [str(d) for d in range(10)])  # each cloud labelled, VAE and autoencoder
        assert "the manifold" in chart_text(page, "gen_fig_manifold")
        assert step_counter(page) >= 12
        assert not page.locator("[data-testid=stException]").count()


def test_a_projected_latent_map_says_so_and_draws_at_once(app_url):
    """Latent 3, seed 2 (digits): plotly.js used to redraw this map a dozen times looking for margins that fit
    its legend (3 s of a frozen tab; `chromium` fails the test on that warning). Its axes name the projection."""
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{app_url}/generative?gen_seed=2&gen_latent=3")
        wait_until_rendered(page)
        page.locator(".st-key-gen_fig_latent .js-plotly-plot").wait_for(timeout=30_000)
        titles = page.locator(".st-key-gen_fig_latent .xtitle, .st-key-gen_fig_latent .x2title").all_text_contents()
        assert titles == 2 * ["PC₁ (first principal component)"]
