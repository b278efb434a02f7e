"""Gradient Flow: how gradients travel back through depth and through time, live."""

import math
from dataclasses import replace
from functools import partial
from typing import Any, Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from engine.common.layers import INIT_SCHEMES
from engine.gradients.deep_trainer import DeepVisuals, DeepJob
from engine.gradients.notes import CLIPPING, THEORY_LINE, deep_setting, this_init, time_setting, why_the_lstm_remembers
from engine.gradients.recurrent_config import CELLS
from engine.gradients.recurrent_trainer import RecurrentJob, TimeVisuals
from engine.gradients.spec import DEEP, TIME, GradientsSpec
from engine.runtime import Snapshot
from ui.controls import ControlPanel
from ui.delivery import fragment
from ui.exports import Charts, export_panel, offer_exports
from ui.forks import branch_job, fork_controls, forked_curves, shown_job
from ui.jobs import experiment_job, find_job
from ui.live import job_controls, live_area, remembered, status_bar
from ui.sharing import later
from viz.gradients_panels import Panel, layer_panels, time_panels, training_panels
from viz.gradients_replay import deep_replay, recurrent_replay


def _deep_controls(panel: ControlPanel) -> None:
    st.header("Network")
    panel.draw("data", "seed", "depth", "width", "act")
    init = panel.draw("init")
    st.latex(INIT_SCHEMES[init].formula)
    panel.draw("norm", "ln_affine", "res", "res_order")
    st.header("Training")
    panel.draw("opt", "lr", "batch")
    clip = panel.draw("clip")
    panel.draw("clip_at", disabled=clip == "off")
    panel.draw("every")


def _time_controls(panel: ControlPanel) -> None:
    st.header("Recall task")
    panel.draw("T", "rseed")
    st.header("Cells")
    panel.draw("hidden", "rho", "gate")
    st.header("Training")
    panel.draw("ropt", "rlr", "rbatch")
    clip = panel.draw("r_clip")
    panel.draw("r_clip_at", disabled=clip == "off")


def gradients_controls() -> GradientsSpec:
    """Draw the mode switch and that mode's sidebar controls; return the experiment they define."""
    panel = ControlPanel(GradientsSpec)
    mode = panel.draw("mode", label_visibility="collapsed")
    with st.sidebar:
        (_deep_controls if mode == DEEP else _time_controls)(panel)
    # The other mode's controls are not shown: drawing them holds them at their defaults.
    panel.draw(*(field for field in panel.controls if field not in panel.values))
    return panel.spec()


MOMENT_REFRESH_S = 4.0
MAIN_BELOW = 19.5  # rem above the main chart in presentation mode: title, mode, buttons, numbers, heading
MAIN_BELOW_AT_INIT = 21.5  # likewise before training, when the layer-by-layer view comes first
PAGE = "gradients"  # in file names
MOMENT_CHARTS = "_gf_moment_charts"  # what the layer-by-layer view drew last, for the live area to offer


def _show(charts: Charts, panel: Panel, where: Any, main_below: float | None = None) -> None:
    """Draw a panel's figure, built again only when one of its sources was replaced; a figure kept from an
    earlier step keeps its file name."""
    figure, name = remembered(panel.key, panel.sources, lambda: (panel.build(), panel.name))
    charts.show(figure, name, key=panel.key, where=where, main_below=main_below)


def _offer(spec: GradientsSpec, charts: Charts, snap: Snapshot, setting: str,
           replay: Callable[[Snapshot], list[Image.Image]]) -> None:
    """Hand the panel the live area's figures (with, in deep mode, those of the layer-by-layer view), the
    job's weights and, once the job has drawn its first picture, its replay."""
    visuals: DeepVisuals | TimeVisuals | None = snap.visuals
    state = None if visuals is None else visuals.state
    details = {}
    if state is not None:
        details["weights saved at step"] = visuals.state_step
    if isinstance(visuals, DeepVisuals):
        mean, std = visuals.input_standardizer
        details["network input"] = (f"(x − mean) / std with mean = {np.round(mean, 6).tolist()}, "
                                    f"std = {np.round(std, 6).tolist()}")
    offer_exports(spec, PAGE, charts, snap, setting=setting, weights=state,
                  animation=None if visuals is None else lambda: replay(snap), details=details)


def _with_original(panel: Panel, panels_of: Callable[[Snapshot], list[Panel]], snap: Snapshot,
                   leave_out: tuple[str, ...] = ()) -> Panel:
    """A panel of curves that, while this mode's run is a branch, also shows its original run's (ui.forks)."""
    def build(run: Snapshot) -> go.Figure:
        return next(p for p in panels_of(run) if p.key == panel.key).build()
    return replace(panel, build=lambda: forked_curves(key, panel.key, build, snap, leave_out))


def draw_deep(spec: GradientsSpec, snap: Snapshot) -> None:
    charts = Charts()
    _draw_deep(snap, charts)
    charts.update(st.session_state.get(MOMENT_CHARTS, {}))
    _offer(spec, charts, snap, deep_setting(snap.config), deep_replay)


