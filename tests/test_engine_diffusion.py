"""Diffusion engine against independent oracles: hand-written formulas, Bayes' rule for Gaussians,
brute-force loops, exact denoisers of distributions whose noise posterior is known in closed form,
and scikit-learn's own logistic regression."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import time

import numpy as np
import pytest
import torch

from engine.common.limits import ConfigError
from engine.diffusion.config import DiffusionConfig, default_config
from engine.diffusion.data import (DIGIT_MAX_VALUE, POINT_SETS, check_word, load_digits, load_points, raw_points,
                                   word_ink)
from engine.diffusion.measuring import measure
from engine.diffusion.noise_schedule import beta_end_for, make_schedule
from engine.diffusion.quality import (DigitJudge, PointQualityReference, copying_ratio, energy_distance, mmd2_rbf,
                                      normalized)
from engine.diffusion.sampling import ddim_step, ddim_timesteps, ddpm_step, sample
from engine.diffusion.trainer import DiffusionTrainer
from engine.runtime import train
from tests.conftest import assert_pickles_to_equal_values

torch.set_num_threads(1)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ schedules
def test_linear_betas_follow_the_formula_and_alpha_bar_is_their_cumulative_product():
    T, low, high = 37, 1e-3, 0.3
    schedule = make_schedule("linear", T, low, high)
    for t in range(1, T + 1):
        beta = low + (high - low) * (t - 1) / (T - 1)
        assert float(schedule.betas[t]) == pytest.approx(beta, rel=1e-12)
        product = 1.0
        for s in range(1, t + 1):
            product *= 1.0 - (low + (high - low) * (s - 1) / (T - 1))
        assert float(schedule.alpha_bars[t]) == pytest.approx(product, rel=1e-10)
    assert float(schedule.alpha_bars[0]) == 1.0 and float(schedule.betas[0]) == 0.0


def test_cosine_schedule_matches_its_formula():
    T, s = 200, 0.008

    def f(t):
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    schedule = make_schedule("cosine", T)
    # Below the last steps, where β is clipped at 0.999, ᾱ_t is exactly f(t)/f(0).
    for t in (1, 10, 50, 100, 150, 190, T - 1):
        assert float(schedule.alpha_bars[t]) == pytest.approx(f(t) / f(0), rel=1e-9)
    assert float(schedule.betas.max()) <= 0.999 + 1e-12
    assert schedule.alpha_bar_T < 1e-5
    # SNR is ᾱ / (1 − ᾱ) and falls monotonically.
    snr = schedule.snr[1:]
    assert torch.all(snr[1:] < snr[:-1])
    assert float(schedule.snr[100]) == pytest.approx(f(100) / f(0) / (1 - f(100) / f(0)), rel=1e-9)


def test_prior_warning_flags_tiny_diffusions_schedule_and_names_a_fix():
    schedule = make_schedule("linear", 50, 1e-4, 0.02)
    expected = np.prod(1 - np.linspace(1e-4, 0.02, 50))
    assert schedule.alpha_bar_T == pytest.approx(expected, rel=1e-10)
    assert 0.55 < expected < 0.65  # the anchor's "ᾱ_T ≈ 0.6"
    warning = schedule.prior_warning()
    assert warning is not None and "far from 0" in warning and "0.6" in warning and "β_max" in warning
    assert make_schedule("linear", 1000, 1e-4, 0.02).prior_warning() is None
    assert make_schedule("cosine", 50).prior_warning() is None
    # The β_max it suggests does bring ᾱ_T to 1e-4.
    fixed = beta_end_for(50, 1e-4)
    assert np.prod(1 - np.linspace(1e-4, fixed, 50)) == pytest.approx(1e-4, rel=1e-6)
    assert make_schedule("linear", 50, 1e-4, fixed).prior_warning() is None


@pytest.mark.parametrize("kwargs, words", [
    (dict(kind="quadratic"), "unknown noise schedule"),
    (dict(T=1), "between 2 and 2000, not 1 (limit 'diffusion.T')"),
    (dict(beta_start=0.1, beta_end=0.01), "must not exceed"),
    (dict(beta_end=1.0), "strictly between 0 and 1"),
])
def test_bad_schedules_are_refused_with_the_limit_named(kwargs, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        make_schedule(**{"kind": "linear", "T": 100, "beta_start": 1e-4, "beta_end": 0.02, **kwargs})


# ------------------------------------------------------------ forward process
@pytest.mark.parametrize("kind, t", [("linear", 1), ("linear", 300), ("cosine", 700)])
def test_closed_form_forward_sample_has_the_stated_mean_and_variance(kind, t):
    schedule = make_schedule(kind, 1000)
    n = 200_000
    x0 = torch.tensor([[1.5, -2.0]]).expand(n, 2)
    x_t = schedule.q_sample(x0.double(), t, torch.randn((n, 2), generator=gen(0), dtype=torch.float64))
    alpha_bar = float(schedule.alpha_bars[t])
    tolerance = 5 * math.sqrt((1 - alpha_bar) / n)
    assert torch.allclose(x_t.mean(0), math.sqrt(alpha_bar) * x0[0].double(), atol=tolerance)
    assert torch.allclose(x_t.var(0), torch.full((2,), 1 - alpha_bar, dtype=torch.float64),
                          rtol=0.02, atol=1e-6)


def test_closed_form_agrees_with_running_the_chain_step_by_step():
    # The notes' derivation: z_t = √(1−β_t) z_{t−1} + √β_t ε_t, iterated, has mean √ᾱ_t x and variance 1 − ᾱ_t.
    schedule = make_schedule("linear", 100, 1e-3, 0.05)
    n, x0 = 100_000, 0.7
    z = torch.full((n,), x0, dtype=torch.float64)
    g = gen(1)
    for t in range(1, 61):
        beta = float(schedule.betas[t])
        z = math.sqrt(1 - beta) * z + math.sqrt(beta) * torch.randn(n, generator=g, dtype=torch.float64)
    alpha_bar = float(schedule.alpha_bars[60])
    assert float(z.mean()) == pytest.approx(math.sqrt(alpha_bar) * x0, abs=0.01)
    assert float(z.var()) == pytest.approx(1 - alpha_bar, rel=0.02)


def test_forward_sample_is_per_row_when_t_differs_per_row():
    schedule = make_schedule("cosine", 100)
    x0 = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    noise = torch.tensor([[0.5, -0.5], [1.0, 0.0]])
    t = torch.tensor([10, 90])
    out = schedule.q_sample(x0, t, noise)
    for row in range(2):
        a = float(schedule.alpha_bars[int(t[row])])
        assert torch.allclose(out[row], math.sqrt(a) * x0[row] + math.sqrt(1 - a) * noise[row], atol=1e-6)


# -------------------------------------------------------------- reverse steps
def bayes_posterior(schedule, x0, x_t, t):
    """q(x_{t−1} | x_t, x_0) by Bayes' rule: prior N(√ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}) times the likelihood
    N(x_t; √α_t x_{t−1}, β_t); precisions add, precision-weighted means add."""
    beta = float(schedule.betas[t])
    alpha_bar_prev = float(schedule.alpha_bars[t - 1])
    prior_precision = 1.0 / (1.0 - alpha_bar_prev)
    likelihood_precision = (1.0 - beta) / beta
    variance = 1.0 / (prior_precision + likelihood_precision)
    mean = variance * (math.sqrt(alpha_bar_prev) * x0 * prior_precision + math.sqrt(1.0 - beta) * x_t / beta)
    return mean, variance


@pytest.mark.parametrize("kind, t", [("linear", 2), ("linear", 500), ("cosine", 30), ("cosine", 999)])
def test_posterior_matches_bayes_rule(kind, t):
    schedule = make_schedule(kind, 1000)
    x0 = torch.tensor([0.3, -1.2], dtype=torch.float64)
    x_t = torch.tensor([1.1, 0.4], dtype=torch.float64)
    mean, variance = schedule.posterior(x0, x_t, t)
    expected_mean, expected_variance = bayes_posterior(schedule, x0, x_t, t)
    assert torch.allclose(mean, expected_mean, rtol=1e-9, atol=1e-12)
    assert variance == pytest.approx(expected_variance, rel=1e-9)


def test_one_ddpm_step_has_the_posterior_mean_and_variance():
    schedule = make_schedule("linear", 1000)
    t, n = 400, 200_000
    x_t = torch.tensor([0.8, -0.3], dtype=torch.float64).expand(n, 2)
    eps = torch.tensor([0.5, 1.5], dtype=torch.float64).expand(n, 2)
    draws = ddpm_step(schedule, x_t, t, eps, gen(2))
    beta, alpha_bar = float(schedule.betas[t]), float(schedule.alpha_bars[t])
    # Ho et al.'s ε-form of the mean, and the x̂_0 it implies fed to Bayes' rule, must agree with the draws.
    ho_mean = (x_t[0] - beta / math.sqrt(1 - alpha_bar) * eps[0]) / math.sqrt(1 - beta)
    x0_hat = (x_t[0] - math.sqrt(1 - alpha_bar) * eps[0]) / math.sqrt(alpha_bar)
    bayes_mean, bayes_variance = bayes_posterior(schedule, x0_hat, x_t[0], t)
    assert torch.allclose(ho_mean, bayes_mean, atol=1e-12)
    assert torch.allclose(draws.mean(0), ho_mean, atol=5 * math.sqrt(bayes_variance / n))
    assert torch.allclose(draws.var(0), torch.full((2,), bayes_variance, dtype=torch.float64), rtol=0.02)


def test_last_ddpm_step_returns_the_denoised_estimate_without_noise():
    schedule = make_schedule("linear", 100)
    x_t, eps = torch.tensor([[0.2, 0.4]]), torch.tensor([[1.0, -1.0]])
    a = float(schedule.alpha_bars[1])
    out = ddpm_step(schedule, x_t, 1, eps, gen(0))
    assert torch.allclose(out, (x_t - math.sqrt(1 - a) * eps) / math.sqrt(a), atol=1e-6)
    assert torch.equal(out, ddpm_step(schedule, x_t, 1, eps, gen(99)))


def test_ddim_step_follows_the_forward_trajectory_when_told_the_true_noise():
    schedule = make_schedule("cosine", 1000)
    x0, eps = torch.tensor([[1.0, -0.5]], dtype=torch.float64), torch.tensor([[0.3, 2.0]], dtype=torch.float64)
    t, t_prev = 800, 600
    x_t = schedule.q_sample(x0, t, eps)
    a_prev = float(schedule.alpha_bars[t_prev])
    out = ddim_step(schedule, x_t, t, t_prev, eps, eta=0.0)
    assert torch.allclose(out, math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps, atol=1e-10)


def test_ddim_with_eta_zero_is_deterministic_and_lands_on_a_point_mass():
    schedule = make_schedule("linear", 1000)
    target = torch.tensor([0.7, -1.3])

    def exact_eps(x, t):  # the exact noise predictor when all data sit at `target`
        a = schedule.alpha_bars[t].float()[:, None]
        return (x - a.sqrt() * target) / (1 - a).sqrt()

    x_T = torch.randn((64, 2), generator=gen(3))
    first = sample(schedule, exact_eps, x_T, "ddim", steps=20, eta=0.0, generator=gen(4)).samples
    second = sample(schedule, exact_eps, x_T, "ddim", steps=20, eta=0.0, generator=gen(5)).samples
    third = sample(schedule, exact_eps, x_T, "ddim", steps=20, eta=0.0, generator=None).samples
    assert torch.equal(first, second) and torch.equal(first, third)
    assert torch.allclose(first, target.expand(64, 2), atol=1e-4)


def test_ddim_timesteps_run_from_T_down_to_zero():
    assert ddim_timesteps(1000, 50)[0] == 1000 and ddim_timesteps(1000, 50)[-1] == 20
    assert len(ddim_timesteps(1000, 50)) == 50
    assert ddim_timesteps(10, 10) == list(range(10, 0, -1))
    with pytest.raises(ValueError, match="between 1 and T"):
        ddim_timesteps(10, 11)


def gaussian_exact_eps(schedule, mean, std):
    """E[ε | x_t] when the data are N(mean, std² I): x_t is then N(√ᾱ mean, ᾱ std² + 1 − ᾱ)."""
    def eps_fn(x, t):
        a = schedule.alpha_bars[t].double()[:, None]
        return ((1 - a).sqrt() * (x - a.sqrt() * mean) / (a * std**2 + 1 - a)).to(x.dtype)
    return eps_fn


@pytest.mark.parametrize("sampler, steps, tolerance", [("ddpm", None, 0.02), ("ddim", 1000, 0.02), ("ddim", 50, 0.06)])
def test_samplers_with_the_exact_noise_predictor_recover_a_gaussian(sampler, steps, tolerance):
    schedule = make_schedule("linear", 1000)
    mean, std = torch.tensor([1.5, -1.0], dtype=torch.float64), 0.5
    x_T = torch.randn((20_000, 2), generator=gen(6), dtype=torch.float64)
    out = sample(schedule, gaussian_exact_eps(schedule, mean, std), x_T, sampler, steps, generator=gen(7)).samples
    assert torch.allclose(out.mean(0), mean, atol=0.02)
    assert torch.allclose(out.std(0), torch.full((2,), std, dtype=torch.float64), rtol=tolerance)


def test_sample_path_keeps_frames_from_noise_to_samples():
    schedule = make_schedule("linear", 100)
    x_T = torch.randn((5, 2), generator=gen(8))
    path = sample(schedule, gaussian_exact_eps(schedule, torch.zeros(2, dtype=torch.float64), 1.0), x_T, "ddpm",
                  generator=gen(9), frames=11)
    assert path.frames.shape == (11, 5, 2) and len(path.frame_t) == 11
    assert path.frame_t[0] == 100 and path.frame_t[-1] == 0 and path.frame_t == sorted(path.frame_t, reverse=True)
    assert torch.equal(path.frames[0], x_T) and torch.equal(path.frames[-1], path.samples)
    assert path.network_evaluations == 100


# ---------------------------------------------------------------- the metrics
def brute_force_mmd2(x, y, bandwidths):
    n, m = len(x), len(y)
    total = 0.0
    for h in bandwidths:
        def k(a, b, h=h):
            return math.exp(-sum((ai - bi) ** 2 for ai, bi in zip(a, b)) / (2 * h * h))
        xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
        total += xx + yy - 2 * xy
    return total / len(bandwidths)


def brute_force_energy(x, y):
    def d(a, b):
        return math.dist(a, b)
    n, m = len(x), len(y)
    xy = sum(d(a, b) for a in x for b in y) / (n * m)
    xx = sum(d(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(d(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    return 2 * xy - xx - yy


def test_metrics_match_brute_force_loops():
    x = torch.randn((7, 2), generator=gen(10))
    y = torch.randn((5, 2), generator=gen(11)) + 0.4
    bandwidths = (0.05, 0.1, 0.2, 0.5, 1.0)
    assert mmd2_rbf(x, y) == pytest.approx(brute_force_mmd2(x.tolist(), y.tolist(), bandwidths), rel=1e-6, abs=1e-9)
    assert energy_distance(x, y) == pytest.approx(brute_force_energy(x.tolist(), y.tolist()), rel=1e-6)


def test_metrics_are_near_zero_for_one_distribution_and_rank_a_shift_worse():
    data = load_points("moons", 2000, gen(12))
    a, b = data.draw(2000, gen(13)), data.draw(2000, gen(14))
    shifted = data.draw(2000, gen(15)) + torch.tensor([0.3, 0.0])
    noise = torch.randn((2000, 2), generator=gen(16))
    for metric in (mmd2_rbf, energy_distance):
        same, moved, prior = metric(a, b), metric(shifted, b), metric(noise, b)
        assert abs(same) < 0.05 * prior  # the floor is ~0 next to the ceiling
        assert same < moved < prior


def test_normalized_scores_put_fresh_data_near_0_and_noise_near_1():
    data = load_points("moons", 2000, gen(17))
    reference = PointQualityReference.measure(data.draw, gen(18), repeats=3, sample_size=1000, draws=3)
    fresh = reference.score(data.draw(3000, gen(19)))
    noise = reference.score(torch.randn((3000, 2), generator=gen(20)))
    shrunk = reference.score(0.8 * data.draw(3000, gen(21)))
    assert fresh["comparisons"] == 3 and reference.score(data.draw(1500, gen(22)))["comparisons"] == 1
    for name in ("mmd", "energy"):
        assert abs(fresh[f"{name}_norm"]) < 0.05
        assert noise[f"{name}_norm"] == pytest.approx(1.0, abs=0.1)
        assert shrunk[f"{name}_norm"] > fresh[f"{name}_norm"] + 10 * fresh[f"{name}_norm_se"]
        # The normalization is (metric − floor) / (ceiling − floor) with each reference set's own bounds.
        assert reference.floors[name][0] < reference.ceilings[name][0]
    assert normalized(0.5, 0.0, 2.0) == 0.25
    with pytest.raises(ValueError, match="ceiling"):
        normalized(0.5, 1.0, 1.0)


def test_a_rebuild_that_keeps_the_data_reuses_its_held_out_reference():
    """A new T or network keeps the data: its reference (seconds of CPU) is the one measured before, and that one is
    what measuring afresh gives. Other data (points, seed) get their own."""
    from engine.diffusion.trainer import _stream

    small = dict(n_points=1000, width=16, depth=1, seed=4321)  # a seed no other test uses: nothing measured yet
    first = DiffusionTrainer(default_config("moons", T=100, **small))
    reference = first.quality_reference()
    again = DiffusionTrainer(default_config("moons", T=500, schedule="cosine", **{**small, "width": 32}))
    assert again.quality_reference() is reference
    fresh = PointQualityReference.measure(first.data.draw, _stream(4321, "held-out"))
    assert torch.equal(reference.references[0], fresh.references[0])
    assert reference.floors == fresh.floors and reference.ceilings == fresh.ceilings
    for other in (dict(small, n_points=2000), dict(small, seed=4322)):
        assert DiffusionTrainer(default_config("moons", T=100, **other)).quality_reference() is not reference


def test_trainers_asking_for_one_reference_at_once_build_it_once_and_a_given_up_build_passes_on(monkeypatch):
    """A class opening the page together: every trainer of the same data asks for the held-out reference at about
    the same moment. One builds it, the others wait and get that one; a build given up (a reset came) leaves it
    to the next asker."""
    import threading

    measure, builds, gate = PointQualityReference.measure, [], threading.Event()

    def slow_measure(*args, interrupt=None, **kwargs):
        builds.append(threading.current_thread().name)
        gate.wait(10)  # every other trainer asks while this one builds
        if interrupt is not None:
            interrupt()
        return measure(*args, interrupt=interrupt, **kwargs)

    monkeypatch.setattr(PointQualityReference, "measure", slow_measure)
    small = dict(n_points=1000, width=16, depth=1, seed=4400)  # a seed no other test uses: nothing measured yet
    trainers = [DiffusionTrainer(default_config("moons", T=100, **small)) for _ in range(4)]

    def give_up():
        raise RuntimeError("reset")

    got: dict[int, object] = {}
    threads = [threading.Thread(target=lambda i=i: got.__setitem__(i, trainers[i].quality_reference()), name=f"t{i}")
               for i in range(1, 4)]
    quitter = threading.Thread(target=lambda: pytest.raises(RuntimeError, trainers[0].quality_reference,
                                                            interrupt=give_up), name="t0")
    quitter.start()
    while not builds:
        time.sleep(0.01)
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    assert builds == ["t0"]  # the others wait for the build under way
    gate.set()
    for thread in [quitter, *threads]:
        thread.join(30)
    assert len(builds) == 2 and builds[0] == "t0"  # given up; then one of the waiters built it, once
    assert got[1] is got[2] is got[3]


def test_judge_is_confident_on_real_digits_not_on_noise_and_is_sklearns_model():
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    data = load_digits(gen(22))
    train_pixels, test_pixels = data.to_pixels(data.train), data.to_pixels(data.test)
    judge = DigitJudge().fit(train_pixels, data.train_labels)
    assert judge.accuracy(test_pixels, data.test_labels) > 0.9
    real = judge.confidence(test_pixels)
    smudges = judge.confidence(torch.rand((300, 64), generator=gen(23)) * DIGIT_MAX_VALUE)
    assert real > 0.8 and smudges < real - 0.2
    # Its probabilities are scikit-learn's own predict_proba on the same features.
    with threadpool_limits(1):
        sk = LogisticRegression(C=1.0, max_iter=5000).fit(train_pixels.double().numpy() / 16,
                                                          data.train_labels.numpy())
    expected = sk.predict_proba(test_pixels.double().numpy() / 16)
    assert np.allclose(judge.probabilities(test_pixels).numpy(), expected, atol=1e-9)
    assert judge.confidence(test_pixels) == pytest.approx(float(expected.max(axis=1).mean()), abs=1e-9)


def test_copying_ratio_spots_copies():
    train = torch.randn((500, 8), generator=gen(24))
    fresh = torch.randn((200, 8), generator=gen(25))
    assert copying_ratio(torch.randn((200, 8), generator=gen(26)), train, fresh) == pytest.approx(1.0, abs=0.15)
    assert copying_ratio(train[:200] + 0.01, train, fresh) < 0.05


# ------------------------------------------------------------------- the data
@pytest.mark.parametrize("kind", POINT_SETS)
def test_point_sets_are_standardized_with_one_scale(kind):
    data = load_points(kind, 4000, gen(27), word="Hi")
    x = data.train.double()
    assert torch.allclose(x.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-5)
    assert float(x.var(0).mean()) == pytest.approx(1.0, rel=1e-4)
    # One scale for both axes: the raw shape's aspect ratio survives.
    raw = data.standardizer.invert(data.train).double()
    assert float(x[:, 0].std() / x[:, 1].std()) == pytest.approx(float(raw[:, 0].std() / raw[:, 1].std()), rel=1e-5)
    held_out = data.draw(4000, gen(28)).double()
    assert torch.allclose(held_out.mean(0), torch.zeros(2, dtype=torch.float64), atol=0.1)


def test_word_points_fill_the_glyphs_drawn_by_pillows_font():
    from PIL import Image, ImageDraw, ImageFont

    word = "Gradscape"
    font = ImageFont.load_default(size=64)
    left, top, right, bottom = font.getbbox(word)
    mask = word_ink(word)
    assert mask.shape[1] > 4 * mask.shape[0]  # a word is wide
    assert abs(mask.shape[1] - (right - left)) <= 4 and abs(mask.shape[0] - (bottom - top)) <= 4
    # Every noiseless point maps back onto an inked pixel.
    height, width = mask.shape
    points = raw_points("word", 3000, gen(29), noise=0.0, word=word)
    scale = 2.0 / max(width, height)
    columns = torch.floor(points[:, 0] / scale + width / 2).long().clamp(0, width - 1)
    rows = torch.floor(-(points[:, 1] / scale - height / 2)).long().clamp(0, height - 1)
    assert mask[rows.numpy(), columns.numpy()].all()  # (the mask is read-only: cached for every caller)
    # An independently drawn copy of the word has ink where the points are.
    image = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(image).text((2 - left, 2 - top), word, fill=255, font=font)
    assert np.asarray(image)[rows.numpy(), columns.numpy()].mean() > 128


def test_bad_words_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="type a word"):
        check_word("   ")
    with pytest.raises(ValueError, match="at most 16"):
        check_word("x" * 17)
    assert check_word("  Hi ") == "Hi"


def test_digits_split_is_disjoint_and_maps_back_to_sklearns_pixels():
    from sklearn.datasets import load_digits as sklearn_digits

    data = load_digits(gen(30))
    assert len(data.train) + len(data.test) == 1797 and len(data.test) == 359
    bunch = sklearn_digits()
    originals = {tuple(row) for row in bunch.data.astype(int).tolist()}
    recovered = data.standardizer.invert(data.train[:50]).round().int().tolist()
    assert all(tuple(row) in originals for row in recovered)
    assert float(data.train.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(data.train.std()) == pytest.approx(1.0, abs=1e-4)
    assert data.images(data.train[:3]).shape == (3, 8, 8)


# --------------------------------------------------------- config and trainer
@pytest.mark.parametrize("changes, words", [
    (dict(dataset="mnist"), "unknown data set"),
    (dict(width=4), "between 8 and 1024, not 4 (limit 'diffusion.width')"),
    (dict(depth=0), "between 1 and 8"),
    (dict(lr=1.0), "between 1e-05 and 0.05"),
    (dict(batch_size=0), "between 1 and 4096"),
    (dict(T=1), "between 2 and 2000, not 1 (limit 'diffusion.T')"),
    (dict(sampler_steps=2000), "between 1 and T = 1000"),
    (dict(n_points=10), "between 100 and 20000, not 10 (limit 'diffusion.points')"),
    (dict(dataset="word", word=""), "type a word"),
    (dict(ema_decay=1.0), "EMA decay"),
])
def test_config_problems_name_the_limits(changes, words):
    config = DiffusionConfig(**changes)
    assert any(words in problem for problem in config.problems())
    with pytest.raises(ConfigError, match=re.escape(words)):
        config.validated()


def test_same_seed_same_run_whatever_the_global_rng():
    config = default_config("moons", n_points=500, width=16, depth=1, batch_size=32, seed=3)
    losses = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        trainer = DiffusionTrainer(config)
        losses.append([metrics["loss"] for metrics in train(trainer, 15)])
        samples = trainer.sample(20, "ddpm", generator=gen(1)).samples
    assert losses[0] == losses[1]
    other = DiffusionTrainer(default_config("moons", n_points=500, width=16, depth=1, batch_size=32, seed=4))
    assert [metrics["loss"] for metrics in train(other, 15)] != losses[0]
    assert torch.isfinite(samples).all()


def test_training_lowers_the_loss_and_moves_samples_towards_the_data():
    trainer = DiffusionTrainer(default_config("gaussians", n_points=2000, width=32, depth=2, lr_decay_steps=0))
    first = [metrics["loss"] for metrics in train(trainer, 20)]
    last = train(trainer, 400)[-1]["loss"]
    assert last < 0.8 * np.mean(first)
    g = gen(31)
    before = DiffusionTrainer(trainer.config).sample(2000, "ddim", 20, generator=gen(32)).samples
    after = trainer.sample(2000, "ddim", 20, generator=gen(32)).samples
    held_out = trainer.data.draw(2000, g)
    assert mmd2_rbf(after, held_out) < 0.5 * mmd2_rbf(before, held_out)


def test_learning_rate_warms_up_then_decays_by_cosine_and_changes_live():
    trainer = DiffusionTrainer(default_config("moons", n_points=500, lr=1e-3, lr_warmup_steps=100,
                                              lr_decay_steps=1100, lr_final_fraction=0.1))
    assert trainer.learning_rate(0) == pytest.approx(1e-5)
    assert trainer.learning_rate(99) == pytest.approx(1e-3)
    assert trainer.learning_rate(600) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5))))
    assert trainer.learning_rate(5000) == pytest.approx(1e-4)
    trainer.set_learning_rate(2e-3)
    assert trainer.learning_rate(5000) == pytest.approx(2e-4)
    with pytest.raises(ValueError, match="between"):
        trainer.set_batch_size(0)


def test_noise_field_and_score_on_a_grid():
    trainer = DiffusionTrainer(default_config("moons", n_points=500, width=16, depth=1))
    field = trainer.noise_field(300, resolution=7)
    assert field.eps.shape == (7, 7, 2) and field.xs.shape == (7,)
    a = float(trainer.schedule.alpha_bars[300])
    assert torch.allclose(field.score, -field.eps / math.sqrt(1 - a))
    # eps[i, j] belongs to the point (xs[j], ys[i]).
    point = torch.tensor([[float(field.xs[2]), float(field.ys[5])]])
    direct = trainer.ema_network(point, torch.tensor([300]))
    assert torch.allclose(field.eps[5, 2], direct[0], atol=1e-6)


def test_forward_process_of_the_whole_training_set():
    trainer = DiffusionTrainer(default_config("circles", n_points=3000, width=16, depth=1))
    assert torch.equal(trainer.forward_process(0), trainer.data.train)
    x_T = trainer.forward_process(trainer.schedule.T)
    assert float(x_T.mean(0).abs().max()) < 0.1 and float(x_T.var(0).mean()) == pytest.approx(1.0, abs=0.1)


def test_digits_trainer_samples_images_in_pixel_range():
    trainer = DiffusionTrainer(default_config("digits", width=32, depth=1, T=50, sampler_steps=10))
    train(trainer, 1)
    path = trainer.sample(4, "ddim", 10, generator=gen(33), frames=11)
    images = trainer.data.images(path.frames.reshape(-1, 64))
    assert images.shape == (44, 8, 8) and float(images.min()) >= 0 and float(images.max()) <= 1
    assert 0.0 <= trainer.quality(path.samples)["judge_confidence"] <= 1.0


def test_the_trainers_visuals_pickle_and_unpickle_to_equal_values():
    trainer = DiffusionTrainer(default_config("moons", n_points=1000, width=16, depth=1, T=40, sampler_steps=5))
    train(trainer, 3)
    assert trainer.observe().measurement is None  # measurements come from the job's measuring thread
    measurement, metrics = measure(trainer, copy.deepcopy(trainer.ema_network), 3, "ddim", 5, 5)
    assert math.isfinite(metrics["mmd_norm"]) and measurement.reverse.field_eps is not None
    visuals = dataclasses.replace(trainer.observe(), measurement=measurement)
    assert_pickles_to_equal_values(visuals)
