"""A GAN on 2-D points: the generator and discriminator MLPs and the three losses of course note 003.

The discriminator outputs a logit a(x); D(x) = sigmoid(a(x)) is its probability that x is real. With r the
target for real points (1, or 1 - s under one-sided label smoothing s):

- minimax (Goodfellow et al. 2014): D maximizes E[log D(x)] + E[log(1 - D(G(z)))]; G minimizes
  E[log(1 - D(G(z)))], whose gradient vanishes exactly when D confidently rejects the fakes.
- non-saturating: D as above; G maximizes E[log D(G(z))] instead: the same fixed point, strong gradients early.
- least squares (Mao et al. 2017): D minimizes ½E[(a(x) - r)²] + ½E[a(G(z))²] on its raw output; G minimizes
  ½E[(a(G(z)) - 1)²]. Here D(x) is shown as the output clipped to [0, 1].
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

LOSSES = ("minimax", "non_saturating", "least_squares")
LOSS_LABELS = {"minimax": "Minimax (saturating)", "non_saturating": "Non-saturating",
               "least_squares": "Least squares"}


def discriminator_loss(loss: str, real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       smoothing: float = 0.0) -> torch.Tensor:
    """D's loss (to minimize) on a batch of real and of generated points' outputs."""
    target = 1.0 - smoothing  # one-sided: only the real label is softened (Salimans et al. 2016)
    if loss == "least_squares":
        return 0.5 * ((real_logits - target) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()
    if loss not in LOSSES:
        raise ValueError(f"unknown GAN loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, target))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(loss: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """G's loss (to minimize) on the discriminator's outputs for generated points."""
    if loss == "minimax":
        # log(1 - D) = -softplus(a): minimizing it pushes D(G(z)) up, with gradient D(G(z)) -> 0 as D wins.
        return -F.softplus(fake_logits).mean()
    if loss == "non_saturating":
        return F.softplus(-fake_logits).mean()  # -log D(G(z))
    if loss == "least_squares":
        return 0.5 * ((fake_logits - 1.0) ** 2).mean()
    raise ValueError(f"unknown GAN loss {loss!r}; choose one of {', '.join(LOSSES)}")


def probability_real(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """D(x) as the page shows it: sigmoid of the logit, or the least-squares output clipped to [0, 1]."""
    return logits.clamp(0.0, 1.0) if loss == "least_squares" else torch.sigmoid(logits)
