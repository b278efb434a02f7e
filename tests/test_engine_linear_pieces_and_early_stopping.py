"""The playground's linear-piece count (against a brute-force scan of the input) and early stopping
(against the same run without it, its validation and test losses watched epoch by epoch)."""

import copy

import numpy as np
import pytest
import torch

from engine.runtime import JobStatus, train
from engine.playground.config import PlaygroundConfig
from engine.playground.data import DataSpec, make_dataset
from engine.playground.model import PlaygroundNet, network_from_state
from engine.playground.pieces import counts_linear_pieces, kinks_1d
from engine.playground.trainer import PlaygroundJob, PlaygroundTrainer

pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def brute_force_bends(model: PlaygroundNet, lo: float, hi: float, n: int = 100_001) -> list[tuple[float, float]]:
    """Where the slope of the network's output changes on a fine grid, from forward passes alone (float64).

    A bend strictly inside a grid cell gives that cell an in-between slope: two slope changes in a row, one
    bend. Returns the x-interval holding each bend (bends must lie more than two cells apart)."""
    exact = copy.deepcopy(model).double().eval()
    x = np.linspace(lo, hi, n)
    with torch.no_grad():
        y = exact(torch.tensor(x[:, None])).numpy()[:, 0]
    slopes = np.diff(y) / np.diff(x)
    changed = np.flatnonzero(np.abs(np.diff(slopes)) > 1e-6 * max(np.abs(slopes).max(), 1.0))
    if not len(changed):
        return []
    groups = np.split(changed, np.flatnonzero(np.diff(changed) > 1) + 1)
    return [(x[group[0]], x[group[-1] + 2]) for group in groups]


def random_piecewise_linear_net(seed: int) -> PlaygroundNet:
    rng = np.random.default_rng(seed)
    hidden = tuple(int(w) for w in rng.integers(1, 9, size=rng.integers(1, 4)))
    activations = tuple(str(rng.choice(["relu", "relu", "leaky_relu", "linear"])) for _ in hidden)
    config = PlaygroundConfig(data=DataSpec(kind="sine"), features=("x1",), hidden=hidden, activations=activations,
                              init="he", batch_norm=bool(rng.integers(0, 2)), loss="mse")
    generator = torch.Generator().manual_seed(seed)
    model = PlaygroundNet(config, 1, generator)
    with torch.no_grad():
        for linear in model.linears:  # spread the bends over the input range (zero biases put them all at 0)
            linear.bias.normal_(0.0, 2.0, generator=generator)
        for norm in model.norms:
            if isinstance(norm, torch.nn.BatchNorm1d):
                norm.running_mean.normal_(0.0, 1.0, generator=generator)
                norm.running_var.uniform_(0.5, 2.0, generator=generator)
                norm.bias.normal_(0.0, 1.0, generator=generator)
    return model


@pytest.mark.parametrize("seed", range(24))
def test_bends_match_a_brute_force_scan_of_the_input(seed):
    model = random_piecewise_linear_net(seed)
    bends = kinks_1d(model, -6.0, 6.0)
    scanned = brute_force_bends(model, -6.0, 6.0)
    assert np.all(np.diff(bends) > 3 * 12.0 / 100_000), "bends too close for the scan to tell apart"
    assert len(bends) == len(scanned)
    for bend, (lo, hi) in zip(bends, scanned):
        assert lo <= bend <= hi


def test_one_hidden_layer_of_n_relu_units_has_at_most_n_plus_1_pieces():
    for width in (1, 3, 8):
        config = PlaygroundConfig(data=DataSpec(kind="sine"), features=("x1",), hidden=(width,),
                                  activations=("relu",), init="he", loss="mse")
        for seed in range(10):
            model = PlaygroundNet(config, 1, torch.Generator().manual_seed(seed))
            with torch.no_grad():
                model.linears[0].bias.normal_(0.0, 3.0, generator=torch.Generator().manual_seed(100 + seed))
            assert len(kinks_1d(model, -6.0, 6.0)) <= width


def test_pieces_are_counted_only_where_the_output_is_piecewise_linear_in_x1():
    sine = make_dataset(DataSpec(kind="sine"))
    relu = PlaygroundConfig(data=DataSpec(kind="sine"), features=("x1",), hidden=(4,), activations=("relu",),
                            loss="mse")
    assert counts_linear_pieces(relu, sine)
    assert not counts_linear_pieces(PlaygroundConfig(data=relu.data, features=("x1",), hidden=(4,),
                                                     activations=("tanh",), loss="mse"), sine)
    assert not counts_linear_pieces(PlaygroundConfig(data=relu.data, features=("x1", "x1_sq"), hidden=(4,),
                                                     activations=("relu",), loss="mse"), sine)
    assert not counts_linear_pieces(PlaygroundConfig(hidden=(4,), activations=("relu",)),
                                    make_dataset(DataSpec(kind="circle")))


