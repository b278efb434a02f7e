"""The Diffusion page's experiment as a plain trainer: data, noise schedule, ε-network (+ its averaged copy),
optimizer and learning-rate schedule, training steps, samplers, the learned noise field and sample quality.

A bench or a test drives it with `engine.runtime.train`; a live `DiffusionJob` runs it in its thread. Every
random draw takes an explicit `torch.Generator`, never torch's global RNG, so a seed reproduces a run even
while other jobs train in other threads. Draws are made on the CPU and moved to the device, so a seed gives
the same run on any device up to floating-point rounding.
"""

from __future__ import annotations

import copy
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable, Collection

import torch
from torch import nn

from engine.common.limits import check
from engine.common.seeding import stream as _stream
from engine.common.schedules import multiplier
from engine.diffusion.config import DiffusionConfig
from engine.diffusion.data import DIGIT_MAX_VALUE, DigitsData, PointData, load_digits, load_points
from engine.diffusion.model import EpsilonNetwork, initialize
from engine.diffusion.noise_schedule import make_schedule
from engine.diffusion.quality import QUALITY_SAMPLE_SIZE, DigitJudge, PointQualityReference
from engine.diffusion.sampling import SAMPLERS, EncodedEpsilon, SamplePath, sample
from engine.diffusion.visuals import DiffusionVisuals, scene
from engine.runtime import Trainer


# Held-out references and digit judges of the data sets the server has measured, by what they are computed from.
# A reference costs seconds of CPU, and a new T, schedule or network (or a data set chosen again) rebuilds the
# experiment but not its data: the page's controls answered slower while each rebuild computed it again.
# They are never changed once built, so every trainer may share them.
REFERENCES_KEPT = 32
_references: OrderedDict[tuple, Any] = OrderedDict()
_building: dict[tuple, threading.Event] = {}  # keys being built, set when the build ends (built or given up)
_references_lock = threading.Lock()


def _shared_reference(key: tuple, build: Callable[[], Any], interrupt: Callable[[], None] | None = None) -> Any:
    """The reference or judge built for `key` before, else `build()` (kept for the next trainer asking).

    One build a key at a time: the others asking meanwhile wait for it (calling `interrupt` while they wait), and
    build it themselves only if it was given up. A class opening the page together made each worker build the
    same reference once for every student on it, seconds of CPU each."""
    while True:
        with _references_lock:
            if key in _references:
                _references.move_to_end(key)
                return _references[key]
            building = _building.get(key)
            mine = building is None
            if mine:
                building = _building[key] = threading.Event()
        if not mine:
            while not building.wait(0.05):
                if interrupt is not None:
                    interrupt()
            continue
        try:
            built = build()  # outside the lock: it takes seconds, and may be interrupted
            with _references_lock:
                _references[key] = built
                while len(_references) > REFERENCES_KEPT:
                    _references.popitem(last=False)
            return built
        finally:
            with _references_lock:
                del _building[key]
            building.set()


@dataclass(frozen=True)
class NoiseField:
    """ε̂ on a grid at one t, and the score it implies, ∇ log q(x_t) ≈ −ε̂ / √(1−ᾱ_t)."""

    t: int
    xs: torch.Tensor  # (r,)
    ys: torch.Tensor  # (r,)
    eps: torch.Tensor  # (r, r, 2): eps[i, j] at (xs[j], ys[i])
    score: torch.Tensor  # (r, r, 2)


