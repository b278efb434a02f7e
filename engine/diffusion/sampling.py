"""The reverse process of a diffusion model: DDPM's ancestral steps and DDIM's deterministic jumps.

Every random draw takes an explicit `torch.Generator`, made on the CPU and moved to the device, so a seed
gives the same chain on any device up to floating-point rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Collection

import torch

from engine.diffusion.noise_schedule import NoiseSchedule

SAMPLERS = ("ddpm", "ddim")
EncodedEpsilon = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> predicted ε


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
