"""Gradient-flow probes, theory line and job, against autograd, param.grad, closed forms and hand rules."""

import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine import runtime
from engine.common.layers import make_activation
from engine.gradients.deep_config import DeepConfig
from engine.gradients.deep_model import DeepMLP, mean_square_through, predicted_preactivation_sq
from engine.gradients.notes import deep_setting, this_init
from engine.gradients.spec import GradientsSpec
from engine.gradients.deep_trainer import PROBE_INTERVAL_S, DeepTrainer, DeepJob
from engine.gradients.probes import COLUMN, FLAT_REGIONS, ProbeHistory, explosion_origin, reduce_probe, unpack_probe
from engine.playground.data import DataSpec, make_dataset
from engine.runtime import JobStatus
from tests.conftest import assert_pickles_to_equal_values


def probe_of(model: DeepMLP, x: torch.Tensor, y: torch.Tensor, activation: str):
    """What the job does on a probed step: forward with a record, backward, reduce on the device."""
    record: list = []
    output = model(x, record)
    output.retain_grad()
    for _, _, a in record:
        a.retain_grad()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(output, y).backward()
    stats, act, grad = reduce_probe(record, output, [w.grad for w in model.layer_weights()], activation)
    packed = torch.cat([stats.flatten(), act, grad]).double().numpy()
    return unpack_probe(1, packed, len(record))


def independent_forward(model: DeepMLP, x: torch.Tensor, activation: str, residual: bool, order: str = "post"):
    """The same network written out by hand from its modules: (linear outputs, normalized, activations, output)."""
    f = make_activation(activation)
    zs, us, acts, h = [], [], [], x
    for index, (linear, norm) in enumerate(zip(model.linears, model.norms)):
        if residual and index > 0 and order == "pre":  # h + W f(norm(h)) + b
            u = norm(h)
            a = f(u)
            z = a @ linear.weight.T + linear.bias
            h = h + z
        else:
            z = h @ linear.weight.T + linear.bias
            u = norm(z)
            a = f(u)
            h = h + a if residual and index > 0 else a
        zs.append(z), us.append(u), acts.append(a)
    return zs, us, acts, h @ model.output.weight.T + model.output.bias


