"""Noise schedules of denoising diffusion (DDPM): β_t, α_t and ᾱ_t, and the forward process they define.

Notation (Ho et al. 2020): timesteps t = 1..T with β_t the noise added at step t,
α_t = 1 − β_t and ᾱ_t = α_1 ⋯ α_t, so the forward process has the closed form
x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε. Tensors of the schedule have T + 1 entries and
index 0 is t = 0 (β_0 = 0, ᾱ_0 = 1), so "t − 1" is always a valid index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from engine.common.limits import LIMITS, ConfigError, problem

NOISE_SCHEDULES = ("linear", "cosine")
SCHEDULE_FORMULAS = {
    "linear": r"\beta_t = \beta_{\min} + (\beta_{\max} - \beta_{\min})\,\frac{t-1}{T-1}",
    "cosine": r"\bar\alpha_t = \frac{f(t)}{f(0)},\; f(t) = \cos^2\!\Big(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\Big)",
}
# What this page writes (Ho et al.) against course note 002 (Prince's book): same quantities, other letters.
# Rows: (this page, note 002, meaning), LaTeX in the first two; Markdown table cells, so no "|".
NOTATION = (
    (r"x_0,\ x_t", r"x,\ z_t", "a data point, and it noised for t steps"),
    (r"\alpha_t = 1 - \beta_t", r"1 - \beta_t", "the signal one forward step keeps"),
    (r"\bar\alpha_t = \alpha_1 \cdots \alpha_t", r"\alpha_t",
     "the signal t steps keep: x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε"),
    (r"\tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\,\beta_t", r"\sigma_t^2",
     r"the variance of $q(x_{t-1} \mid x_t, x_0)$, and of each DDPM sampling step here"),
    (r"\epsilon_\theta(x_t, t)", r"g_t[z_t, \phi_t]", "the network's estimate of the noise ε"),
)
COSINE_OFFSET = 0.008  # s in the cosine schedule (Nichol & Dhariwal 2021)
COSINE_MAX_BETA = 0.999  # their clip, so that β_T is not exactly 1
PRIOR_ALPHA_BAR_LIMIT = 0.01  # above this, x_T keeps more than 10 % of the data's signal

MIN_T, MAX_T = int(LIMITS["diffusion.T"].low), int(LIMITS["diffusion.T"].high)


@dataclass(frozen=True)
class NoiseSchedule:
    """β_t, α_t, ᾱ_t for t = 0..T (float64; index 0 is t = 0)."""

    kind: str
    T: int
    betas: torch.Tensor
    alpha_bars: torch.Tensor = field(init=False)

    def __post_init__(self):
        # ᾱ_t as the running product of α_s, s <= t (β_0 = 0 makes ᾱ_0 = 1).
        object.__setattr__(self, "alpha_bars", torch.cumprod(1.0 - self.betas, dim=0))

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t) (infinite at t = 0)."""
        return self.alpha_bars / (1.0 - self.alpha_bars)

    @property
    def alpha_bar_T(self) -> float:
        return float(self.alpha_bars[-1])

    @property
    def posterior_variances(self) -> torch.Tensor:
        """β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t, the variance of q(x_{t−1} | x_t, x_0); 0 at t = 0 and 1."""
        variances = torch.zeros_like(self.betas)
        variances[1:] = (1.0 - self.alpha_bars[:-1]) / (1.0 - self.alpha_bars[1:]) * self.betas[1:]
        return variances

    def prior_warning(self) -> str | None:
        """A warning when ᾱ_T is far from 0, i.e. x_T is not the N(0, I) the sampler starts from."""
        alpha_bar = self.alpha_bar_T
        if alpha_bar <= PRIOR_ALPHA_BAR_LIMIT:
            return None
        advice = "raise T or β_max" if self.kind == "linear" else "raise T"
        if self.kind == "linear":
            needed = beta_end_for(self.T, float(self.betas[1]))
            if needed is not None:
                advice = f"raise T, or raise β_max to at least {needed:.3g} for T = {self.T}"
        return (f"ᾱ_T = {alpha_bar:.3g} is far from 0: after the last forward step each point still keeps "
                f"√ᾱ_T = {math.sqrt(alpha_bar):.0%} of its data value, so x_T is not N(0, I) noise. Sampling starts "
                f"from N(0, I), which the network never saw at t = T, so samples come out distorted (typically "
                f"shrunk towards the centre). To bring ᾱ_T below {PRIOR_ALPHA_BAR_LIMIT:g}, {advice}.")

    def coefficients(self, t: torch.Tensor | int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(√ᾱ_t, √(1−ᾱ_t)) shaped to broadcast against `like` (n, ...)."""
        alpha_bar = self._gather(self.alpha_bars, t, like)
        return alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt()

    def _gather(self, values: torch.Tensor, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        picked = values[t] if isinstance(t, int) else values[t.cpu()]
        picked = picked.to(device=like.device, dtype=like.dtype)
        return picked.reshape(-1, *([1] * (like.dim() - 1))) if picked.dim() else picked

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε: a draw of q(x_t | x_0) given the noise ε."""
        signal, noise_scale = self.coefficients(t, x0)
        return signal * x0 + noise_scale * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor) -> torch.Tensor:
        """The x_0 that the forward formula and a given ε imply: (x_t − √(1−ᾱ_t) ε) / √ᾱ_t."""
        signal, noise_scale = self.coefficients(t, x_t)
        return (x_t - noise_scale * eps) / signal

    def posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, float]:
        """Mean and variance of q(x_{t−1} | x_t, x_0) for t >= 1."""
        beta, alpha_bar, alpha_bar_prev = float(self.betas[t]), float(self.alpha_bars[t]), float(self.alpha_bars[t - 1])
        mean = (math.sqrt(alpha_bar_prev) * beta / (1.0 - alpha_bar)) * x0 \
            + (math.sqrt(1.0 - beta) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)) * x_t
        return mean, float(self.posterior_variances[t])


