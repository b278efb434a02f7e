"""Mode coverage of a generator on a Gaussian mixture, the measure of the VEEGAN and PacGAN papers.

Draw samples straight from G(z), z ~ N(0, I), with no filtering. A sample is high quality when it lies within
3 standard deviations of its nearest mode; a mode is covered when at least 1% of all samples are high-quality
samples of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

HIGH_QUALITY_STDS = 3.0
COVERED_SHARE = 0.01
SAMPLES = 2500


@dataclass(frozen=True)
class Coverage:
    modes_covered: int
    modes: int
    high_quality: float  # share of all samples within 3 standard deviations of their nearest mode
    per_mode: np.ndarray  # share of all samples that are high-quality samples of each mode

    def row(self) -> dict[str, str]:
        return {"modes covered": f"{self.modes_covered} of {self.modes}",
                "high-quality samples": f"{self.high_quality:.0%}"}


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float) -> Coverage:
    """How many of the mixture's `centres` (each of standard deviation `std`) the `samples` cover."""
    if samples.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples of shape {tuple(samples.shape)} do not match modes in {centres.shape[1]}-D")
    if not len(samples):
        raise ValueError("mode coverage needs at least one sample")
    samples, centres = samples.detach().double().cpu(), centres.double().cpu()
    distances = torch.cdist(samples, centres)
    nearest_distance, nearest = distances.min(dim=1)
    good = torch.isfinite(nearest_distance) & (nearest_distance <= HIGH_QUALITY_STDS * std)
    per_mode = torch.bincount(nearest[good], minlength=len(centres)).double() / len(samples)
    return Coverage(int((per_mode >= COVERED_SHARE).sum()), len(centres), float(good.double().mean()),
                    per_mode.numpy())
