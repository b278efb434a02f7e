"""A trainer: one experiment as a plain object, with no threads, that a test or a benchmark drives directly
(nanoGPT-style) and that a `Job` runs in its thread for the pages.

    trainer = PlaygroundTrainer(config, hyperparameters, seed=0)   # builds model, data, optimizer
    for _ in range(100):
        metrics = trainer.train_step()                             # one minibatch; must hold "loss"
    trainer.evaluate()                                             # metrics over the data
    visuals = trainer.observe()                                    # a frozen dataclass of NumPy arrays

A subclass supplies `setup`, `train_step` and, as it needs them, `evaluate`, `observe`,
`apply_hyperparameters`, `epoch`, `on_epoch_end` and `explain_divergence`; and, for a run that can be forked
and rewound (engine.runtime.checkpoints), `CHECKPOINTED`: the names of the attributes training depends on
(modules, optimizers, random generators, tensors, counters), so that loading a state and training on gives
exactly the losses the run that saved it went on to have; `state` / `load_state` save and restore them (a
trainer overrides them for what needs more, and to forget what it measured of other weights). Its randomness
comes from `self.rng` (seeded from the seed), never from torch's global RNG, which other jobs' threads share
(but for the modules' initial weights, drawn in `setup` from the global RNG seeded with the seed, under a lock).

`observe` returns typed visuals: a frozen dataclass whose fields are NumPy arrays, numbers, strings or
tuples of them, never a live tensor or model. They pickle (what a worker process sends back), and
`engine.runtime.snapshot.freeze_visuals` makes their arrays read-only before readers see them.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import torch

from engine.runtime.checkpoints import NotCheckpointable

# Module initializers (nn.Linear, nn.LSTM, ...) draw from torch's global generator: a trainer seeds it with its seed
# and builds under this lock, so its initial weights are its seed's, whatever was built before it (in another job's
# thread, or in an earlier test).
_GLOBAL_RNG_LOCK = threading.Lock()


class Trainer:
    """Base class of every experiment's plain trainer. See the module docstring."""

    #: The experiment's hyperparameters and their defaults (live: changed without a rebuild).
    DEFAULT_HYPERPARAMETERS: dict[str, Any] = {}

    def __init__(self, config: Any, hyperparameters: dict[str, Any] | None = None, *, seed: int = 0,
                 device: torch.device | str = "cpu"):
        self.config = config
        self.seed = int(seed)
        self.device = torch.device(device)
        # The same dict the job holds (it updates it after `apply_hyperparameters`), given its defaults here.
        self.hp = hyperparameters if hyperparameters is not None else {}
        for name, value in self.DEFAULT_HYPERPARAMETERS.items():
            self.hp.setdefault(name, value)
        self.rng = torch.Generator().manual_seed(self.seed)
        self.steps_done = 0  # training steps completed (inside `train_step`: before the current one)
        self.training = False  # whether a job is training it now: more steps follow (set before each
        # `evaluate` and `observe`; a costly measurement may then wait)
        with _GLOBAL_RNG_LOCK:  # (module initializers draw from torch's global generator)
            torch.manual_seed(self.seed)
            self.setup()

    def setup(self) -> None:
        raise NotImplementedError

    def train_step(self) -> dict[str, float]:
        raise NotImplementedError

    def evaluate(self) -> dict[str, float]:
        return {}

    def observe(self) -> Any:
        return None

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        """Apply live changes to the optimizer or model; the caller then stores them in `self.hp`."""

    #: The attributes a checkpoint saves (module docstring); none: the experiment cannot be checkpointed.
    CHECKPOINTED: tuple[str, ...] = ()

    def state(self) -> dict[str, Any]:
        """Everything training on depends on: weights, optimizer state, random generators, the position in the
        data order, `steps_done`. The caller copies it (engine.runtime.checkpoints.copied)."""
        if not self.CHECKPOINTED:
            raise NotCheckpointable(f"{type(self).__name__} cannot be checkpointed")
        return {"steps_done": self.steps_done, **{name: _saved(getattr(self, name)) for name in self.CHECKPOINTED}}

    def load_state(self, state: dict[str, Any]) -> None:
        """Go back to a `state()` (a copy: the trainer may keep its tensors). The hyperparameters are those the
        state was saved with until the caller applies others."""
        if not self.CHECKPOINTED:
            raise NotCheckpointable(f"{type(self).__name__} cannot be checkpointed")
        for name in self.CHECKPOINTED:
            setattr(self, name, _restored(getattr(self, name), state[name], self.device))
        self.steps_done = state["steps_done"]

    @property
    def epoch(self) -> float:
        return 0.0

    def on_epoch_end(self, epoch: int, mean_loss: float) -> str | None:
        """Called each time a whole epoch has been trained; returns why training is done, if it is now."""
        return None

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        lr = self.hp.get("lr")
        cause = (f"The learning rate {lr:g} is probably too large for this problem: lower it and press Reset."
                 if isinstance(lr, (int, float)) else "Lower the step size and press Reset.")
        return f"The {name} became {value} at step {step}. {cause}"


def train(trainer: Trainer, steps: int) -> list[dict[str, float]]:
    """Drive `trainer` for `steps` steps in this thread, as a job would (epoch ends included); stops early
    at a non-finite metric or when the trainer says training is done. Returns each step's metrics."""
    done, epoch_losses = [], []
    for _ in range(steps):
        epoch_before = math.floor(trainer.epoch + 1e-9)
        metrics = trainer.train_step()
        trainer.steps_done += 1
        done.append(metrics)
        epoch_losses += [metrics["loss"]] if "loss" in metrics else []
        if not all(math.isfinite(value) for value in metrics.values()):
            break
        epoch_now = math.floor(trainer.epoch + 1e-9)
        if epoch_now > epoch_before:
            done_because = trainer.on_epoch_end(epoch_now, sum(epoch_losses) / max(1, len(epoch_losses)))
            epoch_losses = []
            if done_because:
                break
    return done


def _saved(value: Any) -> Any:
    """What a checkpoint keeps of one attribute: a module's or optimizer's state_dict, a generator's state,
    the items of a dict of them, else the value itself (copied by the checkpoint)."""
    if isinstance(value, (torch.nn.Module, torch.optim.Optimizer)):
        return value.state_dict()
    if isinstance(value, torch.Generator):
        return value.get_state()
    if isinstance(value, dict):
        return {key: _saved(item) for key, item in value.items()}
    return value


def _restored(current: Any, saved: Any, device: torch.device) -> Any:
    """`saved` loaded into the attribute's `current` value: modules, optimizers and generators in place (other
    attributes hold them too, e.g. a dict of a trainer's networks), tensors back on the device they were on."""
    if isinstance(current, (torch.nn.Module, torch.optim.Optimizer)):
        current.load_state_dict(saved)
        return current
    if isinstance(current, torch.Generator):
        current.set_state(saved)
        return current
    if isinstance(saved, dict):
        within = current if isinstance(current, dict) else {}
        return {key: _restored(within.get(key), item, device) for key, item in saved.items()}
    if isinstance(saved, torch.Tensor):
        return saved.to(current.device if isinstance(current, torch.Tensor) else device)
    if isinstance(saved, (tuple, list)):
        items = [_restored(None, item, device) for item in saved]
        return type(saved)(*items) if hasattr(saved, "_fields") else type(saved)(items)  # a named tuple's fields
    return saved
