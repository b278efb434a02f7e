"""The Gradient Flow page's views: what each mode draws from a job snapshot.

Figures here change with every probe (once a second), and a browser that redraws a dozen Plotly
charts that often falls behind, most of all on a busy classroom laptop. So while a job trains each
chart is rebuilt at most once per LIVE_CHART_S, the layer-by-layer view once per MOMENT_REFRESH_S;
an unchanged figure is sent unchanged (with its file name, which says the step it shows), which the
browser does not redraw.

Every chart goes through `ui.exports.Charts`. The live area hands the Export panel what it drew together
with what the layer-by-layer view drew last (that view refreshes in a fragment of its own, which may not
write to the panel: only the fragment that filled it in the last whole-page run may). So the page draws
the layer-by-layer view first, into a container below the live area, and the panel always offers every
figure on the page.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from engine import gradient_flow as deep
from engine import recurrent
from engine.runtime import Snapshot
from engine.common.layers import INIT_SCHEMES
from ui.exports import Charts, offer_exports
from ui.live import status_bar
from ui.sharing import later, presenting
from viz import gradient_flow as figures
from viz.gradient_flow_replay import deep_replay, recurrent_replay

LIVE_CHART_S = 1.0
MOMENT_REFRESH_S = 4.0
MAIN_BELOW = 19.5  # rem above the main chart in presentation mode: title, mode, buttons, numbers, heading
MAIN_BELOW_AT_INIT = 21.5  # likewise before training, when the layer-by-layer view comes first
PAGE, PREFIX = "gradient-flow", "gf_"


def chart(charts: Charts, key: str, name: str, build: Callable[[], go.Figure], *sources: object,
          every: float = 0.0, main_below: float | None = None) -> None:
    """Draw a figure through `charts`, rebuilt only when one of its `sources` (snapshot objects, replaced by
    the job when their data change) is a different object, and then no sooner than `every` seconds after the
    last build. `name` (the file name: figure, setting, step) is the one of the figure drawn: a figure kept
    from an earlier step keeps its name."""
    sources = (*sources, presenting())  # presentation mode sizes a figure's text: toggled, it is built again
    cache = st.session_state.setdefault("_gf_figures", {})
    hit = cache.get(key)
    now = time.monotonic()
    same = hit is not None and len(hit[0]) == len(sources) and all(a is b for a, b in zip(hit[0], sources))
    if hit is None or (not same and now - hit[2] >= every):
        hit = cache[key] = (sources, build(), now, name)
    charts.show(hit[1], hit[3], key=key, main_below=main_below)


def deep_setting(config: deep.DeepConfig) -> str:
    """The experiment in file names: e.g. spiral-relu-he-depth20x64-momentum, -batchnorm, -residual."""
    norm = "" if config.norm == "none" else f"-{config.norm}norm"
    return (f"{config.data.kind}-{config.activation}-{config.init}-depth{config.depth}x{config.width}{norm}"
            f"{'-residual' if config.residual else ''}-{config.optimizer}")


def time_setting(config: recurrent.RecurrentConfig) -> str:
    """E.g. recall-T50-h32-rho0.8-b3-adam."""
    return (f"recall-T{config.seq_len}-h{config.hidden}-rho{config.spectral_radius:g}-b{config.gate_bias:g}-"
            f"{config.optimizer}")


def _offer(charts: Charts, snap: Snapshot, setting: str,
           replay: Callable[[Snapshot], list[Image.Image]] | None) -> None:
    """Hand the panel the live area's figures (with, in deep mode, those of the layer-by-layer view), the
    job's weights and, once the job has drawn its first picture, its replay."""
    visuals = snap.visuals
    details = {}
    if visuals.get("state") is not None:
        details["weights saved at step"] = visuals["state_step"]
    if "input_standardizer" in visuals:
        mean, std = visuals["input_standardizer"]
        details["network input"] = (f"(x − mean) / std with mean = {np.round(mean, 6).tolist()}, "
                                    f"std = {np.round(std, 6).tolist()}")
    offer_exports(PREFIX, PAGE, charts, snap, setting=setting, weights=visuals.get("state"),
                  animation=None if replay is None else lambda: replay(snap), details=details)


def draw_deep(snap: Snapshot) -> None:
    charts = Charts()
    _draw_deep(snap, charts)
    charts.update(st.session_state.get("_gf_moment_charts", {}))
    _offer(charts, snap, deep_setting(snap.config), deep_replay if "init_probe" in snap.visuals else None)


