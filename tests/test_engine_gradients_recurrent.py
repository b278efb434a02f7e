"""Gradients through time: the unrolled cells against torch's fused layers, ∂L/∂h_t against a hand-written
backward recursion, the linear RNN against w^T and the product of its Jacobians, and the side-by-side job."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine import runtime
from engine.gradients.recurrent_config import CELLS, N_DISTRACTORS, N_SYMBOLS, RecurrentConfig
from engine.gradients.recurrent_model import (SequenceClassifier, build_models, gradient_through_time,
                                              linear_gradient_profile, matrix_powers, random_recurrent_matrix,
                                              recall_batch, spectral_radius, unroll)
from engine.gradients.recurrent_trainer import RecurrentJob, RecurrentTrainer
from engine.runtime import JobStatus
from tests.conftest import assert_pickles_to_equal_values


def sequences(seq_len=12, batch=5, seed=0):
    return recall_batch(seq_len, batch, torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- the task
def test_recall_task_shows_the_answer_only_at_the_first_step():
    x, y = sequences(seq_len=30, batch=200)
    tokens = x.argmax(dim=2)
    assert x.shape == (30, 200, N_SYMBOLS + N_DISTRACTORS)
    assert torch.equal(x.sum(dim=2), torch.ones(30, 200))  # one-hot
    assert torch.equal(tokens[0], y)  # the answer is the first token ...
    assert (tokens[1:] >= N_SYMBOLS).all()  # ... and nothing later hints at it
    assert set(y.tolist()) == set(range(N_SYMBOLS))


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("cell", list(CELLS))
def test_unrolled_cell_equals_torch_fused_layer(cell):
    torch.manual_seed(0)
    model = SequenceClassifier(cell, N_SYMBOLS + N_DISTRACTORS, 6, N_SYMBOLS).double()
    x, y = sequences()
    x = x.double()
    fused_states, _ = model.rnn(x)
    logits, states, cells = unroll(model, x)
    torch.testing.assert_close(torch.stack(states), fused_states, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(logits, model(x), rtol=1e-10, atol=1e-12)
    assert len(cells) == (len(states) if cell == "lstm" else 0)
    # The same parameter gradients from both.
    fused = torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))
    unrolled = torch.autograd.grad(F.cross_entropy(unroll(model, x)[0], y), list(model.parameters()))
    for a, b in zip(fused, unrolled):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_gradient_through_time_equals_the_backward_recursion_by_hand():
    """Vanilla tanh RNN: g_T = ∂L/∂h_T from the read-out, g_{t−1} = W_hhᵀ (g_t ⊙ (1 − h_t²))."""
    torch.manual_seed(1)
    model = SequenceClassifier("rnn_tanh", N_SYMBOLS + N_DISTRACTORS, 8, N_SYMBOLS).double()
    x, y = sequences(seq_len=25, batch=7)
    x = x.double()
    measured = gradient_through_time(model, x, y).h

    with torch.no_grad():
        states, _ = model.rnn(x)  # h_1..h_T from the fused layer
        h = states.numpy()
        w_hh = model.rnn.weight_hh_l0.numpy()
        probabilities = torch.softmax(model.head(states[-1]), dim=1).numpy()
    onehot = np.eye(N_SYMBOLS)[y.numpy()]
    g = (probabilities - onehot) / len(y) @ model.head.weight.detach().numpy()  # ∂L/∂h_T
    expected = [np.linalg.norm(g)]
    for t in range(len(h) - 1, 0, -1):
        g = (g * (1 - h[t] ** 2)) @ w_hh
        expected.append(np.linalg.norm(g))
    np.testing.assert_allclose(measured, expected[::-1], rtol=1e-9)
    # The LSTM also reports its cell path.
    lstm = SequenceClassifier("lstm", N_SYMBOLS + N_DISTRACTORS, 8, N_SYMBOLS).double()
    assert gradient_through_time(lstm, x, y).c is not None and gradient_through_time(model, x, y).c is None


def test_models_start_with_the_asked_spectral_radius_and_gate_bias():
    config = RecurrentConfig(hidden=16, spectral_radius=1.3, gate_bias=2.5)
    models = build_models(config, torch.Generator().manual_seed(0))
    assert set(models) == set(CELLS)
    assert spectral_radius(models["rnn_tanh"].w_hh) == pytest.approx(1.3, rel=1e-5)
    assert torch.equal(models["rnn_tanh"].w_hh, models["rnn_relu"].w_hh)  # they differ only in f
    h = config.hidden
    for cell in ("lstm", "gru"):  # forget gate f (LSTM: i, f, g, o) and update gate z (GRU: r, z, n)
        rnn = models[cell].rnn
        gate_bias = (rnn.bias_ih_l0 + rnn.bias_hh_l0)[h:2 * h]
        torch.testing.assert_close(gate_bias, torch.full((h,), 2.5))
    assert spectral_radius(random_recurrent_matrix(40, 0.6, torch.Generator().manual_seed(3))) == \
        pytest.approx(0.6, rel=1e-5)


def test_lstm_forget_bias_keeps_the_cell_gradient_alive():
    """With a large forget-gate bias the constant-error path carries ∂L/∂c back over T steps;
    with a negative one it dies out geometrically, like σ(b)^T."""
    x, y = sequences(seq_len=60, batch=32)
    norms = {}
    for bias in (-3.0, 5.0):
        config = RecurrentConfig(seq_len=60, hidden=16, gate_bias=bias, cells=("lstm",))
        model = build_models(config, torch.Generator().manual_seed(0))["lstm"]
        c = gradient_through_time(model, x, y).c
        norms[bias] = c[0] / c[-1]
    assert norms[5.0] > 0.1
    assert norms[-3.0] < 1e-20


# ---------------------------------------------------------------- the linear case
@pytest.mark.parametrize("w", [0.5, 0.9, 1.0, 1.1, -0.8])
def test_linear_rnn_scalar_gradient_is_w_to_the_t(w):
    seq_len = 40
    measured, closed = linear_gradient_profile(torch.tensor(w, dtype=torch.float64), seq_len, torch.ones(1))
    expected = np.abs(w) ** (seq_len - np.arange(seq_len + 1))  # ∂h_T/∂h_t = w^(T−t)
    np.testing.assert_allclose(measured, expected, rtol=1e-12)
    np.testing.assert_allclose(closed, expected, rtol=1e-12)
    assert measured[0] == pytest.approx(abs(w) ** seq_len, rel=1e-12)  # ∂h_T/∂h_0 = w^T


def test_linear_rnn_matrix_gradient_is_the_product_of_its_jacobians():
    seq_len, hidden = 15, 6
    w = random_recurrent_matrix(hidden, 1.05, torch.Generator().manual_seed(2)).double()
    inputs = torch.randn(seq_len, hidden, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

    def run(h0):
        h = h0
        for x_t in inputs:
            h = w @ h + x_t
        return h

    h0 = torch.randn(hidden, dtype=torch.float64)
    full = torch.autograd.functional.jacobian(run, h0)  # ∂h_T/∂h_0 in one go
    product, h = torch.eye(hidden, dtype=torch.float64), h0
    for x_t in inputs:  # one step's Jacobian at a time, chained
        step = torch.autograd.functional.jacobian(lambda v, x_t=x_t: w @ v + x_t, h)
        product, h = step @ product, w @ h + x_t
    torch.testing.assert_close(full, product, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(matrix_powers(w, seq_len)[0], product, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(matrix_powers(w, seq_len)[0], torch.linalg.matrix_power(w, seq_len))

    # The engine's profile: ‖∂(u·h_T)/∂h_t‖ = ‖(W^(T−t))ᵀ u‖, measured and closed form.
    u = torch.randn(hidden, dtype=torch.float64)
    measured, closed = linear_gradient_profile(w, seq_len, u)
    expected = [np.linalg.norm(np.linalg.matrix_power(w.numpy(), seq_len - t).T @ u.numpy())
                for t in range(seq_len + 1)]
    np.testing.assert_allclose(measured, expected, rtol=1e-10)
    np.testing.assert_allclose(closed, expected, rtol=1e-10)
    assert measured[0] == pytest.approx(torch.linalg.norm(full.T @ u).item(), rel=1e-10)


def test_spectral_radius_decides_vanishing_or_exploding():
    seq_len = 60
    for radius, grows in ((0.8, False), (1.2, True)):
        w = random_recurrent_matrix(16, radius, torch.Generator().manual_seed(0)).double()
        measured, _ = linear_gradient_profile(w, seq_len, torch.ones(16))
        assert (measured[0] > 100 * measured[-1]) == grows
        assert (measured[0] < measured[-1] / 100) == (not grows)


# ---------------------------------------------------------------- the job
def train(job: RecurrentJob, steps: int):
    ticket = job.step(steps)
    return job.wait_for(lambda s: s.commands_applied >= ticket and not s.busy, timeout=120)


def test_job_trains_every_cell_on_the_same_batches(no_leaked_threads):
    config = RecurrentConfig(seq_len=10, hidden=8)
    job = RecurrentJob(config, {"lr": 0.01}, seed=0)
    try:
        first = job.wait_for(lambda s: s.visuals is not None, timeout=30)
        snap = train(job, 5)
    finally:
        job.stop()
    assert snap.status is JobStatus.PAUSED and snap.step == 5
    for cell in CELLS:
        assert len(snap.series(f"loss_{cell}").values) == 5
        assert 0.0 <= snap.latest(f"accuracy_{cell}") <= 1.0
    assert [gradients.cell for gradients in first.visuals.init_gradients] == list(CELLS)
    assert all(len(gradients.h) == config.seq_len for gradients in first.visuals.init_gradients)
    assert [eigenvalues.cell for eigenvalues in first.visuals.eigenvalues] == ["rnn_tanh", "rnn_relu"]
    assert np.abs(first.visuals.init_eigenvalues[0].values).max() == pytest.approx(config.spectral_radius, rel=1e-5)
    linear = first.visuals.linear
    np.testing.assert_allclose(linear.scalar_measured, linear.scalar_closed, rtol=1e-10)


def test_an_exploding_cell_stops_alone_and_clipping_bounds_every_step(no_leaked_threads):
    # ReLU RNN with ρ = 3 over 60 steps: its gradient overflows; the gated cells train on.
    config = RecurrentConfig(seq_len=60, hidden=16, spectral_radius=3.0, cells=("rnn_relu", "lstm"))
    job = RecurrentJob(config, {"lr": 0.01}, seed=0)
    try:
        snap = train(job, 3)
    finally:
        job.stop()
    (stopped,) = snap.visuals.stopped
    assert stopped.cell == "rnn_relu" and "exploding" in stopped.why
    assert "rnn_relu" not in [e.cell for e in snap.visuals.eigenvalues]  # its weights are gone: no eigenvalues
    assert snap.status is JobStatus.PAUSED and math.isfinite(snap.latest("loss_lstm"))

    clipped = RecurrentJob(RecurrentConfig(seq_len=30, hidden=8), {"lr": 1.0, "clip": "norm", "clip_at": 1e-3},
                           seed=0)
    try:
        clipped.wait_for(lambda s: s.visuals is not None, timeout=30)
        models = clipped.trainer.models
        before = {cell: [p.detach().clone() for p in m.parameters()] for cell, m in models.items()}
        snap = train(clipped, 1)
        for cell, model in models.items():
            assert snap.latest(f"grad_norm_{cell}") > 1e-3  # so clipping had work to do
            # Adam's first step moves each entry by lr·sign(g) regardless: clipping cannot change it. What
            # clipping guarantees is that the gradient Adam saw had norm ≤ threshold:
            seen = torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])
            assert seen.item() == pytest.approx(1e-3, rel=1e-4)
            assert any(not torch.equal(a, b) for a, b in zip(before[cell], model.parameters()))
    finally:
        clipped.stop()


def test_with_sgd_clipping_is_what_keeps_an_exploding_relu_rnn_alive(no_leaked_threads):
    # What the page tells students: at ρ = 2 the ReLU RNN's gradient explodes; SGD's first big step throws
    # its weights to inf unless the gradient is clipped.
    config = RecurrentConfig(seq_len=50, spectral_radius=2.0, optimizer="sgd")  # the page's four cells
    stopped = {}
    for clip in ("off", "norm"):
        job = RecurrentJob(config, {"lr": 0.1, "clip": clip, "clip_at": 1.0}, seed=0)
        try:
            snap = train(job, 5)
        finally:
            job.stop()
        stopped[clip] = "rnn_relu" in [s.cell for s in snap.visuals.stopped]
        assert snap.series("grad_norm_rnn_relu").values[0] > 100  # exploding, clipped or not
    assert stopped == {"off": True, "norm": False}


def test_bad_recurrent_configurations_are_refused():
    with pytest.raises(ValueError, match="sequence length"):
        RecurrentConfig(seq_len=201).validate()
    with pytest.raises(ValueError, match="spectral radius"):
        RecurrentConfig(spectral_radius=0.0).validate()
    with pytest.raises(ValueError, match="optimizer"):
        RecurrentConfig(optimizer="lbfgs").validate()
    with pytest.raises(ValueError, match="cells"):
        RecurrentConfig(cells=("transformer",)).validate()


def test_trainer_visuals_pickle_and_unpickle_to_equal_values():
    # What a worker process will send back: the visuals after a few steps, the weights in them.
    trainer = RecurrentTrainer(RecurrentConfig(seq_len=8, hidden=8), seed=0)
    runtime.train(trainer, 3)
    visuals = trainer.observe()
    assert visuals.state_step == 3 and visuals.linear.matrix_closed is not None and len(visuals.gradients) == 4
    assert_pickles_to_equal_values(visuals)
