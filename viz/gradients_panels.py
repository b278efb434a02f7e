"""The Gradient Flow page's charts, as it lays them out: which figure of viz.gradients each one is, built from
what in a job's snapshot, under which file name (figure, setting, step). app_pages/gradients.py draws them.

A panel names its `sources`, the snapshot objects its figure is built from: the job replaces them (never
changes them) when their data change, so the page rebuilds a figure only when one of them is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import plotly.graph_objects as go

from engine.common.layers import INIT_SCHEMES
from engine.gradients.deep_config import DeepConfig
from engine.gradients.deep_trainer import DeepVisuals
from engine.gradients.notes import deep_setting, time_setting
from engine.gradients.probes import COLUMN, UPDATE_RATIO_GUIDE
from engine.gradients.recurrent_config import CELLS, N_SYMBOLS, RecurrentConfig
from engine.gradients.recurrent_trainer import TimeVisuals
from engine.runtime import Snapshot
from viz import gradients as figures


@dataclass(frozen=True)
class Panel:
    key: str  # the chart's widget key, and the name its figure is remembered under
    name: str  # the file name of the figure built now
    build: Callable[[], go.Figure]
    sources: tuple  # what the figure is built from


def training_panels(snap: Snapshot) -> list[Panel]:
    """Deep mode while training, by probe: the loss, and layer × step maps of update size, gradient norm and
    flat units."""
    visuals: DeepVisuals = snap.visuals
    layers, region, steps, stats = visuals.layers, visuals.flat_region, visuals.history_steps, visuals.history_stats
    column = {name: stats[:, :, index] for name, index in COLUMN.items()}
    loss, norm = snap.series("loss"), snap.series("grad_norm")
    name, at = deep_setting(snap.config), f"step{snap.step}"
    return [
        Panel("gf_loss", f"loss-{name}-{at}",
              lambda: figures.loss_curve(loss.steps, loss.values, norm.steps, norm.values), (loss, norm)),
        Panel("gf_update_ratio", f"update-ratio-{name}-{at}",
              lambda: figures.update_ratio_heatmap(steps, layers, column["update_ratio"], UPDATE_RATIO_GUIDE),
              (stats,)),
        Panel("gf_grad_heatmap", f"gradient-norm-heatmap-{name}-{at}",
              lambda: figures.gradient_norm_heatmap(steps, layers, column["grad_norm"]), (stats,)),
        Panel("gf_flat_heatmap", f"flat-fraction-{name}-{at}", lambda: figures.flat_fraction_heatmap(
            steps, layers[:-1], column["flat_fraction"][:, :-1], region.label), (stats,)),
    ]


def layer_panels(visuals: DeepVisuals, config: DeepConfig, now: bool) -> list[Panel]:
    """Deep mode layer by layer, at the latest probe (`now`) or at initialization: activations and their
    histograms, gradient norms and their histograms, and the variance against its theory line."""
    layers, region, init = visuals.layers, visuals.flat_region, visuals.init_probe
    probe = visuals.latest_probe if now else init
    name = f"{deep_setting(config)}-{f'step{probe.step}' if now else 'init'}"
    relu = " non-zero" if config.activation == "relu" else ""
    return [
        Panel("gf_activations", f"activations-{name}", lambda: figures.activation_profile(
            layers[:-1], probe.column("act_mean")[:-1], probe.column("act_std")[:-1],
            probe.column("flat_fraction")[:-1], region.label, title=f"Activations ({region.label}: {region.rule})"),
            (probe,)),
        Panel("gf_act_ridge", f"activation-histograms-{name}", lambda: figures.ridge_plot(
            layers[:-1], probe.act_edges, probe.act_hist, "activation a = f(u)",
            f"Histograms of{relu} activations by layer"), (probe,)),  # (short: plotly.js does not wrap a title)
        Panel("gf_grad_norms", f"gradient-norms-{name}", lambda: figures.gradient_norms(
            layers, probe.column("grad_norm"), probe.column("act_grad_norm")), (probe,)),
        Panel("gf_grad_ridge", f"gradient-histograms-{name}", lambda: figures.ridge_plot(
            layers, probe.grad_edges, probe.grad_hist, "log₁₀ |∂L/∂W|", "Histograms of weight gradients by layer"),
            (probe,)),
        Panel("gf_theory", f"variance-theory-{name}", lambda: figures.variance_theory(
            layers, probe.column("preact_sq"), visuals.theory, INIT_SCHEMES[config.init].label,
            init.column("preact_sq") if now else None), (probe, init)),
    ]


def time_panels(snap: Snapshot) -> list[Panel]:
    """Through time: gradients through time and W_hh's eigenvalues (at the latest probe), recall accuracy and
    gradient norm per step, and the linear RNN against its closed form."""
    config: RecurrentConfig = snap.config
    visuals: TimeVisuals = snap.visuals
    name, at, probed = time_setting(config), f"step{snap.step}", f"step{visuals.gradients_step}"
    accuracy = {cell: snap.series(f"accuracy_{cell}") for cell in config.cells}
    norms = {cell: snap.series(f"grad_norm_{cell}") for cell in config.cells}
    threshold = float(snap.hyperparameters["clip_at"]) if snap.hyperparameters["clip"] == "norm" else None
    linear = visuals.linear
    return [
        Panel("gf_bptt", f"gradient-through-time-{name}-{probed}", lambda: figures.gradient_through_time(
            visuals.gradients, CELLS, visuals.init_gradients, radius=config.spectral_radius,
            title=f"‖∂L/∂h_t‖ at step {visuals.gradients_step:,} (faint: at init)"), (visuals.gradients,)),
        Panel("gf_eigen", f"eigenvalues-{name}-{probed}", lambda: figures.eigenvalue_plane(
            visuals.eigenvalues, CELLS, config.spectral_radius,
            visuals.init_eigenvalues[0].values if visuals.init_eigenvalues else None,
            title="Eigenvalues of W_hh, vanilla RNNs"), (visuals.eigenvalues,)),
        Panel("gf_accuracy", f"recall-accuracy-{name}-{at}", lambda: figures.per_cell_curves(
            {c: (s.steps, s.values) for c, s in accuracy.items()}, CELLS, "accuracy",
            f"Recall accuracy after T = {config.seq_len} steps", guide=1 / N_SYMBOLS, guide_label="chance"),
            tuple(accuracy.values())),
        Panel("gf_rnn_norms", f"gradient-norm-steps-{name}-{at}", lambda: figures.per_cell_curves(
            {c: (s.steps, s.values) for c, s in norms.items()}, CELLS, "‖∇L‖ before clipping",
            "Gradient norm per step", log=True, guide=threshold, guide_label="clip threshold"),
            (*norms.values(), threshold)),
        Panel("gf_linear", f"linear-rnn-{name}", lambda: figures.linear_closed_form(
            linear.t, linear.scalar_measured, linear.scalar_closed, linear.w, linear.matrix_measured,
            linear.matrix_closed), (linear,)),
    ]
