"""The Diffusion page's live experiment: a `DiffusionTrainer` run by the job runtime.

The trainer thread trains; from time to time it hands a copy of the averaged
network to the job's measuring thread, which draws samples and measures them.
The page only ever reads NumPy copies from the snapshot:

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
every `EVAL_EVERY_S` and keeps the measuring thread busy about `MEASURE_DUTY`
of the time. It takes turns with the training of every job on the server (one
network pass per look at `engine.runtime.TrainingTurns`), as a job's steps do: a
class of students each measuring at once would otherwise hold the one Python
interpreter and leave no time to the clicks and the pages. When training
stops it runs for the last step (and again when the sampler changes). Nothing
is measured at step 0, and while training the first draw waits
`FIRST_DRAW_AFTER_S` (a network a few steps old draws only noise). Quality numbers enter the history at the step whose
network they measured.

Live hyperparameters (no reset): lr, batch_size, sampler, sampler_steps.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from engine.diffusion import DiffusionConfig, DiffusionTrainer, ddim_timesteps
from engine.diffusion_data import DIGIT_MAX_VALUE, DigitsData, PointData
from engine.common.device import limit_torch_threads
from engine.runtime import TURN_SLICE_S, Job
from engine.sample_quality import QUALITY_SAMPLE_SIZE

log = logging.getLogger(__name__)

EVAL_EVERY_S = 1.0
FIRST_DRAW_AFTER_S = 2.0  # while training, the first samples are drawn after this much training
MEASURE_DUTY = 0.5  # while training, the measuring thread rests as long as its last measurement took
ANIMATION_POINTS = 300  # points run through the reverse-process animation
PATH_POINTS = 6  # of those, how many have their whole path drawn
MAX_FRAMES = 17  # frames of the animation, x_T and x_0 included
FIELD_RESOLUTION = 13
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


@dataclass(frozen=True)
class _Request:
    """One measurement: the averaged network of one step, copied, and what to draw with it."""

    generation: int  # which build of the experiment it belongs to (a reset starts a new one)
    step: int
    sampler: str
    steps: int  # the chosen sampler's steps (T for DDPM)
    ddim_steps: int
    network: torch.nn.Module | None  # None: only build the held-out reference or the judge, ahead of time


class DiffusionJob(Job):
    """A DDPM learning a 2-D point set or 8x8 digits, live.

    Measuring runs in a second thread of the job, on a copy of the averaged network taken at one step,
    so training and the page's step counter never wait for a sampling chain. The trainer thread hands
    a copy over at most every `EVAL_EVERY_S` (and so that the measuring thread works about `MEASURE_DUTY`
    of the time), or at once when training stops; the measurer publishes what it found through a no-op
    command, so the page sees it even while paused. A reset or stop makes a measurement under way give
    up at its next network pass.
    """

    def __init__(self, config: DiffusionConfig, hyperparameters: dict[str, Any] | None = None, **kwargs: Any):
        # Set before the base starts the thread, which calls setup() and apply_hyperparameters().
        self.trainer: DiffusionTrainer | None = None
        self._lock = threading.Lock()  # guards what both threads touch: visuals, results, the generation
        self._generation = 0
        self._requested: tuple[int, str, int] | None = None  # (step, sampler, steps) last handed over
        self._in_flight = False
        self._results: list[tuple[int, dict[str, float]]] = []  # (step, metrics) not yet in the history
        self._next_eval_at = 0.0
        self._visuals: dict[str, Any] = {}
        self._cancel = threading.Event()  # set by reset() and stop(): a measurement under way gives up
        self._measuring_turn = object()  # the measuring thread's place in the training turns (not the trainer's)
        self._measuring_turn_ends: float | None = None
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        # The config's own training settings are the starting values of the live ones.
        defaults = {"lr": config.lr, "batch_size": config.batch_size, "sampler": config.sampler,
                    "sampler_steps": config.sampler_steps, "max_steps_per_second": None}
        super().__init__(config, {**defaults, **(hyperparameters or {})}, **kwargs)
        self._measurer = threading.Thread(target=self._measure_loop, name=f"{self._thread.name}-measure",
                                          daemon=True)
        self._measurer.start()

    # ------------------------------------------------------------ hooks
    def setup(self) -> None:
        with self._lock:
            self._generation += 1
            self._requested, self._in_flight, self._results, self._next_eval_at = None, False, [], 0.0
            self.trainer = None
            self._cancel.clear()
        trainer = DiffusionTrainer(replace(self.config, seed=self.seed), device=self.device)
        visuals = _static_visuals(trainer, self.seed)
        with self._lock:
            self.trainer, self._visuals = trainer, visuals
            # The held-out reference (or the judge) takes seconds: build it now, while nobody waits for it.
            self._requests.put(_Request(self._generation, 0, "", 0, 0, None))

    def reset(self, config: Any = None, seed: int | None = None, force_cpu: bool | None = None) -> int:
        self._cancel.set()
        return super().reset(config, seed, force_cpu)

    def stop(self, timeout: float = 5.0) -> None:
        self._cancel.set()
        self._requests.put(None)
        super().stop(timeout)
        if threading.current_thread() is not self._measurer:
            self._measurer.join(timeout)

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
        """Records finished measurements at the step they measured; hands over the next one when due."""
        with self._lock:
            results, self._results = self._results, []
            in_flight, next_eval_at = self._in_flight, self._next_eval_at
        for step, metrics in results:
            # At the step whose network was measured (the trainer has moved on since); the base records what
            # evaluate() returns at the current step, which would misdate these by the measuring time.
            self._history.record(step, metrics)
        if self.trainer is None or not self.steps_done or in_flight:
            return {}
        sampler, steps = self._sampler()
        wanted = (self.steps_done, sampler, steps)
        # Nothing is drawn before the first step (an untrained network's samples are known to be noise);
        # while steps are being taken, measurements are spaced out.
        if self._busy() and self._requested is None and not next_eval_at:
            # The first draw while training waits a little: a network a step old only draws noise, and
            # its measurement would hold the next, informative one back by as long as it takes.
            with self._lock:
                self._next_eval_at = time.monotonic() + FIRST_DRAW_AFTER_S
            return {}
        if wanted == self._requested or (self._busy() and time.monotonic() < next_eval_at):
            return {}
        network = copy.deepcopy(self.trainer.ema_network)
        with self._lock:
            self._requested, self._in_flight = wanted, True
            self._visuals["measuring"] = True
            request = _Request(self._generation, self.steps_done, sampler, steps, self._ddim_steps(), network)
        self._requests.put(request)
        return {}

    def observe(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._visuals)

    # ------------------------------------------------------------ measuring
    def _sampler(self) -> tuple[str, int]:
        """The sampler the page asked for and its steps, clipped to T (DDPM always takes all T)."""
        sampler = self.hp.get("sampler") or "ddim"
        return sampler, self.trainer.schedule.T if sampler == "ddpm" else self._ddim_steps()

    def _ddim_steps(self) -> int:
        """The DDIM steps asked for, clipped to T (DDIM is also drawn beside DDPM when DDPM is chosen)."""
        return min(max(1, int(self.hp.get("sampler_steps") or 1)), self.trainer.schedule.T)

    def _check_cancelled(self, *_: Any) -> None:
        """Before each network pass of a measurement: give up if a reset or stop is waiting, and go on
        in turns with the training of every job (a slice at a time, like a job's steps)."""
        if self._cancel.is_set():
            raise MeasurementCancelled
        ends = self._measuring_turn_ends
        if ends is not None and time.monotonic() < ends:
            return
        self._end_measuring_turn()
        # Soon: ahead of the jobs that train on their own, but of none that has waited the turns' longest wait.
        # The samples are what the page shows, and behind a class's training turns they lagged far behind
        # (step 7 shown while training was at 1,269). MEASURE_DUTY keeps the measuring to about half of this
        # job's time.
        while not self._turns.take(self._measuring_turn, timeout=0.05, soon=True):
            if self._cancel.is_set():
                raise MeasurementCancelled
        self._measuring_turn_ends = time.monotonic() + TURN_SLICE_S

    def _end_measuring_turn(self) -> None:
        self._turns.give_back(self._measuring_turn)
        self._measuring_turn_ends = None

    def _measure_loop(self) -> None:
        limit_torch_threads()
        while True:
            try:
                request = self._requests.get(timeout=0.5)
            except queue.Empty:
                if not self._thread.is_alive():
                    return
                continue
            if request is None:
                return
            with self._lock:
                trainer = self.trainer if request.generation == self._generation else None
            if trainer is None:
                continue
            started = time.perf_counter()  # waiting for turns included: a busy server measures less often
            try:
                self._prepare(trainer)
                if request.network is None:
                    continue
                found, metrics = self._measure(trainer, request)
            except MeasurementCancelled:  # a reset or a stop is waiting
                continue
            except Exception as error:  # a failed measurement must not end training
                log.exception("diffusion measurement failed")
                found, metrics = {"measure_error": f"Drawing samples failed: {error}"}, {}
            finally:
                self._end_measuring_turn()
            cost = time.perf_counter() - started
            with self._lock:
                if request.generation != self._generation:
                    continue
                self._visuals.update(found, measuring=False)
                if metrics:
                    self._results.append((request.step, metrics))
                self._in_flight = False
                self._next_eval_at = time.monotonic() + max(EVAL_EVERY_S, cost * (1 / MEASURE_DUTY - 1))
            self.set_hyperparameters()  # a no-op command: the trainer thread publishes what was found

    def _prepare(self, trainer: DiffusionTrainer) -> None:
        """The held-out reference or the judge, built once per run (only the measuring thread uses them)."""
        if isinstance(trainer.data, DigitsData):
            trainer.judge()
        else:
            trainer.quality_reference(interrupt=self._check_cancelled)

    def _measure(self, trainer: DiffusionTrainer, request: _Request) -> tuple[dict[str, Any], dict[str, float]]:
        """Samples, their quality and the reverse process of `request.network` (in the measuring thread)."""
        request.network.register_forward_pre_hook(self._check_cancelled)
        # The trainer, seen with the copied network: its data, schedule and references, nothing that trains.
        view = copy.copy(trainer)
        view.network = view.ema_network = request.network
        weights = {k: v.detach().cpu().clone() for k, v in request.network.state_dict().items()}
        found: dict[str, Any] = {"samples_step": request.step, "samples_sampler": request.sampler,
                                 "samples_steps": request.steps, "measure_error": None, "state": weights}
        if isinstance(trainer.data, DigitsData):
            data = trainer.data
            samples, reverse = _draw_both(view, request, self.seed, DIGIT_SAMPLES, DIGIT_STRIP, DIGIT_STRIP_FRAMES)
            mean, scale = data.standardizer.mean, data.standardizer.scale
            found.update(samples=data.images(samples[:DIGIT_GRID]).numpy().astype(np.float32),
                         strip_t=reverse.frame_t, strip_ddpm=digit_images(reverse.ddpm, float(mean), scale),
                         strip_ddim=digit_images(reverse.ddim, float(mean), scale), strip_ddim_steps=request.ddim_steps,
                         class_shares=trainer.judge().class_shares(data.to_pixels(samples)),
                         real_confidence=trainer.real_digit_confidence())
            return found, {"judge_confidence": view.quality(samples)["judge_confidence"]}
        samples, reverse = _draw_both(view, request, self.seed, QUALITY_SAMPLE_SIZE, ANIMATION_POINTS, MAX_FRAMES)
        fields = [view.noise_field(int(t), FIELD_EXTENT, FIELD_RESOLUTION) for t in reverse.frame_t if t > 0]
        eps = np.stack([field.eps.numpy() for field in fields] + [np.zeros_like(fields[0].eps.numpy())])
        reverse = replace(reverse, field_x=fields[0].xs.numpy(), field_y=fields[0].ys.numpy(),
                          field_eps=eps.astype(np.float32))
        quality = view.quality(samples)
        found.update(samples=samples.numpy().astype(np.float32), reverse=reverse, quality=quality)
        return found, {name: quality[name] for name in ("mmd_norm", "energy_norm", "mmd", "energy")}


def _static_visuals(trainer: DiffusionTrainer, seed: int) -> dict[str, Any]:
    """What never changes during a run: the training data, fixed forward noise, the schedule."""
    schedule = trainer.schedule
    generator = torch.Generator().manual_seed(seed + 17)
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


def _draw_both(view: DiffusionTrainer, request: _Request, seed: int, n: int, shown: int,
               max_frames: int) -> tuple[torch.Tensor, ReverseProcess]:
    """`n` samples from the chosen sampler, and both samplers' paths for the first `shown` of them.

    The chosen sampler runs once on all `n` (its frames serve the animation); the other one runs on the
    `shown` points only, from the same x_T. Seeds are fixed per run: every measurement starts from the
    same noise, so the pictures change only because the network did.
    """
    times = frame_times(view.schedule.T, request.ddim_steps, max_frames)
    x_T = torch.randn((n, view.data.dim), generator=torch.Generator().manual_seed(seed * 7919 + 1))
    chains = {}
    other = "ddim" if request.sampler == "ddpm" else "ddpm"
    for sampler, points in ((request.sampler, n), (other, shown)):
        generator = torch.Generator().manual_seed(seed * 7919 + 2)
        chains[sampler] = view.sample(points, sampler, request.ddim_steps, generator=generator, x_T=x_T[:points],
                                      frame_times=times)
    frames = {name: chain.frames[:, :shown].numpy().astype(np.float32) for name, chain in chains.items()}
    reverse = ReverseProcess(np.array(times), frames["ddpm"], frames["ddim"], request.ddim_steps,
                             sampled_step=request.step)
    return chains[request.sampler].samples.cpu(), reverse


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
