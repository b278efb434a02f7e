"""The Optimizers page's experiment as the runtime's plain trainer: one `Race` for an `Experiment`.

    trainer = OptimizersTrainer(experiment)       # every optimizer built at the start point
    train(trainer, experiment.steps)              # engine.runtime.train: each step advances all of them
    trainer.observe().trajectories                # the paths so far, as frozen data

`run_experiment` is exactly that, for the page (under st.cache_data: a few thousand tiny float64 steps
are faster than a thread), the bench and the tests; `OptimizersJob` runs the same trainer in a job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.optimizers.race import Race
from engine.optimizers.experiment import Experiment
from engine.optimizers.trajectory import Trajectory
from engine.runtime import Job, Trainer, train


@dataclass(frozen=True)
class OptimizersVisuals:
    """The race so far: one trajectory per optimizer, in the experiment's order."""

    step: int  # steps taken
    finished: bool  # every step taken, or every optimizer diverged
    trajectories: tuple[Trajectory, ...]


class OptimizersTrainer(Trainer):
    """Every optimizer of `config` (an `Experiment`) racing from its start point, one step per `train_step`.

    The experiment holds every setting, its noise seed included (it is part of the picture the URL
    names); there are no live hyperparameters: a change is a new experiment. One epoch is the whole race,
    so a job stops after it (`OptimizersJob`). Float64 on the CPU whatever the device: the points are 2-D.
    """

    def setup(self) -> None:
        experiment: Experiment = self.config
        surface = experiment.make_surface()
        self.race = Race(surface, experiment.optimizers, experiment.start or surface.start, experiment.steps,
                         experiment.schedule, experiment.clipping, experiment.seed)

    def train_step(self) -> dict[str, float]:
        self.race.step()
        values = self.race.latest_values() if self.race.runs else np.empty(0)
        finite = values[np.isfinite(values)]
        # "loss": the leader's f. A diverging optimizer is part of the picture, not a failure of the run.
        return {"loss": float(finite.min())} if len(finite) else {}

    @property
    def epoch(self) -> float:
        return 1.0 if self.race.finished else self.race.steps_done / self.race.steps

    def observe(self) -> OptimizersVisuals:
        return OptimizersVisuals(self.race.steps_done, self.race.finished, self.race.trajectories())


class OptimizersJob(Job):
    """The race in a job's thread, for the common page shape: done (DONE) once the race is over."""

    trainer_type = OptimizersTrainer

    def __init__(self, config: Experiment, hyperparameters=None, **kwargs):
        kwargs.setdefault("seed", config.seed)
        super().__init__(config, {"stop_at_epoch": 1, **(hyperparameters or {})}, **kwargs)


def run_experiment(experiment: Experiment) -> list[Trajectory]:
    """Every optimizer's trajectory over the whole experiment."""
    trainer = OptimizersTrainer(experiment, seed=experiment.seed)
    train(trainer, experiment.steps)
    return list(trainer.observe().trajectories)
