"""The GAN engine against formulas and constructed samples: each loss as course note 003 writes it, the mode-
coverage measure on samples whose answer is known, and the trainer's parts (Step D, Step G) and settings."""

import math

import numpy as np
import pytest
import torch

from engine.common.limits import ConfigError
from engine.generative.coverage import mode_coverage
from engine.generative.data import PointSet
from engine.generative.gan import discriminator_loss, generator_loss, probability_real
from engine.generative.gan_trainer import FILM_FRAMES, GanConfig, GanTrainer
from engine.runtime import train

REAL = torch.tensor([2.0, -0.5, 0.3, 4.0])
FAKE = torch.tensor([-3.0, 0.1, -1.2, 1.5])


def _log_sigmoid(a: torch.Tensor) -> torch.Tensor:
    return torch.log(1 / (1 + torch.exp(-a)))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_the_cross_entropy_discriminator_loss_is_minus_the_value_function(smoothing):
    # max_D E[t log D(x)] + E[(1 - t) log(1 - D(x))] with t = 1 - s on real points and 0 on fakes.
    target = 1 - smoothing
    value = (target * _log_sigmoid(REAL) + (1 - target) * _log_sigmoid(-REAL)).mean() + _log_sigmoid(-FAKE).mean()
    for loss in ("minimax", "non_saturating"):
        assert discriminator_loss(loss, REAL, FAKE, smoothing).item() == pytest.approx(-value.item(), rel=1e-6)


def test_each_generator_loss_is_its_formula():
    d_fake = torch.sigmoid(FAKE)
    assert generator_loss("minimax", FAKE).item() == pytest.approx(torch.log(1 - d_fake).mean().item(), rel=1e-6)
    assert generator_loss("non_saturating", FAKE).item() == pytest.approx(-torch.log(d_fake).mean().item(), rel=1e-6)
    assert generator_loss("least_squares", FAKE).item() == pytest.approx(0.5 * ((FAKE - 1) ** 2).mean().item())


def test_the_least_squares_discriminator_loss_and_its_clipped_probability():
    expected = 0.5 * ((REAL - 0.9) ** 2).mean() + 0.5 * (FAKE ** 2).mean()
    assert discriminator_loss("least_squares", REAL, FAKE, 0.1).item() == pytest.approx(expected.item(), rel=1e-6)
    assert probability_real("least_squares", torch.tensor([-0.5, 0.3, 1.7])).tolist() == pytest.approx([0, 0.3, 1])


def test_the_minimax_generator_gradient_vanishes_where_d_rejects_and_the_non_saturating_one_does_not():
    # d/da log(1 - sigmoid(a)) = -sigmoid(a): nothing once D is sure; d/da -log sigmoid(a) = -(1 - sigmoid(a)).
    a = torch.tensor([-10.0], requires_grad=True)
    gradients = {}
    for loss in ("minimax", "non_saturating"):
        gradients[loss], = torch.autograd.grad(generator_loss(loss, a), a)
    assert gradients["minimax"].item() == pytest.approx(-torch.sigmoid(torch.tensor(-10.0)).item(), rel=1e-4)
    assert abs(gradients["minimax"].item()) < 1e-4
    assert gradients["non_saturating"].item() == pytest.approx(-1.0, abs=1e-4)


def test_unknown_losses_are_refused():
    with pytest.raises(ValueError, match="minimax"):
        generator_loss("wasserstein", FAKE)
    with pytest.raises(ValueError, match="least_squares"):
        discriminator_loss("hinge", REAL, FAKE)


# ------------------------------------------------------------------------------------------- mode coverage
RING = PointSet("ring")
INSIDE_3_STD = 1 - math.exp(-9 / 2)  # a 2-D Gaussian's mass within 3 standard deviations of its mean


def test_samples_of_the_ring_itself_cover_every_mode_and_are_high_quality_at_the_gaussian_rate():
    coverage = mode_coverage(RING.draw(20_000, torch.Generator().manual_seed(0)), RING.centres, RING.std)
    assert coverage.modes_covered == 8 and coverage.modes == 8
    assert coverage.high_quality == pytest.approx(INSIDE_3_STD, abs=0.003)
    assert coverage.per_mode == pytest.approx(np.full(8, INSIDE_3_STD / 8), abs=0.005)


def test_samples_of_one_mode_cover_one_mode_with_high_quality():
    one = RING.centres[3] + RING.std * torch.randn(2500, 2, generator=torch.Generator().manual_seed(1))
    coverage = mode_coverage(one, RING.centres, RING.std)
    assert coverage.modes_covered == 1 and coverage.per_mode[3] > 0.95 and coverage.high_quality > 0.95


def test_spread_noise_covers_nothing():
    noise = 6 * torch.rand(2500, 2, generator=torch.Generator().manual_seed(2)) - 3
    coverage = mode_coverage(noise, RING.centres, RING.std)
    # 8 discs of radius 0.06 in a 6 x 6 square hold 0.25% of uniform noise: about 0.03% per mode, far under 1%.
    assert coverage.modes_covered == 0 and coverage.high_quality < 0.01