@pytest.mark.parametrize("activation, norm, residual, order", [
    ("tanh", "none", False, "post"), ("relu", "batch", False, "post"), ("sigmoid", "layer", True, "post"),
    ("gelu", "none", True, "post"), ("leaky_relu", "batch", True, "post"), ("elu", "none", False, "post"),
    ("relu", "none", True, "pre"), ("tanh", "layer", True, "pre"),
])
def test_probe_statistics_equal_param_grad_and_autograd(activation, norm, residual, order):
    config = DeepConfig(depth=6, width=16, activation=activation, init="xavier_normal", norm=norm, residual=residual,
                        residual_order=order)
    model = DeepMLP(config, 2, 3, torch.Generator().manual_seed(3)).double()
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    y = torch.arange(40) % 3
    probe = probe_of(model, x, y, activation)

    # Weight-gradient norms: param.grad, as the optimizer will see it.
    expected = [w.grad.norm().item() for w in model.layer_weights()]
    np.testing.assert_allclose(probe.column("grad_norm"), expected, rtol=1e-10)
    # Activation-gradient norms: autograd on an independent forward pass.
    zs, us, acts, output = independent_forward(model, x, activation, residual, order)
    grads = torch.autograd.grad(F.cross_entropy(output, y), acts + [output])
    np.testing.assert_allclose(probe.column("act_grad_norm"), [g.norm().item() for g in grads], rtol=1e-10)
    # Activation moments and pre-activation mean square.
    np.testing.assert_allclose(probe.column("act_mean")[:-1], [a.mean().item() for a in acts], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(probe.column("act_std")[:-1], [a.std(unbiased=False).item() for a in acts], rtol=1e-6)
    np.testing.assert_allclose(probe.column("preact_sq")[:-1], [z.square().mean().item() for z in zs], rtol=1e-10)
    assert np.isnan(probe.column("update_ratio")).all()  # no update was made


@pytest.mark.parametrize("activation, rule", [
    ("tanh", lambda u, a: a.abs() > 0.97),
    ("sigmoid", lambda u, a: (a < 0.03) | (a > 0.97)),
    ("relu", lambda u, a: u <= 0),
    ("leaky_relu", lambda u, a: u < 0),
    ("selu", lambda u, a: u < -3),
])
def test_saturated_and_dead_shares_follow_the_stated_rules(activation, rule):
    # A wide spread of inputs so every rule has units on both sides of it.
    config = DeepConfig(depth=3, width=32, activation=activation, init="large_normal")
    model = DeepMLP(config, 2, 2, torch.Generator().manual_seed(0)).double()
    x = 3 * torch.randn(100, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    probe = probe_of(model, x, torch.arange(100) % 2, activation)
    zs, us, acts, _ = independent_forward(model, x, activation, residual=False)
    expected = [rule(u, a).double().mean().item() for u, a in zip(us, acts)]
    np.testing.assert_allclose(probe.column("flat_fraction")[:-1], expected, rtol=1e-12)
    assert 0 < np.mean(expected) < 1
    assert FLAT_REGIONS[activation].label in ("saturated", "dead", "on the 0.01 slope", "in the flat tail")


def test_histograms_count_every_sampled_value_once():
    config = DeepConfig(depth=4, width=8, activation="tanh", init="xavier_normal")
    model = DeepMLP(config, 2, 2, torch.Generator().manual_seed(0))
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
    probe = probe_of(model, x, torch.arange(16) % 2, "tanh")
    # 16 × 8 = 128 activations per layer, all inside the shared range (tanh stays within ±1).
    assert probe.act_hist.sum(axis=1).tolist() == [128.0] * 4
    assert -1 <= probe.act_edges[0] < probe.act_edges[-1] <= 1
    # Weight gradients: 2·8, 8·8 ×3, 8·2 entries, none exactly zero.
    assert probe.grad_hist.sum(axis=1).tolist() == [16.0, 64.0, 64.0, 64.0, 16.0]
    # The histogram is of log10|g|: its range spans the smallest and largest |g| of all layers.
    magnitudes = torch.cat([w.grad.abs().flatten() for w in model.layer_weights()])
    np.testing.assert_allclose([probe.grad_edges[0], probe.grad_edges[-1]],
                               np.log10([magnitudes.min().item(), magnitudes.max().item()]), rtol=1e-5)


def test_layer_norm_learns_gamma_and_beta_unless_asked_for_course_note_000s_parameter_free_one():
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for affine in (True, False):
        config = DeepConfig(depth=3, width=8, norm="layer", layer_norm_affine=affine)
        model = DeepMLP(config, 2, 3, torch.Generator().manual_seed(1)).double()
        assert [len(list(norm.parameters())) for norm in model.norms] == [2 if affine else 0] * 3
        if affine:  # a γ and β that are not (1, 0) change the output, so they are really in the forward pass
            with torch.no_grad():
                for norm in model.norms:
                    norm.weight.fill_(1.5), norm.bias.fill_(-0.2)
        # The oracle: normalize each sample over its units by hand, then γ·u + β where there are γ and β.
        zs, us, _, _ = independent_forward(model, x, config.activation, residual=False)
        for z, u in zip(zs, us):
            by_hand = (z - z.mean(1, keepdim=True)) / torch.sqrt(z.var(1, unbiased=False, keepdim=True) + 1e-5)
            torch.testing.assert_close(u, 1.5 * by_hand - 0.2 if affine else by_hand)
    spec, refused = GradientsSpec.from_query({"gf_norm": "Layer norm", "gf_ln_affine": "false"})
    assert not refused and spec.config().layer_norm_affine is False
    assert GradientsSpec.from_query({"gf_norm": "Layer norm"})[0].config().layer_norm_affine is True  # as before
    assert deep_setting(spec.config()).endswith("-layernorm-noaffine-momentum")


# ---------------------------------------------------------------- the theory line
def closed_form_preactivation_sq(scheme: str, activation: str, n_in: int, width: int, depth: int) -> list[float]:
    """E[z_l²] by hand: E[z_1²] = n_in σ² E[x²] (E[x²] = 1), then E[z_l²] = width σ² g(E[z_{l−1}²]) with
    g(q) = q for a linear layer and q/2 for ReLU (half of a symmetric Gaussian survives)."""
    variance = {"he": lambda i, o: 2 / i, "lecun": lambda i, o: 1 / i, "xavier_normal": lambda i, o: 2 / (i + o),
                "small_normal": lambda i, o: 0.01 ** 2, "large_normal": lambda i, o: 1.0,
                "orthogonal": lambda i, o: 1 / max(i, o)}[scheme]
    q = [n_in * variance(n_in, width)]
    for _ in range(depth - 1):
        q.append(width * variance(width, width) * (q[-1] / 2 if activation == "relu" else q[-1]))
    return q


SCHEMES = ["he", "lecun", "xavier_normal", "small_normal", "large_normal", "orthogonal"]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_activation_variance_at_init_matches_the_scheme_formula(scheme, activation):
    n, depth, batch, draws = 256, 5, 512, 16
    config = DeepConfig(depth=depth, width=n, activation=activation, init=scheme)
    expected = np.array(closed_form_preactivation_sq(scheme, activation, n, n, depth))
    measured = []
    for seed in range(draws):  # a fresh draw of weights and inputs each time
        model = DeepMLP(config, n, 2, torch.Generator().manual_seed(seed))
        x = torch.randn(batch, n, generator=torch.Generator().manual_seed(100 + seed))
        probe = probe_of(model, x, torch.arange(batch) % 2, activation)
        measured.append(probe.column("preact_sq")[:-1] / expected)
    # The formula is exact in expectation over weights and inputs; one draw scatters around it, for
    # ReLU by ~20% at layer 5 of width 256 (its fluctuations grow like depth/width). Within sampling
    # error: the mean of the draws is within 4 standard errors of the formula ...
    mean = np.mean(measured, axis=0)
    standard_error = np.std(measured, axis=0, ddof=1) / np.sqrt(draws)
    assert np.all(np.abs(mean - 1) <= 4 * standard_error + 1e-3), (mean, standard_error)
    # ... and the same test rejects a variance off by a factor 2 (E[z_l²] off by 2^l).
    off = 2.0 ** np.arange(1, depth + 1)
    assert np.all(np.abs(mean * off - 1) > 4 * standard_error * off), (mean, standard_error)
    # The engine's theory line is the same closed form.
    predicted = predicted_preactivation_sq(config, n, 2)[:-1]
    np.testing.assert_allclose(predicted, expected, rtol=1e-9)


def test_theory_line_through_a_smooth_activation_matches_monte_carlo():
    # E[tanh(z)²], z ~ N(0, q), by quadrature vs 10^6 samples (sd of the estimate ~ 5e-4).
    z = torch.randn(1_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * math.sqrt(0.7)
    assert mean_square_through("tanh", 0.7) == pytest.approx(torch.tanh(z).square().mean().item(), abs=3e-3)
    assert mean_square_through("relu", 0.7) == pytest.approx(0.35, rel=1e-12)


@pytest.mark.parametrize("order", ["post", "pre"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_residual_theory_line_matches_brute_force_over_many_inits(order, activation):
    """The residual line under He init against the mean over 30 random networks (and inputs) of E[z²] per layer."""
    n, depth, batch, draws = 256, 8, 256, 30
    config = DeepConfig(depth=depth, width=n, activation=activation, init="he", residual=True, residual_order=order)
    predicted = predicted_preactivation_sq(config, n, 2)
    measured = []
    for seed in range(draws):
        model = DeepMLP(config, n, 2, torch.Generator().manual_seed(seed))
        x = torch.randn(batch, n, generator=torch.Generator().manual_seed(100 + seed))
        record: list = []
        with torch.no_grad():
            output = model(x, record)
        measured.append([z.square().mean().item() for z, _, _ in record] + [output.square().mean().item()])
    measured = np.array(measured)
    # Within sampling error, plus 2% for the mean-field picture at a finite width (each unit's z is Gaussian
    # and independent of the unit's h only as the width grows).
    mean = measured.mean(axis=0)
    standard_error = measured.std(axis=0, ddof=1) / np.sqrt(draws)
    assert np.all(np.abs(mean - predicted) <= 4 * standard_error + 0.02 * predicted), (mean / predicted)
    # The same measurement rejects the plain chain's line: the blocks' growth is real.
    plain = predicted_preactivation_sq(DeepConfig(depth=depth, width=n, activation=activation, init="he"), n, 2)
    assert np.any(np.abs(mean - plain) > 4 * standard_error + 0.02 * plain)


def test_pre_activation_blocks_about_double_the_variance_under_he_init_with_relu():
    # Course note 002: with He init each pre-activation block adds as much variance as h already has.
    config = DeepConfig(depth=40, width=64, activation="relu", init="he", residual=True, residual_order="pre")
    q = predicted_preactivation_sq(config, 2, 2)[1:-1]  # the blocks' E[z_l²]: the variance each adds to h
    growth = q[1:] / q[:-1]
    assert np.all((growth > 1.99) & (growth < 2.35)) and growth[-1] == pytest.approx(2.0, abs=0.02)
    # The classic order adds f(z) with its positive mean as well: 2.6-2.9x a block, as the page says.
    q = predicted_preactivation_sq(DeepConfig(depth=40, width=64, residual=True), 2, 2)[1:-1]
    growth = q[1:] / q[:-1]
    assert np.all((growth > 2.6) & (growth < 2.95))
    assert "2.6–2.9×" in this_init(DeepConfig(residual=True)) and "doubles" in this_init(config)


def test_theory_line_is_withheld_where_it_does_not_apply():
    assert predicted_preactivation_sq(DeepConfig(norm="batch"), 2, 2) is None
    assert predicted_preactivation_sq(DeepConfig(residual=True, norm="layer"), 2, 2) is None
    assert predicted_preactivation_sq(DeepConfig(init="constant"), 2, 2) is None
    np.testing.assert_array_equal(predicted_preactivation_sq(DeepConfig(init="zeros"), 2, 2), 0.0)


# ---------------------------------------------------------------- bookkeeping
def test_probe_history_stays_bounded_and_evenly_spaced():
    history = ProbeHistory(capacity=8)
    for step in range(1, 101):
        history.offer(step, np.full((2, len(COLUMN)), float(step)))
    steps, stats = history.frozen(2)
    assert len(steps) <= 8
    gaps = np.diff(steps)
    assert len(set(gaps.tolist())) == 1  # evenly spaced
    assert steps[0] == 1 and steps[-1] > 100 - gaps[0]  # from the start to (nearly) now
    np.testing.assert_array_equal(stats[:, 0, 0], steps)  # each column is the probe of its step


def test_explosion_origin_is_the_first_layer_to_blow_up():
    steps = np.arange(10, 110, 10)
    norms = np.ones((10, 4))
    norms[6:, 2] = [500.0, 1e4, 1e8, np.inf]  # layer index 2 crosses ×100 at step 70
    norms[8:, 0] = [300.0, 1e6]  # layer 0 follows at step 90
    assert explosion_origin(steps, norms) == (70, 2)
    assert explosion_origin(steps, np.ones((10, 4))) is None
    nan_first = np.ones((3, 2))
    nan_first[1, 1] = np.nan  # a non-finite norm counts as exploded
    assert explosion_origin(np.array([1, 2, 3]), nan_first) == (2, 1)


# ---------------------------------------------------------------- the job
def train(job: DeepJob, steps: int):
    """Train exactly `steps` steps and return the snapshot after them."""
    ticket = job.step(steps)
    return job.wait_for(lambda s: s.commands_applied >= ticket and not s.busy, timeout=120)


def initial_model(job: DeepJob) -> DeepMLP:
    """The job's network as it was initialized, rebuilt from the seed (the model is the first use of the RNG)."""
    config = job.config
    dataset = make_dataset(config.data)
    return DeepMLP(config, dataset.input_dim, dataset.n_classes, torch.Generator().manual_seed(job.seed))


def weights_change(before: DeepMLP, after: DeepMLP) -> tuple[np.ndarray, np.ndarray]:
    moved = np.array([(a.weight - b.weight).norm().item() for a, b in
                      zip([*after.linears, after.output], [*before.linears, before.output])])
    size = np.array([w.norm().item() for w in before.layer_weights()])
    return moved, size


def test_job_probe_gradients_and_update_ratios_match_the_sgd_update(no_leaked_threads):
    # Plain SGD: W1 = W0 − lr·∂L/∂W, so the update reveals the gradient the optimizer used.
    lr = 0.05
    job = DeepJob(DeepConfig(depth=5, width=16, optimizer="sgd"), {"lr": lr, "probe_every_step": True}, seed=7)
    try:
        before = initial_model(job)
        snap = train(job, 1)
    finally:
        job.stop()
    probe = snap.visuals.latest_probe
    assert probe.step == 1
    moved, size = weights_change(before, job.trainer.model)
    np.testing.assert_allclose(probe.column("grad_norm"), moved / lr, rtol=1e-4)
    np.testing.assert_allclose(probe.column("update_ratio"), moved / size, rtol=1e-4)
    # The snapshot's first heatmap column is this probe.
    np.testing.assert_array_equal(snap.visuals.history_steps, [1])


@pytest.mark.parametrize("mode", ["norm", "value"])
def test_clipping_bounds_the_update(mode, no_leaked_threads):
    lr, threshold = 1.0, 1e-3  # a step of 1e-3: large enough to measure in float32 weights
    job = DeepJob(DeepConfig(depth=4, width=16, optimizer="sgd"),
                          {"lr": lr, "clip": mode, "clip_at": threshold}, seed=1)
    try:
        before = initial_model(job)
        gradient_norm = train(job, 1).latest("grad_norm")
    finally:
        job.stop()
    deltas = [(a - b).detach() for a, b in zip(job.trainer.model.parameters(), before.parameters())]
    assert gradient_norm > 100 * threshold  # the gradient really was clipped
    if mode == "norm":  # the whole step has length lr·threshold, in the gradient's direction
        total = math.sqrt(sum(d.square().sum().item() for d in deltas))
        assert total == pytest.approx(lr * threshold, rel=1e-3)
    else:  # every entry moves at most lr·threshold
        assert max(d.abs().max().item() for d in deltas) == pytest.approx(lr * threshold, rel=1e-3)


def test_probes_run_at_the_ui_rate_unless_asked_for_every_step(no_leaked_threads):
    job = DeepJob(DeepConfig(depth=3, width=8), seed=0)
    try:
        started = time.monotonic()
        job.wait_applied(job.play())
        job.wait_for(lambda s: s.step >= 300 and len(s.visuals.history_steps) >= 2, timeout=60)
        job.wait_applied(job.pause())
        seconds = time.monotonic() - started
        snap = job.snapshot()
        # Asked for: every step carries a probe.
        job.set_hyperparameters(probe_every_step=True)
        every = train(job, 20)
    finally:
        job.stop()
    probes = len(snap.visuals.history_steps)
    # At most one probe per refresh interval (plus the one right at the start), far fewer than steps.
    assert 2 <= probes <= seconds / PROBE_INTERVAL_S + 2 < snap.step
    assert np.all(np.diff(snap.visuals.history_steps) > 0)
    np.testing.assert_array_equal(every.visuals.history_steps[-20:], np.arange(snap.step + 1, snap.step + 21))


def test_overflow_at_initialization_names_the_layer_where_activations_overflow(no_leaked_threads):
    # Large normal init with ReLU multiplies E[z²] by 256/2 per layer: float32 overflows partway down.
    config = DeepConfig(depth=50, width=256, activation="relu", init="large_normal")
    job = DeepJob(config, {"batch_size": 1024}, seed=0)  # one batch = the whole training set
    try:
        snap = train(job, 1)
    finally:
        job.stop()
    assert snap.status is JobStatus.DIVERGED
    # The oracle: the same network and data, run layer by layer.
    dataset = make_dataset(config.data)
    mean, std = dataset.x_train.mean(axis=0), dataset.x_train.std(axis=0)
    x = torch.tensor((dataset.x_train - mean) / std)
    _, _, acts, _ = independent_forward(initial_model(job), x, "relu", residual=False)
    first = next(i for i, a in enumerate(acts) if not torch.isfinite(a).all())
    assert f"overflowed to inf/NaN in layer {first + 1}," in snap.message
    assert "before any update" in snap.message
    assert not np.isfinite(snap.visuals.init_probe.column("preact_sq")).all()


def test_a_too_large_learning_rate_diverges_with_an_explanation(no_leaked_threads):
    job = DeepJob(DeepConfig(depth=10, width=32, optimizer="sgd"), {"lr": 10.0}, seed=0)
    try:
        job.wait_applied(job.play())
        snap = job.wait_for(lambda s: s.status is not JobStatus.RUNNING, timeout=60)
    finally:
        job.stop()
    assert snap.status is JobStatus.DIVERGED
    assert snap.message.startswith("Training diverged:")
    assert "layer" in snap.message and "lower the learning rate (now 10)" in snap.message
    # The step that overflowed was not applied: the weights the diagnosis ran on are finite.
    assert all(torch.isfinite(p).all() for p in job.trainer.model.parameters())


def test_bad_configurations_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="depth"):
        DeepConfig(depth=51).validate()
    with pytest.raises(ValueError, match="width"):
        DeepConfig(width=0).validate()
    with pytest.raises(ValueError, match="init"):
        DeepConfig(init="uniform").validate()


def test_regression_data_trains_with_mean_squared_error(no_leaked_threads):
    job = DeepJob(DeepConfig(data=DataSpec(kind="sine", n_points=200), depth=3, width=16), seed=0)
    try:
        snap = train(job, 50)
    finally:
        job.stop()
    assert snap.status is JobStatus.PAUSED and snap.step == 50
    assert "train_accuracy" not in snap.history and math.isfinite(snap.latest("loss"))


def test_trainer_visuals_pickle_and_unpickle_to_equal_values():
    # What a worker process will send back: the visuals after a few steps, a probe and the weights in them.
    trainer = DeepTrainer(DeepConfig(depth=3, width=8, norm="batch"), {"probe_every_step": True}, seed=0)
    runtime.train(trainer, 4)
    visuals = trainer.observe()
    assert visuals.latest_probe.step == 4 and visuals.state_step == 4 and len(visuals.history_steps) == 4
    assert_pickles_to_equal_values(visuals)
