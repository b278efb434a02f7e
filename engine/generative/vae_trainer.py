"""The VAE tab's experiment as a plain trainer: a VAE and (when asked) a plain autoencoder from the same start,
trained side by side on the same minibatches, with what the page inspects about them (engine.generative.vae
says which likelihoods and why).

Each VAE step measures how much gradient the encoder gets from each term of its loss, so that switching the
reparameterization trick off shows the reconstruction term's share drop to exactly 0 while the KL's remains.

A bench or a test drives it with `engine.runtime.train`; a live `VaeJob` runs it in its thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.cnn.data import load_digits
from engine.cnn.model import initialize
from engine.common.seeding import stream
from engine.diffusion.quality import DigitJudge
from engine.generative.data import PointSet
from engine.generative.vae import DEFAULT_HYPERPARAMETERS, Autoencoder, Vae, VaeConfig, check_hyperparameters
from engine.generative.vae_visuals import LatentPlane, VaeVisuals, grid
from engine.runtime import Job, Trainer

TRAIN_POINTS, HELD_OUT_POINTS = 2000, 500
ACTIVE_UNIT_VARIANCE = 0.01  # a latent unit is active when Cov_x(E[z|x]) exceeds this (Burda et al. 2016)
GRID_SIDE, PRIOR_EXTENT = 15, 3.0  # the manifold: a 15 × 15 grid over [-3, 3]² of the latent plane
SHOWN, INTERPOLATION = 10, 10  # reconstructions shown (digits), points on the interpolation
PRIOR_SAMPLES = {"digits": 64, "points": 500}
EXAMPLE_SAMPLES = 64  # samples of z averaged in the chosen example's reconstruction term
COVERED_SHARE = 0.01  # a digit class is covered when the judge puts at least 1% of the prior samples in it


@dataclass(frozen=True)
class VaeData:
    """Training and held-out examples, flat: (N, 64) pixels in [0, 1] or (N, 2) points; digits' classes."""

    train_x: torch.Tensor
    test_x: torch.Tensor
    train_y: torch.Tensor | None
    test_y: torch.Tensor | None

    def to(self, device: torch.device) -> VaeData:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return VaeData(move(self.train_x), move(self.test_x), move(self.train_y), move(self.test_y))


def load_data(config: VaeConfig, generator: torch.Generator) -> VaeData:
    """Digits: scikit-learn's, 20% held out (engine.cnn.data). Points: 2,000 drawn once to train on, 500 more."""
    if config.data == "digits":
        digits = load_digits(generator)
        return VaeData(digits.train_x.flatten(1), digits.test_x.flatten(1), digits.train_y, digits.test_y)
    points = PointSet(config.data, config.word).draw(TRAIN_POINTS + HELD_OUT_POINTS, generator)
    return VaeData(points[:TRAIN_POINTS], points[TRAIN_POINTS:], None, None)


def _norm(gradients: list[torch.Tensor]) -> float:
    return float(torch.stack([g.pow(2).sum() for g in gradients]).sum().sqrt())