def test_a_mode_is_covered_from_one_percent_of_all_samples():
    centres = RING.centres
    far = torch.full((2500, 2), 50.0)
    for count, covered in ((24, 0), (25, 1)):
        samples = far.clone()
        samples[:count] = centres[0]
        coverage = mode_coverage(samples, centres, RING.std)
        assert coverage.modes_covered == covered and coverage.high_quality == pytest.approx(count / 2500)


def test_non_finite_samples_are_never_high_quality():
    samples = torch.tensor([[float("nan"), 0.0], [2.0, 0.0]])
    assert mode_coverage(samples, RING.centres, RING.std).high_quality == 0.5


def test_the_grid_has_25_modes_two_apart():
    grid = PointSet("grid")
    assert len(grid.centres) == 25 and torch.cdist(grid.centres, grid.centres).topk(2, largest=False).values[:, 1] \
        .min().item() == pytest.approx(2.0)


# ------------------------------------------------------------------------------------------- the trainer
def _snapshot(network: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in network.parameters()]


def _changed(before: list[torch.Tensor], network: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, network.parameters()))


def test_step_d_and_step_g_update_only_their_network_once():
    trainer = GanTrainer(GanConfig(g_width=16, d_width=16), seed=0)
    for part, moved, kept in (("d", "discriminator", "generator"), ("g", "generator", "discriminator")):
        before = {name: _snapshot(getattr(trainer, name)) for name in (moved, kept)}
        trainer.hp["one_part"] = part
        metrics = train(trainer, 1)[0]
        assert _changed(before[moved], getattr(trainer, moved)) and not _changed(before[kept], getattr(trainer, kept))
        assert ("d_loss" in metrics) == (part == "d") and ("g_loss" in metrics) == (part == "g")
        assert trainer.hp["one_part"] is None  # a one-shot request: the next step trains both
    before = {name: _snapshot(getattr(trainer, name)) for name in ("generator", "discriminator")}
    train(trainer, 1)
    assert all(_changed(before[name], getattr(trainer, name)) for name in before)


def test_a_seed_reproduces_a_run_and_another_seed_does_not():
    def run(seed):
        trainer = GanTrainer(GanConfig(g_width=32, d_width=32), seed=seed)
        return [m["g_loss"] for m in train(trainer, 20)]
    assert run(3) == run(3) and run(3) != run(4)


def test_d_steps_per_g_step_update_the_discriminator_that_often():
    trainer = GanTrainer(GanConfig(g_width=16, d_width=16), {"d_steps": 3}, seed=0)
    train(trainer, 2)
    assert trainer.d_optimizer.state[next(iter(trainer.discriminator.parameters()))]["step"].item() == 6
    assert trainer.g_optimizer.state[next(iter(trainer.generator.parameters()))]["step"].item() == 2


def test_the_non_saturating_gan_starts_covering_the_ring_within_a_thousand_steps():
    trainer = GanTrainer(GanConfig(), seed=0)
    start = trainer.coverage()
    train(trainer, 1000)
    end = trainer.coverage()
    assert start.modes_covered == 0 and end.modes_covered >= 3 and end.high_quality > 0.1


def test_observe_draws_the_field_the_warp_and_the_gradient_arrows():
    trainer = GanTrainer(GanConfig(data="moons"), seed=0)
    train(trainer, 5)
    v = trainer.observe()
    assert v.heatmap.shape == (64, 64) and ((v.heatmap >= 0) & (v.heatmap <= 1)).all()
    assert v.warp.shape == (2, 13, 48, 2) and v.real.shape == v.fake.shape == (600, 2)
    assert v.arrows.shape == (60, 2) and np.isfinite(v.arrows).all()
    assert v.coverage is None and v.centres is None  # moons have no modes to count
    # The arrows are minus the gradient of G's loss with respect to each point: a step along one lowers it.
    point = torch.tensor(v.fake[:1], requires_grad=True)
    loss = generator_loss("non_saturating", trainer.discriminator(point)).sum()
    moved = point + 1e-3 * torch.tensor(v.arrows[:1]) / np.linalg.norm(v.arrows[0])
    assert generator_loss("non_saturating", trainer.discriminator(moved)).sum() < loss


def test_the_film_keeps_at_most_its_frames_spread_over_the_whole_run():
    trainer = GanTrainer(GanConfig(g_width=8, d_width=8), seed=0)
    train(trainer, 500)
    steps = [frame.step for frame in trainer.film]
    assert len(steps) <= FILM_FRAMES and steps[0] == 0 and steps[-1] >= 490 and steps == sorted(steps)


@pytest.mark.parametrize("config, message", [
    (dict(data="swirl"), "data set"), (dict(loss="hinge"), "loss"), (dict(g_width=2), "width"),
    (dict(d_depth=9), "hidden layers"), (dict(data="word", word="   "), "type a word")])
def test_bad_settings_are_refused_with_a_reason(config, message):
    with pytest.raises(ConfigError, match=message):
        GanConfig(**config)


@pytest.mark.parametrize("hp, message", [({"lr_g": 5.0}, "learning rate"), ({"d_steps": 0}, "discriminator steps"),
                                         ({"smoothing": 0.9}, "label smoothing"), ({"one_part": "x"}, "network")])
def test_bad_live_settings_are_refused_with_a_reason(hp, message):
    trainer = GanTrainer(GanConfig(g_width=8, d_width=8), seed=0)
    with pytest.raises(ConfigError, match=message):
        trainer.apply_hyperparameters(hp)
