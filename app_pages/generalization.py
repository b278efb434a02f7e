"""Generalization: 1-D regression where every number is computed. Least squares on polynomial or random ReLU
features refitted on hundreds of fresh training sets (bias² + variance + σ² measured, the complexity sweep and its
second descent, ridge's shrinkage, input noise as L2, L1 against L2), and a small MLP trained live with early
stopping on a validation set. The open tab is the experiment's view; only the MLP's tab runs a job."""

import math

import numpy as np
import streamlit as st

from engine.generalization.experiment import bias_variance, regularization, sweep, sweep_refits
from engine.generalization.features import FAMILY_LABELS
from engine.generalization.least_squares import RANK_TOLERANCE
from engine.generalization.mlp import MlpJob
from engine.generalization.regularization import PANEL_FEATURES
from engine.generalization.spec import DATA_FIELDS, MLP_FIELDS, MODEL_FIELDS, VIEWS, GeneralizationSpec
from engine.runtime import Snapshot
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.forks import branch_job, fork_controls, forked_curves
from ui.jobs import experiment_job
from ui.live import job_controls, live_area, status_bar
from ui.sharing import later
from viz import generalization as figures

BIAS_VARIANCE, SWEEP, REGULARIZATION, EARLY_STOPPING = VIEWS
MAIN_BELOW = {BIAS_VARIANCE: 19.0, SWEEP: 16.0, REGULARIZATION: 16.0, EARLY_STOPPING: 19.0}

st.title("Generalization")
later("gl_intro").caption(
    "Why a model that fits its training data can still predict badly. The data are y = f(x) + ε on [-1, 1], and "
    "the page knows f and σ, so the expected test error splits exactly into bias², variance and σ², measured by "
    "refitting the model on many fresh training sets.")
export_panel(GeneralizationSpec)
panel = ControlPanel(GeneralizationSpec)
tabs = panel.tabs("view")
view = panel.values["view"]
with st.sidebar:
    st.header("Data")
    panel.draw(*DATA_FIELDS)
    # The open tab's model settings; the other model's are held (kept, and in links) while its tabs are closed.
    sections = {"Least-squares model": MODEL_FIELDS, "MLP": MLP_FIELDS}
    open_section = "MLP" if view == EARLY_STOPPING else "Least-squares model"
    st.header(open_section)
    panel.draw(*sections[open_section])
    for name in sections:
        if name != open_section:
            panel.hold(*sections[name])
if view == REGULARIZATION:
    with tabs[REGULARIZATION]:
        panel.draw("input_noise", where=later("gl_input_noise"))
else:
    panel.hold("input_noise")

spec: GeneralizationSpec = panel.spec()
problem = spec.problem()
size_name = "degree" if problem.family == "poly" else "width"
model_name = f"{FAMILY_LABELS[problem.family].lower()}, {size_name} {problem.complexity}" + (
    f", ridge α = {problem.alpha:g}" if problem.alpha > 0 else "")
setting = (f"{problem.function}-sigma{problem.sigma:g}-n{problem.n}-{problem.family}{problem.complexity}"
           f"-alpha{problem.alpha:g}-seed{problem.seed}")
charts = Charts()
# The closed forms are shared by every session (a class opening one link computes it once).
cached = st.cache_data(max_entries=64, show_spinner="Refitting…")


@cached
def decomposition_of(problem, refits):
    return bias_variance(problem, refits)


@cached
def sweep_of(problem, refits):
    return sweep(problem, refits)


@cached
def regularization_of(problem, input_noise):
    return regularization(problem, input_noise)


def standard_error(value: float) -> str:
    """A standard error to one significant digit, never in exponent form (40, 0.001): it fits its box."""
    return np.format_float_positional(value, precision=1, unique=False, fractional=False, trim="-")


def show_bias_variance() -> None:
    result = decomposition_of(problem, spec.refits)
    d = result.decomposition
    cells = {"bias²": f"{max(d.bias2, 0):.3g}", "variance": f"{d.variance:.3g}", "σ²": f"{d.noise:.3g}",
             "bias² + variance + σ²": f"{d.expected_error:.3g} ± {standard_error(d.expected_error_se)}",
             "test error, measured": f"{d.test_mse:.3g} ± {standard_error(d.test_mse_se)}",
             "training error": f"{result.train_mse:.3g}"}
    for column, (label, value) in zip(st.columns([1, 1, 0.8, 1.5, 1.5, 1]), cells.items()):
        column.metric(label, value)
    fan_col, bars_col = st.columns([1.6, 1])
    charts.show(lambda: figures.fits_fan(result.grid, result.truth, result.fan, d.mean_fit, result.train_x,
                                         result.train_y, f"{d.refits} refits of a {model_name}"),
                f"generalization-fits-{setting}", key="gl_fig_fan", where=fan_col,
                main_below=MAIN_BELOW[BIAS_VARIANCE])
    charts.show(lambda: figures.decomposition_bars(d.bias2, d.variance, d.noise, d.test_mse, d.test_mse_se),
                f"generalization-decomposition-{setting}", key="gl_fig_bars", where=bars_col)
    wild = int((abs(result.fan) > figures.Y_LIMIT).any(axis=1).sum())
    later("gl_bv_notes").caption(
        f"Each refit draws {problem.n} new inputs and new noise; bias² and variance are averaged over 400 test "
        f"inputs spread evenly over [-1, 1]. The sum and the measured error (noisy test labels, fresh noise for "
        f"each refit) differ by {d.gap_se:.1f} standard errors of their difference: they are equal in "
        "expectation. bias² is (mean fit − f)² less variance/R, so both estimates are unbiased"
        + (f"; it can come out a little below 0 where the bias is nil (here {d.bias2:.2g})" if d.bias2 < 0 else "")
        + (f". {wild} of the {len(result.fan)} fits drawn leave the chart somewhere." if wild else "."))


