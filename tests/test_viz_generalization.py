"""The Generalization page's figures draw what they are given (and Plotly's validation keeps them as built)."""

from __future__ import annotations

import numpy as np

from engine.generalization.experiment import Problem, bias_variance, regularization, sweep
from engine.generalization.mlp import MlpConfig, MlpTrainer
from engine.runtime import train
from tests.conftest import assert_valid_as_built
from viz import generalization as figures


def traces(fig) -> dict:
    return {trace.name: trace for trace in fig.data}


def test_the_fan_and_the_bars_show_the_decomposition():
    result = bias_variance(Problem(complexity=4), 50)
    d = result.decomposition
    fan = figures.fits_fan(result.grid, result.truth, result.fan, d.mean_fit, result.train_x, result.train_y, "t")
    assert_valid_as_built(fan)
    lines = traces(fan)
    assert np.allclose(lines["mean fit E f̂(x)"].y, d.mean_fit, atol=1e-6)
    assert np.sum(np.isnan(lines["40 of the fits"].y)) == 40  # one polyline, a gap after each fit
    bars = figures.decomposition_bars(d.bias2, d.variance, d.noise, d.test_mse, d.test_mse_se)
    assert_valid_as_built(bars)
    stacked = sum(trace.y[0] for trace in bars.data if trace.x[0] == "bias² + variance + σ²")
    assert np.isclose(stacked, d.expected_error, rtol=1e-6)
    measured = next(trace for trace in bars.data if trace.x[0] == "test error, measured")
    assert np.isclose(measured.y[0], d.test_mse) and np.isclose(measured.error_y.array[0], 2 * d.test_mse_se)


def test_the_sweep_marks_the_threshold_and_the_model_where_they_are():
    result = sweep(Problem(family="relu", complexity=30, alpha=1e-3), 20)
    fig = figures.complexity_sweep(result.sizes, result.alphas, result.train_mse, result.test_mse, result.bias2,
                                   result.variance, family="relu", threshold=result.threshold, current=30,
                                   noise=0.09, refits=20)
    assert_valid_as_built(fig)
    verticals = [shape.x0 for shape in fig.layout.shapes if shape.x0 == shape.x1 and shape.yref == "paper"]
    assert verticals == [result.threshold, 30]
    names = set(traces(fig))
    assert {"test error (median)", "training error (median)", "test error (median), ridge α = 0.001",
            "variance (mean)"} <= names
    assert fig.layout.xaxis.type == "log"
    assert any("interpolation threshold" in a.text for a in fig.layout.annotations)
    # where bias²'s estimate is <= 0 (the log axis draws no line there), a marker on the axis' floor says so
    unresolved = traces(fig)["bias² not resolved (estimate ≤ 0)"]
    assert list(unresolved.x) == list(result.sizes[result.bias2[0] <= 0]) and len(unresolved.x) > 0
    low, high = fig.layout.yaxis.range
    assert np.allclose(np.log10(unresolved.y), low) and np.all(np.log10(unresolved.y) > low)  # inside: drawn
    # where the mean variance is above the axis (the line leaves the chart), a marker on its ceiling holds the value
    ceiling = 10 ** high
    above = traces(fig)["variance above the chart"]
    assert list(above.x) == list(result.sizes[result.variance[0] > ceiling]) and len(above.x) > 0
    assert np.allclose(np.log10(above.y), high) and np.all(np.log10(above.y) < high)
    assert np.allclose(above.customdata, result.variance[0][result.variance[0] > ceiling], rtol=1e-6)
    # a label on every decade shown, however far below it the training error falls past the threshold
    assert fig.layout.yaxis.dtick == 1 and min(result.train_mse.ravel()) < 10 ** (low - 10)


def test_the_regularization_figures():
    result = regularization(Problem(family="relu", complexity=40, alpha=0.01), 0.1)
    shrink = figures.shrinkage_factors(result.eigenvalues, result.alphas, result.factors, 0.01)
    assert_valid_as_built(shrink)
    assert len([t for t in shrink.data if t.mode == "lines"]) == min(40, len(result.eigenvalues))
    assert "effective parameters" in shrink.layout.annotations[0].text
    noisy = result.noisy
    assert_valid_as_built(figures.noise_against_ridge(noisy.copies, noisy.relative_differences))
    l1 = result.l1_l2
    histograms = figures.weight_histograms(l1.ridge_weights, l1.lasso_weights)
    assert_valid_as_built(histograms)
    assert f"{l1.zeros[1]} of 40 exactly 0" in histograms.data[1].name
    fits = figures.regularized_fits(result.grid, result.truth, result.train_x, result.train_y,
                                    {"a": result.grid_features @ l1.ridge_weights}, "t")
    assert_valid_as_built(fits)


def test_the_mlp_figures_mark_both_minima():
    trainer = MlpTrainer(MlpConfig(width=16), {"max_steps": 60}, seed=0)
    metrics = train(trainer, 60)
    v = trainer.observe()
    history = {name: (np.arange(1, 61), np.array([m[name] for m in metrics]))
               for name in ("loss", "validation_mse", "test_mse")}
    errors = figures.mlp_errors(history, v.early_step, v.best_test_step, 0.09)
    assert_valid_as_built(errors)
    assert [s.x0 for s in errors.layout.shapes if s.yref == "paper"] == [v.early_step, v.best_test_step]
    fit = figures.mlp_fit(v.grid, v.truth, v.fit, v.early_fit, v.early_step, (v.train_x, v.train_y),
                          (v.validation_x, v.validation_y), 60)
    assert_valid_as_built(fit)
    assert f"early stopped (step {v.early_step:,})" in traces(fit)


def test_the_mlps_errors_before_training_say_what_will_be_drawn():
    # (step 0 alone draws no line: the log axis ran 10⁻³ to 10³ over nothing)
    history = {name: (np.array([0]), np.array([0.5])) for name in ("loss", "validation_mse", "test_mse")}
    empty = figures.mlp_errors(history, 0, 0, 0.09)
    assert_valid_as_built(empty)
    assert "Press Train" in empty.layout.annotations[-1].text
    assert empty.layout.xaxis.showticklabels is False and empty.layout.yaxis.showticklabels is False
    history = {name: (np.array([0, 10]), np.array([0.5, 0.4])) for name in history}
    trained = figures.mlp_errors(history, 0, 0, 0.09)
    assert not trained.layout.annotations and trained.layout.yaxis.showticklabels is not False

