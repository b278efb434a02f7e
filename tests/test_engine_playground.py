"""The playground's data, network, optimizers and job, against formulas and hand computations."""

import hashlib
import math

import numpy as np
import pytest
import torch
from torch import nn

from engine.runtime import JobStatus, train
from engine.common.layers import INIT_SCHEMES, init_linear_
from engine.playground.config import PlaygroundConfig, parameter_counts
from engine.playground.data import _GENERATORS, DATASETS, BadUpload, DataSpec, make_dataset, parse_points_csv
from engine.playground.model import PlaygroundNet, data_loss, perceptron_update
from engine.playground.spec import PlaygroundSpec
from engine.playground.stopping import watch
from engine.playground.trainer import PlaygroundJob, PlaygroundTrainer, PlaygroundVisuals
from engine.common.schedules import LearningRateSchedule
from tests.conftest import assert_pickles_to_equal_values


@pytest.mark.parametrize("scheme", ["uniform", "normal", "xavier_uniform", "xavier_normal", "he", "lecun",
                                    "small_normal", "large_normal"])
def test_init_weight_variance_matches_its_formula(scheme):
    fan_in, fan_out = 400, 300
    layer = nn.Linear(fan_in, fan_out)
    init_linear_(layer, scheme, torch.Generator().manual_seed(1))
    w = layer.weight.detach().double()
    expected = INIT_SCHEMES[scheme].variance(fan_in, fan_out)
    # 120,000 draws: the sample variance is within a few percent of the true one.
    assert w.var().item() == pytest.approx(expected, rel=0.03)
    assert abs(w.mean().item()) < 4 * math.sqrt(expected / w.numel())
    assert torch.all(layer.bias == 0)


def test_constant_zero_and_orthogonal_inits():
    layer = nn.Linear(5, 5)
    g = torch.Generator().manual_seed(0)
    init_linear_(layer, "zeros", g)
    assert torch.all(layer.weight == 0)
    init_linear_(layer, "constant", g)
    assert torch.all(layer.weight == layer.weight[0, 0]) and layer.weight[0, 0] != 0
    init_linear_(layer, "orthogonal", g)
    w = layer.weight.detach()
    torch.testing.assert_close(w.T @ w, torch.eye(5), atol=1e-5, rtol=0)


def test_perceptron_rule_against_a_hand_computation():
    # w = (1, -1), b = 0. Points: (2, 1) -> w·x = 1 > 0 -> ŷ = 1, label 0: error -1.
    #                         (1, 3) -> w·x = -2 -> ŷ = 0, label 1: error +1.
    w = torch.tensor([[1.0, -1.0]])
    b = torch.tensor([0.0])
    x = torch.tensor([[2.0, 1.0], [1.0, 3.0]])
    y = torch.tensor([0, 1])
    error_rate = perceptron_update(w, b, x, y, lr=0.5)
    # Δw = 0.5·(−1·(2, 1) + 1·(1, 3)) = 0.5·(−1, 2); Δb = 0.5·(−1 + 1) = 0
    torch.testing.assert_close(w, torch.tensor([[0.5, 0.0]]))
    torch.testing.assert_close(b, torch.tensor([0.0]))
    assert error_rate == 1.0


def test_perceptron_separates_blobs_but_not_xor():
    results = {}
    for kind in ("gauss", "xor"):
        config = PlaygroundConfig(data=DataSpec(kind, n_points=400), hidden=(), activations=(), optimizer="perceptron",
                                  loss="mse")
        job = PlaygroundJob(config, {"lr": 0.01, "batch_size": 20})
        try:
            job.wait_applied(job.step(2000))
            results[kind] = job.wait_for(lambda s: not s.busy, timeout=60)
        finally:
            job.stop()
    blobs, xor = results["gauss"], results["xor"]
    # Separable: a whole epoch without a mistake ends training (only mistakes move the weights), long before 2000.
    assert blobs.status is JobStatus.DONE and blobs.step < 2000 and "no mistake" in blobs.message
    assert blobs.latest("train_accuracy") == 1.0 and blobs.latest("test_accuracy") > 0.95
    assert xor.status is not JobStatus.DONE and xor.step == 2000 and xor.latest("test_accuracy") < 0.7