def _draw_deep(snap: Snapshot, charts: Charts) -> None:
    loss, accuracy, norm = snap.latest("loss"), snap.latest("train_accuracy"), snap.latest("grad_norm")
    if math.isnan(loss):  # before the first step: the loss of the initial network
        loss = snap.latest("train_loss")
    status_bar(snap, {"Loss": f"{loss:.4g}", **({} if math.isnan(accuracy) else {"Train accuracy": f"{accuracy:.1%}"}),
                      "‖∇L‖": "–" if math.isnan(norm) else f"{norm:.3g}"})
    visuals = snap.visuals
    if "init_probe" not in visuals:
        return
    config: deep.DeepConfig = snap.config
    layers, region, steps = visuals["layers"], visuals["flat_region"], visuals["history_steps"]
    if not len(steps):
        later("gf_before_training").caption(
            "Press Train (or Step): the loss and layer × step maps of gradient norm, update size and "
            f"{region.label} units appear here, one column per probe.")
        return
    st.subheader("While training")
    stats = visuals["history_stats"]
    column = {name: stats[:, :, index] for name, index in deep.COLUMN.items()}
    name, at = deep_setting(config), f"step{snap.step}"
    every = LIVE_CHART_S if snap.busy else 0.0
    left, right = st.columns(2, gap="medium")
    with left:
        loss, norm = snap.series("loss"), snap.series("grad_norm")
        chart(charts, "gf_loss", f"loss-{name}-{at}",
              lambda: figures.loss_curve(loss.steps, loss.values, norm.steps, norm.values), loss, norm, every=every)
        chart(charts, "gf_update_ratio", f"update-ratio-{name}-{at}",
              lambda: figures.update_ratio_heatmap(steps, layers, column["update_ratio"], deep.UPDATE_RATIO_GUIDE),
              stats, every=every)
    with right:
        chart(charts, "gf_grad_heatmap", f"gradient-norm-heatmap-{name}-{at}",
              lambda: figures.gradient_norm_heatmap(steps, layers, column["grad_norm"]), stats, every=every,
              main_below=MAIN_BELOW)
        chart(charts, "gf_flat_heatmap", f"flat-fraction-{name}-{at}",
              lambda: figures.flat_fraction_heatmap(steps, layers[:-1], column["flat_fraction"][:, :-1], region.label),
              stats, every=every)


def draw_moment(snap: Snapshot) -> None:
    """The layer-by-layer view, at initialization or at the latest probe; the live area's next draw (in a
    whole-page run: the one that follows) offers its figures for export."""
    charts = Charts()
    _draw_moment(snap, charts)
    st.session_state["_gf_moment_charts"] = charts


def _draw_moment(snap: Snapshot, charts: Charts) -> None:
    visuals = snap.visuals
    if "init_probe" not in visuals:
        return
    config: deep.DeepConfig = snap.config
    layers, region, init = visuals["layers"], visuals["flat_region"], visuals["init_probe"]
    now = st.session_state.get("gf_when", "Now") == "Now" and visuals["latest_probe"] is not None
    probe = visuals["latest_probe"] if now else init
    name = f"{deep_setting(config)}-{f'step{probe.step}' if now else 'init'}"
    st.subheader(f"Layer by layer, at step {probe.step:,}" if now else
                 "Layer by layer, at initialization (one forward, one backward)")
    left, right = st.columns(2, gap="medium")
    relu = " (non-zero)" if config.activation == "relu" else ""
    with left:
        chart(charts, "gf_activations", f"activations-{name}", lambda: figures.activation_profile(
            layers[:-1], probe.column("act_mean")[:-1], probe.column("act_std")[:-1],
            probe.column("flat_fraction")[:-1], region.label, title=f"Activations ({region.label}: {region.rule})"),
            probe)
        chart(charts, "gf_act_ridge", f"activation-histograms-{name}", lambda: figures.ridge_plot(
            layers[:-1], probe.act_edges, probe.act_hist, "activation a = f(u)",
            f"Histogram of activations{relu}, per layer"), probe)
    with right:
        # The main chart before training starts; then the live area's heatmap above it is.
        chart(charts, "gf_grad_norms", f"gradient-norms-{name}", lambda: figures.gradient_norms(
            layers, probe.column("grad_norm"), probe.column("act_grad_norm")), probe,
            main_below=None if len(visuals["history_steps"]) else MAIN_BELOW_AT_INIT)
        chart(charts, "gf_grad_ridge", f"gradient-histograms-{name}", lambda: figures.ridge_plot(
            layers, probe.grad_edges, probe.grad_hist, "log₁₀ |∂L/∂W|", "Histogram of weight gradients, per layer"),
            probe)
    theory, words = st.columns([1.4, 1], gap="medium")
    with theory:
        chart(charts, "gf_theory", f"variance-theory-{name}", lambda: figures.variance_theory(
            layers, probe.column("preact_sq"), visuals["theory"], INIT_SCHEMES[config.init].label,
            init.column("preact_sq") if now else None), probe, init)
    with words:
        st.markdown(r"**The theory line.** With independent zero-mean weights and zero biases, $z = Wh$ has "
                    r"$E[z^2] = n_{in}\,\mathrm{Var}(W)\,E[h^2]$. Each scheme picks $\mathrm{Var}(W)$ to keep it "
                    r"steady: He $2/n_{in}$ (ReLU halves $E[h^2]$), LeCun $1/n_{in}$ (linear, SELU), "
                    r"Xavier $2/(n_{in}+n_{out})$ (balances the backward pass too).")
        st.markdown(f"This network uses **{INIT_SCHEMES[config.init].label}**; the dashed line carries its variance "
                    f"through {config.depth} {deep.ACTIVATION_CHOICES[config.activation]} layers. Markers far from "
                    "it mean the activations grow or die with depth, and so will the gradients.")


