"""What defines a diffusion experiment: `DiffusionConfig` (plain data, so it fits in a URL), its checks,
and the tuned defaults of each data set."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from engine.common.limits import ConfigError, problem
from engine.diffusion.data import DATASETS, POINT_SETS, check_word
from engine.diffusion.noise_schedule import schedule_problems
from engine.diffusion.sampling import SAMPLERS


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
