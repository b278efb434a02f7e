"""Diffusion: a DDPM trains live while you watch pure noise turn into data."""

import numpy as np
import streamlit as st

from engine.common.limits import ConfigError
from engine.diffusion.config import default_config
from engine.diffusion.data import DATASET_LABELS
from engine.diffusion.job import DiffusionJob
from engine.diffusion.noise_schedule import make_schedule
from engine.diffusion.spec import DiffusionSpec
from engine.runtime import Snapshot
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.jobs import experiment_job
from ui.live import job_controls, live_area, status_bar
from ui.diffusion import (digits_samples_tab, forward_tab, measuring, points_samples_tab, reverse_tab,
                          score_text, setting)
from ui.sharing import later
from viz.animation import denoising_replay


def _apply_tuned() -> None:
    """The network and training settings known to learn the data set just chosen (the digits want a wider
    network)."""
    config = default_config(st.session_state["df_data"])
    st.session_state.update(df_width=config.width, df_depth=config.depth, df_lr=config.lr,
                            df_batch=config.batch_size)


def diffusion_controls() -> DiffusionSpec:
    """Draw the sidebar controls and return the experiment they define."""
    panel = ControlPanel(DiffusionSpec)
    with st.sidebar:
        st.header("Data")
        dataset = panel.draw("data", on_change=_apply_tuned)
        panel.draw("word", disabled=dataset != "word")
        panel.draw("points", disabled=dataset == "digits")
        st.header("Noise schedule")
        schedule = panel.draw("schedule")
        panel.draw("T")
        panel.draw("bmin", "bmax", disabled=schedule != "linear")
        st.header("Network")
        panel.draw("width", "depth")
        st.header("Training")
        panel.draw("lr", "batch", "speed", "seed")
        st.header("Sampling")
        panel.draw("sampler", horizontal=False)  # its labels are long
        panel.draw("steps")
    return panel.spec()


st.title("Diffusion")
later("df_intro").caption(
    "A denoising diffusion model (DDPM) learns to undo noise: it is shown x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε and trained "
    "to tell the noise ε. Run backwards from pure N(0, I) noise, the same network turns noise into new data. "
    "Everything below is measured on the model training right now.")
export_panel(DiffusionSpec)
spec = diffusion_controls()
job = experiment_job("diffusion", DiffusionJob, spec)
config = job.config
try:
    wanted = spec.config()  # the schedule asked for, even while the job is still busy rebuilding
except ConfigError:  # refused (experiment_job says why): the schedule of the model shown
    wanted = config
warning = make_schedule(wanted.schedule, wanted.T, wanted.beta_start, wanted.beta_end).prior_warning()
if warning:
    st.warning(warning, icon=":material/warning:")
job_controls(job, key="df")


def draw(snap: Snapshot) -> None:
    v = snap.visuals
    if v is None:  # the experiment could not be built; the status bar says why
        status_bar(snap, {})
        return
    digits = v.kind == "digits"
    loss = snap.series("loss")
    recent = f"{np.mean(loss.values[-100:]):.4f}" if len(loss) else "–"
    if digits:
        real = v.measurement.real_confidence if v.measurement is not None else None
        metrics = {"Loss (last 100)": recent, "Judge on samples": f"{snap.latest('judge_confidence'):.2f}",
                   "Judge on real digits": f"{real:.2f}" if real is not None else "–"}
    else:
        metrics = {"Loss (last 100)": recent, "MMD² (norm.)": score_text(snap.latest("mmd_norm")),
                   "Energy (norm.)": score_text(snap.latest("energy_norm"))}
    status_bar(snap, {k: v.replace("nan", "–") for k, v in metrics.items()})
    if v.measure_error:
        st.error(v.measure_error)
    # Lazy tabs: only the open one's charts are built and sent; the others are built if an export asks.
    tabs = st.tabs(["Samples and training", "Reverse process" if not digits else "Denoising, step by step",
                    "Forward process and schedule"], key="df_tab", on_change="rerun", bind="query-params")
    charts = Charts()
    for tab, draw_tab in zip(tabs, (digits_samples_tab if digits else points_samples_tab, reverse_tab, forward_tab)):
        with tab:
            draw_tab(snap, charts, tab.open is not False)
    measured = v.measurement is not None
    offer_exports(spec, "diffusion", charts, snap, setting=setting(snap),
                  weights=v.measurement.state if measured else None,
                  animation=(lambda: denoising_replay(snap)) if measured else None)


later("df_network").caption(
    f"Data: {DATASET_LABELS[config.dataset]}. Network: {config.depth} residual blocks of width {config.width} with a "
    "sinusoidal time embedding, predicting ε; weights for sampling are an exponential moving average.")
live_area(job, draw, polls=lambda snap: snap.busy or measuring(snap))  # samples of the last step come after a pause
