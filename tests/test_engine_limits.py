"""Random configurations against the engine's limits (engine/common/limits.py): each is either accepted
and trains, or refused with a message that names the limit it broke; nothing else happens."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.attention.config import AttentionConfig
from engine.attention.trainer import AttentionTrainer
from engine.diffusion.config import default_config
from engine.diffusion.trainer import DiffusionTrainer
from engine.gradients.deep_config import DeepConfig
from engine.gradients.deep_trainer import DeepJob
from engine.runtime import JobStatus
from engine.landscape.views import LandscapeRequest
from engine.common.limits import LIMITS, ConfigError, check
from engine.playground.config import PlaygroundConfig
from engine.playground.trainer import PlaygroundJob
from engine.playground.data import DataSpec
from engine.gradients.recurrent_config import RecurrentConfig
from engine.gradients.recurrent_trainer import RecurrentJob
from engine.optimizers.experiment import Experiment

# The thread-leak fixture checks once, after all the examples of a test.
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def around(name: str) -> st.SearchStrategy[int]:
    """Whole numbers near both ends of a limit, and far outside it."""
    low, high = int(LIMITS[name].low), int(LIMITS[name].high)
    return st.one_of(st.integers(low - 3, low + 3), st.integers(high - 3, high + 3),
                     st.integers(-10**12, 10**12))


def broken(values: dict[str, int]) -> set[str]:
    """The limits these values break."""
    return {name for name, value in values.items() if not LIMITS[name].low <= value <= LIMITS[name].high}


def assert_refused_by_name(message: str, broken_limits: set[str]) -> None:
    assert broken_limits, f"refused although every size is within its limit: {message}"
    assert any(f"limit {name!r}" in message for name in broken_limits), message


@pytest.mark.parametrize("value", [True, math.nan, math.inf, "5", None])
def test_the_check_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(ConfigError, match="limit 'playground.width'"):
        check("playground.width", value)


def run_job_once(job) -> JobStatus:
    """One training step; the job ends refused (FAILED with the message) or has trained."""
    try:
        job.wait_applied(job.step(), timeout=120)
        snap = job.wait_for(lambda s: not s.busy, timeout=120)
        return snap
    finally:
        job.stop()


@SETTINGS
@given(points=around("playground.points"), layers=st.integers(-2, 12), width=around("playground.width"))
def test_playground_configs(points, layers, width, no_leaked_threads):
    hidden = (width,) * max(layers, 0)
    values = {"playground.points": points, "playground.hidden_layers": max(layers, 0)}
    values |= {"playground.width": width} if hidden else {}
    config = PlaygroundConfig(data=DataSpec(n_points=points), hidden=hidden, activations=("tanh",) * len(hidden))
    snap = run_job_once(PlaygroundJob(config))
    if snap.status is JobStatus.FAILED:
        assert_refused_by_name(snap.message, broken(values))
    else:
        assert not broken(values) and snap.step == 1 and math.isfinite(snap.history["loss"].values[-1])


@SETTINGS
@given(depth=around("gradients.depth"), width=around("gradients.width"))
def test_deep_gradients_configs(depth, width, no_leaked_threads):
    values = {"gradients.depth": depth, "gradients.width": width}
    snap = run_job_once(DeepJob(DeepConfig(depth=depth, width=min(width, 10**6))))
    if snap.status is JobStatus.FAILED:
        assert_refused_by_name(snap.message, broken(values))
    else:
        assert not broken(values) and snap.step == 1


@SETTINGS
@given(seq_len=around("gradients.seq_len"), hidden=around("gradients.rnn_hidden"))
def test_recurrent_configs(seq_len, hidden, no_leaked_threads):
    values = {"gradients.seq_len": seq_len, "gradients.rnn_hidden": hidden}
    snap = run_job_once(RecurrentJob(RecurrentConfig(seq_len=seq_len, hidden=hidden)))
    if snap.status is JobStatus.FAILED:
        assert_refused_by_name(snap.message, broken(values))
    else:
        assert not broken(values) and snap.step == 1


@SETTINGS
@given(layers=around("attention.layers"), width=around("attention.width"), batch=around("attention.batch_size"),
       vocab=around("attention.vocab_size"))
def test_attention_configs(layers, width, batch, vocab):
    values = {"attention.layers": layers, "attention.width": width, "attention.batch_size": batch,
              "attention.vocab_size": vocab}
    try:
        config = AttentionConfig(n_layers=layers, d_model=width, batch_size=batch, vocab_size=vocab,
                                 train_size=256, heldout_size=64)
    except ConfigError as error:
        assert_refused_by_name(str(error), broken(values))
        return
    except ValueError as error:  # a combination, said in words
        assert str(error)
        return
    assert not broken(values)
    try:
        trainer = AttentionTrainer(config)
    except ValueError as error:  # too few distinct sequences for the sets: found when they are drawn
        assert "distinct sequences" in str(error)
        return
    assert math.isfinite(trainer.train_step()["loss"])


@SETTINGS
@given(steps=around("trajectories.steps"), resolution=around("landscape.resolution"))
def test_trajectory_and_landscape_requests(steps, resolution):
    for name, value, build in (("trajectories.steps", steps, lambda: Experiment(steps=steps)),
                               ("landscape.resolution", resolution, lambda: LandscapeRequest(resolution=resolution))):
        try:
            build()
        except ConfigError as error:
            assert_refused_by_name(str(error), broken({name: value}))
        else:
            assert not broken({name: value})


@SETTINGS
@given(points=around("diffusion.points"), T=around("diffusion.T"), width=around("diffusion.width"),
       depth=around("diffusion.depth"), batch=around("diffusion.batch_size"))
def test_diffusion_configs(points, T, width, depth, batch):
    values = {"diffusion.points": points, "diffusion.T": T, "diffusion.width": width, "diffusion.depth": depth,
              "diffusion.batch_size": batch}
    try:
        config = default_config("moons", n_points=points, T=T, width=width, depth=depth, batch_size=batch,
                                sampler_steps=1)
    except ConfigError as error:
        assert_refused_by_name(str(error), broken(values))
        return
    assert not broken(values)
    assert math.isfinite(DiffusionTrainer(config).train_step()["loss"])