@pytest.mark.parametrize("kind", DATASETS)
def test_every_data_set_has_the_promised_shape(kind):
    spec = DataSpec(kind, n_points=200, noise=0.1, train_fraction=0.7, seed=3)
    ds = make_dataset(spec)
    assert len(ds.x_train) + len(ds.x_test) == 200
    assert len(ds.x_train) == 140
    assert ds.x_train.shape[1] == ds.input_dim
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.y_train).all()
    if ds.is_classification:
        assert set(np.unique(np.r_[ds.y_train, ds.y_test])) == set(range(ds.n_classes))
    # Same seed, same data; another seed, other data.
    again = make_dataset(spec)
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    other = make_dataset(DataSpec(kind, n_points=200, noise=0.1, train_fraction=0.7, seed=4))
    assert not np.array_equal(ds.x_train, other.x_train)


def test_labels_follow_the_rule_that_defines_the_data_set():
    xor = make_dataset(DataSpec("xor", n_points=500))
    assert np.all((xor.x_train[:, 0] * xor.x_train[:, 1] > 0) == (xor.y_train == 1))
    circle = make_dataset(DataSpec("circle", n_points=500))
    assert np.all((np.linalg.norm(circle.x_train, axis=1) > 3.0) == (circle.y_train == 1))
    sine = make_dataset(DataSpec("sine", n_points=100))
    np.testing.assert_allclose(sine.y_train, np.sin(sine.x_train[:, 0]), atol=1e-6)


def test_same_seed_and_config_give_the_same_loss_curve():
    def curve(seed):
        config = PlaygroundConfig(data=DataSpec("spiral", seed=seed), hidden=(8, 8), activations=("relu", "relu"),
                                  dropout=0.2, optimizer="adam")
        job = PlaygroundJob(config, {"lr": 0.01}, seed=seed)
        try:
            job.wait_applied(job.step(300))
            return job.wait_for(lambda s: s.step == 300 and not s.busy, timeout=60).series("loss").values.copy()
        finally:
            job.stop()

    first, second, other = curve(1), curve(1), curve(2)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_default_playground_learns_the_circle():
    job = PlaygroundJob()
    try:
        job.wait_applied(job.step(3000))
        snap = job.wait_for(lambda s: s.step == 3000 and not s.busy, timeout=120)
        assert snap.latest("test_accuracy") > 0.95
        assert snap.latest("train_loss") < snap.series("train_loss").values[0] / 3
        assert snap.visuals.surface.shape == (64, 64)
        assert snap.visuals.confusion.sum() == len(snap.visuals.dataset.x_test)
    finally:
        job.stop()


@pytest.mark.parametrize("config", [
    PlaygroundConfig(data=DataSpec("multiclass", n_points=200), hidden=(5,), activations=("relu",), loss="ce"),
    PlaygroundConfig(data=DataSpec("abs", n_points=100), features=("x1",), hidden=(4,), activations=("relu",),
                     loss="mse"),
], ids=["multiclass", "1-d"])
def test_the_trainers_visuals_pickle_and_unpickle_to_equal_values(config):
    """What a worker process would send back: every field comes back equal, the optional ones included."""
    trainer = PlaygroundTrainer(config, {"lr": 0.03}, seed=0)
    train(trainer, 25)
    visuals = trainer.observe()
    assert isinstance(visuals, PlaygroundVisuals) and len(visuals.trajectory[0]) == 26
    assert (visuals.confusion is None) == (visuals.kinks is not None)  # each config fills one of the two
    assert_pickles_to_equal_values(visuals)


def test_divergence_names_the_step_and_the_learning_rate():
    config = PlaygroundConfig(data=DataSpec("plane"), hidden=(8,), activations=("linear",), loss="mse")
    job = PlaygroundJob(config, {"lr": 10.0})
    try:
        job.play()
        snap = job.wait_for(lambda s: s.status is JobStatus.DIVERGED, timeout=30)
        assert f"step {snap.step}" in snap.message and "learning rate 10" in snap.message
    finally:
        job.stop()


def test_bad_combinations_are_refused_with_a_reason():
    circle = make_dataset(DataSpec("circle"))
    with pytest.raises(ValueError, match="zero gradient"):
        PlaygroundConfig(activations=("step", "tanh")).validate(circle)
    with pytest.raises(ValueError, match="hidden layers to 0"):
        PlaygroundConfig(optimizer="perceptron").validate(circle)
    with pytest.raises(ValueError, match="mean squared error"):
        PlaygroundConfig(loss="bce").validate(make_dataset(DataSpec("plane")))
    with pytest.raises(ValueError, match="between 10 and"):
        make_dataset(DataSpec("circle", n_points=10**7))


