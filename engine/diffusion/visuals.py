"""What the Diffusion page draws, as typed frozen values of NumPy arrays (they pickle; no tensor of a live
model is in them): the fixed scene of a run and, once measured, the samples of one step's network.

`forward_sample` and `digit_images` turn those arrays into pictures without the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.diffusion.data import DIGIT_MAX_VALUE, DigitsData, PointData
from engine.diffusion.noise_schedule import NoiseSchedule

MAX_DATA_SHOWN = 5000  # training points sent to the page
DIGIT_STRIP = 6  # images in each denoising strip (and held-out digits shown going through the forward process)


@dataclass(frozen=True)
class ReverseProcess:
    """DDPM and DDIM from one x_T, kept at the same t, with the learned noise field at each t (point sets).

    Point sets: `ddpm` and `ddim` are (k, n, 2) points in standardized units. Digits: (k, n, 8, 8) images
    in [0, 1], the strips of a few digits denoising step by step.
    """

    frame_t: np.ndarray  # (k,) from T down to 0
    ddpm: np.ndarray  # float32
    ddim: np.ndarray
    ddim_steps: int
    field_x: np.ndarray | None = None  # (r,) grid of the noise field (point sets)
    field_y: np.ndarray | None = None
    field_eps: np.ndarray | None = None  # (k, r, r, 2): ε̂ at (field_x[j], field_y[i]); zeros at t = 0
    sampled_step: int = 0


@dataclass(frozen=True)
class Measurement:
    """What the averaged network of one step draws: samples from the chosen sampler and both samplers' paths.

    `samples`: point sets, (2,000, 2) points in standardized units; digits, the (64, 8, 8) images of the grid.
    """

    step: int  # the training step whose network drew them
    sampler: str  # "ddpm" or "ddim"
    steps: int  # the sampler's steps (T for DDPM)
    samples: np.ndarray
    reverse: ReverseProcess
    state: dict[str, torch.Tensor]  # the measured network's weights (CPU copies), for the export panel
    class_shares: np.ndarray | None = None  # digits: the share of samples the judge puts in each class
    real_confidence: float | None = None  # digits: the judge's mean top-class probability on real digits


@dataclass(frozen=True)
class DiffusionVisuals:
    """The scene of a run (data, fixed forward noise, schedule), the latest measurement and its state."""

    kind: str  # "points" or "digits"
    x0: np.ndarray  # points: (n, 2) training points; digits: (6, 64) standardized held-out digits
    forward_noise: np.ndarray  # the fixed ε of the forward process, shaped like x0
    betas: np.ndarray  # (T + 1,) float64, index 0 is t = 0
    alpha_bars: np.ndarray
    pixel_mean: float | None = None  # digits: standardized vectors back to pixels
    pixel_scale: float | None = None
    measurement: Measurement | None = None  # None until a trained network has been measured
    measuring: bool = False  # a measurement is under way
    measure_error: str | None = None  # why the last measurement failed


def scene(data: PointData | DigitsData, schedule: NoiseSchedule, seed: int) -> DiffusionVisuals:
    """What never changes during a run: the training data (or a few held-out digits), fixed forward noise,
    the schedule."""
    generator = torch.Generator().manual_seed(seed + 17)
    if isinstance(data, PointData):
        kind, x0, pixels = "points", data.train[:MAX_DATA_SHOWN], {}
    else:  # a few held-out digits, and how to turn standardized vectors back into pixels
        kind, x0 = "digits", data.test[:DIGIT_STRIP]
        pixels = {"pixel_mean": float(data.standardizer.mean), "pixel_scale": data.standardizer.scale}
    return DiffusionVisuals(
        kind=kind, x0=x0.numpy().astype(np.float32),
        forward_noise=torch.randn(x0.shape, generator=generator).numpy().astype(np.float32),
        betas=schedule.betas.numpy().copy(), alpha_bars=schedule.alpha_bars.numpy().copy(), **pixels)


def forward_sample(visuals: DiffusionVisuals, t: int) -> np.ndarray:
    """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for the snapshot's x_0 and its fixed ε (standardized units).

    Point sets: (n, 2) points. Digits: (n, 8, 8) images in [0, 1], pixels clipped to 0..16 as for samples.
    """
    alpha_bars = visuals.alpha_bars
    if not 0 <= t < len(alpha_bars):
        raise ValueError(f"t must be between 0 and T = {len(alpha_bars) - 1}, not {t}")
    x_t = np.sqrt(alpha_bars[t]) * visuals.x0 + np.sqrt(1.0 - alpha_bars[t]) * visuals.forward_noise
    if visuals.kind == "points":
        return x_t.astype(np.float32)
    return digit_images(x_t, visuals.pixel_mean, visuals.pixel_scale)


def digit_images(z: np.ndarray, mean: float, scale: float) -> np.ndarray:
    """Standardized (..., 64) vectors -> (..., 8, 8) images in [0, 1], as `DigitsData.images` does."""
    pixels = np.clip(z * scale + mean, 0.0, DIGIT_MAX_VALUE) / DIGIT_MAX_VALUE
    return pixels.reshape(*z.shape[:-1], 8, 8).astype(np.float32)