def show_sweep() -> None:
    result = sweep_of(problem, sweep_refits(problem.n, spec.refits))
    threshold = result.threshold
    charts.show(lambda: figures.complexity_sweep(
        result.sizes, result.alphas, result.train_mse, result.test_mse, result.bias2, result.variance,
        family=problem.family, threshold=threshold, current=problem.complexity, noise=problem.sigma**2,
        refits=result.refits), f"generalization-sweep-{setting}", key="gl_fig_sweep", main_below=MAIN_BELOW[SWEEP],
        wide=True)
    where = (f"{threshold:.0f}, {threshold / problem.n:.1f} times N" if math.isfinite(threshold)
             else "beyond the widest model here")
    family_note = (
        "A polynomial reaches it at D + 1 = N when the inputs are far enough apart; two inputs close together "
        "make two rows of Φ nearly equal, and rank N at this tolerance then needs a higher degree."
        if problem.family == "poly" else
        "For hinges on 1-D inputs it lies several times above N: a hinge adds a new direction only where it falls "
        "between a pair of neighbouring inputs that no hinge separates yet, and most new hinges land where "
        "others already are. The test error peaks before it, where most gaps have just one hinge and Φ is worst "
        "conditioned, and falls after it as more hinges share each gap (random Fourier features show the "
        "textbook picture: their peak sits at the threshold)."
        if problem.family == "relu" else
        "Fourier features are generic: about N of them already reach rank N, and the test error peaks right "
        "there, where Φ is square and worst conditioned, then falls as more features share the fit.")
    later("gl_sweep_notes").caption(
        f"Least squares (solid) is the minimum-norm solution once the features outnumber the points. The "
        f"interpolation threshold is the median over refits of the smallest {size_name} at which Φ reaches rank "
        f"N = {problem.n} (singular values above {RANK_TOLERANCE:g} of the largest), so that the training error "
        f"falls to ~0: here {where}. {family_note} The median test error peaks at {size_name} {result.peak}. "
        + ("Ridge (dashed) flattens the peak: set α above 0 to draw it." if problem.alpha == 0 else
           "Ridge (dashed) flattens the peak."))