def test_losses_match_their_definitions():
    config = PlaygroundConfig()
    logits = torch.tensor([[0.3], [-1.2]])
    labels = torch.tensor([1, 0])
    p = torch.sigmoid(logits[:, 0])
    bce = -(torch.log(p[0]) + torch.log(1 - p[1])) / 2
    torch.testing.assert_close(data_loss(config, "binary", logits, labels), bce)
    mse_config = PlaygroundConfig(loss="mse")
    torch.testing.assert_close(data_loss(mse_config, "binary", logits, labels), ((p - labels) ** 2).mean())


def test_parameter_counts_follow_the_formula():
    config = PlaygroundConfig(features=("x1", "x2", "x1x2"), hidden=(5, 4), activations=("relu", "relu"),
                              batch_norm=True)
    counts = parameter_counts(config, 1)
    assert [c for _, c, _ in counts] == [3 * 5 + 5 + 10, 5 * 4 + 4 + 8, 4 * 1 + 1]
    net = PlaygroundNet(config, 1, torch.Generator().manual_seed(0))
    assert sum(p.numel() for p in net.parameters()) == sum(c for _, c, _ in counts)


def test_schedules_match_their_formulas():
    assert LearningRateSchedule("step", 0.5, 10).rate(0.1, 25) == pytest.approx(0.1 * 0.25)
    assert LearningRateSchedule("exponential", 0.9, 1).rate(0.1, 3) == pytest.approx(0.1 * 0.9**3)
    assert LearningRateSchedule("cosine", 0.5, 10).rate(0.1, 5) == pytest.approx(0.05)
    assert LearningRateSchedule("power", 0.5, 10).rate(0.1, 30) == pytest.approx(0.05)
    assert LearningRateSchedule("power", 0.5, 10, power=1.0).rate(0.1, 30) == pytest.approx(0.1 / 4)  # note 001's c
    plateau = LearningRateSchedule("plateau", 0.5, 2)
    for loss in [1.0, 0.5, 0.6, 0.6]:
        plateau.end_of_epoch(loss)
    assert plateau.rate(0.1, 4) == pytest.approx(0.05)


@pytest.mark.parametrize("raw, message", [
    (b"", "empty"),
    (b"x1,x2,label\n", "data rows"),
    (b"\x00\x01\x02garbage", "binary"),
    (b"\xff\xfe\xfa", "UTF-8"),
    ("x1,x2,label\n" + "1,2\n" * 20, "columns"),
    ("x1,x2,label\n" + "1,2,a\n" * 20, "not three numbers"),
    ("x1,x2,label\n" + "1,nan,0\n" * 20, "NaN"),
    ("x1,x2,label\n" + "1,2,0\n" * 20, "same label"),
    ("1,2,0\n" * 6000, "limit"),
])
def test_bad_csv_uploads_get_a_clear_message(raw, message):
    raw = raw.encode() if isinstance(raw, str) else raw
    with pytest.raises(BadUpload, match=message):
        parse_points_csv(raw)


def test_good_csv_upload_becomes_a_data_set():
    rows = "\n".join(f"{i % 7 - 3},{i % 5 - 2},{i % 2}" for i in range(40))
    points = parse_points_csv(("x1,x2,label\n" + rows).encode())
    ds = make_dataset(DataSpec("csv", uploaded=points))
    assert ds.task == "binary"
    # No generator to draw validation points from: a fifth of the 20 training points become them.
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (16, 4, 20)
    rows = {tuple(row) for row in np.c_[np.r_[ds.x_train, ds.x_val, ds.x_test], np.r_[ds.y_train, ds.y_val, ds.y_test]]}
    assert rows == {tuple(map(float, point)) for point in points}  # every row once: 40 distinct rows


# The training and test points of a seed as drawn before there were validation points (sha256 of their bytes,
# recorded then). Only data sets drawn without sin/cos/exp, whose last bits could differ between CPUs.
POINTS_BEFORE_VALIDATION = {"xor": "9e55b780048bda8e", "gauss": "8ab5badf238ecc6a",
                            "checkerboard": "f70b8ed2d47dcb5a", "plane": "f6df81bc8338f29e", "step": "08d055972060951a"}


