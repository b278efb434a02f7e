"""What early stopping chose, by the validation loss, against what choosing on the test set would have claimed
(the optimistic gap). Kept as running minima, so a long run costs nothing more per epoch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StoppingChoice:
    """Over the epoch ends early stopping has watched: the epoch it keeps and the one the test set would."""

    epoch: int  # the lowest validation loss so far (the first of equal ones): the weights early stopping keeps
    validation: float  # its validation loss
    test: float  # its test loss: an honest estimate, since the test points had no say in choosing it
    epoch_by_test: int  # the lowest test loss so far: the epoch stopping on the test set would keep
    lowest_test: float  # and the test loss it would report

    @property
    def optimism(self) -> float:
        """How much lower (≥ 0) the reported test loss is when the test set picks the epoch."""
        return self.test - self.lowest_test

    def describe(self) -> str:
        """The chosen epoch's test loss and the gap, in a sentence, after one naming the chosen epoch."""
        honest = f"Its test loss, {self.test:.4g}, is an honest estimate"
        if self.epoch_by_test == self.epoch:
            return honest + "; stopping on the test set would have kept the same epoch."
        return honest + (f"; stopping on the test set would keep epoch {self.epoch_by_test:,} instead and report "
                         f"{self.lowest_test:.4g}, {self.optimism:.3g} too optimistic, since the test points would "
                         "then have picked the model they judge.")


def watch(choice: StoppingChoice | None, epoch: int, validation: float, test: float) -> StoppingChoice:
    """The choice after one more epoch end; only a strictly lower loss moves it, so the first of equals stays."""
    if choice is None:
        return StoppingChoice(epoch, validation, test, epoch, test)
    lower, lower_test = validation < choice.validation, test < choice.lowest_test  # a NaN is never lower
    return StoppingChoice(
        epoch=epoch if lower else choice.epoch, validation=validation if lower else choice.validation,
        test=test if lower else choice.test, epoch_by_test=epoch if lower_test else choice.epoch_by_test,
        lowest_test=test if lower_test else choice.lowest_test)
