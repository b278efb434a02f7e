"""The Playground's exported script (engine.playground.script) against the oracle it copies: PlaygroundTrainer
driven as a job drives it. The lessons' presets run as real scripts in a subprocess; a matrix covering every
data set, feature, activation, init, optimizer, schedule and stop rule runs the script's text in this process
(cheaper: one torch import). Losses must agree to 1e-6, absolute below 1 and relative above (they come out
bitwise equal); the final weights too."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
import types

import pytest
import torch

from engine.common.layers import ACTIVATIONS, INIT_SCHEMES
from engine.common.limits import ConfigError
from engine.common.optimizers import OPTIMIZERS
from engine.common.schedules import SCHEDULES
from engine.playground.config import FEATURES, LOSSES
from engine.playground.data import DATASETS
from engine.playground.script import playground_script
from engine.playground.script_code import (ACTIVATION_CODE, DATA_CODE, FEATURE_CODE, INIT_CODE, LOSS_CODE,
                                           OPTIMIZER_CODE, SCHEDULE_CODE)
from engine.playground.spec import PlaygroundSpec
from engine.playground.trainer import PlaygroundTrainer
from engine.runtime import train
from ui.lessons import OVERFIT, PERCEPTRON_XOR, RELU_FIT, ZERO_INIT_NET

STEPS = 200
TOLERANCE = 1e-6
S = PlaygroundSpec
SUBPROCESS_PRESETS = {
    "default": S(),
    "perceptron-xor": PERCEPTRON_XOR.spec,
    "relu-fit": RELU_FIT,
    "overfit": OVERFIT,
    "zero-init": ZERO_INIT_NET.replace(init="zeros"),
    "batch-norm-momentum-step-schedule": S(bn=True, opt="momentum", schedule="step", period=2, clip=0.5),
}
MATRIX = {
    "spiral-every-feature-orthogonal-elu": S(data="spiral", noise=0.2, features=tuple(FEATURES), init="orthogonal",
                                             act="elu"),
    "moons-nesterov-cosine": S(data="moons", init="xavier_uniform", act="selu", opt="nesterov", schedule="cosine",
                               period=3),
    "checkerboard-adagrad-power": S(data="checkerboard", init="uniform", act="gelu", opt="adagrad", schedule="power",
                                    period=2),
    "multiclass-ce-adamw-decay": S(data="multiclass", classes=4, loss="ce", opt="adamw", l2=0.01, init="lecun",
                                   act="leaky_relu"),
    "multiclass-bce-rprop-exponential": S(data="multiclass", classes=5, loss="bce", opt="rprop", init="normal",
                                          act="linear", schedule="exponential", gamma=0.8),
    "multiclass-mse-rmsprop-plateau": S(data="multiclass", loss="mse", opt="rmsprop", init="small_normal",
                                        schedule="plateau", period=1),
    "xor-two-class-ce-batch-1": S(data="xor", loss="ce", init="large_normal", batch=1),
    "circle-mse-constant-init": S(data="circle", loss="mse", init="constant", opt="adam"),
    "plane-l1-l2": S(data="plane", noise=0.3, l1=0.001, l2=0.01),
    "bumps-batch-norm-dropout": S(data="bumps", opt="adam", bn=True, dropout=0.2),
    "step-1d-features": S(data="step", features_1d=("x1", "x1_sq", "sin_x1"), layers=2, act="relu"),
    "abs-batch-beyond-data": S(data="abs", points=100, batch=256),
    "sine-sigmoid": S(data="sine", act="sigmoid", noise=0.1),
    "early-stopping": S(data="gauss", points=50, noise=0.8, layers=3, w1=16, w2=16, w3=16, act="relu", opt="adam",
                        lr=0.1, batch=25, patience=5, bn=True, dropout=0.1),
    "perceptron-converges": S(data="gauss", layers=0, opt="perceptron", split=20),
    "perceptron-early-stopping": S(data="gauss", layers=0, opt="perceptron", patience=5, batch=50, points=100),
}
UPLOADED_CLASSES = tuple((float(i % 7) - 3.0, float(i % 5) * 0.7 - 1.4, float(i % 3)) for i in range(40))
UPLOADED_VALUES = tuple((0.1 * i - 2.0, 0.05 * i * i - 1.0, math.sin(0.3 * i)) for i in range(30))


def _exported(text: str) -> types.ModuleType:
    module = types.ModuleType("exported_playground_script")
    # The script this test just exported, run in this process: the matrix pays one torch import, not 16.
    exec(compile(text, "exported_playground_script.py", "exec"), module.__dict__)  # noqa: S102
    return module


def _trainer(config, hyperparameters, seed: int) -> tuple[PlaygroundTrainer, list[float]]:
    """The oracle: the trainer as a job builds it (hyperparameters applied once after setup) and drives it."""
    trainer = PlaygroundTrainer(config, dict(hyperparameters), seed=seed)
    trainer.apply_hyperparameters(dict(trainer.hp))
    return trainer, [metrics["loss"] for metrics in train(trainer, STEPS)]


def _assert_same_losses(script: list[float], job: list[float]) -> None:
    assert len(script) == len(job), f"the script trained {len(script)} steps, the trainer {len(job)}"
    for step, (a, b) in enumerate(zip(script, job), start=1):
        assert abs(a - b) <= TOLERANCE * max(1.0, abs(b)), f"step {step}: script {a!r}, trainer {b!r}"


def _printed_losses(output: str) -> list[float]:
    return [float(line.split()[3]) for line in output.splitlines() if line.startswith("step ")]


def test_lesson_presets_run_as_scripts_with_the_trainers_losses(tmp_path):
    paths = {}
    for name, spec in SUBPROCESS_PRESETS.items():
        paths[name] = tmp_path / f"{name}.py"
        paths[name].write_text(playground_script(spec, steps=STEPS), encoding="utf-8")
    # The default as anyone runs it; the others in one interpreter (one torch import), each as __main__.
    alone = subprocess.run([sys.executable, str(paths["default"]), "--steps", str(STEPS)],  # noqa: S603 - ours
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    runner = ("import runpy, sys\nfor path in sys.argv[1:]:\n    sys.argv = [path]\n    print('== ' + path)\n"
              "    runpy.run_path(path, run_name='__main__')\n")
    others = [str(path) for name, path in paths.items() if name != "default"]
    together = subprocess.run([sys.executable, "-c", runner, *others],  # noqa: S603 - the scripts just written
                              capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert together.returncode == 0, together.stderr
    outputs = {"default": alone.stdout}
    for chunk in together.stdout.split("== ")[1:]:
        path, _, output = chunk.partition("\n")
        outputs[next(n for n, p in paths.items() if str(p) == path)] = output
    assert outputs.keys() == SUBPROCESS_PRESETS.keys()
    for name, spec in SUBPROCESS_PRESETS.items():
        _, losses = _trainer(spec.config(), spec.hyperparameters(), spec.job_seed())
        printed = _printed_losses(outputs[name])
        assert len(printed) == STEPS, name
        _assert_same_losses(printed, losses)
        assert "test loss" in outputs[name]


@pytest.mark.parametrize("name", MATRIX)
def test_every_playground_choice_trains_as_the_trainer_does(name):
    spec = MATRIX[name]
    model, _, losses = _exported(playground_script(spec)).train(STEPS, report=lambda line: None)
    trainer, expected = _trainer(spec.config(), spec.hyperparameters(), spec.job_seed())
    _assert_same_losses(losses, expected)
    weights, expected_weights = model.state_dict(), trainer.model.state_dict()
    assert weights.keys() == expected_weights.keys()  # so the page's weights export loads into the script
    for key, value in expected_weights.items():
        torch.testing.assert_close(weights[key], value, rtol=0, atol=TOLERANCE)


def test_stops_end_training_where_they_do_in_the_matrix():
    """Early stopping and the perceptron's convergence stop before 200 steps (else the cases test nothing)."""
    for name in ("early-stopping", "perceptron-converges", "perceptron-early-stopping"):
        spec = MATRIX[name]
        assert len(_trainer(spec.config(), spec.hyperparameters(), spec.job_seed())[1]) < STEPS, name