def old_draw(spec: DataSpec) -> tuple[np.ndarray, ...]:
    """The draw as it was before validation points: the generator from the seed, the split from seed + 1."""
    x, y, task, _ = _GENERATORS[spec.kind](np.random.default_rng(spec.seed), spec)
    order = np.random.default_rng(spec.seed + 1).permutation(len(x))
    n_train = max(1, min(len(x) - 1, round(spec.train_fraction * len(x))))
    x, y = x.astype(np.float32), y.astype(np.float32 if task == "regression" else np.int64)
    return x[order[:n_train]], y[order[:n_train]], x[order[n_train:]], y[order[n_train:]]


@pytest.mark.parametrize("kind", DATASETS)
def test_validation_points_leave_the_training_and_test_points_as_they_were(kind):
    spec = DataSpec(kind, n_points=200, noise=0.3, train_fraction=0.7, seed=5)
    ds = make_dataset(spec)
    drawn = (ds.x_train, ds.y_train, ds.x_test, ds.y_test)
    for now, before in zip(drawn, old_draw(spec)):
        assert now.dtype == before.dtype and now.tobytes() == before.tobytes()
    if kind in POINTS_BEFORE_VALIDATION:
        digest = hashlib.sha256(b"".join(array.tobytes() for array in drawn)).hexdigest()[:16]
        assert digest == POINTS_BEFORE_VALIDATION[kind]


@pytest.mark.parametrize("kind", DATASETS)
def test_validation_points_are_new_points_of_the_same_data_set(kind):
    spec = DataSpec(kind, n_points=300, noise=0.1, train_fraction=0.6, seed=2)
    ds = make_dataset(spec)
    assert len(ds.x_val) == len(ds.x_test) == 120 and ds.x_val.dtype == ds.x_test.dtype
    assert ds.y_val.dtype == ds.y_test.dtype
    seen = {tuple(point) for point in np.r_[ds.x_train, ds.x_test]}
    assert not any(tuple(point) in seen for point in ds.x_val)  # none is a training or test point
    if ds.is_classification:
        assert set(np.unique(ds.y_val)) == set(range(ds.n_classes))
    other = make_dataset(DataSpec(kind, n_points=300, noise=0.1, train_fraction=0.6, seed=3))
    assert not np.array_equal(ds.x_val, other.x_val)  # each seed draws its own


def test_validation_points_follow_the_rule_that_labels_the_data_set():
    xor = make_dataset(DataSpec("xor", n_points=500))
    assert np.all((xor.x_val[:, 0] * xor.x_val[:, 1] > 0) == (xor.y_val == 1))
    circle = make_dataset(DataSpec("circle", n_points=500))
    assert np.all((np.linalg.norm(circle.x_val, axis=1) > 3.0) == (circle.y_val == 1))
    sine = make_dataset(DataSpec("sine", n_points=100))
    np.testing.assert_allclose(sine.y_val, np.sin(sine.x_val[:, 0]), atol=1e-6)


def test_early_stopping_choice_is_the_first_minimum_of_each_loss():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        validation, test = rng.integers(0, 6, n) / 4, rng.integers(0, 6, n) / 4  # few values: many ties
        choice = None
        for epoch in range(n):
            choice = watch(choice, epoch + 1, float(validation[epoch]), float(test[epoch]))
        by_validation, by_test = int(np.argmin(validation)), int(np.argmin(test))
        assert (choice.epoch, choice.validation, choice.test) == (by_validation + 1, validation.min(),
                                                                  test[by_validation])
        assert (choice.epoch_by_test, choice.lowest_test) == (by_test + 1, test.min())
        assert choice.optimism == test[by_validation] - test.min() >= 0


def test_the_playgrounds_power_exponent_reaches_the_learning_rate_live():
    spec = PlaygroundSpec(schedule="power", period=10, power_c=1.5)
    trainer = PlaygroundTrainer(spec.config(), spec.hyperparameters(), seed=0)
    assert trainer.schedule.rate(0.1, 30) == pytest.approx(0.1 * 4 ** -1.5)
    trainer.apply_hyperparameters({"schedule_power": 0.5})
    trainer.hp["schedule_power"] = 0.5
    assert trainer.schedule.rate(0.1, 30) == pytest.approx(0.05)
    assert PlaygroundSpec(power_c=1.5).power_c == 0.5  # hidden unless the power schedule is chosen: its default