class VaeTrainer(Trainer):
    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    def setup(self) -> None:
        config: VaeConfig = self.config
        self.data = load_data(config, stream(self.seed, "data")).to(self.device)
        self.vae = Vae(self.data.train_x.shape[1], config.latent, config.width, config.depth, config.likelihood)
        initialize(self.vae, stream(self.seed, "weights"))  # He-uniform weights, zero biases
        self.ae = Autoencoder.like(self.vae) if config.autoencoder else None
        self.networks = {name: net.to(self.device) for name, net in (("vae", self.vae), ("ae", self.ae))
                         if net is not None}
        self.optimizers = {name: torch.optim.Adam(net.parameters(), lr=self.hp["lr"])
                           for name, net in self.networks.items()}
        self.rng = stream(self.seed, "batches")
        self.noise = stream(self.seed, "noise")  # the eps of z's samples while training
        self.apply_hyperparameters(self.hp)
        self._judge: DigitJudge | None = None

    @property
    def epoch(self) -> float:
        return self.steps_done * self.hp["batch_size"] / len(self.data.train_x)

    CHECKPOINTED = ("networks", "optimizers", "rng", "noise")

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        check_hyperparameters(changes)
        held_out = len(self.data.test_x)
        for name in ("example_a", "example_b"):
            if name in changes and changes[name] >= held_out:
                raise ValueError(f"there are {held_out} held-out examples (0 to {held_out - 1}); {name} "
                                 f"{changes[name]} is not one of them")
        if "lr" in changes:
            for optimizer in self.optimizers.values():
                for group in optimizer.param_groups:
                    group["lr"] = float(changes["lr"])

    def train_step(self) -> dict[str, float]:
        index = torch.randint(0, len(self.data.train_x), (int(self.hp["batch_size"]),), generator=self.rng)
        x = self.data.train_x[index.to(self.device)]
        beta = float(self.hp["beta"])
        terms = self.vae.terms(x, self.noise, bool(self.hp["reparameterize"]))
        recon, kl = terms.recon.mean(), terms.kl.mean()
        encoder, decoder = list(self.vae.encoder.parameters()), list(self.vae.decoder.parameters())
        # The two terms' gradients apart (None: the term does not reach that parameter), then their sum is the
        # update: the same gradient as (recon + beta * kl).backward(), with each term's share measured.
        from_recon = torch.autograd.grad(recon, encoder + decoder, retain_graph=True, allow_unused=True)
        from_kl = torch.autograd.grad(beta * kl, encoder, allow_unused=True)
        zero = torch.zeros_like
        recon_enc = [zero(p) if g is None else g for p, g in zip(encoder, from_recon[:len(encoder)])]
        kl_enc = [zero(p) if g is None else g for p, g in zip(encoder, from_kl)]
        for p, g_recon, g_kl in zip(encoder, recon_enc, kl_enc):
            p.grad = g_recon + g_kl
        for p, g in zip(decoder, from_recon[len(encoder):]):
            p.grad = zero(p) if g is None else g
        self.optimizers["vae"].step()
        metrics = {"loss": (recon + beta * kl).item(), "recon": recon.item(), "kl": kl.item(),
                   "encoder_grad_recon": _norm(recon_enc), "encoder_grad_kl": _norm(kl_enc)}
        if self.ae is not None:
            ae_loss = self.ae.reconstruction(x).mean()
            self.optimizers["ae"].zero_grad(set_to_none=True)
            ae_loss.backward()
            self.optimizers["ae"].step()
            metrics["ae_loss"] = ae_loss.item()
        return metrics

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        return (f"The {name} became {value} at step {step}: the learning rate {self.hp['lr']:g} is too large. "
                "Lower it (1e-4 to 3e-3 suits these networks with Adam) and press Reset.")

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Held-out terms per example, with beta = 1 (the negative ELBO, a bound), and the active units."""
        terms = self.vae.terms(self.data.test_x, stream(self.seed, "evaluate"))  # the same eps at every step
        recon, kl = float(terms.recon.mean()), float(terms.kl.mean())
        metrics = {"test_recon": recon, "test_kl": kl, "test_neg_elbo": recon + kl,
                   "active_units": float((terms.mu.var(dim=0) > ACTIVE_UNIT_VARIANCE).sum())}
        if self.ae is not None:
            metrics["ae_test_recon"] = float(self.ae.reconstruction(self.data.test_x).mean())
        return metrics

    # ------------------------------------------------------------- what the page inspects
    @torch.no_grad()
    def observe(self) -> VaeVisuals:
        vae, ae, test_x = self.vae, self.ae, self.data.test_x
        digits = self.config.data == "digits"
        a, b = (min(int(self.hp[name]), len(test_x) - 1) for name in ("example_a", "example_b"))
        mu, log_var = vae.encode(test_x)
        plane = LatentPlane.fit(mu)
        shown = (slice(0, SHOWN) if digits else slice(None))
        prior = torch.randn(PRIOR_SAMPLES["digits" if digits else "points"], vae.latent,
                            generator=stream(self.seed, "prior")).to(self.device)  # the same z at every step
        # The chosen example's terms, its reconstruction term averaged over samples of z.
        x_a = test_x[a:a + 1].expand(EXAMPLE_SAMPLES, -1)
        example = vae.terms(x_a, stream(self.seed, "example"))
        along = torch.linspace(0, 1, INTERPOLATION, device=self.device).unsqueeze(1)
        segment = mu[a] + along * (mu[b] - mu[a])
        ticks = np.array([[-PRIOR_EXTENT, PRIOR_EXTENT]] * 2)
        manifold_z = plane.lift(grid(ticks[:, 0], ticks[:, 1], GRID_SIDE).to(self.device))
        ae_parts: dict[str, Any] = dict.fromkeys(("ae_latent", "ae_manifold", "ae_manifold_range",
                                                  "ae_reconstructions", "ae_prior_samples"))
        if ae is not None:
            codes = ae.encode(test_x)
            ae_plane = LatentPlane.fit(codes, through_mean=True)
            shown_codes = ae_plane.coordinates(codes)
            ae_range = np.stack([shown_codes.min(0).values.cpu().numpy(), shown_codes.max(0).values.cpu().numpy()],
                                axis=1)
            ae_z = ae_plane.lift(grid(ae_range[:, 0], ae_range[:, 1], GRID_SIDE).to(self.device))
            ae_parts = {"ae_latent": _np(shown_codes), "ae_manifold_range": ae_range,
                        "ae_manifold": self._pictures(ae.decode_mean(ae_z), grid_of=GRID_SIDE),
                        "ae_reconstructions": self._pictures(ae.decode_mean(codes[shown])),
                        "ae_prior_samples": self._pictures(ae.decode_mean(prior))}
        return VaeVisuals(
            data=self.config.data, likelihood=self.config.likelihood, latent=vae.latent, projected=plane.projected,
            latent_means=_np(plane.coordinates(mu)),
            labels=None if self.data.test_y is None else self.data.test_y.cpu().numpy(),
            example_a=a, example_b=b, posterior_mean=_np(plane.coordinates(mu[a])),
            posterior_std=_np(plane.std(log_var[a])),
            example_recon=float(example.recon.mean()), example_kl=float(example.kl[0]),
            manifold=self._pictures(vae.decode_mean(manifold_z), grid_of=GRID_SIDE), manifold_range=ticks,
            inputs=self._pictures(test_x[shown]), reconstructions=self._pictures(vae.decode_mean(mu[shown])),
            prior_samples=self._pictures(vae.decode_mean(prior)),
            interpolation=self._pictures(vae.decode_mean(segment)),
            interpolation_latent=_np(plane.coordinates(segment)), **ae_parts)

    def _pictures(self, means: torch.Tensor, grid_of: int | None = None) -> np.ndarray:
        """Decoded means as the page draws them: digits as (n, 8, 8) images, or (g, g, 8, 8) for a grid."""
        if self.config.data != "digits":
            return _np(means)
        images = _np(means).reshape(-1, 8, 8)
        return images if grid_of is None else images.reshape(grid_of, grid_of, 8, 8)

    # ------------------------------------------------------------- the bench's measure
    def judge(self) -> DigitJudge:
        """The Diffusion page's logistic-regression judge, fitted once on this run's training digits."""
        if self.config.data != "digits":
            raise ValueError("the digit judge scores digits; this VAE learns 2-D points")
        if self._judge is None:
            self._judge = DigitJudge().fit((16 * self.data.train_x).cpu(), self.data.train_y.cpu())
        return self._judge


@dataclass(frozen=True)
class PriorSampleScores:
    """The judge on decoded prior samples (z ~ N(0, I)) of the VAE and of the autoencoder, and on real digits."""

    vae_confidence: float  # mean probability of the judge's top class
    ae_confidence: float | None  # None without an autoencoder
    real_confidence: float  # on the held-out digits
    vae_shares: np.ndarray  # (10,) share of the VAE's samples the judge puts in each class
    ae_shares: np.ndarray | None
    classes_covered: int  # classes holding >= COVERED_SHARE of the VAE's samples
    max_share: float


@torch.no_grad()
def prior_sample_scores(trainer: VaeTrainer, n: int = 1000,
                        generator: torch.Generator | None = None) -> PriorSampleScores:
    """Decode `n` prior samples (the Bernoulli means, as grey levels 0..16) of both networks and judge them."""
    judge = trainer.judge()
    z = torch.randn(n, trainer.vae.latent, generator=generator or stream(trainer.seed, "judge")).to(trainer.device)
    vae_pixels = (16 * trainer.vae.decode_mean(z)).cpu()
    ae_pixels = None if trainer.ae is None else (16 * trainer.ae.decode_mean(z)).cpu()
    shares = judge.class_shares(vae_pixels)
    return PriorSampleScores(
        vae_confidence=judge.confidence(vae_pixels),
        ae_confidence=None if ae_pixels is None else judge.confidence(ae_pixels),
        real_confidence=judge.confidence((16 * trainer.data.test_x).cpu()), vae_shares=shares,
        ae_shares=None if ae_pixels is None else judge.class_shares(ae_pixels),
        classes_covered=int((shares >= COVERED_SHARE).sum()), max_share=float(shares.max()))


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


class VaeJob(Job):
    """A VAE (and its plain-autoencoder twin) learning live."""

    trainer_type = VaeTrainer
    trainer: VaeTrainer

    def __init__(self, config: VaeConfig | None = None, hyperparameters: dict[str, Any] | None = None,
                 **kwargs: Any):
        super().__init__(config or VaeConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)
