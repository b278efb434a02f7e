"""The Diffusion page's live experiment: a `DiffusionTrainer` run by the job runtime, and measured beside it.

The trainer thread trains; from time to time it hands a copy of the averaged network to the job's
measuring thread, which draws samples and measures them (`engine.diffusion.measuring`; quality numbers
enter the history at the step whose network they measured). The page only ever reads the snapshot's
`DiffusionVisuals`.

Measuring costs many training steps (a DDPM chain is T network passes), so while training it runs at most
every `EVAL_EVERY_S` and keeps the measuring thread busy about `MEASURE_DUTY` of the time. It takes turns
with the training of every job on the server (one network pass per look at `engine.runtime.TrainingTurns`),
as a job's steps do: a class of students each measuring at once would otherwise hold the one Python
interpreter and leave no time to the clicks and the pages. When training stops it runs for the last step
(and again when the sampler changes). Nothing is measured at step 0, and while training the first draw
waits `FIRST_DRAW_AFTER_S` (a network a few steps old draws only noise).

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

import torch

from engine.common.device import limit_threads
from engine.diffusion import measuring
from engine.diffusion.config import DiffusionConfig
from engine.diffusion.trainer import DiffusionTrainer
from engine.diffusion.visuals import DiffusionVisuals
from engine.runtime import TURN_SLICE_S, Job

log = logging.getLogger(__name__)

EVAL_EVERY_S = 1.0
# After a rebuild the held-out reference (or the judge) is built ahead of the first draw, once the page has had
# this long to draw the new experiment: its seconds of CPU made the control changes that rebuild slow to show.
PREPARE_AFTER_S = 2.0
FIRST_DRAW_AFTER_S = 2.0  # while training, the first samples are drawn after this much training
MEASURE_DUTY = 0.5  # while training, the measuring thread rests as long as its last measurement took


class MeasurementCancelled(Exception):
    """Raised inside a measurement when the job is being reset or stopped."""


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
    """A DDPM learning a 2-D point set or 8x8 digits, live: a `DiffusionTrainer`, measured beside training.

    Measuring runs in a second thread of the job, on a copy of the averaged network taken at one step,
    so training and the page's step counter never wait for a sampling chain. The trainer thread hands
    a copy over at most every `EVAL_EVERY_S` (and so that the measuring thread works about `MEASURE_DUTY`
    of the time), or at once when training stops; the measurer publishes what it found through a no-op
    command, so the page sees it even while paused. A reset or stop makes a measurement under way give
    up at its next network pass.
    """

    trainer_type = DiffusionTrainer

    def __init__(self, config: DiffusionConfig, hyperparameters: dict[str, Any] | None = None, **kwargs: Any):
        # Set before the base starts the thread, which calls setup() and apply_hyperparameters().
        self.trainer: DiffusionTrainer | None = None  # None while it is built, or when building it failed
        self._lock = threading.Lock()  # guards what both threads touch: visuals, results, the generation
        self._generation = 0
        self._requested: tuple[int, str, int] | None = None  # (step, sampler, steps) last handed over
        self._in_flight = False
        self._results: list[tuple[int, dict[str, float]]] = []  # (step, metrics) not yet in the history
        self._next_eval_at = 0.0
        self._visuals: DiffusionVisuals | None = None  # the trainer's scene with what was measured
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
        trainer = self.trainer_type(self.config, self.hp, seed=self.seed, device=self.device)
        with self._lock:
            self.trainer, self._visuals = trainer, trainer.observe()
            # The held-out reference (or the judge) takes seconds: build it ahead of the first draw, once the
            # page has drawn the new experiment (PREPARE_AFTER_S).
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

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        if self.trainer is not None:  # after a failed build there is none, and its message must stay
            super().apply_hyperparameters(changes)

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
            self._visuals = replace(self._visuals, measuring=True)
            request = _Request(self._generation, self.steps_done, sampler, steps, self._ddim_steps(), network)
        self._requests.put(request)
        return {}

    def observe(self) -> DiffusionVisuals:
        with self._lock:
            return self._visuals

    # ------------------------------------------------------------ measuring
    def _sampler(self) -> tuple[str, int]:
        """The sampler the page asked for and its steps, clipped to T (DDPM always takes all T)."""
        sampler = self.hp.get("sampler") or "ddim"
        return sampler, self.trainer.schedule.T if sampler == "ddpm" else self._ddim_steps()

    def _ddim_steps(self) -> int:
        """The DDIM steps asked for, clipped to T (DDIM is also drawn beside DDPM when DDPM is chosen)."""
        return min(max(1, int(self.hp.get("sampler_steps") or 1)), self.trainer.schedule.T)

    def _check_cancelled(self, *_: Any) -> None:
        """Give up the measurement if a reset or stop is waiting."""
        if self._cancel.is_set():
            raise MeasurementCancelled

    def _take_measuring_turn(self, *_: Any) -> None:
        """Before each network pass of a measurement: give up if a reset or stop is waiting, and go on
        in turns with the training of every job (a slice at a time, like a job's steps). Only the passes take
        turns (many small steps of Python, like training's): the held-out reference and the scoring are a few
        large tensor operations, and a measuring thread that held its turn through them stopped every job of its
        worker for seconds (a class's Train clicks waited up to 9 s for a first step)."""
        self._check_cancelled()
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

    def _quiet_for(self, seconds: float, request: _Request) -> bool:
        """Wait up to `seconds` before preparing for `request`'s experiment: False if it was rebuilt or stopped
        meanwhile; True at once when a measurement is asked for (it needs the preparation now)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self._requests.empty():
            if self._cancel.wait(0.05):
                return False
        with self._lock:
            return request.generation == self._generation and not self._cancel.is_set()

    def _measure_loop(self) -> None:
        limit_threads()
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
            if trainer is None or (request.network is None and not self._quiet_for(PREPARE_AFTER_S, request)):
                continue
            started = time.perf_counter()  # waiting for turns included: a busy server measures less often
            try:
                measuring.prepare(trainer, interrupt=self._check_cancelled)
                if request.network is None:
                    continue
                request.network.register_forward_pre_hook(self._take_measuring_turn)
                measurement, metrics = measuring.measure(trainer, request.network, request.step, request.sampler,
                                                         request.steps, request.ddim_steps,
                                                         passes_done=self._end_measuring_turn)
                found: dict[str, Any] = {"measurement": measurement, "measure_error": None}
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
                self._visuals = replace(self._visuals, measuring=False, **found)
                if metrics:
                    self._results.append((request.step, metrics))
                self._in_flight = False
                self._next_eval_at = time.monotonic() + max(EVAL_EVERY_S, cost * (1 / MEASURE_DUTY - 1))
            self.set_hyperparameters()  # a no-op command: the trainer thread publishes what was found
