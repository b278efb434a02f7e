"""The variational autoencoder (Kingma & Welling 2014) and its deterministic twin, the plain autoencoder.

An encoder MLP maps x to the mean and log-variance of a diagonal Gaussian q(z|x); a decoder MLP maps z to the
parameters of p(x|z). Training maximizes ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)) <= log p(x), so the
loss is its negative: a reconstruction term (the negative log-likelihood at one sample of z) plus the KL term
(closed form), both in nats per example. The likelihoods p(x|z):

- digits: a Bernoulli on each of the 64 pixels, scaled to [0, 1] (scikit-learn's grey levels / 16). The decoder
  outputs logits; the reconstruction term is binary cross-entropy with logits summed over the 64 pixels. Grey
  pixels are not binary, so this is the usual number reported for scaled pixels, not a bound on a density of
  grey images (Loaiza-Ganem & Cunningham 2019); a picture of p(x|z) shows its mean, sigmoid(logits).
- 2-D points: a Gaussian of fixed standard deviation POINT_SIGMA = 0.1 on each coordinate around the decoder's
  output; the reconstruction term is its negative log-likelihood with the constant log(2πσ²)/2 included, so the
  negative ELBO is a true upper bound on -log p(x) of the model's density, in nats.

The reparameterization trick draws z = mu + exp(log_var / 2) · eps with eps ~ N(0, I) drawn apart, so z is a
differentiable function of the encoder's outputs. Without it z is a plain sample of q(z|x) (detached, as
`torch.distributions.Normal(mu, sigma).sample()` returns it): the reconstruction term then gives the encoder no
gradient at all, and only the KL term (a formula in mu and log_var) still reaches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from engine.common.layers import relu_mlp
from engine.common.limits import ConfigError, check, check_choice
from engine.generative.data import POINT_SETS, PointSet

DATA_CHOICES = ("digits", *POINT_SETS)
POINT_SIGMA = 0.1  # the fixed standard deviation of p(x|z) on 2-D points


@dataclass(frozen=True)
class VaeConfig:
    """One VAE experiment: what it learns and the networks' shape (the rest is live)."""

    data: str = "digits"  # "digits" or one of engine.generative.data.POINT_SETS
    latent: int = 2
    width: int = 128
    depth: int = 2  # hidden layers of the encoder, and of the decoder
    word: str = "VAE"  # the word whose shape is learnt, for data "word"
    autoencoder: bool = True  # also train a plain autoencoder, from the same start on the same batches

    def __post_init__(self) -> None:
        check_choice("data set", self.data, DATA_CHOICES)
        for name in ("latent", "width", "depth"):
            check(f"vae.{name}", getattr(self, name))
            if not isinstance(getattr(self, name), int):
                raise ConfigError(f"the {name} must be a whole number, not {getattr(self, name)!r}")
        if not isinstance(self.autoencoder, bool):
            raise ConfigError(f"'autoencoder' is on (True) or off (False), not {self.autoencoder!r}")
        if self.data == "word":
            try:
                PointSet("word", self.word)
            except ValueError as error:
                raise ConfigError(str(error)) from None

    @property
    def likelihood(self) -> str:
        return "bernoulli" if self.data == "digits" else "gaussian"


DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "lr": 3e-3, "batch_size": 128,
    "beta": 1.0,  # the weight of the KL term (beta-VAE, Higgins et al. 2017); 1 is the ELBO
    "reparameterize": True,  # off: z is a plain sample, and the reconstruction term cannot train the encoder
    "example_a": 0, "example_b": 1,  # held-out examples: the one whose posterior is drawn; the interpolation's ends
}


def check_hyperparameters(hp: dict[str, Any]) -> None:
    """Raise ConfigError for a live value the trainer cannot take."""
    for name in ("lr", "batch_size", "beta"):
        if name in hp:
            check(f"vae.{name}", hp[name])
    if "batch_size" in hp and not isinstance(hp["batch_size"], int):
        raise ConfigError(f"the batch size must be a whole number, not {hp['batch_size']!r}")
    if "reparameterize" in hp and not isinstance(hp["reparameterize"], bool):
        raise ConfigError(f"'reparameterize' is on (True) or off (False), not {hp['reparameterize']!r}")
    for name in ("example_a", "example_b"):
        if name in hp and not (isinstance(hp[name], int) and not isinstance(hp[name], bool) and hp[name] >= 0):
            raise ConfigError(f"{name} must be a held-out example's number (0 or more), not {hp[name]!r}")


