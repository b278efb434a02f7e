"""Checkpoints, fork and rewind (issue 22, section 2). The oracle: the uninterrupted run. A trainer restored
from a checkpoint trains on to exactly its losses; a fork's losses before the fork are the original's, after
it those of a fresh trainer loaded from the same checkpoint with the new hyperparameters."""

import dataclasses

import numpy as np
import pytest
import torch

from engine.attention.config import AttentionConfig
from engine.attention.trainer import AttentionTrainer
from engine.cnn.config import CnnConfig
from engine.cnn.trainer import CnnTrainer
from engine.generative.gan_trainer import GanConfig, GanTrainer
from engine.generative.vae import VaeConfig
from engine.generative.vae_trainer import VaeTrainer
from engine.generalization.mlp import MlpConfig, MlpTrainer
from engine.gradients.deep_config import DeepConfig
from engine.gradients.deep_trainer import DeepTrainer
from engine.gradients.recurrent_trainer import RecurrentConfig, RecurrentTrainer
from engine.playground.config import PlaygroundConfig
from engine.playground.trainer import PlaygroundJob, PlaygroundTrainer
from engine.runtime import JobStatus, Trainer, train
from engine.runtime.checkpoints import Checkpoint, CheckpointRing, CheckpointSummary, NotCheckpointable
from engine.words.charlm import CharModelConfig, CharModelTrainer
from engine.words.vectors import WordVectorsConfig, WordVectorsTrainer
from tests.test_engine_jobs import Quadratic, make_job

DROPOUT_ADAM = PlaygroundConfig(hidden=(8, 8), activations=("relu", "relu"), optimizer="adam", dropout=0.2,
                                batch_norm=True)


def losses(trainer, steps):
    return [m["loss"] for m in train(trainer, steps)]


PERCEPTRON = PlaygroundConfig(optimizer="perceptron", hidden=(), activations=())


@pytest.mark.parametrize("config", [PlaygroundConfig(), DROPOUT_ADAM, PERCEPTRON])
def test_a_restored_trainer_trains_on_to_exactly_the_uninterrupted_losses(config):
    uninterrupted = losses(PlaygroundTrainer(config, None, seed=5), 300)
    trainer = PlaygroundTrainer(config, None, seed=5)
    assert losses(trainer, 100) == uninterrupted[:100]
    checkpoint = Checkpoint.of(100, trainer.state(), {})
    assert losses(trainer, 50) == uninterrupted[100:150]  # the weights, Adam's moments, the rng, the data order move
    trainer.load_state(checkpoint.trainer_state())
    assert trainer.steps_done == 100 and trainer.epoch == pytest.approx(100 * 10 / 250)
    again = losses(trainer, 200)
    assert again == uninterrupted[100:]  # bit for bit, not approximately
    trainer.load_state(checkpoint.trainer_state())  # the checkpoint itself was not trained on
    assert losses(trainer, 10) == uninterrupted[100:110]


# Every other page's trainer, small; the live settings changed from their defaults where a default would leave a
# part of the state untouched (a probe at every step, the GAN's two D steps per G step, the character model's
# short windows, the attention's data order renewed every 13 steps, the word vectors' every 17).
TRAINERS = {
    "gradient flow": (DeepTrainer, DeepConfig(depth=4, width=16), {"batch_size": 32, "probe_every_step": True}),
    "gradient flow, recurrent": (RecurrentTrainer, RecurrentConfig(seq_len=10, hidden=16), {}),
    "cnn": (CnnTrainer, CnnConfig(), {"batch_size": 16}),
    "cnn, adversarial": (CnnTrainer, CnnConfig(adversarial=True), {"batch_size": 8}),
    "vae and autoencoder": (VaeTrainer, VaeConfig(autoencoder=True), {}),
    "gan": (GanTrainer, GanConfig(), {"d_steps": 2}),
    "character model": (CharModelTrainer, CharModelConfig(hidden=32), {"bptt": 16, "batch_size": 8}),
    "word vectors": (WordVectorsTrainer, WordVectorsConfig(vocabulary=500), {"batch_size": 8192, "lr": 0.005}),
    "generalization": (MlpTrainer, MlpConfig(width=16), {}),
    "attention": (AttentionTrainer, AttentionConfig(train_size=200, batch_size=16), {}),  # a new order every 13
}

# Their visuals show a probe taken once a second has passed since the last: which steps it lands on depends on time.
PROBED_BY_THE_CLOCK = {"gradient flow, recurrent"}


def same(a, b) -> bool:
    """Equal to the bit: visuals (dataclasses of arrays, tuples, numbers), metrics."""
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, (np.ndarray, torch.Tensor)):
        a, b = np.asarray(a), np.asarray(b)
        return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN where nothing was measured


def run(trainer: Trainer, steps: int) -> tuple[list[dict], dict, object, float]:
    """Each step's metrics, then the evaluation, the visuals and the epoch at the end."""
    metrics = train(trainer, steps)
    with torch.no_grad():  # as a job evaluates and observes
        return metrics, trainer.evaluate(), trainer.observe(), trainer.epoch