def draw_time(snap: Snapshot) -> None:
    charts = Charts()
    _draw_time(snap, charts)
    _offer(charts, snap, time_setting(snap.config), recurrent_replay if "gradients" in snap.visuals else None)


def _draw_time(snap: Snapshot, charts: Charts) -> None:
    config: recurrent.RecurrentConfig = snap.config
    labels = recurrent.CELLS
    accuracies = {c: snap.latest(f"accuracy_{c}") for c in config.cells}
    status_bar(snap, {f"{labels[c]} acc.": "–" if math.isnan(a) else f"{a:.0%}" for c, a in accuracies.items()})
    visuals = snap.visuals
    if "gradients" not in visuals:
        return
    for message in visuals["stopped"].values():
        st.warning(message, icon="💥")
    name, at, probed = time_setting(config), f"step{snap.step}", f"step{visuals['gradients_step']}"
    left, right = st.columns([1.5, 1], gap="medium")
    with left:
        chart(charts, "gf_bptt", f"gradient-through-time-{name}-{probed}", lambda: figures.gradient_through_time(
            visuals["gradients"], labels, visuals["init_gradients"], radius=config.spectral_radius,
            title=f"‖∂L/∂h_t‖ at step {visuals['gradients_step']:,} (faint: at init)"), visuals["gradients"],
            main_below=MAIN_BELOW)
    with right:
        chart(charts, "gf_eigen", f"eigenvalues-{name}-{probed}", lambda: figures.eigenvalue_plane(
            visuals["eigenvalues"], labels, config.spectral_radius,
            next(iter(visuals["init_eigenvalues"].values()), None), title="Eigenvalues of W_hh (vanilla RNNs)"),
            visuals["eigenvalues"])
    every = LIVE_CHART_S if snap.busy else 0.0
    left, right = st.columns(2, gap="medium")
    with left:
        accuracy = {c: snap.series(f"accuracy_{c}") for c in config.cells}
        chart(charts, "gf_accuracy", f"recall-accuracy-{name}-{at}", lambda: figures.per_cell_curves(
            {c: (s.steps, s.values) for c, s in accuracy.items()}, labels, "accuracy",
            f"Recall accuracy after T = {config.seq_len} steps", guide=1 / recurrent.N_SYMBOLS, guide_label="chance"),
            *accuracy.values(), every=every)
    with right:
        norms = {c: snap.series(f"grad_norm_{c}") for c in config.cells}
        threshold = float(snap.hyperparameters["clip_at"]) if snap.hyperparameters["clip"] == "norm" else None
        chart(charts, "gf_rnn_norms", f"gradient-norm-steps-{name}-{at}", lambda: figures.per_cell_curves(
            {c: (s.steps, s.values) for c, s in norms.items()}, labels, "‖∇L‖ before clipping",
            "Gradient norm per step", log=True, guide=threshold, guide_label="clip threshold"),
            *norms.values(), every=every)
    left, right = st.columns([1.5, 1], gap="medium")
    linear = visuals["linear"]
    with left:
        chart(charts, "gf_linear", f"linear-rnn-{name}", lambda: figures.linear_closed_form(
            linear["t"], linear["scalar_measured"], linear["scalar_closed"], linear["w"],
            linear.get("matrix_measured"), linear.get("matrix_closed")), linear)
    with right:
        kept = 1 / (1 + math.exp(-config.gate_bias))
        st.markdown(
            r"**Why the LSTM remembers.** Its cell state is updated additively, $c_t = f_t \odot c_{t-1} + "
            r"i_t \odot g_t$, so along the cell path $\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)$: no "
            r"$W_{hh}$, no squashing derivative. "
            f"With the forget-gate bias $b = {config.gate_bias:g}$ the gate starts near $\\sigma(b) = {kept:.2f}$, "
            f"and over $T = {config.seq_len}$ steps the error keeps about $\\sigma(b)^T = "
            f"{kept ** config.seq_len:.2g}$ of itself (the dotted line, $\\lVert\\partial L/\\partial c_t\\rVert$). "
            r"A vanilla RNN multiplies it by $\mathrm{diag}(f')\,W_{hh}$ at every step instead; with $|f'| \le 1$ "
            f"it shrinks about like $\\rho^{{T-t}}$ (dashed guide, $\\rho = {config.spectral_radius:g}$) or faster.")
        st.markdown("**Clipping.** Set ρ ≥ 2 and the ReLU RNN's gradient norm jumps past 10⁴ (chart above). "
                    "Adam hardly notices: it divides each step by the gradient's running size. With SGD the step "
                    "is the gradient itself, and the ReLU RNN's weights overflow within a few steps (it stops). "
                    "Clip by norm and no step is longer than η × threshold: it trains on. Clipping tames the step, "
                    "not the cause; a smaller ρ does that.")