def kl_to_standard_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(log_var)) || N(0, I)) per example, in nats: ½ Σ (mu² + σ² - 1 - log σ²)."""
    return 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var).sum(dim=-1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) per example for Bernoulli pixels of probability sigmoid(logits), summed over pixels."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


def gaussian_nll(mean: torch.Tensor, x: torch.Tensor, sigma: float = POINT_SIGMA) -> torch.Tensor:
    """-log N(x; mean, sigma² I) per example, the constant included: ½ Σ ((x - mean)/σ)² + log(2πσ²)."""
    return 0.5 * (((x - mean) / sigma).pow(2) + math.log(2 * math.pi * sigma ** 2)).sum(dim=-1)


def reconstruction_nll(likelihood: str, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The reconstruction term of one decoded sample: the decoder's `output` are logits or means."""
    return bernoulli_nll(output, x) if likelihood == "bernoulli" else gaussian_nll(output, x)


def decoded_mean(likelihood: str, output: torch.Tensor) -> torch.Tensor:
    """The mean of p(x|z): pixel probabilities for digits, the point itself for 2-D data."""
    return torch.sigmoid(output) if likelihood == "bernoulli" else output


def sample_latent(mu: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator,
                  reparameterize: bool = True) -> torch.Tensor:
    """One z ~ q(z|x) per row. Reparameterized, z carries gradients to mu and log_var; else it is detached,
    exactly as a plain sample: the same draw (same eps), no path back to the encoder."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
    z = mu + torch.exp(0.5 * log_var) * eps
    return z if reparameterize else z.detach()


@dataclass(frozen=True)
class LossTerms:
    """A batch's terms of the negative ELBO, per example, and the posteriors they came from."""

    recon: torch.Tensor  # (n,) -log p(x|z) at one sample z
    kl: torch.Tensor  # (n,)
    mu: torch.Tensor  # (n, latent)
    log_var: torch.Tensor


class _Networks(nn.Module):
    """An encoder with `codes` outputs and a decoder from `latent` inputs, MLPs of the same shape."""

    def __init__(self, inputs: int, latent: int, width: int, depth: int, likelihood: str, codes: int):
        super().__init__()
        self.latent, self.likelihood = latent, likelihood
        self.encoder = relu_mlp(inputs, width, depth, codes)
        self.decoder = relu_mlp(latent, width, depth, inputs)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return decoded_mean(self.likelihood, self.decoder(z))


class Vae(_Networks):
    def __init__(self, inputs: int, latent: int, width: int, depth: int, likelihood: str):
        super().__init__(inputs, latent, width, depth, likelihood, 2 * latent)  # the encoder outputs [mu, log_var]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x).split(self.latent, dim=-1)  # mu, log_var

    def terms(self, x: torch.Tensor, generator: torch.Generator, reparameterize: bool = True) -> LossTerms:
        mu, log_var = self.encode(x)
        z = sample_latent(mu, log_var, generator, reparameterize)
        recon = reconstruction_nll(self.likelihood, self.decoder(z), x)
        return LossTerms(recon, kl_to_standard_normal(mu, log_var), mu, log_var)


class Autoencoder(_Networks):
    """The VAE without the noise and the KL term, x -> z -> x, trained on the reconstruction term alone: nothing
    shapes its latent space like the prior N(0, I) it is later asked to decode."""

    def __init__(self, inputs: int, latent: int, width: int, depth: int, likelihood: str):
        super().__init__(inputs, latent, width, depth, likelihood, latent)

    @classmethod
    def like(cls, vae: Vae) -> Autoencoder:
        """An autoencoder that starts where `vae` starts: its hidden layers and decoder, and as its last encoder
        layer the half of the VAE's that outputs mu."""
        first, last = vae.encoder[0], vae.encoder[-1]
        depth = sum(isinstance(layer, nn.Linear) for layer in vae.encoder) - 1
        ae = cls(first.in_features, vae.latent, last.in_features, depth, vae.likelihood).to(last.weight.device)
        with torch.no_grad():
            ae.decoder.load_state_dict(vae.decoder.state_dict())
            ae.encoder[:-1].load_state_dict(vae.encoder[:-1].state_dict())
            ae.encoder[-1].weight.copy_(last.weight[:vae.latent])
            ae.encoder[-1].bias.copy_(last.bias[:vae.latent])
        return ae

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def reconstruction(self, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z = encoder(x)) per example: the autoencoder's whole loss."""
        return reconstruction_nll(self.likelihood, self.decoder(self.encoder(x)), x)