@pytest.mark.parametrize("name", TRAINERS)
def test_every_training_page_trains_on_from_a_checkpoint_to_exactly_the_uninterrupted_run(name):
    trainer_type, config, hyperparameters = TRAINERS[name]

    def built() -> Trainer:
        torch.manual_seed(3)  # as a job builds it: some layers draw their initial weights from torch's generator
        return trainer_type(config, dict(hyperparameters), seed=3)

    uninterrupted = run(built(), 40)
    assert len(uninterrupted[0]) == 40  # no metric went non-finite (which would end the run early)
    trainer = built()
    train(trainer, 20)
    checkpoint = Checkpoint.of(20, trainer.state(), {})
    # A detour from other weights: weights, optimizer moments, generators, the data position and what the trainer
    # records along the way all move elsewhere than where the uninterrupted run went.
    with torch.no_grad():
        for attribute in vars(trainer).values():
            for part in attribute.values() if isinstance(attribute, dict) else (attribute,):
                if isinstance(part, torch.Generator):
                    part.manual_seed(99)  # other batches, noise, passes
                for parameter in part.parameters() if isinstance(part, torch.nn.Module) else ():
                    parameter.add_(0.1 * torch.randn_like(parameter))
    train(trainer, 17)
    trainer.load_state(checkpoint.trainer_state())
    assert trainer.steps_done == 20
    metrics, evaluation, visuals, epoch = run(trainer, 20)
    assert metrics == uninterrupted[0][20:]  # bit for bit, every metric of every step
    assert same(evaluation, uninterrupted[1]) and epoch == uninterrupted[3]
    if name not in PROBED_BY_THE_CLOCK:
        assert same(visuals, uninterrupted[2])


def test_the_ring_keeps_step_0_and_stays_within_its_byte_budget():
    state = {"w": torch.zeros(256)}  # 1 KiB each
    ring = CheckpointRing(every=10, max_bytes=8 * 1024, max_count=64)
    for step in range(0, 1001):
        if ring.due(step):
            ring.add(Checkpoint.of(step, state, {}))
        assert ring.nbytes <= 8 * 1024 and len(ring.checkpoints) <= 8
    steps = [c.step for c in ring.checkpoints]
    assert steps[0] == 0 and ring.initial().step == 0
    assert steps == [0, *range(ring.every, 1001, ring.every)][:len(steps)]  # evenly spaced over the whole run
    assert 1000 - steps[-1] < ring.every and ring.every > 10
    assert ring.at(555).step == max(s for s in steps if s <= 555)
    assert ring.summary().nbytes == 1024 * len(steps)
    ring = CheckpointRing(every=1, max_bytes=10**9, max_count=4)
    for step in range(20):
        if ring.due(step):
            ring.add(Checkpoint.of(step, state, {}))
    assert [c.step for c in ring.checkpoints] == [0, 8, 16] and ring.every == 8  # at most 4: halved when a 5th came
    copy = ring.checkpoints[0].trainer_state()
    copy["w"] += 1  # a copy: training on a loaded state leaves the checkpoint alone
    assert float(ring.checkpoints[0].trainer["w"].sum()) == 0


class Records:
    """A trainer's own object holding arrays (as a probe history does), one of them shared read-only."""

    def __init__(self):
        self.columns = [np.zeros(100), np.zeros(50, dtype=np.float32)]
        self.frozen = np.zeros(1000)
        self.frozen.setflags(write=False)
        self.itself = self  # a cycle is counted once


def test_a_checkpoint_counts_the_arrays_inside_a_trainers_own_objects():
    records = Records()
    checkpoint = Checkpoint.of(0, {"records": records, "w": torch.zeros(10)}, {})
    assert checkpoint.nbytes == 100 * 8 + 50 * 4 + 10 * 4  # the read-only array is shared, not counted
    copy = checkpoint.trainer["records"]
    assert copy is not records and copy.columns[0] is not records.columns[0] and copy.itself is copy
    assert copy.frozen is records.frozen

def test_a_tuple_of_numbers_and_read_only_arrays_is_shared_and_one_holding_anything_writable_is_copied():
    frozen = np.arange(3.0)
    frozen.setflags(write=False)
    trajectory = (4, (0, 1, 2), (frozen, frozen))  # a weight trajectory's interval, steps and vectors
    checkpoint = Checkpoint.of(0, {"trajectory": trajectory}, {})
    assert checkpoint.trainer["trajectory"][1] is trajectory[1] and checkpoint.trainer["trajectory"][2] is trajectory[2]
    assert checkpoint.nbytes == 0
    writable, tensor = np.arange(3.0), torch.zeros(2)
    checkpoint = Checkpoint.of(0, {"mixed": (1, frozen, writable, tensor)}, {})
    writable[0], tensor[0] = 9.0, 9.0  # training on changes them: the checkpoint must not
    kept = checkpoint.trainer["mixed"]
    assert kept[1] is frozen and kept[2][0] == 0.0 and kept[3][0] == 0.0
    assert checkpoint.nbytes == 3 * 8 + 2 * 4



