"""Denoising diffusion (DDPM) on 2-D point sets and 8x8 digits: schedules, forward process,
ε-prediction networks, training, DDPM and DDIM samplers, and the learned noise field.

Notation (Ho et al. 2020): timesteps t = 1..T with β_t the noise added at step t,
α_t = 1 − β_t and ᾱ_t = α_1 ⋯ α_t, so the forward process has the closed form
x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε. Tensors of the schedule have T + 1 entries and
index 0 is t = 0 (β_0 = 0, ᾱ_0 = 1), so "t − 1" is always a valid index.

`DiffusionTrainer` is the whole experiment as plain objects: a bench drives it
in a loop, a live `engine.runtime.Job` calls its `train_step` from its thread.
Every random draw takes an explicit `torch.Generator`, never torch's global
RNG, so a seed reproduces a run even while other jobs train in other threads.
Draws are made on the CPU and moved to the device, so a seed gives the same
run on any device up to floating-point rounding.
"""

from __future__ import annotations

import copy
import math
import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Collection

import torch
from torch import nn

from engine.diffusion_data import (DATASETS, DIGIT_MAX_VALUE, POINT_SETS, DigitsData, PointData, check_word,
                                   load_digits, load_points)
from engine.common.limits import LIMITS, ConfigError, check, problem
from engine.sample_quality import QUALITY_SAMPLE_SIZE, DigitJudge, PointQualityReference

SCHEDULES = ("linear", "cosine")
SAMPLERS = ("ddpm", "ddim")
SCHEDULE_FORMULAS = {
    "linear": r"\beta_t = \beta_{\min} + (\beta_{\max} - \beta_{\min})\,\frac{t-1}{T-1}",
    "cosine": r"\bar\alpha_t = \frac{f(t)}{f(0)},\; f(t) = \cos^2\!\Big(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\Big)",
}
COSINE_OFFSET = 0.008  # s in the cosine schedule (Nichol & Dhariwal 2021)
COSINE_MAX_BETA = 0.999  # their clip, so that β_T is not exactly 1
PRIOR_ALPHA_BAR_LIMIT = 0.01  # above this, x_T keeps more than 10 % of the data's signal
EncodedEpsilon = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> predicted ε

MIN_T, MAX_T = int(LIMITS["diffusion.T"].low), int(LIMITS["diffusion.T"].high)


