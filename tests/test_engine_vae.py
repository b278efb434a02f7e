"""The VAE engine against independent oracles: torch.distributions for the KL and the Gaussian likelihood, a
brute-force loop for the Bernoulli one, finite differences for the reparameterized gradient, a plain backward for
the update, and measured training behaviour (the bound falls; a large beta collapses the posterior)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from engine.common.limits import ConfigError
from engine.generative.vae import (Autoencoder, VaeConfig, bernoulli_nll, gaussian_nll, kl_to_standard_normal,
                                   sample_latent)
from engine.generative.vae_trainer import VaeJob, VaeTrainer, prior_sample_scores
from engine.generative.vae_visuals import LatentPlane
from engine.runtime import train
from tests.conftest import assert_pickles_to_equal_values


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(7, 3, generator=g, dtype=torch.float64) * 2
    log_var = torch.randn(7, 3, generator=g, dtype=torch.float64)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * log_var)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl_to_standard_normal(mu, log_var), expected)
    assert torch.all(kl_to_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)) == 0)  # q = prior


def test_reparameterized_gradient_matches_a_finite_difference():
    """d/dmu and d/dlog_var of a Monte Carlo E[f(z)] with fixed eps: autograd through z = mu + σ·eps."""
    weights = torch.tensor([0.7, -1.3, 0.4], dtype=torch.float64)

    def expectation(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(5)  # the same eps at every evaluation
        z = sample_latent(mu.expand(256, -1), log_var.expand(256, -1), generator)
        return (torch.sin(z) @ weights + z.pow(2).sum(-1)).mean()

    mu = torch.tensor([0.3, -0.5, 1.1], dtype=torch.float64, requires_grad=True)
    log_var = torch.tensor([-0.2, 0.4, -1.0], dtype=torch.float64, requires_grad=True)
    d_mu, d_log_var = torch.autograd.grad(expectation(mu, log_var), (mu, log_var))
    h = 1e-6
    for parameter, gradient in ((mu, d_mu), (log_var, d_log_var)):
        for i in range(3):
            step = torch.zeros(3, dtype=torch.float64)
            step[i] = h
            with torch.no_grad():
                args = {"mu": mu, "log_var": log_var}
                name = "mu" if parameter is mu else "log_var"
                up = expectation(**{**args, name: parameter + step})
                down = expectation(**{**args, name: parameter - step})
            assert float(gradient[i]) == pytest.approx(float((up - down) / (2 * h)), rel=1e-6, abs=1e-8)


def test_without_the_trick_the_reconstruction_term_gives_the_encoder_no_gradient():
    trainer = VaeTrainer(VaeConfig(width=32, autoencoder=False), {"reparameterize": False}, seed=0)
    x = trainer.data.train_x[:16]
    terms = trainer.vae.terms(x, torch.Generator().manual_seed(0), reparameterize=False)
    encoder = list(trainer.vae.encoder.parameters())
    from_recon = torch.autograd.grad(terms.recon.mean(), encoder, retain_graph=True, allow_unused=True)
    from_kl = torch.autograd.grad(terms.kl.mean(), encoder)
    assert all(g is None for g in from_recon)
    assert sum(float(g.abs().sum()) for g in from_kl) > 0
    metrics = train(trainer, 3)
    assert all(m["encoder_grad_recon"] == 0.0 and m["encoder_grad_kl"] > 0 for m in metrics)
    trainer.apply_hyperparameters({"reparameterize": True})
    trainer.hp["reparameterize"] = True
    assert trainer.train_step()["encoder_grad_recon"] > 0


def test_the_update_is_the_gradient_of_recon_plus_beta_kl():
    """The two terms' gradients measured apart sum to what one plain backward gives."""
    trainer = VaeTrainer(VaeConfig(width=32, autoencoder=False), {"beta": 2.5}, seed=3)
    twin = copy.deepcopy(trainer.vae)
    batches, noise = trainer.rng.get_state(), trainer.noise.get_state()
    trainer.train_step()
    index = torch.randint(0, len(trainer.data.train_x), (128,), generator=torch.Generator().set_state(batches))
    terms = twin.terms(trainer.data.train_x[index], torch.Generator().set_state(noise))
    (terms.recon.mean() + 2.5 * terms.kl.mean()).backward()
    for mine, plain in zip(trainer.vae.parameters(), twin.parameters()):
        torch.testing.assert_close(mine.grad, plain.grad, rtol=1e-5, atol=1e-6)