def train_job(job, steps):
    ticket = job.step(steps)
    return job.wait_for(lambda s: s.commands_applied >= ticket and not s.busy, timeout=60)


def test_fork_shares_the_history_before_the_fork_and_follows_the_new_hyperparameters_after(no_leaked_threads):
    original = PlaygroundJob(DROPOUT_ADAM, seed=2)
    branch = same = None
    try:
        before = train_job(original, 230)
        assert before.checkpoints.steps == (0, 50, 100, 150, 200) and before.checkpoints.nbytes > 0
        branch = original.fork(120, lr=0.3)  # the last checkpoint before 120: step 100
        forked = branch.snapshot()
        assert forked.step == 100 and forked.status is JobStatus.READY and forked.hyperparameters["lr"] == 0.3
        assert forked.checkpoints.steps == (0, 100)
        assert np.array_equal(forked.series("loss").values, before.series("loss").values[:100])
        after = train_job(branch, 150)
        assert np.array_equal(after.series("loss").values[:100], before.series("loss").values[:100])
        # The oracle: a fresh trainer loaded from the same checkpoint, trained with the new learning rate.
        fresh = PlaygroundTrainer(DROPOUT_ADAM, {**original.hp, "lr": 0.3}, seed=2)
        fresh.load_state(original.checkpoints.at(100).trainer_state())
        expected = losses(fresh, 150)
        assert after.series("loss").values[100:].tolist() == expected
        assert expected[:50] != before.series("loss").values[100:150].tolist()  # lr 0.3 does differ
        same = original.fork(100)  # unchanged hyperparameters: the original's own continuation
        continued = train_job(same, 130)
        assert np.array_equal(continued.series("loss").values, before.series("loss").values)
    finally:
        for job in (original, branch, same):
            if job is not None:
                job.stop()


def test_rewind_repeats_the_run_and_a_new_seed_gives_new_weights_on_the_same_data(no_leaked_threads):
    job = PlaygroundJob(seed=4)
    try:
        first = train_job(job, 120)
        rewound = job.wait_applied(job.rewind())
        assert rewound.step == 0 and rewound.status is JobStatus.READY and rewound.checkpoints.steps == (0,)
        assert len(rewound.series("loss")) == 0 and rewound.series("train_loss").steps.tolist() == [0]
        again = train_job(job, 120)
        assert np.array_equal(again.series("loss").values, first.series("loss").values)
        assert again.checkpoints.steps == (0, 50, 100)
        data = job.trainer.dataset.x_train
        reseeded = job.wait_applied(job.rewind(new_seed=True))
        assert reseeded.seed == 5 and reseeded.step == 0
        assert np.array_equal(job.trainer.dataset.x_train, data)  # the data come from the config's own seed
        third = train_job(job, 20)
        assert not np.array_equal(third.series("loss").values, first.series("loss").values[:20])
    finally:
        job.stop()


def test_an_experiment_without_state_is_never_checkpointed_and_says_so_when_forked(no_leaked_threads):
    job = make_job(Quadratic)
    try:
        snap = train_job(job, 60)
        assert snap.checkpoints is None
        with pytest.raises(NotCheckpointable, match="cannot be checkpointed"):
            job.fork(50)
        assert job.wait_applied(job.rewind()).step == 0  # a rebuild with the same seed, which is the same
    finally:
        job.stop()


def test_fork_and_rewind_pass_through_a_worker_process(processes_host):
    original = processes_host.start(PlaygroundJob, PlaygroundConfig(), None, seed=1)
    branch = None
    try:
        before = train_job(original, 110)
        assert before.checkpoints.steps == (0, 50, 100)
        branch = original.fork(60, lr=0.1)
        forked = branch.wait_for(lambda s: s.step == 50, timeout=60)
        assert forked.hyperparameters["lr"] == 0.1
        assert np.array_equal(forked.series("loss").values, before.series("loss").values[:50])
        rewound = original.wait_applied(original.rewind())
        assert rewound.step == 0 and rewound.checkpoints.steps == (0,)
    finally:
        original.stop()
        if branch is not None:
            branch.stop()


def test_the_summary_says_a_small_networks_checkpoints_in_kilobytes():
    mb = 2 ** 20
    assert CheckpointSummary((0,), 10_000, 50, 64 * mb).describe() == (
        "1 checkpoint, step 0, every 50 steps, 10 KB of 64 MB")
    assert CheckpointSummary((0, 50, 1_500), int(3.1 * mb), 100, 64 * mb).describe() == (
        "3 checkpoints, steps 0–1,500, every 100 steps, 3.1 MB of 64 MB")
    assert CheckpointSummary((0,), 300, 50, 64 * mb).describe().endswith("1 KB of 64 MB")  # never "0 KB"

