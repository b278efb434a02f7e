"""The Diffusion page's live experiment: a `DiffusionTrainer` run by the job runtime.

The trainer thread trains, and from time to time draws samples and measures
them, so the page only ever reads NumPy copies from the snapshot:

- point sets: `QUALITY_SAMPLE_SIZE` samples from the chosen sampler, their
  normalized MMD² and energy distance against held-out data (recorded in the
  history, so they are tracked over training), and the reverse process of a
  few hundred points run by DDPM and DDIM from one shared x_T, kept at the same
  t for both, with the learned noise field on a grid at each of those t;
- digits: a grid of samples, the judge's confidence on them (history) next
  to its value on real held-out digits, and strips of a few images denoising
  step by step under DDPM and DDIM.

Every draw starts from the same seeded x_T, so between two measurements the
samples change only because the network did. Measuring costs many training
steps (a DDPM chain is T network passes), so while training it runs at most
every `EVAL_EVERY_S` and takes about `EVAL_SHARE` of the time; when paused it
runs whenever the step or the sampler changed. Nothing is measured at step 0.

Live hyperparameters (no reset): lr, batch_size, sampler, sampler_steps.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from engine.diffusion import DiffusionConfig, DiffusionTrainer, ddim_timesteps
from engine.diffusion_data import DIGIT_MAX_VALUE, DigitsData, PointData
from engine.jobs import Job
from engine.sample_quality import QUALITY_SAMPLE_SIZE

EVAL_EVERY_S = 1.0
EVAL_SHARE = 0.25
ANIMATION_POINTS = 400  # points run through the reverse-process animation
PATH_POINTS = 6  # of those, how many have their whole path drawn
MAX_FRAMES = 21  # frames of the animation, x_T and x_0 included
FIELD_RESOLUTION = 15
FIELD_EXTENT = (-3.0, 3.0, -3.0, 3.0)
DIGIT_SAMPLES = 256  # the judge scores this many; the page shows the first 64
DIGIT_GRID = 64
DIGIT_STRIP = 6  # images in each denoising strip
DIGIT_STRIP_FRAMES = 11
MAX_DATA_SHOWN = 5000  # training points sent to the page


class MeasurementCancelled(Exception):
    """Raised inside a measurement when the job is being reset or stopped."""


@dataclass(frozen=True)
class ReverseProcess:
    """DDPM and DDIM from one x_T, kept at the same t, with the learned noise field at each t."""

    frame_t: np.ndarray  # (k,) from T down to 0
    ddpm: np.ndarray  # (k, n, d) float32
    ddim: np.ndarray  # (k, n, d)
    ddim_steps: int
    field_x: np.ndarray | None = None  # (r,) grid of the noise field (point sets)
    field_y: np.ndarray | None = None
    field_eps: np.ndarray | None = None  # (k, r, r, 2): ε̂ at (field_x[j], field_y[i]); zeros at t = 0
    sampled_step: int = 0


def frame_times(T: int, ddim_steps: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """The t at which both samplers are shown: DDIM's own stops (thinned to `max_frames`), T first, 0 last.

    DDPM visits every t, so it can be caught at each of them.
    """
    stops = [*ddim_timesteps(T, ddim_steps), 0]
    if len(stops) > max_frames:
        keep = np.unique(np.linspace(0, len(stops) - 1, max_frames).round().astype(int))
        stops = [stops[i] for i in keep]
    return stops


class DiffusionJob(Job):
    """A DDPM learning a 2-D point set or 8x8 digits, live."""

    def __init__(self, config: DiffusionConfig, hyperparameters: dict[str, Any] | None = None, **kwargs: Any):
        # Set before the base starts the thread, which calls setup() and apply_hyperparameters().
        self.trainer: DiffusionTrainer | None = None
        self._measured: tuple[int, str, int] | None = None  # (step, sampler, steps) of the latest measurement
        self._next_eval_at = 0.0
        self._visuals: dict[str, Any] = {}
        self._cancel = threading.Event()  # set by reset() and stop(): a measurement under way gives up
        # The config's own training settings are the starting values of the live ones.
        defaults = {"lr": config.lr, "batch_size": config.batch_size, "sampler": config.sampler,
                    "sampler_steps": config.sampler_steps, "max_steps_per_second": None}
        super().__init__(config, {**defaults, **(hyperparameters or {})}, **kwargs)

    # ------------------------------------------------------------ hooks
    def setup(self) -> None:
        self.trainer, self._measured, self._next_eval_at = None, None, 0.0
        self._cancel.clear()
        self.trainer = DiffusionTrainer(replace(self.config, seed=self.seed), device=self.device)
        # Sampling and the noise field run the moving-average network (training runs the other one), so
        # a check before each of its passes lets a reset or a stop cut a measurement short.
        self.trainer.ema_network.register_forward_pre_hook(self._check_cancelled)
        self._visuals = self._static_visuals()

    def _check_cancelled(self, *_: Any) -> None:
        if self._cancel.is_set():
            raise MeasurementCancelled

    def reset(self, config: Any = None, seed: int | None = None, force_cpu: bool | None = None) -> int:
        self._cancel.set()
        return super().reset(config, seed, force_cpu)

    def stop(self, timeout: float = 5.0) -> None:
        self._cancel.set()
        super().stop(timeout)

    @property
    def epoch(self) -> float:
        return self.trainer.epoch if self.trainer is not None else 0.0

    def train_step(self) -> dict[str, float]:
        return self.trainer.train_step()

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        trainer = self.trainer
        if trainer is None:
            return
        if changes.get("lr") is not None:
            trainer.set_learning_rate(float(changes["lr"]))
        if changes.get("batch_size") is not None:
            trainer.set_batch_size(int(changes["batch_size"]))
        if "sampler" in changes and changes["sampler"] not in ("ddpm", "ddim"):
            raise ValueError(f"unknown sampler {changes['sampler']!r}; choose ddpm or ddim")
        if "sampler_steps" in changes and not 1 <= int(changes["sampler_steps"]):
            raise ValueError(f"the sampler needs at least one step, not {changes['sampler_steps']}")

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        lr = self.trainer.base_lr if self.trainer is not None else self.hp.get("lr")
        return (f"The {name} became {value} at step {step}: the learning rate {lr:g} is too large for this "
                f"network. Lower it (1e-3 to 3e-3 suits these models) and press Reset.")

    def evaluate(self) -> dict[str, float]:
        now = time.monotonic()
        wanted = (self.steps_done, *self._sampler())
        # Nothing is drawn before the first step (an untrained network's samples are known to be noise, and
        # a rebuild should show at once); while steps are being taken, measurements are spaced out.
        if not self.steps_done or wanted == self._measured or (self._busy() and now < self._next_eval_at):
            return {}
        if not self._busy() and not self._visuals.get("measuring"):
            # Training just stopped (a Step, a Pause, a new sampler): publish the new step first, so the page
            # shows it at once, and come straight back for the measurement through a no-op command.
            self._visuals["measuring"] = True
            self.set_hyperparameters()
            return {}
        try:
            # The held-out reference and the judge are built once per run; only the rest recurs.
            if isinstance(self.trainer.data, DigitsData):
                self.trainer.judge()
            else:
                self.trainer.quality_reference(interrupt=self._check_cancelled)
            started = time.perf_counter()
            metrics = self._measure()
        except MeasurementCancelled:  # a reset or a stop is waiting; it rebuilds or ends the job next
            self._visuals["measuring"] = False
            return {}
        # The weights the samples came from (the moving average), for the page's export.
        self._visuals["state"] = {k: v.detach().cpu().clone() for k, v in self.trainer.ema_network.state_dict().items()}
        cost = time.perf_counter() - started
        self._measured = wanted
        self._visuals["measuring"] = False
        self._next_eval_at = time.monotonic() + max(EVAL_EVERY_S, cost / EVAL_SHARE)
        return metrics

    def observe(self) -> dict[str, Any]:
        return dict(self._visuals)

    # ------------------------------------------------------------ measuring
    def _sampler(self) -> tuple[str, int]:
        """The sampler the page asked for and its steps, clipped to T (DDPM always takes all T)."""
        sampler = self.hp.get("sampler") or "ddim"
        return sampler, self.trainer.schedule.T if sampler == "ddpm" else self._ddim_steps()

    def _ddim_steps(self) -> int:
        """The DDIM steps asked for, clipped to T (DDIM is also drawn beside DDPM when DDPM is chosen)."""
        return min(max(1, int(self.hp.get("sampler_steps") or 1)), self.trainer.schedule.T)

    def _static_visuals(self) -> dict[str, Any]:
        """What never changes during a run: the training data, fixed forward noise, the schedule."""
        trainer = self.trainer
        schedule = trainer.schedule
        generator = torch.Generator().manual_seed(self.seed + 17)
        data = trainer.data
        if isinstance(data, PointData):
            x0 = data.train[:MAX_DATA_SHOWN]
            visuals: dict[str, Any] = {"kind": "points"}
        else:  # a few held-out digits, and how to turn standardized vectors back into pixels
            x0 = data.test[:DIGIT_STRIP]
            visuals = {"kind": "digits", "pixel_mean": float(data.standardizer.mean),
                       "pixel_scale": data.standardizer.scale}
        visuals["x0"] = x0.numpy().astype(np.float32)
        visuals["forward_noise"] = torch.randn(x0.shape, generator=generator).numpy().astype(np.float32)
        visuals["betas"] = schedule.betas.numpy().copy()
        visuals["alpha_bars"] = schedule.alpha_bars.numpy().copy()
        return visuals

    def _draw_both(self, n: int, shown: int, max_frames: int) -> tuple[torch.Tensor, ReverseProcess]:
        """`n` samples from the chosen sampler, and both samplers' paths for the first `shown` of them.

        The chosen sampler runs once on all `n` (its frames serve the animation); the other one runs on the
        `shown` points only, from the same x_T. Seeds are fixed per run: every measurement starts from the
        same noise, so the pictures change only because the network did.
        """
        trainer = self.trainer
        chosen, _ = self._sampler()
        ddim_steps = self._ddim_steps()
        times = frame_times(trainer.schedule.T, ddim_steps, max_frames)
        x_T = torch.randn((n, trainer.data.dim), generator=torch.Generator().manual_seed(self.seed * 7919 + 1))
        chains = {}
        for sampler, points in ((chosen, n), ("ddim" if chosen == "ddpm" else "ddpm", shown)):
            generator = torch.Generator().manual_seed(self.seed * 7919 + 2)
            chains[sampler] = trainer.sample(points, sampler, ddim_steps, generator=generator, x_T=x_T[:points],
                                             frame_times=times)
        frames = {name: chain.frames[:, :shown].numpy().astype(np.float32) for name, chain in chains.items()}
        reverse = ReverseProcess(np.array(times), frames["ddpm"], frames["ddim"], ddim_steps,
                                 sampled_step=self.steps_done)
        return chains[chosen].samples.cpu(), reverse

    def _measure(self) -> dict[str, float]:
        trainer = self.trainer
        sampler, steps = self._sampler()
        if isinstance(trainer.data, DigitsData):
            return self._measure_digits(trainer, sampler, steps)
        samples, reverse = self._draw_both(QUALITY_SAMPLE_SIZE, ANIMATION_POINTS, MAX_FRAMES)
        fields = [trainer.noise_field(int(t), FIELD_EXTENT, FIELD_RESOLUTION) for t in reverse.frame_t if t > 0]
        eps = np.stack([field.eps.numpy() for field in fields] + [np.zeros_like(fields[0].eps.numpy())])
        reverse = replace(reverse, field_x=fields[0].xs.numpy(), field_y=fields[0].ys.numpy(),
                          field_eps=eps.astype(np.float32))
        quality = trainer.quality(samples)
        self._visuals.update(samples=samples.numpy().astype(np.float32), samples_step=self.steps_done,
                             samples_sampler=sampler, samples_steps=steps, reverse=reverse, quality=quality)
        return {name: quality[name] for name in ("mmd_norm", "energy_norm", "mmd", "energy")}

    def _measure_digits(self, trainer: DiffusionTrainer, sampler: str, steps: int) -> dict[str, float]:
        data = trainer.data
        samples, reverse = self._draw_both(DIGIT_SAMPLES, DIGIT_STRIP, DIGIT_STRIP_FRAMES)
        confidence = trainer.quality(samples)["judge_confidence"]
        if "real_confidence" not in self._visuals:
            self._visuals["real_confidence"] = trainer.real_digit_confidence()
        mean, scale = self._visuals["pixel_mean"], self._visuals["pixel_scale"]
        self._visuals.update(
            samples=data.images(samples[:DIGIT_GRID]).numpy().astype(np.float32), samples_step=self.steps_done,
            samples_sampler=sampler, samples_steps=steps, strip_t=reverse.frame_t,
            strip_ddpm=digit_images(reverse.ddpm, mean, scale), strip_ddim=digit_images(reverse.ddim, mean, scale),
            strip_ddim_steps=reverse.ddim_steps, class_shares=trainer.judge().class_shares(data.to_pixels(samples)))
        return {"judge_confidence": confidence}


def forward_sample(visuals: dict[str, Any], t: int) -> np.ndarray:
    """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for the snapshot's x_0 and its fixed ε (standardized units).

    Point sets: (n, 2) points. Digits: (n, 8, 8) images in [0, 1], pixels clipped to 0..16 as for samples.
    """
    alpha_bars = visuals["alpha_bars"]
    if not 0 <= t < len(alpha_bars):
        raise ValueError(f"t must be between 0 and T = {len(alpha_bars) - 1}, not {t}")
    x_t = np.sqrt(alpha_bars[t]) * visuals["x0"] + np.sqrt(1.0 - alpha_bars[t]) * visuals["forward_noise"]
    if visuals["kind"] == "points":
        return x_t.astype(np.float32)
    return digit_images(x_t, visuals["pixel_mean"], visuals["pixel_scale"])


def digit_images(z: np.ndarray, mean: float, scale: float) -> np.ndarray:
    """Standardized (..., 64) vectors -> (..., 8, 8) images in [0, 1], as `DigitsData.images` does."""
    pixels = np.clip(z * scale + mean, 0.0, DIGIT_MAX_VALUE) / DIGIT_MAX_VALUE
    return pixels.reshape(*z.shape[:-1], 8, 8).astype(np.float32)