def test_bernoulli_term_matches_a_brute_force_sum():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 64, generator=g, dtype=torch.float64) * 3
    x = torch.rand(4, 64, generator=g, dtype=torch.float64)
    x[:, :10] = torch.round(x[:, :10])  # some binary pixels too
    for row in range(4):
        total = 0.0
        for logit, pixel in zip(logits[row].tolist(), x[row].tolist()):
            p = 1 / (1 + math.exp(-logit))
            total -= pixel * math.log(p) + (1 - pixel) * math.log(1 - p)
        assert float(bernoulli_nll(logits, x)[row]) == pytest.approx(total, rel=1e-10)


def test_gaussian_term_is_the_negative_log_likelihood_with_its_constant():
    g = torch.Generator().manual_seed(2)
    mean, x = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    torch.testing.assert_close(gaussian_nll(mean, x), -Normal(mean, 0.1).log_prob(x).sum(-1))
    torch.testing.assert_close(gaussian_nll(mean, x, 0.5), -Normal(mean, 0.5).log_prob(x).sum(-1))


def test_the_autoencoder_starts_where_the_vae_starts():
    trainer = VaeTrainer(VaeConfig(latent=3, width=16), seed=0)
    x = trainer.data.test_x
    mu, _ = trainer.vae.encode(x)
    torch.testing.assert_close(trainer.ae.encode(x), mu)
    torch.testing.assert_close(trainer.ae.decode_mean(mu), trainer.vae.decode_mean(mu))
    assert isinstance(Autoencoder.like(trainer.vae), Autoencoder)


def test_training_lowers_the_held_out_negative_elbo():
    trainer = VaeTrainer(VaeConfig(autoencoder=False), seed=0)
    start = trainer.evaluate()
    train(trainer, 300)
    end = trainer.evaluate()
    # Measured (width 128, seed 0): 54 nats at the start, about 25 after 300 steps, below 24.5 after thousands.
    assert end["test_neg_elbo"] < 30 and end["test_neg_elbo"] < 0.6 * start["test_neg_elbo"]
    assert end["test_neg_elbo"] == pytest.approx(end["test_recon"] + end["test_kl"])
    assert end["active_units"] == 2


def test_a_large_beta_collapses_the_posterior():
    """Measured (seeds 0-2, width 64): the held-out KL is 0.01 nats after 100 steps and 0.003-0.006 after 400,
    with no active unit from step 200 on, and the prior samples' pixels vary by 0.023-0.026 (standard deviation
    over samples, mean over pixels) against 0.10-0.12 at beta = 1 (1.5-1.8 nats of KL, both units active) and
    0.23 for real digits."""
    trainer = VaeTrainer(VaeConfig(width=64, autoencoder=False), {"beta": 20.0}, seed=0)
    train(trainer, 400)
    metrics = trainer.evaluate()
    assert metrics["test_kl"] < 0.1
    assert metrics["active_units"] == 0
    # Every prior sample is the same blurry digit: they vary far less than real digits do.
    samples = trainer.observe().prior_samples
    assert samples.std(0).mean() < 0.25 * float(trainer.data.test_x.std(0).mean())


@pytest.mark.parametrize("changes, words", [
    ({"data": "mnist"}, "unknown data set"), ({"latent": 0}, "latent dimension"), ({"latent": 17}, "latent"),
    ({"width": 4}, "width"), ({"depth": 5}, "hidden layers"), ({"latent": 2.5}, "whole number"),
    ({"data": "word", "word": "  "}, "type a word"), ({"autoencoder": "yes"}, "autoencoder"),
])
def test_a_config_it_cannot_build_is_refused_with_a_reason(changes, words):
    with pytest.raises(ConfigError, match=words):
        VaeConfig(**changes)


@pytest.mark.parametrize("changes, words", [
    ({"beta": -1.0}, "beta"), ({"beta": 1000.0}, "beta"), ({"lr": 0.0}, "learning rate"),
    ({"batch_size": 0}, "batch size"), ({"batch_size": 12.5}, "whole number"),
    ({"reparameterize": "on"}, "reparameterize"), ({"example_a": -1}, "held-out"),
    ({"example_b": 100_000}, "held-out examples"),
])
def test_a_live_value_it_cannot_take_is_refused_with_a_reason(changes, words):
    trainer = VaeTrainer(VaeConfig(width=16, autoencoder=False), seed=0)
    with pytest.raises(ValueError, match=words):
        trainer.apply_hyperparameters(changes)
    with pytest.raises(ValueError, match=words):
        VaeTrainer(VaeConfig(width=16, autoencoder=False), dict(changes), seed=0)


