"""The Diffusion page's live job: what it measures, when, and that it answers reset and stop at once."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from engine.diffusion.config import default_config
from engine.diffusion.data import load_digits
from engine.diffusion.job import FIRST_DRAW_AFTER_S, PREPARE_AFTER_S, DiffusionJob
from engine.diffusion.measuring import ANIMATION_POINTS, FIELD_RESOLUTION, frame_times
from engine.diffusion.noise_schedule import make_schedule
from engine.diffusion.sampling import ddim_timesteps, sample
from engine.diffusion.visuals import DiffusionVisuals, digit_images, forward_sample
from engine.runtime import TrainingTurns

SMALL = dict(schedule="cosine", T=60, n_points=1000, width=16, depth=1, sampler_steps=12)


def measured(snap):
    """The snapshot's finished measurement (None while there is none, or one is under way)."""
    visuals = snap.visuals
    return visuals.measurement if visuals is not None and not visuals.measuring else None


def test_frame_times_are_ddims_stops_from_T_to_0():
    assert frame_times(60, 12) == [*ddim_timesteps(60, 12), 0]
    thinned = frame_times(1000, 50, max_frames=21)
    assert len(thinned) == 21 and thinned[0] == 1000 and thinned[-1] == 0
    assert set(thinned) <= set(ddim_timesteps(1000, 50)) | {0}
    assert thinned == sorted(thinned, reverse=True)


def test_frames_kept_at_chosen_t_are_the_chains_states_there():
    schedule = make_schedule("linear", 40, 1e-3, 0.2)

    def eps_fn(x, t):  # any fixed predictor will do: the frames must be the chain's own states
        return 0.3 * x + 0.01 * t.float()[:, None]

    x_T = torch.randn((5, 2), generator=torch.Generator().manual_seed(0))
    every = sample(schedule, eps_fn, x_T, "ddpm", generator=torch.Generator().manual_seed(1), frames=41)
    chosen = [40, 33, 20, 7, 0]
    some = sample(schedule, eps_fn, x_T, "ddpm", generator=torch.Generator().manual_seed(1), frame_times=chosen)
    assert some.frame_t == chosen
    for index, t in enumerate(chosen):
        assert torch.equal(some.frames[index], every.frames[every.frame_t.index(t)])


def test_forward_sample_is_the_closed_form_with_the_snapshots_noise():
    alpha_bars = make_schedule("linear", 100).alpha_bars.numpy()
    rng = np.random.default_rng(0)
    visuals = DiffusionVisuals("points", x0=rng.normal(size=(50, 2)).astype(np.float32),
                               forward_noise=rng.normal(size=(50, 2)).astype(np.float32), betas=1 - alpha_bars,
                               alpha_bars=alpha_bars)
    for t in (0, 1, 37, 100):
        expected = math.sqrt(alpha_bars[t]) * visuals.x0 + math.sqrt(1 - alpha_bars[t]) * visuals.forward_noise
        assert np.allclose(forward_sample(visuals, t), expected, atol=1e-6)
    with pytest.raises(ValueError, match="between 0 and T = 100"):
        forward_sample(visuals, 101)


def test_digit_images_match_the_data_sets_own_conversion():
    data = load_digits(torch.Generator().manual_seed(0))
    z = data.test[:5] + 0.5 * torch.randn((5, 64), generator=torch.Generator().manual_seed(1))
    images = digit_images(z.numpy(), float(data.standardizer.mean), data.standardizer.scale)
    assert np.allclose(images, data.images(z).numpy(), atol=1e-6)
    assert images.min() >= 0 and images.max() <= 1


