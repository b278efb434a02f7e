"""The character language model against independent oracles: bits per character by an explicit loop over
characters (and by hand for a model that ignores its input), the count models by direct counting, the chosen k
by brute force over the grid, truncated BPTT against the full graph, sampling frequencies against the softmax,
and measured training behaviour."""

from __future__ import annotations

import copy
import math
from collections import Counter

import numpy as np
import pytest
import torch

from engine.common.limits import ConfigError
from engine.runtime import train
from engine.words.charlm import (DEFAULT_HYPERPARAMETERS, HELD_OUT_SLICE, CharModelConfig, CharModelJob,
                                 CharModelTrainer)
from engine.words.charlm_baselines import K_GRID, BigramModel, bigram_counts, fit_baselines, unigram_bits_per_char
from engine.words.charlm_model import CharRnn, bits_per_char, chunk_loss, initialize, perplexity, sample_from_logits
from engine.words.charlm_text import UNKNOWN, CharCorpus
from engine.words.charlm_visuals import CharModelVisuals, NextCharacters
from engine.words.texts import bundled_text
from tests.conftest import assert_pickles_to_equal_values

SMALL = CharModelConfig(text="pasted", pasted=bundled_text("shakespeare")[:6000], hidden=16)


def tiny_rnn(cell: str = "rnn", vocabulary: int = 4, hidden: int = 3, seed: int = 0) -> CharRnn:
    model = CharRnn(cell, vocabulary, hidden, 1).double()
    initialize(model, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3.0)  # larger than at init, so the state matters to the prediction
    return model


# ------------------------------------------------------------------ bits per character
def test_bits_per_char_matches_an_explicit_loop_over_characters():
    model = tiny_rnn()
    ids = [0, 2, 1, 3, 3, 0, 1, 2, 2, 0, 1]
    p = {name: value.detach().numpy() for name, value in model.named_parameters()}
    h, bits = np.zeros(3), 0.0
    for current, following in zip(ids[:-1], ids[1:]):
        x = np.eye(4)[current]
        h = np.tanh(p["recurrent.weight_ih_l0"] @ x + p["recurrent.bias_ih_l0"]
                    + p["recurrent.weight_hh_l0"] @ h + p["recurrent.bias_hh_l0"])
        logits = p["head.weight"] @ h + p["head.bias"]
        bits -= math.log2(math.exp(logits[following]) / sum(math.exp(v) for v in logits))
    expected = bits / (len(ids) - 1)
    tensor = torch.tensor(ids)
    assert bits_per_char(model, tensor) == pytest.approx(expected, rel=1e-12)
    assert bits_per_char(model, tensor, chunk=3) == pytest.approx(expected, rel=1e-12)  # state carried across
    assert perplexity(model, tensor) == pytest.approx(2 ** expected, rel=1e-12)


def test_a_model_that_ignores_its_input_scores_its_fixed_distribution():
    """By hand: a read-out with zero weights and bias log p predicts p whatever came before."""
    model = tiny_rnn()
    p = np.array([0.5, 0.25, 0.125, 0.125])
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor(np.log(p)))
    ids = torch.tensor([3, 0, 1, 0, 2])  # scored: 0, 1, 0, 2 -> 1 + 2 + 1 + 3 bits
    assert bits_per_char(model, ids) == pytest.approx(7 / 4, rel=1e-12)
    assert perplexity(model, ids) == pytest.approx(2 ** 1.75, rel=1e-12)


# ------------------------------------------------------------------ the text and the count models
def test_the_text_is_cut_into_training_and_held_out_parts_with_its_alphabet():
    text = "abcab" * 300 + "abz!"
    corpus = CharCorpus.split(text)
    cut = len(text) - round(0.1 * len(text))
    assert corpus.known == ("a", "b", "c") and corpus.symbols == ("a", "b", "c", UNKNOWN)
    assert corpus.decode(corpus.train) == text[:cut]
    assert corpus.decode(corpus.held_out) == text[cut:].replace("z", UNKNOWN).replace("!", UNKNOWN)
    assert corpus.validation_start == cut - round(0.05 * cut)
    assert corpus.unknown_in("zebra!") == ("z", "e", "r", "!")
    shakespeare = CharCorpus.split(bundled_text("shakespeare"))
    assert shakespeare.size == 65 and not shakespeare.has_unknown
    assert list(shakespeare.train[:200]) == [shakespeare.symbols.index(c) for c in bundled_text("shakespeare")[:200]]