@pytest.mark.parametrize("data, latent", [("digits", 2), ("digits", 4), ("ring", 2), ("moons", 4)])
def test_observe_returns_the_documented_shapes(data, latent):
    trainer = VaeTrainer(VaeConfig(data=data, latent=latent, width=32), {"example_a": 3, "example_b": 7}, seed=0)
    train(trainer, 5)
    visuals = trainer.observe()
    assert_pickles_to_equal_values(visuals)
    n_test = len(trainer.data.test_x)
    digits = data == "digits"
    picture = (8, 8) if digits else (2,)
    assert visuals.projected == (latent > 2) and visuals.latent == latent
    assert visuals.latent_means.shape == visuals.ae_latent.shape == (n_test, 2)
    assert (visuals.labels.shape == (n_test,)) if digits else visuals.labels is None
    assert visuals.posterior_mean.shape == visuals.posterior_std.shape == (2,)
    assert np.all(visuals.posterior_std > 0) and visuals.example_kl > 0
    np.testing.assert_allclose(visuals.posterior_mean, visuals.latent_means[3], rtol=1e-5, atol=1e-6)
    grid_shape = (15, 15, 8, 8) if digits else (225, 2)
    assert visuals.manifold.shape == visuals.ae_manifold.shape == grid_shape
    assert visuals.manifold_range.shape == visuals.ae_manifold_range.shape == (2, 2)
    shown = 10 if digits else n_test
    for name in ("inputs", "reconstructions", "ae_reconstructions"):
        assert getattr(visuals, name).shape == (shown, *picture), name
    samples = 64 if digits else 500
    assert visuals.prior_samples.shape == visuals.ae_prior_samples.shape == (samples, *picture)
    assert visuals.interpolation.shape == (10, *picture) and visuals.interpolation_latent.shape == (10, 2)
    np.testing.assert_allclose(visuals.interpolation_latent[[0, -1]], visuals.latent_means[[3, 7]], rtol=1e-4,
                               atol=1e-5)
    if digits:
        assert 0 <= visuals.manifold.min() and visuals.manifold.max() <= 1


def test_without_the_autoencoder_its_pictures_are_absent():
    visuals = VaeTrainer(VaeConfig(width=16, autoencoder=False), seed=0).observe()
    assert visuals.ae_latent is visuals.ae_manifold is visuals.ae_prior_samples is visuals.ae_reconstructions \
        is None


def test_the_latent_plane_of_two_dimensions_is_exact_and_above_it_orthonormal():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(200, 2, generator=g)
    plane = LatentPlane.fit(codes)
    torch.testing.assert_close(plane.coordinates(codes), codes)
    log_var = torch.tensor([0.4, -1.2])
    torch.testing.assert_close(plane.std(log_var), torch.exp(0.5 * log_var))
    wide = torch.randn(300, 5, generator=g) * torch.tensor([3.0, 0.1, 2.0, 0.1, 0.1]) + 1.0
    plane = LatentPlane.fit(wide, through_mean=True)
    torch.testing.assert_close(plane.basis.T @ plane.basis, torch.eye(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(plane.coordinates(plane.lift(torch.ones(1, 2))), torch.ones(1, 2))
    assert abs(float(plane.basis[1].norm())) < 0.1  # the low-variance axes are left out


def test_prior_sample_scores_are_shares_of_a_judge_fitted_on_the_training_digits():
    trainer = VaeTrainer(VaeConfig(width=32), seed=0)
    train(trainer, 50)
    scores = prior_sample_scores(trainer, n=200)
    assert scores.vae_shares.sum() == pytest.approx(1) and scores.ae_shares.sum() == pytest.approx(1)
    assert scores.max_share == scores.vae_shares.max() and 1 <= scores.classes_covered <= 10
    assert 0.85 < scores.real_confidence <= 1 and 0.1 <= scores.vae_confidence <= 1
    with pytest.raises(ValueError, match="2-D points"):
        prior_sample_scores(VaeTrainer(VaeConfig(data="ring", width=16), seed=0))


def test_the_job_runs_the_trainer_with_its_defaults(no_leaked_threads):
    job = VaeJob(VaeConfig(width=16), {"beta": 0.5}, force_cpu=True)
    try:
        assert job.hp["beta"] == 0.5 and job.hp["lr"] == 3e-3 and job.hp["reparameterize"] is True
        assert VaeJob.trainer_type is VaeTrainer
    finally:
        job.stop()