# --------------------------------------------------------------------------- schedule
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
    if kind not in SCHEDULES:
        problems.append(f"unknown noise schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
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


# --------------------------------------------------------------------------- samplers
def ddpm_step(schedule: NoiseSchedule, x_t: torch.Tensor, t: int, eps: torch.Tensor, generator: torch.Generator,
              clip: tuple[float, float] | None = None) -> torch.Tensor:
    """One ancestral step x_t -> x_{t−1} ~ N(μ̃_t(x_t, x̂_0), β̃_t I), x̂_0 from the predicted noise.

    With no clipping the mean equals 1/√α_t · (x_t − β_t / √(1−ᾱ_t) · ε̂). At t = 1
    the variance is 0 and the step returns the mean.
    """
    x0 = schedule.predict_x0(x_t, t, eps)
    if clip is not None:
        x0 = x0.clamp(*clip)
    mean, variance = schedule.posterior(x0, x_t, t)
    if variance == 0.0:
        return mean
    z = torch.randn(x_t.shape, generator=generator).to(device=x_t.device, dtype=x_t.dtype)
    return mean + math.sqrt(variance) * z


def ddim_step(schedule: NoiseSchedule, x_t: torch.Tensor, t: int, t_prev: int, eps: torch.Tensor, eta: float = 0.0,
              generator: torch.Generator | None = None, clip: tuple[float, float] | None = None) -> torch.Tensor:
    """One DDIM step x_t -> x_{t_prev} (Song et al. 2021, eq. 12); deterministic when eta = 0.

    x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε̂ + σ z, with
    σ = eta · √((1 − ᾱ_prev) / (1 − ᾱ_t)) · √(1 − ᾱ_t / ᾱ_prev); eta = 1 is DDPM-like.
    """
    x0 = schedule.predict_x0(x_t, t, eps)
    if clip is not None:
        x0 = x0.clamp(*clip)
        eps = (x_t - math.sqrt(float(schedule.alpha_bars[t])) * x0) / math.sqrt(1.0 - float(schedule.alpha_bars[t]))
    alpha_bar, alpha_bar_prev = float(schedule.alpha_bars[t]), float(schedule.alpha_bars[t_prev])
    sigma = eta * math.sqrt((1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * (1.0 - alpha_bar / alpha_bar_prev))
    x_prev = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(max(0.0, 1.0 - alpha_bar_prev - sigma**2)) * eps
    if sigma > 0.0:
        if generator is None:
            raise ValueError("a stochastic DDIM step (eta > 0) needs a generator")
        x_prev = x_prev + sigma * torch.randn(x_t.shape, generator=generator).to(device=x_t.device, dtype=x_t.dtype)
    return x_prev


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """The S = `steps` timesteps DDIM visits, from T down, evenly spaced; the last jump goes to t = 0."""
    if not 1 <= steps <= T:
        raise ValueError(f"DDIM needs between 1 and T = {T} steps, not {steps}")
    return sorted({round(i * T / steps) for i in range(1, steps + 1)}, reverse=True)


@dataclass(frozen=True)
class SamplePath:
    """Samples and, when asked for, frames of the reverse process from x_T to x_0 (standardized units)."""

    samples: torch.Tensor  # (n, d)
    frames: torch.Tensor | None  # (k, n, d): frames[0] is the N(0, I) start, frames[-1] the samples
    frame_t: list[int]  # the t of each frame (T first, 0 last)
    sampler: str
    network_evaluations: int


def _frame_marks(n_states: int, frames: int) -> set[int]:
    if frames <= 0:
        return set()
    if frames >= n_states:
        return set(range(n_states))
    return {round(i * (n_states - 1) / (frames - 1)) for i in range(frames)} if frames > 1 else {n_states - 1}


def sample(schedule: NoiseSchedule, eps_fn: EncodedEpsilon, x_T: torch.Tensor, sampler: str = "ddpm",
           steps: int | None = None, eta: float = 0.0, generator: torch.Generator | None = None,
           frames: int = 0, clip: tuple[float, float] | None = None,
           frame_times: Collection[int] | None = None) -> SamplePath:
    """Run the reverse process from `x_T` with a noise predictor `eps_fn(x, t)`.

    sampler "ddpm": all T ancestral steps (needs a generator). "ddim": `steps`
    deterministic steps (eta = 0) or stochastic ones (eta > 0). `frames` > 0
    keeps that many evenly spaced states, start and end included, for animation;
    `frame_times` instead keeps the states at those t the sampler visits (so a
    DDPM chain can be shown at the very t a DDIM run stops at).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if sampler == "ddpm":
        if generator is None:
            raise ValueError("DDPM sampling is stochastic and needs a generator")
        times = list(range(schedule.T, 0, -1))
    else:
        times = ddim_timesteps(schedule.T, steps or schedule.T)
    visited = times + [0]
    if frame_times is not None:
        wanted = set(frame_times)
        marks = {index for index, t in enumerate(visited) if t in wanted}
    else:
        marks = _frame_marks(len(visited), frames)
    kept, kept_t = [], []
    x = x_T
    for index, t in enumerate(times):
        if index in marks:
            kept.append(x.detach().cpu().clone())
            kept_t.append(t)
        t_batch = torch.full((len(x),), t, dtype=torch.long, device=x.device)
        eps = eps_fn(x, t_batch)
        if sampler == "ddpm":
            x = ddpm_step(schedule, x, t, eps, generator, clip)
        else:
            x = ddim_step(schedule, x, t, visited[index + 1], eps, eta, generator, clip)
    if len(visited) - 1 in marks:
        kept.append(x.detach().cpu().clone())
        kept_t.append(0)
    return SamplePath(x, torch.stack(kept) if kept else None, kept_t, sampler, len(times))


# --------------------------------------------------------------------------- networks
class SinusoidalEmbedding(nn.Module):
    """t -> [sin(s·f_k), cos(s·f_k)] with s = 1000·t/T, so one network layout suits any T."""

    def __init__(self, dim: int, T: int, max_period: float = 10_000.0):
        super().__init__()
        half = dim // 2
        self.register_buffer("frequencies", torch.exp(-math.log(max_period) * torch.arange(half) / half),
                             persistent=False)
        self.T = T

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = (1000.0 / self.T) * t.float()[:, None] * self.frequencies[None, :]
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class ResidualBlock(nn.Module):
    """h + W₂ · SiLU(W₁ · SiLU(LayerNorm(h)) + time projection)."""

    def __init__(self, width: int, time_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner = nn.Linear(width, width)
        self.time = nn.Linear(time_dim, width)
        self.outer = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        inner = nn.functional.silu(self.inner(nn.functional.silu(self.norm(h))) + self.time(time))
        return h + self.outer(inner)


class EpsilonNetwork(nn.Module):
    """ε̂(x_t, t): an MLP of residual blocks, each told t through a sinusoidal embedding."""

    def __init__(self, data_dim: int, width: int, depth: int, T: int, time_dim: int = 64):
        super().__init__()
        self.embed_time = nn.Sequential(SinusoidalEmbedding(time_dim, T), nn.Linear(time_dim, time_dim), nn.SiLU())
        self.inp = nn.Linear(data_dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, time_dim) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, data_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        time = self.embed_time(t)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, time)
        return self.out(nn.functional.silu(self.norm(h)))


def initialize(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Linear initialization, but drawn from `generator` instead of the global RNG."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


# --------------------------------------------------------------------------- experiment
@dataclass(frozen=True)
class DiffusionConfig:
    """Everything that defines a diffusion experiment; plain data, so it fits in a URL."""

    dataset: str = "moons"
    n_points: int = 8000  # size of the training set (point sets)
    noise: float | None = None  # jitter of the point set in its own units; None = the shape's default
    word: str = "Gradscape"
    schedule: str = "linear"
    T: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    width: int = 64
    depth: int = 3  # residual blocks
    lr: float = 3e-3
    lr_warmup_steps: int = 200
    lr_decay_steps: int = 6000  # cosine decay to lr_final_fraction·lr by this step, then constant; 0: none
    lr_final_fraction: float = 0.05
    batch_size: int = 256
    ema_decay: float = 0.998  # the weights used for sampling are an exponential moving average
    sampler: str = "ddim"
    sampler_steps: int = 50
    seed: int = 0

    @property
    def is_digits(self) -> bool:
        return self.dataset == "digits"

    def problems(self) -> list[str]:
        """Every reason this config cannot run, each naming the allowed range; empty when it is fine."""
        problems = []
        if self.dataset not in DATASETS:
            problems.append(f"unknown data set {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        sizes = {"diffusion.width": self.width, "diffusion.depth": self.depth, "diffusion.lr": self.lr,
                 "diffusion.batch_size": self.batch_size}
        if self.dataset in POINT_SETS:
            sizes["diffusion.points"] = self.n_points
            if self.noise is not None:
                sizes["diffusion.noise"] = self.noise
        if self.dataset == "word":
            try:
                check_word(self.word)
            except ValueError as error:
                problems.append(str(error))
        problems += schedule_problems(self.schedule, self.T, self.beta_start, self.beta_end)
        problems += filter(None, (problem(name, value) for name, value in sizes.items()))
        if self.lr_warmup_steps < 0 or self.lr_decay_steps < 0:
            problems.append("warm-up and decay lengths cannot be negative")
        if not 0.0 <= self.lr_final_fraction <= 1.0:
            problems.append(f"the final learning-rate fraction must be between 0 and 1, not {self.lr_final_fraction:g}")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.append(f"the EMA decay must be in [0, 1), not {self.ema_decay:g}")
        if self.sampler not in SAMPLERS:
            problems.append(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if isinstance(self.T, int) and not 1 <= self.sampler_steps <= max(1, self.T):
            problems.append(f"DDIM steps must be between 1 and T = {self.T}, not {self.sampler_steps}")
        if not 0 <= self.seed < 2**63:
            problems.append(f"the seed must be a non-negative integer below 2^63, not {self.seed}")
        return problems

    def validated(self) -> "DiffusionConfig":
        """This config, or a ConfigError listing every problem."""
        problems = self.problems()
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    def to_dict(self) -> dict:
        return asdict(self)


# Tuned on CPU with bench/diffusion.py: these reach the quality targets within its step caps
# (6,000 steps for point sets, 10,000 for digits) at a few milliseconds per step.
DIGITS_DEFAULTS = dict(width=256, depth=2, lr=2e-3, lr_decay_steps=10_000, batch_size=128, ema_decay=0.999)


def default_config(dataset: str = "moons", **overrides) -> DiffusionConfig:
    """The tuned defaults for a data set (the digits want a wider network), with `overrides` applied."""
    base = DiffusionConfig(dataset=dataset)
    if dataset == "digits":
        base = replace(base, **DIGITS_DEFAULTS)
    return replace(base, **overrides).validated()


def _stream(seed: int, name: str) -> torch.Generator:
    """An independent generator per purpose (data, weights, batches, ...), all from one seed."""
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63)


@dataclass(frozen=True)
class NoiseField:
    """ε̂ on a grid at one t, and the score it implies, ∇ log q(x_t) ≈ −ε̂ / √(1−ᾱ_t)."""

    t: int
    xs: torch.Tensor  # (r,)
    ys: torch.Tensor  # (r,)
    eps: torch.Tensor  # (r, r, 2): eps[i, j] at (xs[j], ys[i])
    score: torch.Tensor  # (r, r, 2)


class DiffusionTrainer:
    """One diffusion experiment: data, schedule, ε-network (+ EMA copy), optimizer, and its samplers."""

    def __init__(self, config: DiffusionConfig, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu"):
        self.config = config.validated()
        self.device = torch.device(device)
        self.schedule = make_schedule(config.schedule, config.T, config.beta_start, config.beta_end)
        data_rng = _stream(config.seed, "data")
        if config.is_digits:
            self.data: PointData | DigitsData = load_digits(data_rng)
        else:
            self.data = load_points(config.dataset, config.n_points, data_rng, config.noise, config.word)
        self.train_data = self.data.train.to(self.device)
        self.network = EpsilonNetwork(self.data.dim, config.width, config.depth, config.T)
        initialize(self.network, _stream(config.seed, "weights"))
        self.network.to(self.device)
        self.ema_network = copy.deepcopy(self.network).requires_grad_(False)
        # The fused kernel updates all parameters in one pass; the default per-tensor loop took ~25 % of a
        # CPU step for these small networks.
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {"foreach": True}
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.lr, **fused)
        self.generator = generator if generator is not None else _stream(config.seed, "training")
        self.base_lr = config.lr
        self.batch_size = config.batch_size
        self.steps_done = 0
        self._quality_reference: PointQualityReference | None = None
        self._judge: DigitJudge | None = None

    # ------------------------------------------------------------- training
    @property
    def epoch(self) -> float:
        return self.steps_done * self.batch_size / len(self.train_data)

    @property
    def clip_range(self) -> tuple[float, float] | None:
        """For digits, x̂_0 is clipped to the standardized pixel range 0..16, as DDPM clips images to [−1, 1]."""
        if not isinstance(self.data, DigitsData):
            return None
        low, high = self.data.standardizer.apply(torch.tensor([0.0, DIGIT_MAX_VALUE], dtype=torch.float64))
        return float(low), float(high)

    def learning_rate(self, step: int | None = None) -> float:
        """Linear warm-up, then constant or a cosine decay to lr_final_fraction of the base rate."""
        step = self.steps_done if step is None else step
        config = self.config
        if step < config.lr_warmup_steps:
            return self.base_lr * (step + 1) / config.lr_warmup_steps
        if not config.lr_decay_steps:
            return self.base_lr
        progress = min(1.0, (step - config.lr_warmup_steps) / max(1, config.lr_decay_steps - config.lr_warmup_steps))
        final = config.lr_final_fraction
        return self.base_lr * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress)))

    def set_learning_rate(self, lr: float) -> None:
        check("diffusion.lr", lr)
        self.base_lr = float(lr)

    def set_batch_size(self, batch_size: int) -> None:
        check("diffusion.batch_size", batch_size)
        self.batch_size = int(batch_size)

    def train_step(self) -> dict[str, float]:
        """One minibatch of the simple DDPM loss E‖ε − ε̂(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖², t ~ U{1..T}."""
        n = self.batch_size
        index = torch.randint(0, len(self.train_data), (n,), generator=self.generator)
        t = torch.randint(1, self.schedule.T + 1, (n,), generator=self.generator)
        noise = torch.randn((n, self.data.dim), generator=self.generator).to(self.device)
        x0 = self.train_data[index.to(self.device)]
        t = t.to(self.device)
        x_t = self.schedule.q_sample(x0, t, noise)
        loss = nn.functional.mse_loss(self.network(x_t, t), noise)
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps_done += 1
        self._update_ema()
        return {"loss": loss.item(), "lr": lr}

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up of the average (as in TensorFlow's ExponentialMovingAverage with num_updates), so that
        # early samples already follow the network instead of its random initialization.
        decay = min(self.config.ema_decay, (1 + self.steps_done) / (10 + self.steps_done))
        torch._foreach_lerp_(list(self.ema_network.parameters()), list(self.network.parameters()), 1.0 - decay)

    # ------------------------------------------------------------- sampling
    def predictor(self, use_ema: bool = True) -> EncodedEpsilon:
        network = self.ema_network if use_ema else self.network

        def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return network(x, t)
        return eps_fn

    @torch.no_grad()
    def sample(self, n: int, sampler: str | None = None, steps: int | None = None, eta: float = 0.0,
               generator: torch.Generator | None = None, frames: int = 0, use_ema: bool = True,
               x_T: torch.Tensor | None = None, frame_times: Collection[int] | None = None) -> SamplePath:
        """Draw `n` samples (standardized units) with DDPM (T steps) or DDIM (`steps`, default the config's).

        Passing the same `x_T` to both samplers shows them side by side from one start.
        """
        sampler = sampler or self.config.sampler
        generator = generator if generator is not None else _stream(self.config.seed + self.steps_done, "sampling")
        if x_T is None:
            x_T = torch.randn((n, self.data.dim), generator=generator)
        steps = steps or self.config.sampler_steps
        was_training = self.network.training
        self.network.eval()
        try:
            return sample(self.schedule, self.predictor(use_ema), x_T.to(self.device), sampler, steps, eta,
                          generator, frames, self.clip_range, frame_times)
        finally:
            self.network.train(was_training)

    @torch.no_grad()
    def noise_field(self, t: int, extent: tuple[float, float, float, float] = (-3.0, 3.0, -3.0, 3.0),
                    resolution: int = 21, use_ema: bool = True) -> NoiseField:
        """The predicted noise and score on a resolution x resolution grid at timestep t (point sets only)."""
        if self.data.dim != 2:
            raise ValueError("the noise field is drawn for 2-D point sets only")
        if not 1 <= t <= self.schedule.T:
            raise ValueError(f"t must be between 1 and T = {self.schedule.T}, not {t}")
        xs = torch.linspace(extent[0], extent[1], resolution)
        ys = torch.linspace(extent[2], extent[3], resolution)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1).to(self.device)
        network = self.ema_network if use_ema else self.network
        eps = network(points, torch.full((len(points),), t, dtype=torch.long, device=self.device)).cpu()
        score = -eps / math.sqrt(1.0 - float(self.schedule.alpha_bars[t]))
        return NoiseField(t, xs, ys, eps.reshape(resolution, resolution, 2), score.reshape(resolution, resolution, 2))

    def forward_process(self, t: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """x_t ~ q(x_t | x_0) for every training point (standardized units)."""
        if not 0 <= t <= self.schedule.T:
            raise ValueError(f"t must be between 0 and T = {self.schedule.T}, not {t}")
        generator = generator if generator is not None else _stream(self.config.seed + t, "forward")
        noise = torch.randn(self.data.train.shape, generator=generator)
        return self.schedule.q_sample(self.data.train, t, noise)

    # ------------------------------------------------------------- quality
    def quality_reference(self, repeats: int = 1, interrupt: Callable[[], None] | None = None
                          ) -> PointQualityReference:
        """Fresh held-out samples of the data (never trained on) with the floors and ceilings they give.

        `repeats` independent 2,000-point reference sets; scoring k·2,000 samples averages k comparisons.
        `interrupt` is called between comparisons (it may raise to abandon the measurement).
        """
        if not isinstance(self.data, PointData):
            raise ValueError("MMD and energy distance are measured on point sets; digits use the judge")
        if self._quality_reference is None or self._quality_reference.repeats < repeats:
            self._quality_reference = PointQualityReference.measure(
                self.data.draw, _stream(self.config.seed, "held-out"), repeats, QUALITY_SAMPLE_SIZE,
                interrupt=interrupt)
        return self._quality_reference

    def judge(self) -> DigitJudge:
        """The logistic-regression judge trained on the training digits (the held-out digits are its test)."""
        if not isinstance(self.data, DigitsData):
            raise ValueError("the judge scores digits only")
        if self._judge is None:
            pixels = self.data.standardizer.invert(self.data.train)
            self._judge = DigitJudge().fit(pixels, self.data.train_labels)
        return self._judge

    def real_digit_confidence(self) -> float:
        """The judge's mean top-class probability on real held-out digits: what samples should approach."""
        data = self.data
        return self.judge().confidence(data.to_pixels(data.test))

    def quality(self, samples: torch.Tensor) -> dict[str, float]:
        """Point sets: raw and normalized MMD² and energy distance (one comparison per 2,000 samples,
        up to the reference's repeats); digits: judge confidence."""
        samples = samples.detach().cpu().float()
        if isinstance(self.data, DigitsData):
            if not bool(torch.isfinite(samples).all()):
                return {"judge_confidence": float("nan")}
            return {"judge_confidence": self.judge().confidence(self.data.to_pixels(samples))}
        return self.quality_reference(max(1, len(samples) // QUALITY_SAMPLE_SIZE)).score(samples)