class DiffusionTrainer(Trainer):
    """One diffusion experiment: data, schedule, ε-network (+ EMA copy), optimizer, and its samplers.

    Live hyperparameters (no rebuild): lr, batch_size; sampler and sampler_steps are checked here and read
    by whoever draws samples (the job's measuring thread).
    """

    def __init__(self, config: DiffusionConfig, hyperparameters: dict[str, Any] | None = None, *,
                 seed: int | None = None, device: torch.device | str = "cpu"):
        # A config carries its own seed (a link holds it); a job passes its seed, which wins.
        super().__init__(config, hyperparameters, seed=config.seed if seed is None else seed, device=device)

    def setup(self) -> None:
        config = self.config = replace(self.config, seed=self.seed).validated()
        self.schedule = make_schedule(config.schedule, config.T, config.beta_start, config.beta_end)
        data_rng = _stream(self.seed, "data")
        if config.is_digits:
            self.data: PointData | DigitsData = load_digits(data_rng)
        else:
            self.data = load_points(config.dataset, config.n_points, data_rng, config.noise, config.word)
        self.train_data = self.data.train.to(self.device)
        self.network = EpsilonNetwork(self.data.dim, config.width, config.depth, config.T)
        initialize(self.network, _stream(self.seed, "weights"))
        self.network.to(self.device)
        self.ema_network = copy.deepcopy(self.network).requires_grad_(False)
        # The fused kernel updates all parameters in one pass; the default per-tensor loop took ~25 % of a
        # CPU step for these small networks.
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {"foreach": True}
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.lr, **fused)
        self.rng = _stream(self.seed, "training")  # the minibatches, the timesteps and their noise
        self.base_lr = config.lr
        self.batch_size = config.batch_size
        self.apply_hyperparameters(self.hp)  # live values given at the start replace the config's
        self._quality_reference: PointQualityReference | None = None
        self._judge: DigitJudge | None = None
        self._scene = scene(self.data, self.schedule, self.seed)

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
        """Linear warm-up, then constant or a cosine decay that reaches lr_final_fraction of the base rate at
        step lr_decay_steps."""
        step = self.steps_done if step is None else step
        config = self.config
        if not config.lr_decay_steps:
            return self.base_lr * multiplier("constant", step, warmup=config.lr_warmup_steps)
        return self.base_lr * multiplier("cosine", step, period=max(1, config.lr_decay_steps - config.lr_warmup_steps),
                                         floor=config.lr_final_fraction, warmup=config.lr_warmup_steps)

    def set_learning_rate(self, lr: float) -> None:
        check("diffusion.lr", lr)
        self.base_lr = float(lr)

    def set_batch_size(self, batch_size: int) -> None:
        check("diffusion.batch_size", batch_size)
        self.batch_size = int(batch_size)

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        if changes.get("lr") is not None:
            self.set_learning_rate(float(changes["lr"]))
        if changes.get("batch_size") is not None:
            self.set_batch_size(int(changes["batch_size"]))
        if "sampler" in changes and changes["sampler"] not in SAMPLERS:
            raise ValueError(f"unknown sampler {changes['sampler']!r}; choose ddpm or ddim")
        if "sampler_steps" in changes and not 1 <= int(changes["sampler_steps"]):
            raise ValueError(f"the sampler needs at least one step, not {changes['sampler_steps']}")

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        return (f"The {name} became {value} at step {step}: the learning rate {self.base_lr:g} is too large for "
                f"this network. Lower it (1e-3 to 3e-3 suits these models) and press Reset.")

    def train_step(self) -> dict[str, float]:
        """One minibatch of the simple DDPM loss E‖ε − ε̂(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖², t ~ U{1..T}."""
        n = self.batch_size
        index = torch.randint(0, len(self.train_data), (n,), generator=self.rng)
        t = torch.randint(1, self.schedule.T + 1, (n,), generator=self.rng)
        noise = torch.randn((n, self.data.dim), generator=self.rng).to(self.device)
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
        self._update_ema(updates=self.steps_done + 1)
        return {"loss": loss.item(), "lr": lr}

    @torch.no_grad()
    def _update_ema(self, updates: int) -> None:
        # Warm-up of the average (as in TensorFlow's ExponentialMovingAverage with num_updates), so that
        # early samples already follow the network instead of its random initialization.
        decay = min(self.config.ema_decay, (1 + updates) / (10 + updates))
        torch._foreach_lerp_(list(self.ema_network.parameters()), list(self.network.parameters()), 1.0 - decay)

    def observe(self) -> DiffusionVisuals:
        """What never changes during a run: the data, its fixed forward noise and the schedule. The samples
        and their quality are measured apart (`engine.diffusion.measuring`), beside training."""
        return self._scene

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
        generator = generator if generator is not None else _stream(self.seed + self.steps_done, "sampling")
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
        generator = generator if generator is not None else _stream(self.seed + t, "forward")
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
            self._quality_reference = _shared_reference((*self.data_key(), "held-out", repeats), lambda: (
                PointQualityReference.measure(self.data.draw, _stream(self.seed, "held-out"), repeats,
                                              QUALITY_SAMPLE_SIZE, interrupt=interrupt)), interrupt)
        return self._quality_reference

    def data_key(self) -> tuple:
        """What the data (training set, held-out draws, digits split) is made from: equal keys, equal data."""
        config = self.config
        if config.is_digits:
            return config.dataset, self.seed
        return config.dataset, config.n_points, config.noise, config.word if config.dataset == "word" else "", self.seed

    def judge(self) -> DigitJudge:
        """The logistic-regression judge trained on the training digits (the held-out digits are its test)."""
        if not isinstance(self.data, DigitsData):
            raise ValueError("the judge scores digits only")
        if self._judge is None:
            pixels = self.data.standardizer.invert(self.data.train)
            self._judge = _shared_reference((*self.data_key(), "judge"),
                                            lambda: DigitJudge().fit(pixels, self.data.train_labels))
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