def test_job_measures_after_a_step_and_shows_both_samplers_from_one_start(no_leaked_threads):
    job = DiffusionJob(default_config("moons", **SMALL), {"lr": 1e-3}, seed=2, force_cpu=True)
    try:
        first = job.snapshot()
        assert first.step == 0 and first.visuals.measurement is None  # nothing is drawn before training
        assert first.visuals.x0.shape == (1000, 2) and len(first.visuals.alpha_bars) == 61
        assert job.trainer.base_lr == 1e-3  # the live learning rate, not the config's
        job.wait_applied(job.step(3))
        job.wait_for(lambda s: s.step == 3 and not s.busy)
        done = job.wait_for(lambda s: measured(s) is not None, timeout=120)
        assert done.series("mmd_norm").steps.tolist() == [3]
        drawn = done.visuals.measurement
        assert drawn.samples.shape == (2000, 2) and drawn.sampler == "ddim" and drawn.step == 3
        reverse = drawn.reverse
        assert reverse.frame_t.tolist() == frame_times(60, 12)
        assert reverse.ddpm.shape == reverse.ddim.shape == (13, ANIMATION_POINTS, 2)
        assert np.array_equal(reverse.ddpm[0], reverse.ddim[0])  # one x_T for both
        assert not np.array_equal(reverse.ddpm[-1], reverse.ddim[-1])
        assert reverse.field_eps.shape == (13, FIELD_RESOLUTION, FIELD_RESOLUTION, 2)
        assert not reverse.field_eps[-1].any()  # t = 0: no field
        # The animation's DDIM points are the first of the scored samples (the chosen sampler ran once).
        assert np.array_equal(reverse.ddim[-1], drawn.samples[:ANIMATION_POINTS])

        job.wait_applied(job.set_hyperparameters(sampler="ddpm"))
        ddpm = job.wait_for(lambda s: measured(s) is not None and measured(s).sampler == "ddpm", 120)
        drawn = ddpm.visuals.measurement
        assert drawn.steps == 60
        assert np.array_equal(drawn.reverse.ddpm[-1], drawn.samples[:ANIMATION_POINTS])
    finally:
        job.stop()


def test_while_training_the_first_samples_wait_for_some_training(no_leaked_threads):
    job = DiffusionJob(default_config("moons", **SMALL), {"lr": 1e-3, "max_steps_per_second": 50}, seed=2,
                       force_cpu=True)
    try:
        started = time.monotonic()
        job.play()
        first = job.wait_for(lambda s: len(s.series("mmd_norm")) > 0, timeout=120)
        assert time.monotonic() - started >= FIRST_DRAW_AFTER_S
        assert first.series("mmd_norm").steps[0] >= 10  # 50 steps/s for 2 s, not the untrained network
    finally:
        job.stop()


def test_the_held_out_reference_is_built_once_the_page_had_time_to_draw_and_not_for_a_replaced_experiment(
        no_leaked_threads, monkeypatch):
    from engine.diffusion import measuring

    prepared = []  # (trainer, when) of each preparation begun
    prepare = measuring.prepare
    monkeypatch.setattr(measuring, "prepare", lambda trainer, **kwargs: (
        prepared.append((trainer, time.monotonic())), prepare(trainer, **kwargs)))
    job = DiffusionJob(default_config("moons", **SMALL), seed=2, force_cpu=True)
    try:
        job.snapshot()  # built
        replaced = job.trainer
        job.wait_applied(job.reset(seed=3))  # a control changed at once: another experiment
        rebuilt_at, rebuilt = time.monotonic(), job.trainer
        deadline = rebuilt_at + PREPARE_AFTER_S + 30
        while not prepared and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [trainer for trainer, _ in prepared] == [rebuilt]  # none for the experiment replaced meanwhile
        assert prepared[0][1] - rebuilt_at >= PREPARE_AFTER_S - 0.1  # the page drew the new one first
        assert replaced is not rebuilt
    finally:
        job.stop()


def test_digits_job_draws_a_grid_and_both_strips(no_leaked_threads):
    job = DiffusionJob(default_config("digits", schedule="cosine", T=30, width=32, depth=1, sampler_steps=5),
                       seed=0, force_cpu=True)
    try:
        job.step(1)
        done = job.wait_for(lambda s: measured(s) is not None, timeout=120)
        drawn = done.visuals.measurement
        strips = drawn.reverse
        assert drawn.samples.shape == (64, 8, 8) and strips.ddpm.shape == strips.ddim.shape == (6, 6, 8, 8)
        assert strips.frame_t.tolist() == [30, 24, 18, 12, 6, 0]
        assert 0 < done.latest("judge_confidence") <= 1 and drawn.real_confidence > 0.8
        assert drawn.class_shares.sum() == pytest.approx(1.0)
    finally:
        job.stop()


