"""A model's weights copied off the device for the snapshot, as the Export panel offers them."""

from __future__ import annotations

import time

from torch import nn

WEIGHTS_COST_FACTOR = 20  # while training, the weights are copied for the snapshot at most 1/20 of the time


class WeightsCopy:
    """The model's weights as of a step, copied off the device for the snapshot (exports read them, never
    the live model). The widest, deepest network takes milliseconds to copy, so while training the copy
    is refreshed no sooner than WEIGHTS_COST_FACTOR times what the last one took; when training stops, at once."""

    def __init__(self) -> None:
        self.step, self.state = -1, None
        self._next_at = 0.0

    def refresh(self, model: nn.Module, step: int, training: bool) -> None:
        started = time.monotonic()
        if step == self.step or (training and started < self._next_at):
            return
        self.state = {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}
        self.step = step
        self._next_at = time.monotonic() + WEIGHTS_COST_FACTOR * (time.monotonic() - started)
