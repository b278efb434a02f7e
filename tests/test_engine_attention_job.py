"""The attention experiment run through the job runtime (thread, commands, snapshots)."""

import dataclasses

import numpy as np
import pytest

from engine.attention.config import ATTENTION_PRESETS, AttentionConfig
from engine.attention.job import AttentionJob
from engine.runtime import JobStatus

pytestmark = pytest.mark.usefixtures("no_leaked_threads")


@pytest.fixture
def make_job():
    jobs = []

    def make(config, **kwargs):
        job = AttentionJob(config, seed=kwargs.pop("seed", 0), force_cpu=True, **kwargs)
        jobs.append(job)
        return job

    yield make
    for job in jobs:
        job.stop()


def test_reverse_preset_reaches_every_heldout_sequence_within_its_step_budget(make_job):
    job = make_job(ATTENTION_PRESETS["reverse"])
    job.play()
    snap = job.wait_for(lambda s: s.latest("heldout_sequence_accuracy") == 1.0 or s.step >= 1000, timeout=240)
    job.wait_applied(job.pause())
    assert snap.latest("heldout_sequence_accuracy") == 1.0, f"step {snap.step}"
    assert snap.step <= 1000
    # independent oracle: the held-out examples shown are reversed by the model's own predictions
    final = job.snapshot()
    shown = final.visuals.predictions
    expected = final.visuals.expected
    assert shown.shape == (4, 8) and (shown == expected).all()
    ideal = final.visuals.ideal[0]
    assert ideal.tolist() == np.eye(8, dtype=bool)[::-1].tolist()
    # the single head learned the anti-diagonal
    attention = final.visuals.attention[0, 0, 0]
    assert attention[ideal].mean() > 0.5


def test_snapshot_holds_every_view_and_requests_are_served_in_the_trainer_thread(make_job):
    config = AttentionConfig(n_heads=2, train_size=256, heldout_size=32)
    job = make_job(config)
    snap = job.wait_applied(job.step(25))
    job.wait_for(lambda s: not s.busy)
    snap = job.wait_applied(job.set_hyperparameters(query=(1, 2, 3, 4, 5, 6, 7, 8), heads_off=((0, 1),),
                                                    ablation_request=1))
    v = snap.visuals
    assert snap.step == 25
    assert v.attention.shape == (4, 1, 2, 8, 8)
    assert np.allclose(v.attention.sum(-1), 1.0, atol=1e-5)  # rows are probabilities
    assert v.timeline_steps.tolist() == [0, 10, 20]
    assert v.timeline_attention.shape == (3, 4, 1, 2, 8, 8)
    assert v.positional_encoding.shape == (8, 32)
    enc = v.positional_encoding
    assert np.allclose(v.positional_similarity, enc @ enc.T)
    assert v.heads_off == ((0, 1),)
    prediction = v.prediction
    assert prediction.tokens == (1, 2, 3, 4, 5, 6, 7, 8) and prediction.expected == (8, 7, 6, 5, 4, 3, 2, 1)
    ablation = v.ablation
    assert ablation.token_accuracy.shape == (1, 2) and v.ablation_step == 25
    for array in (v.attention, v.timeline_attention, v.positional_similarity):
        assert not array.flags.writeable
    # a query that does not fit the experiment explains itself instead of failing
    snap = job.wait_applied(job.set_hyperparameters(query=(1, 2, 3)))
    assert snap.visuals.prediction is None and "exactly 8" in snap.visuals.query_error
    assert snap.status is JobStatus.PAUSED


def test_a_seed_reproduces_the_run(make_job):
    config = AttentionConfig(train_size=256, heldout_size=32)
    losses = []
    for seed in (3, 3, 4):
        job = make_job(config, seed=seed)
        job.wait_applied(job.step(15))
        snap = job.wait_for(lambda s: not s.busy and s.step == 15)
        losses.append(snap.series("loss").values.tolist())
        job.stop()
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]


def test_rnn_family_and_reset_to_another_config(make_job):
    job = make_job(dataclasses.replace(ATTENTION_PRESETS["reverse"], architecture="rnn", rnn_hidden=16, train_size=256,
                                       heldout_size=32))
    snap = job.wait_applied(job.step(5))
    snap = job.wait_for(lambda s: not s.busy)
    assert snap.visuals.attention.shape == (4, 1, 1, 8, 8)
    assert snap.visuals.positional_encoding is None and not snap.visuals.is_transformer
    snap = job.wait_applied(job.set_hyperparameters(ablation_request=1))  # no heads: nothing measured, no failure
    assert snap.visuals.ablation is None and snap.status is JobStatus.PAUSED
    snap = job.wait_applied(job.reset(ATTENTION_PRESETS["induction"]))
    assert snap.step == 0 and snap.visuals.attention.shape == (4, 2, 2, 24, 24)