def test_a_job_on_1d_data_publishes_its_bends_on_the_curve():
    config = PlaygroundConfig(data=DataSpec(kind="abs"), features=("x1",), hidden=(6,), activations=("relu",),
                              init="he", loss="mse", optimizer="adam")
    job = PlaygroundJob(config, {"lr": 0.03}, seed=0, force_cpu=True)
    try:
        job.wait_applied(job.step(200))
        snap = job.wait_for(lambda s: s.step == 200 and not s.busy, timeout=60)
        x, y = snap.visuals.kinks
        model = network_from_state(config, snap.visuals.dataset, snap.visuals.state)
        assert len(x) <= 6
        with torch.no_grad():
            assert np.allclose(model(torch.tensor(x[:, None], dtype=torch.float32))[:, 0].numpy(), y, atol=1e-5)
    finally:
        job.stop()


class WatchedTrainer(PlaygroundTrainer):
    """The same trainer, recording the validation and test losses (BCE written out here) and the weights at the
    end of every epoch."""

    def on_epoch_end(self, epoch, mean_loss):
        with torch.no_grad():
            self.model.eval()
            losses = [float(torch.nn.functional.binary_cross_entropy_with_logits(self.model(x)[:, 0], y.float()))
                      for x, y in ((self.x_val, self.y_val), (self.x_test, self.y_test))]
        self.watched.append((epoch, *losses, copy.deepcopy(self.model.state_dict())))
        return super().on_epoch_end(epoch, mean_loss)

    def setup(self):
        super().setup()
        self.watched = []


def first_stop(epochs, losses, patience):
    """The oracle: the first epoch that comes `patience` epochs after the lowest loss so far, and that epoch."""
    losses = np.asarray(losses)
    best_so_far = np.minimum.accumulate(losses)
    best_epoch = [epochs[int(np.flatnonzero(losses[:i + 1] == best_so_far[i])[0])] for i in range(len(losses))]
    stop_index = next(i for i, epoch in enumerate(epochs) if epoch - best_epoch[i] >= patience)
    return epochs[stop_index], best_epoch[stop_index]


def test_early_stopping_stops_at_the_validation_minimum_and_shows_what_the_test_set_would_have_claimed():
    config = PlaygroundConfig(data=DataSpec(kind="gauss", n_points=100, noise=0.6), hidden=(16, 16),
                              activations=("relu", "relu"), init="he", optimizer="adam")
    hp, patience = {"lr": 0.01}, 10
    plain = WatchedTrainer(config, dict(hp), seed=3)
    train(plain, 600)
    stopping = PlaygroundJob(config, {**hp, "patience": patience}, seed=3, force_cpu=True)
    try:
        epochs = [epoch for epoch, *_ in plain.watched]
        validation = np.array([loss for _, loss, _, _ in plain.watched])
        test = np.array([loss for _, _, loss, _ in plain.watched])
        expected_stop, expected_best = first_stop(epochs, validation, patience)
        # Watching the test loss would stop elsewhere here, so this run tells the two apart.
        assert first_stop(epochs, test, patience) != (expected_stop, expected_best)

        stopping.play()
        snap = stopping.wait_for(lambda s: s.status is JobStatus.DONE, timeout=120)
        assert f"Early stopping at epoch {expected_stop}:" in snap.message
        assert f"weights of epoch {expected_best} " in snap.message
        restored = dict(plain.watched[epochs.index(expected_best)][3])
        for name, value in snap.visuals.state.items():
            assert torch.equal(value, restored[name]), name
        assert snap.latest("test_loss") == pytest.approx(test[epochs.index(expected_best)], rel=1e-6)
        assert snap.latest("val_loss") == pytest.approx(validation[epochs.index(expected_best)], rel=1e-6)

        # The gap, brute force over every epoch watched up to the stop: the first lowest of each loss.
        until = epochs.index(expected_stop) + 1
        by_validation, by_test = int(np.argmin(validation[:until])), int(np.argmin(test[:until]))
        choice = snap.visuals.stopping
        assert choice.epoch == epochs[by_validation] == expected_best
        assert choice.epoch_by_test == epochs[by_test]
        assert choice.test == pytest.approx(test[by_validation], rel=1e-6)
        assert choice.optimism == pytest.approx(test[by_validation] - test[:until].min(), rel=1e-5)
        assert choice.optimism > 0 and f"{choice.optimism:.3g} too optimistic" in snap.message
    finally:
        stopping.stop()