def _draw_deep(snap: Snapshot, charts: Charts) -> None:
    loss, accuracy, norm = snap.latest("loss"), snap.latest("train_accuracy"), snap.latest("grad_norm")
    if math.isnan(loss):  # before the first step: the loss of the initial network
        loss = snap.latest("train_loss")
    status_bar(snap, {"Loss": f"{loss:.4g}", **({} if math.isnan(accuracy) else {"Train accuracy": f"{accuracy:.1%}"}),
                      "‖∇L‖": "–" if math.isnan(norm) else f"{norm:.3g}"})
    visuals: DeepVisuals | None = snap.visuals
    if visuals is None:
        return
    if not len(visuals.history_steps):
        later("gf_before_training").caption(
            "Press Train (or Step): the loss and layer × step maps of gradient norm, update size and "
            f"{visuals.flat_region.label} units appear here, one column per probe.")
        return
    st.subheader("While training")
    loss_curve, update_ratio, gradient_norms, flat_units = training_panels(snap)
    left, right = st.columns(2, gap="medium")
    _show(charts, _with_original(loss_curve, training_panels, snap, leave_out=("‖∇L‖ (all parameters)",)), left)
    _show(charts, update_ratio, left)
    _show(charts, gradient_norms, right, main_below=MAIN_BELOW)
    _show(charts, flat_units, right)


def draw_moment(snap: Snapshot) -> None:
    """The layer-by-layer view, at initialization or at the latest probe; the live area's next draw (in a
    whole-page run: the one that follows) offers its figures for export."""
    charts = Charts()
    visuals: DeepVisuals | None = snap.visuals
    if visuals is not None:
        _draw_moment(visuals, snap, charts)
    st.session_state[MOMENT_CHARTS] = charts


def _draw_moment(visuals: DeepVisuals, snap: Snapshot, charts: Charts) -> None:
    now = st.session_state.get("gf_when", "Now") == "Now" and visuals.latest_probe is not None
    st.subheader(f"Layer by layer, at step {visuals.latest_probe.step:,}" if now else
                 "Layer by layer, at initialization (one forward, one backward)")
    activations, activation_ridge, gradient_norms, gradient_ridge, theory = layer_panels(visuals, snap.config, now)
    left, right = st.columns(2, gap="medium")
    _show(charts, activations, left)
    _show(charts, activation_ridge, left)
    # The main chart before training starts; then the live area's heatmap above it is.
    _show(charts, gradient_norms, right, main_below=None if len(visuals.history_steps) else MAIN_BELOW_AT_INIT)
    _show(charts, gradient_ridge, right)
    chart, words = st.columns([1.4, 1], gap="medium")
    _show(charts, theory, chart)
    words.markdown(THEORY_LINE)
    words.markdown(this_init(snap.config))


def draw_time(spec: GradientsSpec, snap: Snapshot) -> None:
    charts = Charts()
    _draw_time(snap, charts)
    _offer(spec, charts, snap, time_setting(snap.config), recurrent_replay)


def _draw_time(snap: Snapshot, charts: Charts) -> None:
    accuracies = {cell: snap.latest(f"accuracy_{cell}") for cell in snap.config.cells}
    status_bar(snap, {f"{CELLS[c]} acc.": "–" if math.isnan(a) else f"{a:.0%}" for c, a in accuracies.items()})
    visuals: TimeVisuals | None = snap.visuals
    if visuals is None:
        return
    for stopped in visuals.stopped:
        st.warning(stopped.why, icon=":material/error:")
    through_time, eigenvalues, accuracy, gradient_norms, linear = time_panels(snap)
    left, right = st.columns([1.5, 1], gap="medium")
    _show(charts, through_time, left, main_below=MAIN_BELOW)
    _show(charts, eigenvalues, right)
    left, right = st.columns(2, gap="medium")
    _show(charts, _with_original(accuracy, time_panels, snap), left)
    _show(charts, gradient_norms, right)
    left, right = st.columns([1.5, 1], gap="medium")
    _show(charts, linear, left)
    right.markdown(why_the_lstm_remembers(snap.config))
    right.markdown(CLIPPING)


JOBS = {DEEP: DeepJob, TIME: RecurrentJob}  # one job per mode, "gradients_<mode>"

st.title("Gradient Flow")
export_panel(GradientsSpec)  # before the controls: an imported settings file sets them
spec = gradients_controls()
name, key = f"gradients_{spec.mode}", f"gf_{spec.mode}"  # a job per mode, of the mode's type
job = branch_job(key, spec) or experiment_job(name, JOBS[spec.mode], spec)
for other in JOBS.keys() - {spec.mode}:  # one experiment at a time: the hidden mode's run pauses
    other_job = find_job(shown_job(f"gf_{other}", f"gradients_{other}"))
    if other_job is not None and other_job.snapshot().busy:
        other_job.pause()
job_controls(job, key=key)
with later(f"{key}_forks"):
    fork_controls(job, name, key)


if spec.mode == DEEP:
    # The layer-by-layer view is drawn first, below the live area, so the live area can offer its figures too.
    live, below = st.container(), st.container()
    with below:
        later("gf_moment_choice").segmented_control(
            "Layer-by-layer view", ["At initialization", "Now"], default="Now", key="gf_when",
            help="Now: the latest probe (refreshed every few seconds while training). At initialization: one "
                 "forward and one backward pass before any update.")

        @fragment(run_every=MOMENT_REFRESH_S if job.snapshot().busy else None)
        def moment() -> None:
            draw_moment(job.snapshot(fresh=True))

        moment()
    with live:
        live_area(job, partial(draw_deep, spec))
else:
    # Fresh sequences every step: the Epoch column counts recurrent_trainer.EPOCH_SEQUENCES of them.
    live_area(job, partial(draw_time, spec))
