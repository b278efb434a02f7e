"""Backprop by hand against torch's autograd (every δ and ∂L/∂w, per example), finite differences, and the
presets' claims (solved with no training; hidden units permuted without changing the function)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backprop import formulas
from engine.backprop.autograd import autograd_pass
from engine.backprop.checks import gradient_check
from engine.backprop.data import DATA, examples
from engine.backprop.network import ACTIVATIONS, Architecture, permute_hidden_units, predict, run
from engine.backprop.presets import PRESETS
from engine.backprop.spec import BackpropSpec, weights_text

networks = st.builds(
    lambda hidden, activation, loss, seed: (Architecture(tuple(hidden), activation, loss), seed),
    st.lists(st.integers(1, 4), max_size=3), st.sampled_from(ACTIVATIONS), st.sampled_from(["bce", "mse"]),
    st.integers(0, 10_000))


@settings(max_examples=40, deadline=None)
@given(networks)
def test_every_delta_and_weight_gradient_equals_autograds(network):
    arch, seed = network
    rng = np.random.default_rng(seed)
    flat = 1.5 * arch.initial(rng) + 0.1 * rng.standard_normal(arch.parameter_count)
    x = rng.normal(size=(5, 2))
    y = (rng.random(5) > 0.5).astype(float) if arch.loss == "bce" else rng.normal(size=5)
    p = run(arch, flat, x, y)
    deltas, weight_grads = autograd_pass(arch, flat, x, y)
    for n in range(5):
        for layer in range(len(arch.sizes) - 1):
            assert np.allclose(p.delta[layer][n], deltas[n][layer], rtol=0, atol=1e-12)
            assert np.allclose(p.grad_w[layer][n], weight_grads[n][layer], rtol=0, atol=1e-12)
    loss = torch.nn.functional.binary_cross_entropy_with_logits if arch.loss == "bce" else None
    if loss is not None:  # the mean loss as torch computes it
        logits = torch.tensor(p.a[-1][:, 0])
        assert p.loss == pytest.approx(float(loss(logits, torch.tensor(y))), rel=1e-12)


@settings(max_examples=15, deadline=None)
@given(networks)
def test_finite_differences_agree_to_one_in_a_million(network):
    arch, seed = network
    rng = np.random.default_rng(seed)
    flat = arch.initial(rng) + 0.1 * rng.standard_normal(arch.parameter_count)
    x = rng.normal(size=(6, 2))
    y = (rng.random(6) > 0.5).astype(float) if arch.loss == "bce" else rng.normal(size=6)
    check = gradient_check(arch, flat, x, y)
    assert check.worst <= 1e-6
    assert check.skipped.sum() < arch.parameter_count or arch.activation == "relu"


def test_a_weight_across_a_relu_kink_is_skipped_not_compared():
    arch = Architecture(hidden=(1,))
    flat = np.array([1.0, 0.0, -1e-5, 1.0, 0.0])  # the hidden unit's a = x1 − 1e-5, at x1 = 0: the kink is near
    check = gradient_check(arch, flat, np.array([[0.0, 0.0], [2.0, 1.0]]), np.array([1.0, 0.0]))
    assert check.skipped[arch.names().index("b1[1]")] and not check.skipped[arch.names().index("b2[1]")]


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_solves_its_data_with_no_training(name):
    preset = PRESETS[name]
    data = examples(preset.data)
    p = run(preset.arch, preset.weights, data.x, data.y)
    if data.loss == "bce":
        assert np.mean((p.output > 0.5) == (data.y > 0.5)) == 1.0
    else:  # max(a, b) exactly, on the data and on a fine grid
        assert np.abs(p.output - data.y).max() <= 1e-12
        grid = np.random.default_rng(0).uniform(-3, 3, (2000, 2))
        assert np.abs(predict(preset.arch, preset.weights, grid) - grid.max(axis=1)).max() <= 1e-12


def test_the_playground_xor_preset_on_noisy_data_is_still_mostly_right():
    preset = PRESETS["xor"]
    noisy = examples("xor", noise=0.5, seed=3)
    accuracy = np.mean((predict(preset.arch, preset.weights, noisy.x) > 0.5) == (noisy.y > 0.5))
    assert 0.7 <= accuracy < 1.0  # noise flips points across the axes: no network gets those right


@settings(max_examples=20, deadline=None)
@given(networks, st.data())
def test_permuting_hidden_units_leaves_the_function_unchanged(network, data):
    arch, seed = network
    if not arch.hidden or max(arch.hidden) < 2:
        return
    layer = data.draw(st.sampled_from([k + 1 for k, width in enumerate(arch.hidden) if width >= 2]))
    first, second = data.draw(st.lists(st.integers(0, arch.hidden[layer - 1] - 1), min_size=2, max_size=2,
                                       unique=True))
    flat = arch.initial(np.random.default_rng(seed))
    swapped = permute_hidden_units(arch, flat, layer, first, second)
    assert not np.array_equal(swapped, flat) or np.allclose(flat, 0)
    x = np.random.default_rng(seed + 1).normal(size=(50, 2))
    assert np.abs(predict(arch, swapped, x) - predict(arch, flat, x)).max() <= 1e-12


def test_formulas_show_the_numbers_that_make_the_result():
    preset = PRESETS["xor_bool"]
    data = examples("xor_bool")
    p = run(preset.arch, preset.weights, data.x, data.y)
    line = formulas.forward(preset.arch, preset.weights, p, 3, 1, 1)  # h1.2 at (1, 1): 1·1 + 1·1 − 1 = 1
    assert line.startswith("a = Σᵢ wᵢ zᵢ + b = 1 × 1 + 1 × 1 + (−1) = 1") and "ReLU(a) = 1" in line
    delta = p.delta[0][3, 1]
    assert formulas.backward(preset.arch, preset.weights, p, 3, 1, 1).endswith(formulas.number(delta))
    per_example = p.grad_w[0][:, 1, 0]
    listed = ", ".join(formulas.number(g) for g in per_example)
    assert (f"the mean over the 4 examples ({listed}), which the update uses: {formulas.number(per_example.mean())}"
            in formulas.edge(preset.arch, p, 3, 1, 1, 0))
    stages = formulas.stages(preset.arch)
    assert stages[0] == ("start",) and stages[-1] == ("update",) and len(stages) == 1 + 2 + 3 + 1


def test_the_spec_holds_every_weight_and_refuses_a_wrong_count():
    preset = PRESETS["max"]
    spec = BackpropSpec(data="max", layers=1, width=3, weights=weights_text(preset.weights))
    assert spec.arch() == preset.arch and np.array_equal(spec.flat(), preset.weights)
    again, refused = BackpropSpec.from_query(spec.to_query())
    assert not refused and np.array_equal(again.flat(), spec.flat())
    from engine.common.limits import ConfigError
    with pytest.raises(ConfigError, match="must be 13 numbers for this network, not 3"):
        BackpropSpec(data="max", layers=1, width=3, weights="1, 2, 3").flat()
    too_large = weights_text(preset.weights).replace("-1", "-1e9", 1)
    with pytest.raises(ConfigError, match="at most 1e\\+06.*-1e\\+09"):
        BackpropSpec(data="max", layers=1, width=3, weights=too_large).flat()
    with pytest.raises(ConfigError, match="nan"):
        BackpropSpec(data="max", layers=1, width=3, weights=too_large.replace("-1e9", "nan")).flat()
    assert set(DATA) >= {preset.data for preset in PRESETS.values()}


def test_each_stage_shows_the_forward_pass_up_to_its_layer_then_the_deltas_from_the_output_down():
    arch = PRESETS["xor_bool"].arch  # 2 inputs, 2 hidden units, 1 output: 7 stages
    stages = formulas.stages(arch)
    assert formulas.stage_view(arch, stages, 0) == (0, set(), None)
    assert formulas.stage_view(arch, stages, 1) == (1, set(), ("forward", 1))
    assert formulas.stage_view(arch, stages, 3) == (2, {(2, 0)}, ("unit", 2, 0))  # the output's δ first
    assert formulas.stage_view(arch, stages, 5) == (2, {(2, 0), (1, 0), (1, 1)}, ("unit", 1, 1))
    assert formulas.stage_view(arch, stages, 6) == (2, {(2, 0), (1, 0), (1, 1)}, None)  # the update: all
    data = examples("xor_bool")
    p = run(arch, PRESETS["xor_bool"].weights, data.x, data.y)
    lines = formulas.focus_lines(arch, PRESETS["xor_bool"].weights, p, 3, ("edge", 2, 0, 1), stages[6], 0.3)
    assert lines[0].startswith("**h1.2 → out**: ∂L/∂w = δ × z")
    assert formulas.focus_lines(arch, PRESETS["xor_bool"].weights, p, 3, ("edge", 2, 0, 1), stages[6], 0.3,
                                hidden_edge=("edge", 2, 0, 1))[0].startswith("This is the quiz's weight")
