"""Generative models: a VAE (beside a plain autoencoder) on digits or 2-D points, and a GAN on 2-D points, both
trained live. The open tab is the experiment; only its job runs."""

import math

import numpy as np
import streamlit as st

from engine.generative.coverage import HIGH_QUALITY_STDS
from engine.generative.gan import LOSS_LABELS
from engine.generative.gan_trainer import GanJob
from engine.generative.spec import GAN_FIELDS, VAE_FIELDS, GenerativeSpec
from engine.generative.vae_trainer import VaeJob
from engine.runtime import Snapshot
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.forks import branch_job, fork_controls, forked_curves
from ui.jobs import experiment_job
from ui.live import job_controls, live_area, status_bar
from ui.sharing import later
from viz import generative as figures
from viz.animation import gan_replay
from viz.diffusion import digit_grid, digit_mosaic

# rem above the main chart in presentation mode: title, tabs, buttons, numbers (and the VAE's view tabs)
MAIN_BELOW = {"VAE": 22.0, "GAN": 18.5}
VAE_VIEWS = ["Latent space", "Samples and reconstructions", "Training"]

st.title("Generative models")
later("gen_intro").caption(
    "Two ways to learn to draw new data. A VAE encodes each example as a Gaussian in a small latent space and "
    "learns to decode samples of it; a GAN's generator learns by fooling a discriminator. Both train here, live, "
    "on your settings.")
export_panel(GenerativeSpec)
panel = ControlPanel(GenerativeSpec)
tabs = panel.tabs("model")
model = panel.values["model"]
SECTIONS = {"VAE": VAE_FIELDS, "GAN": GAN_FIELDS}
IN_TAB = ("first", "second", "show")  # drawn in their tab, the rest of a model's settings in the sidebar
with st.sidebar:
    # The open model's settings; the other's are held (kept, and in links) while its tab is closed.
    st.header(model)
    panel.draw(*(field for field in SECTIONS[model] if field not in IN_TAB))
    for name in SECTIONS:
        if name != model:
            panel.hold(*SECTIONS[name])
    st.header("Both models")
    panel.draw("seed")

with tabs[model]:
    if model == "VAE":
        later("gen_vae_setup").caption(
            "Encoder and decoder: two hidden layers of ReLU units each, trained with Adam. Digits are Bernoulli "
            "pixels (grey levels / 16); points are Gaussian around the decoded mean with σ = 0.1. Every term is in "
            "nats per example, held out; the −ELBO is reconstruction + KL with β = 1, a bound on −log p(x).")
        buttons, forks = st.container(), later("gen_vae_forks")
        first_col, second_col = later("gen_examples").columns(2)
        panel.draw("first", where=first_col)
        panel.draw("second", where=second_col)
    else:
        later("gen_gan_setup").caption(
            "G and D: ReLU MLPs trained with Adam (β₁ = 0.5); G maps 2-D noise z ~ N(0, I) to a point. G starts "
            "collapsed (all its noise within 0.02 of one point) and D learns 2.5 times as fast, so D soon rejects "
            "G's points with confidence: the non-saturating loss still spreads G over the data, the minimax loss's "
            "gradient fades exactly there. The points drawn and measured come from G's weights averaged over its "
            "last ~100 steps.")
        buttons, forks = st.container(), later("gen_gan_forks")
        layers = panel.draw("show", where=later("gen_draw"))

spec: GenerativeSpec = panel.spec()
key = f"gen_{model.lower()}"  # the job's name and its controls' key prefix
job = branch_job(key, spec) or experiment_job(key, VaeJob if model == "VAE" else GanJob, spec)
charts = Charts()


def setting(snap: Snapshot) -> str:
    """The experiment in file names: e.g. vae-digits-z2-beta1 or gan-ring-non_saturating."""
    c = snap.config
    if model == "VAE":
        return f"vae-{c.data}-z{c.latent}-beta{snap.hyperparameters.get('beta', 1):g}"
    return f"gan-{c.data}-{c.loss}"