class RecordedTurns(TrainingTurns):
    def __init__(self):
        super().__init__(width=1)
        self.askers = []
        self.soon = {}  # asker -> whether it asked to go ahead of the jobs training on their own

    def take(self, holder, timeout, first=False, soon=False):
        self.askers.append(holder)
        self.soon[holder] = soon
        return super().take(holder, timeout, first, soon)


def test_measuring_takes_turns_with_training_and_gives_its_turn_back(no_leaked_threads):
    turns = RecordedTurns()
    job = DiffusionJob(default_config("moons", **SMALL), seed=2, force_cpu=True, turns=turns)
    other = object()  # another job's training, holding the only turn
    try:
        job.wait_applied(job.step(1))
        job.wait_for(lambda s: s.step == 1 and not s.busy)  # the trainer gave its turn back
        assert turns.take(other, timeout=5)
        deadline = time.monotonic() + 60
        while not any(asker not in (job, other) for asker in turns.askers) and time.monotonic() < deadline:
            time.sleep(0.05)
        measurer = next(asker for asker in turns.askers if asker not in (job, other))  # it asked for a turn
        assert turns.soon[measurer]  # ahead of the jobs training on their own: its samples are what is shown
        time.sleep(0.5)
        assert job.snapshot().visuals.measuring  # and waits for it: no network pass without a turn
        turns.give_back(other)
        job.wait_for(lambda s: measured(s) is not None, timeout=120)
        assert turns.take(other, timeout=5)  # the measuring thread handed its turn back when done
        turns.give_back(other)
    finally:
        job.stop()


def test_training_goes_on_while_a_long_measurement_runs_and_a_stop_cuts_it_short(no_leaked_threads):
    # A wide network and T = 2,000: its DDPM chain alone would take minutes.
    job = DiffusionJob(default_config("moons", T=2000, width=256, depth=4, n_points=1000), {"sampler": "ddpm"},
                       seed=0, force_cpu=True)
    job.step(1)
    job.wait_for(lambda s: s.visuals is not None and s.visuals.measuring, timeout=60)
    job.play()
    training = job.wait_for(lambda s: s.step >= 10, timeout=60)
    assert training.visuals.measuring and training.visuals.measurement is None  # still measuring step 1
    job.stop(timeout=30)
    assert not job.alive


class HoldersTurns(RecordedTurns):
    """Training turns that also say who holds one now."""

    def __init__(self):
        super().__init__()
        self.holding = set()

    def take(self, holder, timeout, first=False, soon=False):
        taken = super().take(holder, timeout, first, soon)
        if taken:
            self.holding.add(holder)
        return taken

    def give_back(self, holder):
        self.holding.discard(holder)
        super().give_back(holder)


def test_measuring_holds_no_turn_while_it_builds_the_reference_or_scores_its_samples(no_leaked_threads, monkeypatch):
    """Only the network passes take turns: the held-out reference and the scoring are large tensor operations, and
    a measuring thread that held its turn through them kept every other job of its process from training for
    seconds."""
    from engine.diffusion.quality import PointQualityReference

    turns, measuring_holds = HoldersTurns(), []
    compare = PointQualityReference._compare

    def watched_compare(*args):
        measuring_holds.append(bool(turns.holding - {job}))  # a holder other than the trainer: the measurer
        return compare(*args)

    monkeypatch.setattr(PointQualityReference, "_compare", staticmethod(watched_compare))
    job = DiffusionJob(default_config("moons", **SMALL), seed=4500, force_cpu=True, turns=turns)  # nothing built
    try:
        job.step(1)
        job.wait_for(lambda s: measured(s) is not None, timeout=120)
        assert len(measuring_holds) >= 9  # the reference (4 floors, 4 ceilings) and the samples' score
        assert not any(measuring_holds)
        assert any(holder is not job for holder in turns.askers)  # while its passes did take turns
    finally:
        job.stop()