def test_bigram_add_k_probabilities_are_the_count_formula_and_sum_to_one():
    ids = np.array([0, 1, 1, 2, 0, 1, 0, 0, 2, 1])
    size, k = 4, 0.3  # symbol 3 never occurs
    pairs = Counter(zip(ids[:-1].tolist(), ids[1:].tolist()))
    model = BigramModel(bigram_counts(ids, size), k)
    table = model.probabilities()
    for a in range(size):
        row_total = sum(n for (first, _), n in pairs.items() if first == a)
        for b in range(size):
            assert table[a, b] == pytest.approx((pairs[(a, b)] + k) / (row_total + k * size), rel=1e-12)
        assert table[a].sum() == pytest.approx(1.0, rel=1e-12)
        np.testing.assert_allclose(model.after(a), table[a], rtol=1e-12)
    text = np.array([1, 0, 3, 2, 2])
    expected = -sum(math.log2(table[a, b]) for a, b in zip(text[:-1], text[1:])) / 4
    assert model.bits_per_char(text) == pytest.approx(expected, rel=1e-12)
    unigram = [(list(ids).count(c) + 1) / (len(ids) + size) for c in range(size)]
    expected = -sum(math.log2(unigram[c]) for c in text[1:]) / 4
    assert unigram_bits_per_char(ids, text, size) == pytest.approx(expected, rel=1e-12)


def test_the_chosen_k_minimizes_the_validation_bits_over_the_grid():
    corpus = CharCorpus.split(bundled_text("shakespeare")[:3000])
    baselines, bigram = fit_baselines(corpus)
    fit, validation = corpus.train[:corpus.validation_start], corpus.train[corpus.validation_start:]
    pairs, followers = Counter(zip(fit[:-1].tolist(), fit[1:].tolist())), Counter(fit[:-1].tolist())
    brute = []
    for k in K_GRID:
        bits = -sum(math.log2((pairs[(a, b)] + k) / (followers[a] + k * corpus.size))
                    for a, b in zip(validation[:-1].tolist(), validation[1:].tolist()))
        brute.append(bits / (len(validation) - 1))
    np.testing.assert_allclose(baselines.validation_bpc, brute, rtol=1e-10)
    assert baselines.bigram_k == K_GRID[int(np.argmin(brute))]
    assert 0 < K_GRID.index(baselines.bigram_k) < len(K_GRID) - 1  # inside the grid, not at an end
    assert bigram.k == baselines.bigram_k and bigram.counts.sum() == len(corpus.train) - 1  # refitted on all of it
    assert baselines.bigram_bpc == pytest.approx(bigram.bits_per_char(corpus.held_out))
    assert baselines.bigram_bpc < baselines.unigram_bpc < math.log2(corpus.size)


# ------------------------------------------------------------------ truncated BPTT
def test_truncated_bptt_stops_gradients_at_the_chunk_while_the_state_carries_on():
    model = tiny_rnn("lstm", hidden=5)
    ids = torch.tensor([[0, 1], [2, 3], [1, 1], [3, 0], [0, 2], [2, 2], [1, 3]])  # (7, B=2)
    first, second = ids[:4], ids[3:]
    _, carried = chunk_loss(model, first, None)
    assert all(not part.requires_grad for part in carried)
    loss, _ = chunk_loss(model, second, carried)
    truncated = torch.autograd.grad(loss, model.recurrent.weight_hh_l0)[0]
    # Oracle: the same state values as constants; and the full graph, whose gradient reaches the first chunk.
    constants = tuple(torch.tensor(part.numpy()) for part in carried)
    alone = torch.autograd.grad(chunk_loss(model, second, constants)[0], model.recurrent.weight_hh_l0)[0]
    _, through = model(first[:-1])
    full_loss, _ = chunk_loss(model, second, through)
    full = torch.autograd.grad(full_loss, model.recurrent.weight_hh_l0)[0]
    torch.testing.assert_close(truncated, alone, rtol=0, atol=0)
    assert (truncated - full).abs().max() > 1e-6
    with torch.no_grad():
        from_carried, from_zero = model(second[:-1], carried)[0], model(second[:-1])[0]
    assert (from_carried - from_zero).abs().max() > 1e-3  # the state does carry over


