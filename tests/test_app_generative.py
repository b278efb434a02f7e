"""The Generative models page driven through its controls (AppTest: no browser, no run_every)."""

from __future__ import annotations


from streamlit.testing.v1 import AppTest

from tests import conftest
from tests.conftest import metric


def open_page(**query) -> AppTest:
    return conftest.open_page("generative", 90, **query)


def chart_titles(at: AppTest) -> list[str]:
    """Each chart's title, and the titles of its panels (annotations in bold)."""
    titles = []
    for figure in conftest.chart_figures(at):
        layout = figure["layout"]
        titles.append(layout.get("title", {}).get("text", ""))
        titles += [a["text"].removeprefix("<b>").removesuffix("</b>") for a in layout.get("annotations", [])
                   if a.get("text", "").startswith("<b>")]
    return titles


def test_the_vae_trains_and_its_live_settings_change_without_a_reset():
    at = open_page()
    assert not at.exception and at.title[0].value == "Generative models"
    at.button(key="gen_vae_step").click().run()
    assert metric(at, "Step") == "1" and metric(at, "Active units").endswith("of 2")
    titles = chart_titles(at)
    assert "VAE: held-out E[z|x]" in titles and any("the manifold" in t for t in titles)
    assert "Plain autoencoder: its codes" in titles
    at.toggle(key="gen_reparam").set_value(False).run()
    at.select_slider(key="gen_beta").set_value(4.0).run()
    assert metric(at, "Step") == "1" and not at.exception  # live: training goes on where it was
    at.button(key="gen_vae_step").click().run()
    assert metric(at, "Step") == "2"
    at.selectbox(key="gen_vae_data").set_value("moons").run()
    assert metric(at, "Step") == "0" and not at.exception  # new data: a new experiment


def test_the_vae_views_of_samples_and_training():
    at = open_page(gen_view="Samples and reconstructions")
    at.button(key="gen_vae_step").click().run()
    titles = chart_titles(at)
    assert {"Reconstructions", "VAE: decoded z ~ N(0, I)", "Autoencoder: the same z"} <= set(titles), titles
    at = open_page(gen_view="Training", gen_reparam="false")
    at.button(key="gen_vae_step").click().run()
    assert "Negative ELBO = reconstruction + KL" in chart_titles(at)
    assert any("exactly no gradient" in info.value for info in at.info)


def test_the_gan_steps_d_and_g_apart_and_a_new_loss_starts_again():
    at = open_page(gen_model="GAN")
    assert not at.exception
    at.button(key="gen_gan_step_d").click().run()
    assert metric(at, "Step") == "1" and metric(at, "Modes covered").endswith("of 8")
    at.button(key="gen_gan_step_g").click().run()
    at.button(key="gen_gan_step").click().run()
    assert metric(at, "Step") == "3"
    assert any(t.startswith("Non-saturating GAN, step 3") for t in chart_titles(at))
    assert {"Mode coverage of 2,500 samples", "What D says", "Both players' losses"} <= set(chart_titles(at))
    at.selectbox(key="gen_loss").set_value("minimax").run()
    assert metric(at, "Step") == "0" and any(t.startswith("Minimax (saturating) GAN") for t in chart_titles(at))


def test_a_word_the_font_cannot_draw_is_explained_and_the_model_kept():
    at = open_page(gen_model="GAN", gen_gan_data="A word you type")
    assert not at.exception
    at.text_input(key="gen_gan_word").set_value("   ").run()
    assert at.error and "type a word" in at.error[0].value
    assert not at.exception