@pytest.mark.parametrize("points", [UPLOADED_CLASSES, UPLOADED_VALUES], ids=["classes", "regression"])
def test_an_uploaded_data_set_travels_in_the_script(points):
    spec = S(data="csv", batch=7)
    config = spec.config(points)
    text = playground_script(config, spec.hyperparameters(), spec.job_seed())
    assert repr(points[1][0]) in text  # the points themselves, as exact literals
    _, _, losses = _exported(text).train(STEPS, report=lambda line: None)
    _assert_same_losses(losses, _trainer(config, spec.hyperparameters(), spec.job_seed())[1])


def test_the_stop_after_epoch_control_stops_the_script_at_that_epochs_end():
    spec = S(stop_epoch=2)  # 250 training points in batches of 10: epoch 2 ends at step 50
    _, _, losses = _exported(playground_script(spec)).train(STEPS, report=lambda line: None)
    expected = _trainer(spec.config(), spec.hyperparameters(), spec.job_seed())[1]
    assert len(losses) == 50
    _assert_same_losses(losses, expected[:50])


def test_the_script_needs_only_torch_numpy_and_the_standard_library():
    tree = ast.parse(playground_script(MATRIX["early-stopping"]))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"argparse", "math", "numpy", "torch"} and {"numpy", "torch"} <= imported


def test_the_tables_cover_everything_the_playground_offers():
    assert DATA_CODE.keys() == set(DATASETS)
    assert FEATURE_CODE.keys() == FEATURES.keys()
    assert ACTIVATION_CODE.keys() == ACTIVATIONS.keys() - {"step"}  # refused by the Playground but for the perceptron
    assert INIT_CODE.keys() == INIT_SCHEMES.keys()
    assert OPTIMIZER_CODE.keys() == OPTIMIZERS.keys()
    assert SCHEDULE_CODE.keys() == set(SCHEDULES)
    assert {loss for _, _, loss in LOSS_CODE} == LOSSES.keys()


@pytest.mark.parametrize("spec, why", [
    (S(layers=1, opt="perceptron"), "perceptron rule trains a single layer"),
    (S(act="step"), "step function has zero gradient"),
    (S(bn=True, batch=1), "batch of at least 2"),
    (S(data="csv"), "no uploaded data"),
])
def test_what_the_playground_cannot_train_is_refused_with_its_reason(spec, why):
    with pytest.raises(ConfigError, match=why):
        playground_script(spec)