def show_regularization() -> None:
    result = regularization_of(problem, float(spec.input_noise))
    charts.show(lambda: figures.shrinkage_factors(result.eigenvalues, result.alphas, result.factors, problem.alpha),
                f"generalization-shrinkage-{setting}", key="gl_fig_shrinkage", main_below=MAIN_BELOW[REGULARIZATION])
    st.caption("With ΦᵀΦ = Σ λᵢ vᵢvᵢᵀ, ridge's fit is the least-squares fit with its component along each vᵢ "
               "multiplied by λᵢ / (λᵢ + α): the directions the data pin down (large λᵢ) survive, and the sum of "
               "the factors is the model's effective number of parameters.")
    if result.noisy is None:
        st.info(f"The input-noise and L1 panels fit models of at most {PANEL_FEATURES} features: this one has "
                f"{problem.features.count(problem.complexity)}.", icon=":material/info:")
        return
    noisy = result.noisy
    left, right = st.columns(2)
    charts.show(lambda: figures.noise_against_ridge(noisy.copies, noisy.relative_differences),
                f"generalization-input-noise-{setting}", key="gl_fig_noise", where=left)
    charts.show(lambda: figures.regularized_fits(
        result.grid, result.truth, result.train_x, result.train_y,
        {f"ridge, α = N s² = {noisy.alpha:.3g}": result.grid_features @ noisy.ridge_weights,
         f"least squares on {noisy.copies[-1]} noisy copies": result.grid_features @ noisy.noisy_weights[-1]},
        "The two fits"), f"generalization-input-noise-fits-{setting}", key="gl_fig_noise_fits", where=right)
    st.caption(f"Gaussian noise of standard deviation s = {noisy.noise_std:g} added to each input of a linear "
               "model (here the features its weights multiply) adds, in expectation over the noise, N s²‖w‖² to "
               "the squared error: least squares on ever more noisy copies of the training set approaches ridge "
               "with α = N s².")
    if result.l1_l2 is None:
        st.info("L1 against L2: set ridge α above 0 in the sidebar; the lasso is matched to its training error.",
                icon=":material/info:")
        return
    l1 = result.l1_l2
    left, right = st.columns(2)
    charts.show(lambda: figures.weight_histograms(l1.ridge_weights, l1.lasso_weights),
                f"generalization-l1-l2-{setting}", key="gl_fig_l1", where=left)
    charts.show(lambda: figures.regularized_fits(
        result.grid, result.truth, result.train_x, result.train_y,
        {f"L2, α = {problem.alpha:g}": result.grid_features @ l1.ridge_weights,
         f"L1, λ = {l1.lasso_strength:.3g}": result.grid_features @ l1.lasso_weights}, "L1 and L2 fits"),
        f"generalization-l1-l2-fits-{setting}", key="gl_fig_l1_fits", where=right)
    zeros_ridge, zeros_lasso = l1.zeros
    st.caption(f"The same features and training set: ridge with α = {problem.alpha:g} (training error "
               f"{l1.train_mse:.4f}) and the lasso, ‖y − Φw‖² + λ‖w‖₁, at the λ whose training error is closest "
               f"({l1.lasso_train_mse:.4f}). The lasso sets {zeros_lasso} of {len(l1.lasso_weights)} weights "
               f"exactly to 0, ridge {zeros_ridge} (features that are 0 on every training input)."
               " L1's corner at 0 holds a weight there until its gradient exceeds λ; L2's pull vanishes at 0.")


def draw_mlp(snap: Snapshot) -> None:
    v = snap.visuals
    now = {name: snap.latest(name) for name in ("loss", "validation_mse", "test_mse")}
    cells = {label: f"{now[name]:.4f}" if math.isfinite(now[name]) else "–"  # none before the first step
             for label, name in (("Training error", "loss"), ("Validation error", "validation_mse"),
                                 ("Test error", "test_mse"))}
    if v is not None and v.early_step > 0:
        cells["Test error, early stopped"] = f"{v.early_test:.4f}"
    status_bar(snap, cells, epoch=False)  # full batch: an epoch is a step
    if v is None:
        return
    fit_col, errors_col = st.columns(2)
    charts.show(lambda: figures.mlp_fit(v.grid, v.truth, v.fit, v.early_fit, v.early_step,
                                        (v.train_x, v.train_y), (v.validation_x, v.validation_y), snap.step),
                f"generalization-mlp-fit-{setting}-step{snap.step}", key="gl_fig_mlp_fit", where=fit_col,
                main_below=MAIN_BELOW[EARLY_STOPPING])
    charts.show(lambda: forked_curves("gl_mlp", "errors", lambda run: figures.mlp_errors(
        run.curves, v.early_step, v.best_test_step, problem.sigma**2), snap),
                f"generalization-mlp-errors-{setting}-step{snap.step}", key="gl_fig_mlp_errors", where=errors_col)
    if v.early_step > 0:
        optimism = v.early_test - v.best_test
        st.caption(
            f"Early stopping keeps the network of step {v.early_step:,}, where the validation error was lowest; "
            f"its test error is {v.early_test:.4f}. Stopping where the test error itself was lowest (step "
            f"{v.best_test_step:,}: {v.best_test:.4f}) would report {optimism:.4f} less: that gap is the optimism "
            "of choosing with the test set, which is then no longer a fair test. The test set here is only read "
            "to show this.")
    offer_exports(spec, "generalization", charts, snap, setting=f"mlp-{setting}", weights=v.state)


if view == EARLY_STOPPING:
    job = branch_job("gl_mlp", spec) or experiment_job("generalization", MlpJob, spec)
    with tabs[EARLY_STOPPING]:
        later("gl_mlp_setup").caption(
            f"{spec.mlp_depth} hidden layer{'s' if spec.mlp_depth > 1 else ''} of {spec.mlp_width} "
            f"{spec.activation} units, full-batch Adam on the {problem.n} training points (the first training "
            f"set of the other tabs); {spec.validation} validation points drawn in addition; the test error is "
            "on 400 noisy held-out points.")
        job_controls(job, key="gl_mlp")
        with later("gl_mlp_forks"):
            fork_controls(job, "generalization", "gl_mlp")
        live_area(job, draw_mlp)
else:
    with tabs[view]:
        {BIAS_VARIANCE: show_bias_variance, SWEEP: show_sweep, REGULARIZATION: show_regularization}[view]()
    offer_exports(spec, "generalization", charts, setting=f"{view.lower().replace(' ', '-')}-{setting}")