# ----------------------------------------------------------------------------------------------- the VAE
def latent_view(snap: Snapshot, live: Charts, shown: bool) -> None:
    v = snap.visuals
    panels = [figures.LatentPanel(v.latent_means, v.labels, "VAE: held-out E[z|x]",
                                  posterior=(v.posterior_mean, v.posterior_std), path=v.interpolation_latent)]
    if v.ae_latent is not None:
        panels.append(figures.LatentPanel(v.ae_latent, v.labels, "Plain autoencoder: its codes", prior=False))
    live.show(lambda: figures.latent_maps(panels, projected=v.projected),
              f"gen-latent-{setting(snap)}-step{snap.step}", key="gen_fig_latent", visible=shown,
              main_below=MAIN_BELOW["VAE"], legend_aside=True)
    st.markdown(f"Example A: reconstruction term **{v.example_recon:.1f}** nats, KL **{v.example_kl:.2f}** nats "
                f"({'Bernoulli pixels' if v.likelihood == 'bernoulli' else 'Gaussian, σ = 0.1'}).")
    if v.data != "digits":
        live.show(lambda: figures.decoded_points(v.manifold, v.inputs, "VAE: the decoded latent grid over the data"),
                  f"gen-manifold-{setting(snap)}-step{snap.step}", key="gen_fig_manifold", visible=shown)
        return
    (low, high), _ = v.manifold_range
    projected = " (first two principal components)" if v.projected else ""
    grids, title = [v.manifold[::-1]], f"VAE decoded over z ∈ [{low:g}, {high:g}]²{projected}: the manifold"
    if v.ae_manifold is not None:  # side by side in one mosaic, a blank column between them
        blank = np.full((len(v.manifold), 1, 8, 8), np.nan, dtype=np.float32)
        grids += [blank, v.ae_manifold[::-1]]
        title += " | the autoencoder's decoder over its codes' range"
    live.show(lambda: digit_mosaic(np.concatenate(grids, axis=1), title=title, cell_px=26),
              f"gen-manifold-{setting(snap)}-step{snap.step}", key="gen_fig_manifold", visible=shown)


def samples_view(snap: Snapshot, live: Charts, shown: bool) -> None:
    v = snap.visuals
    if v.data != "digits":
        beside = st.columns(2)
        live.show(lambda: figures.decoded_points(v.prior_samples, v.inputs, "VAE: decoded z ~ N(0, I)"),
                  f"gen-prior-{setting(snap)}-step{snap.step}", key="gen_fig_prior", where=beside[0], visible=shown)
        if v.ae_prior_samples is not None:
            live.show(lambda: figures.decoded_points(v.ae_prior_samples, v.inputs, "Autoencoder: decoded z ~ N(0, I)"),
                      f"gen-ae-prior-{setting(snap)}-step{snap.step}", key="gen_fig_ae_prior", where=beside[1],
                      visible=shown)
        return
    rows = [v.inputs, v.reconstructions] + ([v.ae_reconstructions] if v.ae_reconstructions is not None else [])
    labels = ["held out", "VAE"] + (["autoencoder"] if v.ae_reconstructions is not None else [])
    live.show(lambda: digit_mosaic(np.stack(rows), row_labels=labels, title="Reconstructions"),
              f"gen-reconstructions-{setting(snap)}-step{snap.step}", key="gen_fig_recon", visible=shown)
    live.show(lambda: digit_mosaic(v.interpolation[None], row_labels=["A → B"],
                                   title="Interpolation through the latent space"),
              f"gen-interpolation-{setting(snap)}-step{snap.step}", key="gen_fig_interp", visible=shown)
    beside = st.columns(2)
    live.show(lambda: digit_grid(v.prior_samples[:32], "VAE: decoded z ~ N(0, I)"),
              f"gen-prior-{setting(snap)}-step{snap.step}", key="gen_fig_prior", where=beside[0], visible=shown)
    if v.ae_prior_samples is not None:
        live.show(lambda: digit_grid(v.ae_prior_samples[:32], "Autoencoder: the same z"),
                  f"gen-ae-prior-{setting(snap)}-step{snap.step}", key="gen_fig_ae_prior", where=beside[1],
                  visible=shown)