def make_schedule(kind: str = "linear", T: int = 1000, beta_start: float = 1e-4,
                  beta_end: float = 0.02) -> NoiseSchedule:
    """The linear schedule of Ho et al. (β from beta_start to beta_end) or the cosine one of Nichol & Dhariwal."""
    problems = schedule_problems(kind, T, beta_start, beta_end)
    if problems:
        raise ConfigError("; ".join(problems))
    betas = torch.zeros(T + 1, dtype=torch.float64)
    if kind == "linear":
        betas[1:] = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    else:
        steps = torch.arange(T + 1, dtype=torch.float64)
        f = torch.cos((steps / T + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
        alpha_bars = f / f[0]
        betas[1:] = (1.0 - alpha_bars[1:] / alpha_bars[:-1]).clamp(max=COSINE_MAX_BETA)
    return NoiseSchedule(kind, T, betas)


def schedule_problems(kind: str, T: int, beta_start: float, beta_end: float) -> list[str]:
    problems = []
    if kind not in NOISE_SCHEDULES:
        problems.append(f"unknown noise schedule {kind!r}; choose one of {', '.join(NOISE_SCHEDULES)}")
    if not isinstance(T, int):
        problems.append(f"the number of diffusion steps T must be a whole number, not {T!r}")
    else:
        problems += filter(None, [problem("diffusion.T", T)])
    if kind == "linear":
        if not 0.0 < beta_start < 1.0:
            problems.append(f"β_min must lie strictly between 0 and 1, not {beta_start:g}")
        if not 0.0 < beta_end < 1.0:
            problems.append(f"β_max must lie strictly between 0 and 1, not {beta_end:g}")
        if beta_start > beta_end:
            problems.append(f"β_min ({beta_start:g}) must not exceed β_max ({beta_end:g})")
    return problems


def beta_end_for(T: int, beta_start: float, target_alpha_bar: float = 1e-4) -> float | None:
    """The β_max at which a linear schedule of T steps ends with ᾱ_T = target (None if no β_max < 1 does)."""
    def alpha_bar_T(beta_end: float) -> float:
        betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
        return float(torch.prod(1.0 - betas))

    low, high = beta_start, 0.999
    if alpha_bar_T(high) > target_alpha_bar:
        return None
    if alpha_bar_T(low) <= target_alpha_bar:
        return low
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if alpha_bar_T(middle) > target_alpha_bar else (low, middle)
    return high
