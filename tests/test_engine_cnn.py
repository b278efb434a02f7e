"""The CNN page's engine: data, networks, shifts, attacks and the trainer, each against an independent oracle."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from engine.cnn.attacks import accuracy, attack, bim, fgsm, saliency
from engine.cnn.config import CnnConfig
from engine.cnn.data import SHAPE_CLASSES, draw_shapes, load_digits, shift_images
from engine.cnn.invariance import equivariance, probability_shift
from engine.cnn.model import CnnShape, ConvNet, initialize, matched_mlp, parameter_count
from engine.cnn.spec import CnnSpec
from engine.cnn.trainer import CnnJob, CnnTrainer
from engine.common.limits import ConfigError
from engine.runtime import JobStatus, train


def _network(side: int = 16, **shape) -> ConvNet:
    network = ConvNet(CnnShape(**shape), side, 4)
    initialize(network, torch.Generator().manual_seed(0))
    network(torch.rand(16, 1, side, side, generator=torch.Generator().manual_seed(1)))  # batch-norm statistics
    return network.eval()


@given(dy=st.integers(-6, 6), dx=st.integers(-6, 6), side=st.integers(1, 9))
def test_shift_images_against_a_pixel_loop(dy, dx, side):
    x = torch.rand(2, 1, side, side, generator=torch.Generator().manual_seed(side))
    expected = torch.zeros_like(x)
    for r in range(side):
        for c in range(side):
            if 0 <= r - dy < side and 0 <= c - dx < side:
                expected[..., r, c] = x[..., r - dy, c - dx]
    assert torch.equal(shift_images(x, dy, dx), expected)
    assert torch.equal(shift_images(x, dy, dx, circular=True), torch.roll(x, (dy, dx), dims=(-2, -1)))


def test_shapes_are_drawn_as_asked():
    x, y = draw_shapes(400, torch.Generator().manual_seed(0), noise=0.0)
    assert x.shape == (400, 1, 16, 16) and x.min() >= 0 and x.max() <= 1
    assert set(y.tolist()) == set(range(len(SHAPE_CLASSES)))
    assert bool((x.flatten(1).sum(1) > 5).all())  # every image holds a shape
    centred, _ = draw_shapes(400, torch.Generator().manual_seed(0), centred=True, noise=0.0)
    grid = torch.arange(16.0)
    mass = centred[:, 0].sum(dim=(1, 2))
    rows = (centred[:, 0].sum(2) * grid).sum(1) / mass
    cols = (centred[:, 0].sum(1) * grid).sum(1) / mass
    assert float((cols - 7.5).abs().max()) < 0.6  # left-right symmetric about the centre
    assert float((rows - 7.5).abs().max()) < 3.0  # the triangle's mass sits low


def test_digits_split_is_the_whole_set_in_grey_levels():
    data = load_digits(torch.Generator().manual_seed(0))
    assert len(data.train_x) + len(data.test_x) == 1797 and data.side == 8
    assert np.isclose(float(data.train_x.max()), 1.0) and data.level == 1 / 16
    assert torch.allclose(data.train_x * 16, (data.train_x * 16).round())  # whole grey levels


@pytest.mark.parametrize("conv_layers,channels,kernel", [(1, 8, 3), (2, 16, 3), (3, 32, 5)])
def test_the_mlp_has_about_as_many_parameters_as_the_cnn(conv_layers, channels, kernel):
    cnn = ConvNet(CnnShape(conv_layers, channels, kernel), 16, 4)
    mlp = matched_mlp(cnn, 16, 4, "relu")
    assert abs(parameter_count(mlp) - parameter_count(cnn)) <= 16 * 16 + 1 + 4  # within one hidden unit


@settings(max_examples=30, deadline=None)
@given(layers=st.integers(1, 3), pooling=st.sampled_from(["max", "avg", "none"]), kernel=st.sampled_from([1, 3, 5]),
       shift=st.tuples(st.integers(-4, 4), st.integers(-4, 4)))
def test_conv_layers_are_exactly_equivariant_with_circular_padding_and_shifts(layers, pooling, kernel, shift):
    network = _network(conv_layers=layers, pooling=pooling, kernel=kernel, padding="circular")
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    for layer in equivariance(network, x, *shift, circular=True):
        if layer.exact_shift:  # the shift is a multiple of the pooling before this layer
            assert layer.relative_error < 1e-5
    maps, _ = network.features(x)
    moved, _ = network.features(torch.roll(x, shift, dims=(-2, -1)))
    assert torch.allclose(moved[0], torch.roll(maps[0], shift, dims=(-2, -1)), atol=1e-5)  # the oracle itself


def test_pooling_breaks_exact_equivariance_for_an_odd_shift_and_zero_padding_is_checked_inside_only():
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    first, second = equivariance(_network(conv_layers=2, padding="circular"), x, 1, 0, circular=True)
    assert first.relative_error < 1e-5 and not second.exact_shift and second.relative_error > 0.05
    inside = equivariance(_network(conv_layers=2, pooling="none"), x, 2, 2, circular=False)
    assert all(layer.margin > 0 and layer.relative_error < 1e-5 for layer in inside)


def test_fgsm_is_one_signed_step_up_the_loss_by_hand():
    network = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(4)) * 0.5 + 0.25
    y = torch.tensor([0, 1, 2, 0, 1])
    leaf = x.clone().requires_grad_(True)
    nn.functional.cross_entropy(network(leaf), y, reduction="sum").backward()
    eps = 0.1
    assert torch.allclose(fgsm(network, x, y, eps), (x + eps * leaf.grad.sign()).clamp(0, 1))
    assert torch.allclose(saliency(network, x, y), leaf.grad.abs())
    loss = nn.functional.cross_entropy
    assert loss(network(fgsm(network, x, y, eps)), y) > loss(network(x), y)  # up, not down


def test_bim_stays_in_the_eps_box_and_hurts_at_least_as_much_as_fgsm():
    trainer = CnnTrainer(CnnConfig(), seed=0)
    train(trainer, 200)
    x, y, eps = trainer.data.test_x[:200], trainer.data.test_y[:200], 2 / 16
    iterated = bim(trainer.cnn.eval(), x, y, eps)
    assert float((iterated - x).abs().max()) <= eps + 1e-6 and iterated.min() >= 0 and iterated.max() <= 1
    assert accuracy(trainer.cnn, iterated, y) <= accuracy(trainer.cnn, fgsm(trainer.cnn, x, y, eps), y) + 0.02
    assert torch.equal(attack("fgsm", trainer.cnn, x, y, 0.0), x)


def test_the_trainer_learns_digits_and_its_views_match_their_oracles():
    trainer = CnnTrainer(CnnConfig(adversarial=True), {"example": 3, "shift_y": 2, "shift_x": 0}, seed=0)
    unshown = trainer.observe()
    assert unshown.attack.curves is None and unshown.shift is None  # measured only while a page shows them
    trainer.hp.update(attack_curves=True, shift_view=True)
    # The adversarial copy starts where the CNN starts.
    for a, b in zip(trainer.cnn.parameters(), trainer.robust.parameters()):
        assert torch.equal(a, b)
    train(trainer, 300)
    metrics = trainer.evaluate()
    assert metrics["test_accuracy"] > 0.93 and metrics["mlp_test_accuracy"] > 0.85 and "robust_test_accuracy" in metrics
    v = trainer.observe()
    pickle.loads(pickle.dumps(v))  # noqa: S301 - our own visuals: they cross a process boundary
    x = trainer.data.test_x[3:4]
    assert np.allclose(v.image, x[0, 0].numpy()) and v.example == 3
    assert v.confusion.sum() == len(trainer.data.test_y)
    assert np.isclose(np.trace(v.confusion) / v.confusion.sum(), metrics["test_accuracy"])
    assert np.allclose(v.filters, trainer.cnn.blocks[0][0].weight.detach()[:, 0].numpy())
    assert len(v.feature_maps) == 2 and v.feature_maps[1].shape == (16, 4, 4)
    before, after = probability_shift(trainer.mlp, trainer.data.test_x, 2, 0)
    assert np.isclose(v.shift.mlp_accuracy, (after.argmax(1) == trainer.data.test_y.numpy()).mean())
    assert np.allclose(v.shift.mlp_before, before[3]) and np.allclose(v.shift.mlp_after, after[3])
    assert np.allclose(v.attack.perturbation, np.round(v.attack.perturbation))  # whole grey levels: ±eps or clipped
    assert abs(v.attack.perturbation).max() <= v.attack.eps + 1e-4
    names = [name for name, _ in v.attack.curves.accuracy]
    assert names == ["CNN", "MLP", "CNN, adversarially trained"]
    assert np.isclose(v.attack.curves.accuracy[0][1][0], accuracy(trainer.cnn, trainer.data.test_x[:300],
                                                                   trainer.data.test_y[:300]))


def test_refusals_name_the_setting():
    with pytest.raises(ConfigError, match="kernel size must be odd"):
        CnnConfig(kernel=4)
    with pytest.raises(ConfigError, match="cnn.channels"):
        CnnConfig(channels=500)
    trainer = CnnTrainer(CnnConfig(), seed=0)
    with pytest.raises(ValueError, match="held-out images"):
        trainer.apply_hyperparameters({"example": 10_000})
    with pytest.raises(ConfigError, match="attack"):
        trainer.apply_hyperparameters({"attack": "cw"})


def test_the_spec_gives_the_job_what_the_controls_say():
    spec, refused = CnnSpec.from_query({"cnn_data": "shapes", "cnn_layers": "3", "cnn_example": "5",
                                        "cnn_eps": "4.0", "cnn_adv": "true", "cnn_k2": "9"})
    assert spec.config() == CnnConfig(dataset="shapes", conv_layers=3, adversarial=True)
    assert spec.hyperparameters()["example"] == 4 and spec.hyperparameters()["eps"] == 4.0
    assert [r.key for r in refused] == ["cnn_k2"]  # the arithmetic's kernel is at most 7
    assert CnnSpec.from_query(spec.to_query())[0] == spec


def test_a_live_job_trains_and_takes_a_new_shift_without_a_reset():
    job = CnnJob(CnnConfig(), seed=0)
    try:
        job.step(20)
        job.wait_for(lambda s: s.step >= 20 and not s.busy, timeout=30)
        job.wait_applied(job.set_hyperparameters(shift_y=-3, shift_x=1, shift_view=True))
        snap = job.snapshot(fresh=True)
        assert snap.status is not JobStatus.FAILED and snap.step == 20
        assert (snap.visuals.shift.dy, snap.visuals.shift.dx) == (-3, 1)
    finally:
        job.stop()
