"""Word vectors against independent oracles: hand-computed subsampling probabilities, torch autograd for the
negative-sampling gradients and for a whole training step, a brute-force loop for 3CosAdd, a dense loop for the
PPMI matrix; and the template corpus, training, refusals and the job as the page uses them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import sparse
from torch.nn import functional as F

from engine.common.limits import ConfigError
from engine.runtime import JobStatus, train
from engine.words import analogies as ask
from engine.words.corpus import (RELATIONS, expected_answers, planted_analogies, planted_groups, sentences_of,
                                 template_sentences)
from engine.words.ppmi import cooccurrence, ppmi, svd_vectors
from engine.words.sgns import CountedText, Vocabulary, context_pairs, drop_probability, negative_sampling_gradients
from engine.words.texts import bundled_text
from engine.words.vectors import WordVectorsConfig, WordVectorsJob, WordVectorsTrainer, WordVectorsVisuals
from tests.conftest import assert_pickles_to_equal_values

SMALL_TEXT = ("The cat sat on the mat. The dog sat on the log! A cat and a dog met on the mat?\n\n"
              "The bird sang on the log, and the cat slept. Don't wake the dog.") * 3


@pytest.fixture(scope="module")
def templates() -> WordVectorsTrainer:
    return WordVectorsTrainer(WordVectorsConfig(dimensions=30), seed=0)


def test_subsampling_drops_words_with_probability_one_minus_root_t_over_f():
    # The course notes' example: a word seen 700 times in a million, t = 1e-4, is dropped 62% of the time.
    counts = np.array([700, 50, 999_250])
    drop = drop_probability(counts, 1e-4)
    assert drop[0] == pytest.approx(1 - math.sqrt(1e-4 / 7e-4)) == pytest.approx(0.6220, abs=1e-4)
    assert drop[1] == 0.0  # f = 5e-5 is below t: the formula goes negative, clipped to never dropped
    assert drop[2] == pytest.approx(1 - math.sqrt(1e-4 / 0.99925))
    assert np.all(drop_probability(counts, 0.0) == 0)  # t = 0: off
    assert np.all(drop_probability(counts, 1.0) == 0)  # every share is below 1


def test_the_vocabulary_ranks_by_count_then_alphabet_and_encodes_as_a_loop_over_sentences_would():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(12)]
    sentences = tuple(tuple(words[int(i)] for i in rng.zipf(1.6, size=rng.integers(0, 9)) % 12) for _ in range(60))
    texts = CountedText.of(sentences[:25]), CountedText.of(sentences[25:])  # (counted apart, numbered on)
    vocabulary = Vocabulary.build(texts, cap=7)
    counts = {word: sum(sentence.count(word) for sentence in sentences) for word in words}
    expected = sorted((word for word in words if counts[word]), key=lambda word: (-counts[word], word))[:7]
    assert vocabulary.words == tuple(expected) and vocabulary.counts.tolist() == [counts[w] for w in expected]
    tokens, sentence_of = vocabulary.encode(texts)
    kept = [(vocabulary.index[word], number) for number, sentence in enumerate(sentences) for word in sentence
            if word in vocabulary.index]  # oracle: the loop over sentences, out-of-vocabulary words dropped
    assert tokens.tolist() == [t for t, _ in kept] and sentence_of.tolist() == [n for _, n in kept]
    assert any(not sentence for sentence in sentences) and len(set(sum(sentences, ()))) > 7  # both cases met


def test_negative_sampling_gradients_match_autograd():
    g = torch.Generator().manual_seed(0)
    v, u_pos = (torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    u_neg = torch.randn(7, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    loss = -F.logsigmoid((u_pos * v).sum(-1)) - F.logsigmoid(-(u_neg * v[:, None, :]).sum(-1)).sum(-1)
    expected = torch.autograd.grad(loss.sum(), (v, u_pos, u_neg))
    closed = negative_sampling_gradients(v.detach(), u_pos.detach(), u_neg.detach())
    torch.testing.assert_close(closed[0], loss.detach())
    for got, want in zip(closed[1:], expected):
        torch.testing.assert_close(got, want)


def test_a_training_step_is_sgd_on_the_summed_loss_with_every_row_touched_once_per_use():
    """The sparse in-place update against autograd on the whole matrices, with repeated words in the batch."""
    trainer = WordVectorsTrainer(WordVectorsConfig(corpus="pasted", text=SMALL_TEXT, dimensions=6, window=2),
                                 {"batch_size": 16, "negatives": 3, "lr": 0.5, "subsample": 0.0}, seed=1)
    train(trainer, 2)  # nonzero output vectors
    w_in, w_out = (m.clone().double().requires_grad_() for m in (trainer.input_vectors, trainer.output_vectors))
    rng = torch.Generator()
    rng.set_state(trainer.rng.get_state())
    centres = trainer.order[trainer.cursor:trainer.cursor + 16]
    centre_words, context_words = context_pairs(trainer.kept_tokens, trainer.kept_sentence_of, centres, 2, rng)
    negatives = torch.multinomial(trainer.noise, len(centre_words) * 3, replacement=True, generator=rng)
    negatives = negatives.view(-1, 3)
    assert len(torch.unique(centre_words)) < len(centre_words)  # the same rows are updated more than once
    v, u_pos, u_neg = w_in[centre_words], w_out[context_words], w_out[negatives]
    loss = -F.logsigmoid((u_pos * v).sum(-1)) - F.logsigmoid(-(u_neg * v[:, None, :]).sum(-1)).sum(-1)
    grad_in, grad_out = torch.autograd.grad(loss.sum(), (w_in, w_out))
    metrics = trainer.train_step()
    assert metrics["loss"] == pytest.approx(float(loss.detach().mean()), rel=1e-5)
    torch.testing.assert_close(trainer.input_vectors.double(), (w_in - 0.5 * grad_in).detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(trainer.output_vectors.double(), (w_out - 0.5 * grad_out).detach(), atol=1e-5,
                               rtol=1e-5)


def test_context_pairs_stay_in_the_sentence_and_weigh_distance_d_as_window_minus_d_plus_one():
    tokens = torch.arange(10)
    sentence_of = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    centre_words, context_words = context_pairs(tokens, sentence_of, torch.arange(10), 3,
                                                torch.Generator().manual_seed(0))
    assert torch.all(sentence_of[centre_words] == sentence_of[context_words])
    pairs = set(zip(centre_words.tolist(), context_words.tolist()))
    neighbours = {(c, c + d) for c in range(10) for d in (1, -1)
                  if 0 <= c + d < 10 and sentence_of[c] == sentence_of[c + d]}
    assert neighbours <= pairs and (3, 4) not in pairs  # every window reaches 1; no sentence is crossed
    long = torch.zeros(100_000, dtype=torch.int64)
    centres = torch.arange(10, 99_990)
    positions = torch.arange(100_000)
    centre_at, context_at = context_pairs(positions, long, centres, 3, torch.Generator().manual_seed(1))
    distances = torch.bincount((centre_at - context_at).abs(), minlength=4)[1:].double()
    np.testing.assert_allclose((distances / distances.sum()).numpy(), [3 / 6, 2 / 6, 1 / 6], atol=0.005)


def test_3cosadd_matches_a_brute_force_loop_with_ties_and_query_words_excluded():
    g = np.random.default_rng(0)
    vectors = g.normal(size=(12, 4)).astype(np.float32)
    vectors[7] = vectors[5] * 3  # words 5 and 7 point the same way: tied scores everywhere
    unit = ask.unit_rows(vectors)
    queries = [(0, 1, 2), (5, 3, 4), (2, 5, 8), (1, 1, 9)]
    for a, b, c in queries:
        best, scores = ask.answers(unit, (a, b, c), 12)
        brute = []
        for d in range(12):
            if d in (a, b, c):
                continue
            cosine = [float(np.dot(vectors[d], vectors[w]) / np.linalg.norm(vectors[d]) / np.linalg.norm(vectors[w]))
                      for w in (a, b, c)]
            brute.append((-(cosine[0] - cosine[1] + cosine[2]), d))
        brute.sort(key=lambda item: (round(item[0], 5), item[1]))  # ties: the lower index first
        assert [i for i, _ in best] == [d for _, d in brute]
        assert [s for _, s in best] == pytest.approx([-s for s, _ in brute], abs=1e-5)
        for place, (_, d) in enumerate(brute, start=1):
            assert ask.rank_of(scores, d) == place
        hit = ask.top1_hits(unit, *(np.array([w]) for w in (a, b, c, brute[0][1])))
        assert hit.tolist() == [True]
    tied = ask.answers(unit, (0, 1, 2), 12)[0]
    places = [i for i, _ in tied]
    assert places.index(5) < places.index(7) and tied[places.index(5)][1] == pytest.approx(tied[places.index(7)][1])


def test_neighbours_are_the_nearest_by_cosine_without_the_word_itself():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [1, 0.5]], dtype=np.float32)
    found = ask.neighbours(ask.unit_rows(vectors), 0, 3)
    assert [i for i, _ in found] == [1, 4, 2]
    assert found[0][1] == pytest.approx(0.9 / math.hypot(0.9, 0.1))


def test_ppmi_matches_a_dense_computation_on_a_tiny_corpus():
    sentences = sentences_of("a b c a b. b c d a. d d a c b a")
    text = CountedText.of(sentences)
    vocabulary = Vocabulary.build([text], 10)
    tokens, sentence_of = vocabulary.encode([text])
    window, n = 2, len(vocabulary)
    dense = np.zeros((n, n))
    for sentence in sentences:
        ids = [vocabulary.index[w] for w in sentence]
        for i, w in enumerate(ids):
            for j, c in enumerate(ids):
                if 0 < abs(i - j) <= window:
                    dense[w, c] += (window - abs(i - j) + 1) / window
    np.testing.assert_allclose(cooccurrence(tokens, sentence_of, n, window).toarray(), dense)
    total = dense.sum()
    p_word = dense.sum(axis=1) / total
    p_context = dense.sum(axis=0) ** 0.75 / (dense.sum(axis=0) ** 0.75).sum()
    with np.errstate(divide="ignore"):
        expected = np.maximum(0, np.log(dense / total / p_word[:, None] / p_context[None, :]))
    np.testing.assert_allclose(ppmi(cooccurrence(tokens, sentence_of, n, window)).toarray(), expected, atol=1e-12)


def test_the_svd_vectors_are_the_exact_svds_on_a_matrix_of_low_rank_and_noise():
    """Oracle: numpy's dense SVD. A rank-8 matrix plus small noise has a clear gap after the 8th singular value,
    so the randomized SVD must find the same U Σ^0.5 (each column up to its sign)."""
    rng = np.random.default_rng(0)
    low_rank = rng.standard_normal((300, 8)) * np.linspace(10, 3, 8) @ rng.standard_normal((8, 200))
    matrix = low_rank + 0.01 * rng.standard_normal((300, 200))
    matrix[np.abs(matrix) < 0.5] = 0  # sparse, as PPMI is
    u, sigma, _ = np.linalg.svd(matrix, full_matrices=False)
    expected = u[:, :8] * np.sqrt(sigma[:8])
    found = svd_vectors(sparse.csr_matrix(matrix), 8, seed=3)
    assert found.dtype == np.float32 and found.shape == (300, 8)
    signs = np.sign((found * expected).sum(axis=0))
    np.testing.assert_allclose(found * signs, expected, atol=2e-3 * np.abs(expected).max())
    assert svd_vectors(sparse.csr_matrix(matrix[:3, :3]), 50, seed=0).shape == (3, 2)  # rank <= rows - 1


def test_the_template_corpus_plants_what_it_says(templates):
    analogies = planted_analogies()
    assert len(RELATIONS) >= 4 and len(analogies) >= 40
    vocabulary = set(templates.vocabulary.words)
    groups = planted_groups()
    for analogy in analogies:
        assert {analogy.a, analogy.b, analogy.c, analogy.d} <= vocabulary
        relation = next(r for r in RELATIONS if r.name == analogy.relation)
        pairs = {(first, second) for first, second, _ in relation.pairs}
        assert (analogy.b, analogy.a) in pairs and (analogy.c, analogy.d) in pairs  # a - b + c ≈ d
        assert groups[analogy.a] == groups[analogy.d] == relation.sides[1] and groups[analogy.b] == relation.sides[0]
    sentences = set(template_sentences(0))
    for relation in RELATIONS:
        for first, second, own in relation.pairs:
            assert any(first in s and second in s for s in sentences)  # the pair is named together
            assert any(first in s and own[0] in s and second not in s for s in sentences)
    assert template_sentences(0) == template_sentences(0) and template_sentences(0) != template_sentences(1)
    answers = expected_answers()
    assert answers[("paris", "france", "italy")] == answers[("italy", "france", "paris")] == "rome"
    assert answers[("king", "man", "woman")] == "queen" and answers[("france", "paris", "rome")] == "italy"


def test_training_lowers_the_loss_and_answers_more_planted_analogies(templates):
    trainer = WordVectorsTrainer(WordVectorsConfig(dimensions=30), seed=0)
    start = trainer.evaluate()
    assert start["ppmi_analogy_top1"] == templates.ppmi_top1 and 0 < start["ppmi_analogy_top1"] < 1
    metrics = train(trainer, 1500)
    first, last = np.mean([m["loss"] for m in metrics[:50]]), np.mean([m["loss"] for m in metrics[-50:]])
    assert last < first - 0.5
    end = trainer.evaluate()
    assert end["analogy_top1"] > start["analogy_top1"] + 0.25
    assert end["ppmi_analogy_top1"] == start["ppmi_analogy_top1"]  # fixed: computed once


def test_a_seed_built_again_shares_its_corpus_read_only_and_trains_the_same():
    """The corpus, its token stream and the PPMI baseline are made once per config and seed (corpus_and_baseline):
    a second trainer on them shares them, and trains exactly as the first did after the first trained."""
    config = WordVectorsConfig(dimensions=30, vocabulary=500)
    first = WordVectorsTrainer(config, seed=4)
    metrics = train(first, 30)
    second = WordVectorsTrainer(config, seed=4)
    assert second.tokens is first.tokens and second.ppmi_unit is first.ppmi_unit
    assert not second.ppmi_unit.flags.writeable
    assert train(second, 30) == metrics
    assert WordVectorsTrainer(config, seed=5).tokens is not first.tokens  # another seed: another corpus


@pytest.mark.parametrize("change", [{"dimensions": 0}, {"window": 11}, {"vocabulary": 9}, {"corpus": "wiki"},
                                    {"corpus": "pasted", "text": ""}, {"corpus": "pasted", "text": "x " * 150_000},
                                    {"dimensions": 2.5}])
def test_bad_configs_are_refused(change):
    with pytest.raises(ConfigError):
        WordVectorsConfig(**change)


def test_a_text_without_a_context_is_refused_when_built():
    with pytest.raises(ConfigError, match="no two words"):
        WordVectorsTrainer(WordVectorsConfig(corpus="pasted", text="Hello. World! Again?"), seed=0)


def test_bad_live_values_are_refused(templates):
    for change in ({"negatives": 0}, {"subsample": 2.0}, {"batch_size": 1.5}, {"analogy": ("a", "b")},
                   {"relation": "colour-shade"}):
        with pytest.raises(ConfigError):
            templates.apply_hyperparameters(change)


def test_an_unknown_query_word_is_a_problem_not_an_error(templates):
    templates.hp.update(word="xyzzy", analogy=("paris", "qwerty", "italy"))
    try:
        visuals = templates.observe()
    finally:
        templates.hp.update(word="paris", analogy=("king", "man", "woman"))
    size = f"{len(templates.vocabulary):,}"
    assert visuals.problem == (f"'xyzzy' is not in the vocabulary ({size} words). "
                               f"'qwerty' is not in the vocabulary ({size} words).")
    assert visuals.sgns_neighbours == () and visuals.sgns_answers == () and visuals.sgns_expected_rank is None


def test_the_visuals_hold_both_models_views(templates):
    templates.hp.update(word="Paris", analogy=("paris", "france", "italy"))
    visuals = templates.observe()
    templates.hp.update(word="paris", analogy=("king", "man", "woman"))
    assert visuals.problem is None and visuals.word == "paris" and visuals.expected == "rome"
    assert len(visuals.words) == len(planted_groups()) == visuals.sgns_projection.shape[0]
    assert visuals.ppmi_projection.shape == (len(visuals.words), 2)
    assert 0 < visuals.sgns_variance[1] <= visuals.sgns_variance[0] < 1
    assert len(visuals.pairs) == sum(len(r.pairs) for r in RELATIONS) == len(visuals.pair_relations)
    assert all(visuals.groups[i] == "country" and visuals.groups[j] == "capital"
               for (i, j), name in zip(visuals.pairs, visuals.pair_relations) if name == "country-capital")
    assert len(visuals.sgns_neighbours) == len(visuals.ppmi_answers) == 10
    assert "paris" not in dict(visuals.sgns_neighbours)
    assert not {"paris", "france", "italy"} & set(dict(visuals.ppmi_answers))
    for answers, rank in ((visuals.sgns_answers, visuals.sgns_expected_rank),
                          (visuals.ppmi_answers, visuals.ppmi_expected_rank)):
        listed = [w for w, _ in answers]
        assert listed[rank - 1] == "rome" if rank <= len(listed) else "rome" not in listed
    assert [r for r, _, _ in visuals.per_relation] == [r.name for r in RELATIONS]
    assert np.mean([p for _, _, p in visuals.per_relation]) == pytest.approx(templates.ppmi_top1)
    assert_pickles_to_equal_values(visuals)


def test_the_maps_show_one_relations_words_when_asked(templates):
    templates.hp.update(relation="country-capital")
    try:
        visuals = templates.observe()
    finally:
        templates.hp.update(relation="all")
    assert set(visuals.groups) == {"country", "capital"} and len(visuals.words) == 20
    assert visuals.sgns_projection.shape == (20, 2) and len(visuals.pairs) == 10
    assert set(visuals.pair_relations) == {"country-capital"}
    assert {visuals.words[i] for i, _ in visuals.pairs} == {w for w, g in planted_groups().items() if g == "country"}


def test_a_pasted_text_trains_with_its_capped_vocabulary():
    text = bundled_text("shakespeare")[:20_000]
    trainer = WordVectorsTrainer(WordVectorsConfig(corpus="pasted", text=text, vocabulary=300, dimensions=16), seed=0)
    assert len(trainer.vocabulary) == 300 and trainer.vocabulary.words[0] == "the"
    assert trainer.evaluate() == {}
    train(trainer, 20)
    visuals = trainer.observe()
    assert visuals.per_relation == () and len(visuals.words) == 150 and visuals.words[0] == trainer.vocabulary.words[20]
    assert visuals.expected is None and len(visuals.pairs) == 0 and "'paris' is not" in visuals.problem
    assert sentences_of("Don't stop. Two  words\n\nThree 3 four_five") == (("don't", "stop"), ("two", "words"),
                                                                          ("three", "four", "five"))


def test_the_job_trains_and_publishes_visuals():
    job = WordVectorsJob(WordVectorsConfig(corpus="pasted", text=SMALL_TEXT, dimensions=8), {"word": "cat"},
                         force_cpu=True)
    try:
        assert job.hp["word"] == "cat" and job.hp["negatives"] == 5
        assert WordVectorsJob.trainer_type is WordVectorsTrainer
        job.wait_applied(job.step(5))
        snapshot = job.wait_for(lambda s: s.step >= 5 and s.visuals_step >= 5)
        assert snapshot.status is JobStatus.PAUSED and len(snapshot.series("loss").values) > 0
        assert isinstance(snapshot.visuals, WordVectorsVisuals) and snapshot.visuals.word == "cat"
        job.wait_applied(job.set_hyperparameters(subsample=1e-2))
        job.wait_applied(job.step(3))
        assert job.wait_for(lambda s: s.step >= 8).status is JobStatus.PAUSED
    finally:
        job.stop()