def training_view(snap: Snapshot, live: Charts, shown: bool) -> None:
    live.show(lambda: forked_curves(key, "elbo", lambda run: figures.vae_terms(run.curves), snap),
              f"gen-elbo-{setting(snap)}-step{snap.step}", key="gen_fig_elbo", visible=shown)
    live.show(lambda: figures.encoder_gradients(snap.curves), f"gen-gradients-{setting(snap)}-step{snap.step}",
              key="gen_fig_gradients", visible=shown)
    if not snap.hyperparameters.get("reparameterize", True):
        st.info("Without the reparameterization trick z is a plain sample: the reconstruction term sends the "
                "encoder exactly no gradient, and only the KL term trains it (towards the prior).",
                icon=":material/info:")


def draw_vae(snap: Snapshot) -> None:
    latest = {name: snap.latest(name) for name in ("test_neg_elbo", "test_kl", "active_units")}
    status_bar(snap, {"Held-out −ELBO": f"{latest['test_neg_elbo']:.1f} nats",
                      "KL": f"{latest['test_kl']:.2f} nats",
                      "Active units": f"{latest['active_units']:.0f} of {snap.config.latent}"})
    if snap.visuals is None:
        return
    live = Charts(charts)
    views = st.tabs(VAE_VIEWS, key="gen_view", on_change="rerun", bind="query-params")
    for tab, view in zip(views, (latent_view, samples_view, training_view)):
        with tab:
            view(snap, live, tab.open is not False)
    offer_exports(spec, "generative", live, snap, setting=setting(snap))


# ----------------------------------------------------------------------------------------------- the GAN
def draw_gan(snap: Snapshot) -> None:
    v = snap.visuals
    # D's outputs come with training steps: none before the first.
    cells = {label: f"{value:.2f}" if math.isfinite(value) else "–"
             for label, value in (("D(real)", snap.latest("d_real")), ("D(G(z))", snap.latest("d_fake")))}
    if v is not None and v.coverage is not None:
        cells.update({"Modes covered": f"{v.coverage.modes_covered} of {v.coverage.modes}",
                      "High quality": f"{v.coverage.high_quality:.0%}"})
    status_bar(snap, cells, epoch=False)
    if v is None:
        return
    field_col, curves_col = st.columns([1.25, 1])
    charts.show(lambda: figures.gan_field(v.extent, v.heatmap, v.real, v.fake,
                                          warp=v.warp if "warp" in layers else None,
                                          arrows=v.arrows if "arrows" in layers else None,
                                          centres=v.centres if "modes" in layers else None,
                                          title=f"{LOSS_LABELS[v.loss]} GAN, step {snap.step:,}"),
                f"gen-gan-field-{setting(snap)}-step{snap.step}", key="gen_fig_field", where=field_col,
                main_below=MAIN_BELOW["GAN"], legend_aside=True)
    with curves_col:
        if v.coverage is not None:
            charts.show(lambda: forked_curves(key, "coverage", lambda run: figures.gan_coverage(
                run.curves, v.coverage.modes), snap),
                        f"gen-gan-coverage-{setting(snap)}-step{snap.step}", key="gen_fig_coverage")
        charts.show(lambda: forked_curves(key, "outputs", lambda run: figures.gan_outputs(run.curves), snap),
                    f"gen-gan-outputs-{setting(snap)}-step{snap.step}", key="gen_fig_outputs")
        charts.show(lambda: forked_curves(key, "losses", lambda run: figures.gan_losses(run.curves), snap),
                    f"gen-gan-losses-{setting(snap)}-step{snap.step}", key="gen_fig_losses")
    if v.coverage is not None:
        st.caption(f"Of 2,500 samples G(z), z ~ N(0, I), unfiltered: a sample is high quality within "
                   f"{HIGH_QUALITY_STDS:g} standard deviations of its nearest mode, and a mode is covered when at "
                   "least 1% of all samples are high-quality samples of it (the VEEGAN and PacGAN measure).")
    offer_exports(spec, "generative", charts, snap, setting=setting(snap), animation=lambda: gan_replay(snap))


with buttons:
    job_controls(job, key=key, part_steps=() if model == "VAE" else (
        ("Step D", {"one_part": "d"}, "One discriminator update, then pause"),
        ("Step G", {"one_part": "g"}, "One generator update, then pause")))
with forks:
    fork_controls(job, key, key)
with tabs[model]:
    live_area(job, draw_vae if model == "VAE" else draw_gan)