def test_the_trainer_reads_contiguous_streams_and_carries_their_state():
    trainer = CharModelTrainer(SMALL, {"batch_size": 4, "bptt": 10}, seed=0)
    length = len(trainer.train_ids) // 4
    for stream in range(4):
        assert torch.equal(trainer.streams[:, stream], trainer.train_ids[stream * length:(stream + 1) * length])
    before = copy.deepcopy(trainer.model)
    trainer.train_step()
    with torch.no_grad():
        _, expected = before(trainer.streams[:10])
    for got, want in zip(trainer.rnn_state, expected):
        torch.testing.assert_close(got, want)
        assert not got.requires_grad
    assert trainer.position == 10 and trainer.chars_trained == 40
    steps_to_end = math.ceil((length - 1 - 10) / 10)
    train(trainer, steps_to_end)
    assert trainer.position == length - 1  # the last chunk was shorter; the next step starts over
    trainer.train_step()
    assert trainer.position == 10
    trainer.apply_hyperparameters({"batch_size": 7})  # live: the streams are re-cut and start over
    assert trainer.streams.shape == (len(trainer.train_ids) // 7, 7) and trainer.rnn_state is None
    assert math.isfinite(trainer.train_step()["loss"])


def test_a_short_text_trains_on_chunks_no_longer_than_its_streams():
    config = CharModelConfig(text="pasted", pasted="to be or not to be, " * 50, hidden=8)
    trainer = CharModelTrainer(config, {"batch_size": 256, "bptt": 64}, seed=0)
    assert trainer.bptt_used == len(trainer.streams) - 1 == 2
    assert math.isfinite(train(trainer, 5)[-1]["loss"])


def test_jobs_on_one_text_share_its_corpus_and_counts_and_train_exactly_as_alone():
    """A text is cut and counted once per process (corpus_and_baselines): a second trainer on it shares the arrays
    the first reads, and trains exactly as the first did after the first trained on them."""
    first = CharModelTrainer(SMALL, {"batch_size": 4, "bptt": 10}, seed=3)
    metrics = train(first, 5)
    second = CharModelTrainer(SMALL, {"batch_size": 4, "bptt": 10}, seed=3)
    assert second.corpus is first.corpus and second.bigram is first.bigram and second.baselines is first.baselines
    assert train(second, 5) == metrics
    assert second.evaluate() == first.evaluate()
    other = CharModelTrainer(CharModelConfig(text="pasted", pasted="to be or not to be, " * 50, hidden=8), seed=3)
    assert other.corpus is not first.corpus


# ------------------------------------------------------------------ sampling
def test_a_tiny_temperature_samples_the_argmax():
    logits = torch.randn(50, 7, generator=torch.Generator().manual_seed(1))
    uniforms = torch.rand(50, generator=torch.Generator().manual_seed(2))
    picked = sample_from_logits(logits, torch.full((50,), 1e-3), uniforms)
    assert torch.equal(picked, logits.argmax(dim=1))


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_sampling_draws_from_the_softmax_of_the_scaled_logits(temperature):
    logits = torch.tensor([2.0, 0.5, -1.0, 1.0, 0.0])
    draws = 40_000
    uniforms = torch.rand(draws, generator=torch.Generator().manual_seed(3))
    picked = sample_from_logits(logits.expand(draws, -1), torch.full((draws,), temperature), uniforms)
    frequencies = np.bincount(picked.numpy(), minlength=5) / draws
    expected = np.exp(logits.numpy() / temperature) / np.exp(logits.numpy() / temperature).sum()
    tolerance = 4 * np.sqrt(expected * (1 - expected) / draws)  # four standard errors
    assert np.all(np.abs(frequencies - expected) < tolerance)


def test_samples_share_one_random_stream_and_stay_steady_while_the_model_does():
    trainer = CharModelTrainer(SMALL, {"temperatures": (1.0, 1.0, 0.05), "sample_chars": 40, "prefix": "The "},
                               seed=0)
    visuals = trainer.observe()
    (t1, same_a), (_, same_b), (cold, argmax) = visuals.samples
    assert t1 == 1.0 and cold == 0.05 and same_a == same_b and len(same_a) == 40
    assert visuals.prefix == "The " and visuals.problem is None
    assert trainer.observe() is visuals  # cached: unchanged model, unchanged question
    assert CharModelTrainer(SMALL, dict(trainer.hp), seed=0).observe().samples == visuals.samples  # same stream
    trainer.train_step()
    trainer.training = True  # while training, a changed model is sampled again at most once a second
    assert trainer.observe().samples == visuals.samples and trainer.observe().sampled_at_step == 0
    trainer.training = False
    assert trainer.observe().samples != visuals.samples and trainer.observe().sampled_at_step == 1
    trainer.training, trainer.hp["prefix"] = True, "Th"  # a new question is answered at once
    assert trainer.observe().prefix == "Th" and trainer.observe().sampled_at_step == 1


def test_the_next_character_tables_hold_the_top_characters_and_the_rest():
    trainer = CharModelTrainer(SMALL, {"prefix": "Citizen"}, seed=0)
    visuals = trainer.observe()
    bigram_row = trainer.bigram.after(trainer.corpus.symbols.index("n"))
    expected = NextCharacters.top(bigram_row, trainer.corpus.symbols)
    assert visuals.next_bigram.chars == expected.chars and visuals.next_bigram.rest == expected.rest
    np.testing.assert_array_equal(visuals.next_bigram.probabilities, expected.probabilities)
    for table in (visuals.next_model, visuals.next_bigram):
        assert len(table.chars) == 15 and np.all(np.diff(table.probabilities) <= 0)
        assert table.probabilities.sum() + table.rest == pytest.approx(1.0, abs=1e-9)
    assert visuals.next_bigram.chars[0] == max(zip(bigram_row, trainer.corpus.symbols))[1]


def test_a_prefix_with_unknown_characters_says_so_instead_of_failing():
    trainer = CharModelTrainer(SMALL, {"prefix": "Soë said 😀"}, seed=0)
    visuals = trainer.observe()
    assert visuals.problem is not None and "'ë'" in visuals.problem and "'😀'" in visuals.problem
    assert visuals.prefix == "So said "
    assert all(len(text) == DEFAULT_HYPERPARAMETERS["sample_chars"] for _, text in visuals.samples)
    trainer.hp["prefix"] = ""  # an empty prefix starts after a newline
    assert trainer.observe().problem is None and trainer.observe().prefix == ""


# ------------------------------------------------------------------ training, clipping, refusals
@pytest.mark.parametrize("mode, at", [("norm", 1e-3), ("value", 1e-4)])
def test_clipping_is_applied_to_the_gradients(mode, at):
    trainer = CharModelTrainer(SMALL, {"clip": mode, "clip_at": at}, seed=0)
    metrics = trainer.train_step()
    gradients = [p.grad for p in trainer.model.parameters()]
    if mode == "norm":
        assert metrics["grad_norm"] > 10 * at
        assert float(torch.nn.utils.get_total_norm(gradients)) == pytest.approx(at, rel=1e-4)
    else:
        assert max(float(g.abs().max()) for g in gradients) == pytest.approx(at)
    unclipped = CharModelTrainer(SMALL, {"clip": "off"}, seed=0)
    assert unclipped.train_step()["grad_norm"] == pytest.approx(metrics["grad_norm"], rel=1e-6)
    assert float(torch.nn.utils.get_total_norm([p.grad for p in unclipped.model.parameters()])) > 10 * at


def test_a_short_training_run_lowers_the_held_out_bits_per_character():
    trainer = CharModelTrainer(CharModelConfig(hidden=48), {"lr": 1e-2}, seed=0)
    start = trainer.evaluate()["held_out_bpc"]
    metrics = train(trainer, 150)
    end = trainer.evaluate()["held_out_bpc"]
    assert np.mean([m["loss"] for m in metrics[-10:]]) < np.mean([m["loss"] for m in metrics[:10]]) - 0.5
    assert end < start - 2 and end < trainer.baselines.unigram_bpc
    assert metrics[-1]["train_bpc"] == pytest.approx(metrics[-1]["loss"] / math.log(2))


@pytest.mark.parametrize("changes, words", [
    ({"hidden": 0}, "hidden size"), ({"hidden": 16.5}, "whole number"), ({"layers": 4}, "recurrent layers"),
    ({"cell": "transformer"}, "unknown cell"), ({"text": "pasted", "pasted": "ten chars!"}, "text to learn"),
    ({"text": "pasted", "pasted": "   "}, "empty"), ({"pasted": "some text"}, "only when"),
    ({"text": "hamlet"}, "unknown text")])
def test_a_config_it_cannot_build_is_refused_with_a_reason(changes, words):
    with pytest.raises(ConfigError, match=words):
        CharModelConfig(**changes)


@pytest.mark.parametrize("changes, words", [
    ({"bptt": 1}, "truncated-BPTT"), ({"batch_size": 0}, "batch size"), ({"temperatures": (1.0, 0.0)}, "temperature"),
    ({"temperatures": ()}, "temperatures"), ({"sample_chars": 5000}, "sample"), ({"lr": 5.0}, "learning rate"),
    ({"clip": "sideways"}, "clipping"), ({"clip_at": 0}, "threshold"), ({"prefix": 7}, "prefix"),
    ({"bptt": 8.0}, "whole number")])
def test_a_live_value_it_cannot_take_is_refused_with_a_reason(changes, words):
    with pytest.raises(ConfigError, match=words):
        CharModelTrainer(SMALL, changes, seed=0)


# ------------------------------------------------------------------ unknown characters, visuals, the job
def test_held_out_characters_the_training_part_lacks_cost_bits_but_break_nothing():
    text = bundled_text("shakespeare")[:4000] + "½ — ½ — ½"  # in the held-out 10% only
    trainer = CharModelTrainer(CharModelConfig(text="pasted", pasted=text, hidden=8), seed=0)
    assert trainer.corpus.has_unknown and trainer.corpus.symbols[-1] == UNKNOWN
    visuals = trainer.observe()
    assert visuals.alphabet_size == len(set(text[:len(trainer.corpus.train)])) + 1
    assert all(math.isfinite(v) for v in (visuals.baselines.unigram_bpc, visuals.baselines.bigram_bpc,
                                          trainer.held_out_bpc()))


def test_observe_returns_the_documented_visuals():
    trainer = CharModelTrainer(SMALL, {"temperatures": [0.5, 2.0], "sample_chars": 25}, seed=0)
    visuals = trainer.observe()
    assert isinstance(visuals, CharModelVisuals)
    assert [t for t, _ in visuals.samples] == [0.5, 2.0] and all(len(s) == 25 for _, s in visuals.samples)
    assert visuals.train_chars == 5400 and visuals.held_out_chars == 600
    assert visuals.held_out_slice_chars == min(HELD_OUT_SLICE, 600) and visuals.bptt_used == 64
    assert visuals.baselines is trainer.baselines and visuals.baselines.bigram_k in K_GRID
    assert_pickles_to_equal_values(visuals)


def test_the_job_trains_evaluates_and_observes_through_the_job_api():
    job = CharModelJob(SMALL, {"sample_chars": 20}, force_cpu=True)
    try:
        assert CharModelJob.trainer_type is CharModelTrainer
        assert job.hp["bptt"] == 64 and job.hp["sample_chars"] == 20
        job.wait_applied(job.step(6))
        snapshot = job.wait_for(lambda s: s.step == 6 and s.visuals_step == 6 and not s.busy, timeout=30)
        assert {"loss", "train_bpc", "held_out_bpc"} <= set(snapshot.history)
        assert len(snapshot.history["loss"]) == 6 and snapshot.history["held_out_bpc"].steps[-1] == 6
        assert isinstance(snapshot.visuals, CharModelVisuals) and snapshot.visuals.problem is None
        job.wait_applied(job.set_hyperparameters(batch_size=3, prefix="qué"))
        job.wait_applied(job.step(2))
        snapshot = job.wait_for(lambda s: s.step == 8 and s.visuals_step == 8 and not s.busy, timeout=30)
        assert snapshot.status.name in ("PAUSED", "READY") and "é" in snapshot.visuals.problem
        assert job.trainer.streams.shape[1] == 3
    finally:
        job.stop()
