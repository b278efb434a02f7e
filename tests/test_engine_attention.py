"""The attention engine against independent oracles: torch's scaled_dot_product_attention
and nn.MultiheadAttention, formulas evaluated by hand in loops, brute-force decoding and
counting, and weight surgery for head ablation."""

import copy
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from engine.attention.config import ATTENTION_PRESETS, AttentionConfig
from engine.attention.measures import pattern_mass
from engine.attention.model import (AdditiveAttention, AttentionTransformer, MultiplicativeAttention,
                                    RNNEncoderDecoder, attention_probabilities, sinusoidal_positions)
from engine.attention.spec import CUSTOM, PRESET_SPECS, AttentionSpec
from engine.attention.tasks import (TaskSpec, find_repeat, generate, induction_examples, induction_placements,
                                    parse_tokens, seq2seq_examples, train_heldout_split)
from engine.attention.trainer import AttentionTrainer
from engine.attention.visuals import AttentionTimeline, AttentionVisuals
from engine.common.limits import ConfigError
from engine.runtime import train
from tests.conftest import assert_pickles_to_equal_values


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def transformer(causal: bool, scale_scores: bool = True, positional: str = "learned", n_layers: int = 2,
                n_heads: int = 4, d_model: int = 32, attention_only: bool = False, seed: int = 0):
    model = AttentionTransformer(11, 10, 12, n_layers, n_heads, d_model, causal, positional, scale_scores,
                                 attention_only)
    model.reset_parameters(gen(seed))
    return model.eval()


# ------------------------------------------------------------------ attention core
@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 3), heads=st.integers(1, 4), length=st.integers(1, 9), width=st.integers(1, 8),
       causal=st.booleans(), scaled=st.booleans(), seed=st.integers(0, 10_000))
def test_attention_equals_scaled_dot_product_attention(batch, heads, length, width, causal, scaled, seed):
    g = gen(seed)
    q, k, v = (torch.randn(batch, heads, length, width, generator=g, dtype=torch.float64) for _ in range(3))
    scale = 1 / math.sqrt(width) if scaled else 1.0
    probabilities = attention_probabilities(q, k, causal, scale)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    torch.testing.assert_close(probabilities @ v, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(batch, heads, length, dtype=torch.float64))


def _multihead_oracle(layer_attention, x: torch.Tensor, causal: bool):
    """torch's nn.MultiheadAttention with the same weights: output and per-head weights."""
    d = x.shape[-1]
    oracle = nn.MultiheadAttention(d, layer_attention.n_heads, bias=False, batch_first=True)
    with torch.no_grad():
        oracle.in_proj_weight.copy_(torch.cat([layer_attention.query.weight, layer_attention.key.weight,
                                               layer_attention.value.weight]))
        oracle.out_proj.weight.copy_(layer_attention.output.weight)
    length = x.shape[1]
    mask = torch.ones(length, length, dtype=torch.bool).triu(1) if causal else None
    return oracle(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)


@pytest.mark.parametrize("causal", [False, True])
def test_every_layer_and_head_matches_torch_multihead_attention(causal):
    model = transformer(causal)
    tokens = torch.randint(0, 11, (3, 12), generator=gen(1))
    inputs = []
    hooks = [block.attention_norm.register_forward_hook(lambda m, i, o: inputs.append(o)) for block in model.blocks]
    with torch.no_grad():
        output = model(tokens)
    for hook in hooks:
        hook.remove()
    assert output.attention.shape == (3, 2, 4, 12, 12)
    for layer, block in enumerate(model.blocks):
        with torch.no_grad():
            expected_out, expected_weights = _multihead_oracle(block.attention, inputs[layer], causal)
            ours_out, ours_weights = block.attention(inputs[layer])
        torch.testing.assert_close(ours_weights, expected_weights, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(output.attention[:, layer], expected_weights, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours_out, expected_out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("scale_scores", [False, True])
def test_explicit_attention_path_equals_fused_kernel(causal, scale_scores):
    model = transformer(causal, scale_scores)
    tokens = torch.randint(0, 11, (4, 12), generator=gen(2))
    with torch.no_grad():
        explicit = model(tokens)
        fused = model(tokens, need_weights=False)
    assert fused.attention is None
    torch.testing.assert_close(explicit.logits, fused.logits, rtol=1e-5, atol=1e-5)


def test_rows_sum_to_one_and_causal_masks_hold():
    tokens = torch.randint(0, 11, (2, 12), generator=gen(3))
    with torch.no_grad():
        causal = transformer(True)(tokens).attention
        bidirectional = transformer(False)(tokens).attention
    for attention in (causal, bidirectional):
        torch.testing.assert_close(attention.sum(-1), torch.ones(attention.shape[:-1]))
        assert (attention >= 0).all()
    future = torch.ones(12, 12, dtype=torch.bool).triu(1)
    assert (causal[..., future] == 0).all()
    assert (causal[..., 0, 0] == 1).all()  # the first token can only look at itself
    assert (bidirectional[..., future] > 0).all()


def test_unscaled_scores_are_raw_dot_products():
    model = transformer(False, scale_scores=False, n_layers=1, n_heads=2, d_model=16)
    attention = model.blocks[0].attention
    assert attention.scale == 1.0
    assert transformer(False, n_heads=2, d_model=16).blocks[0].attention.scale == pytest.approx(1 / math.sqrt(8))
    x = torch.randn(2, 5, 16, generator=gen(4))
    with torch.no_grad():
        _, probabilities = attention(x)
        q = attention.query(x).view(2, 5, 2, 8)
        k = attention.key(x).view(2, 5, 2, 8)
    for b in range(2):
        for h in range(2):
            scores = torch.tensor([[float(q[b, i, h] @ k[b, j, h]) for j in range(5)] for i in range(5)])
            torch.testing.assert_close(probabilities[b, h], scores.softmax(-1), rtol=1e-5, atol=1e-6)


def test_head_mask_equals_zeroing_that_heads_output_weights():
    model = transformer(True, n_layers=2, n_heads=4, d_model=32)
    tokens = torch.randint(0, 11, (3, 12), generator=gen(5))
    mask = torch.ones(2, 4)
    mask[1, 2] = 0.0
    surgery = copy.deepcopy(model)
    with torch.no_grad():
        surgery.blocks[1].attention.output.weight[:, 2 * 8:3 * 8] = 0.0
        masked = model(tokens, mask)
        expected = surgery(tokens)
        full = model(tokens)
    torch.testing.assert_close(masked.logits, expected.logits)
    torch.testing.assert_close(masked.attention, full.attention)  # switching a head off changes what follows
    assert not torch.allclose(masked.logits, full.logits)


def test_sinusoidal_encoding_follows_the_formula():
    encoding = sinusoidal_positions(7, 6)
    for p in range(7):
        for i in range(6):
            angle = p / 10000 ** ((i - i % 2) / 6)
            assert float(encoding[p, i]) == pytest.approx(math.sin(angle) if i % 2 == 0 else math.cos(angle),
                                                          abs=1e-6)
    odd = sinusoidal_positions(4, 5)
    assert odd.shape == (4, 5)
    assert float(odd[3, 4]) == pytest.approx(math.sin(3 / 10000 ** (4 / 5)), abs=1e-6)


def test_positional_encoding_options():
    assert transformer(False, positional="none").positional_encoding() is None
    learned = transformer(False, positional="learned").positional_encoding()
    assert isinstance(learned, nn.Parameter) and learned.shape == (12, 32)
    torch.testing.assert_close(transformer(False, positional="sinusoidal").positional_encoding(),
                               sinusoidal_positions(12, 32))


def test_without_positions_a_bidirectional_model_cannot_tell_order():
    model = transformer(False, positional="none")
    tokens = torch.randint(0, 11, (2, 12), generator=gen(6))
    permutation = torch.randperm(12, generator=gen(7))
    with torch.no_grad():
        logits = model(tokens).logits
        permuted = model(tokens[:, permutation]).logits
    torch.testing.assert_close(permuted, logits[:, permutation], rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        positional = transformer(False, positional="learned")
        assert not torch.allclose(positional(tokens[:, permutation]).logits,
                                  positional(tokens).logits[:, permutation], atol=1e-3)


def test_attention_only_has_no_mlp_and_initialization_is_seeded():
    names = [name for name, _ in transformer(True, attention_only=True).named_parameters()]
    assert not any("mlp" in name for name in names)
    assert any("mlp" in name for name, _ in transformer(True).named_parameters())
    a, b, c = transformer(True, seed=3), transformer(True, seed=3), transformer(True, seed=4)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
        if pa.dim() > 1:
            assert not torch.equal(pa, pc), name
    model = AttentionTransformer(11, 10, 12)
    state = torch.random.get_rng_state()
    model.reset_parameters(gen(0))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG other threads share is untouched


# ------------------------------------------------------------------ RNN attention
def test_additive_attention_is_bahdanau_by_hand():
    torch.manual_seed(0)
    attention = AdditiveAttention(3, 4, 5)
    s = torch.randn(2, 3)
    h = torch.randn(2, 6, 4)
    W, U, b, v = (attention.query_projection.weight, attention.key_projection.weight,
                  attention.key_projection.bias, attention.score.weight[0])
    with torch.no_grad():
        weights = attention(s, h)
        for n in range(2):
            scores = [float(v @ torch.tanh(W @ s[n] + U @ h[n, j] + b)) for j in range(6)]
            exps = [math.exp(x) for x in scores]
            for j in range(6):
                assert float(weights[n, j]) == pytest.approx(exps[j] / sum(exps), rel=1e-5)


def test_multiplicative_attention_is_luong_general_by_hand():
    torch.manual_seed(0)
    attention = MultiplicativeAttention(3, 4)
    s, h = torch.randn(2, 3), torch.randn(2, 5, 4)
    W = attention.bilinear.weight  # (3, 4)
    with torch.no_grad():
        weights = attention(s, h)
        for n in range(2):
            scores = torch.tensor([float(s[n] @ W @ h[n, j]) for j in range(5)])
            torch.testing.assert_close(weights[n], scores.softmax(-1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["additive", "multiplicative"])
def test_rnn_greedy_decoding_equals_teacher_forcing_on_its_own_outputs(kind):
    model = RNNEncoderDecoder(11, 10, start_token=10, hidden_size=16, attention=kind)
    model.reset_parameters(gen(0))
    source = torch.randint(0, 10, (4, 7), generator=gen(1))
    with torch.no_grad():
        predictions, generated = model.generate(source, 7)
        forced = model(source, predictions)
    torch.testing.assert_close(generated.logits, forced.logits)
    torch.testing.assert_close(generated.attention, forced.attention)
    assert forced.attention.shape == (4, 1, 1, 7, 7)
    torch.testing.assert_close(forced.attention.sum(-1), torch.ones(4, 1, 1, 7))
    assert torch.equal(predictions, forced.logits.argmax(-1))


# ------------------------------------------------------------------ tasks
def test_seq2seq_targets_follow_their_rules():
    source = torch.randint(0, 10, (50, 8), generator=gen(0))
    for task, rule in [("reverse", lambda row: row[::-1]), ("sort", sorted), ("copy", list)]:
        examples = seq2seq_examples(TaskSpec(task, 10, 8), source, "aligned")
        for row, target, alignment in zip(source.tolist(), examples.target.tolist(), examples.alignment):
            assert target == list(rule(row))
            for j in range(8):
                right = {i for i in range(8) if row[i] == target[j]}
                marked = set(torch.nonzero(alignment[j]).flatten().tolist())
                if task == "sort":
                    assert marked == right
                else:
                    assert marked == {7 - j if task == "reverse" else j} and marked <= right
    reverse = seq2seq_examples(TaskSpec("reverse", 10, 8), source, "aligned")
    assert torch.equal(reverse.ideal[0], torch.eye(8, dtype=torch.bool).flip(1))  # the anti-diagonal


def test_prompt_layout_is_source_separator_then_shifted_target():
    spec = TaskSpec("reverse", 10, 5)
    source = torch.randint(0, 10, (20, 5), generator=gen(1))
    examples = seq2seq_examples(spec, source, "prompt")
    for n in range(20):
        row, target = source[n].tolist(), source[n].tolist()[::-1]
        assert examples.tokens[n].tolist() == row + [10] + target[:-1]
        assert examples.scored[n].tolist() == [False] * 5 + [True] * 5
        assert examples.targets[n, 5:].tolist() == target
        for j in range(5):  # query L+j should look at the mirrored source position, nothing else
            assert torch.nonzero(examples.ideal[n, 5 + j]).flatten().tolist() == [4 - j]
        assert not examples.ideal[n, :5].any()


def test_induction_generator_repeats_a_segment_at_varying_offsets():
    spec = TaskSpec("induction", 16, 20, 4)
    examples = induction_examples(spec, 2000, gen(2))
    offsets = (examples.repeat_start - examples.first_start).tolist()
    assert len(set(offsets)) == 20 - 2 * 4 + 1  # every possible offset, 4 .. 16
    assert len(set(examples.repeat_start.tolist())) > 8
    for n in range(200):
        tokens = examples.tokens[n].tolist()
        a, b = int(examples.first_start[n]), int(examples.repeat_start[n])
        assert b >= a + 4 and b + 4 <= 20
        segment = tokens[a:a + 4]
        assert tokens[b:b + 4] == segment
        assert len(set(segment)) == 4 and all(tokens.count(t) == 2 for t in segment)
        scored = [q for q in range(20) if examples.scored[n, q]]
        assert scored == list(range(b, b + 3))
        for q in scored:
            assert int(examples.targets[n, q]) == tokens[q + 1]
        rows = [q for q in range(20) if examples.pattern_rows[n, q]]
        assert rows == list(range(b, b + 4))
        for q in rows:  # the ideal key is right after the earlier occurrence of the current token
            keys = torch.nonzero(examples.ideal[n, q]).flatten().tolist()
            earlier = tokens.index(tokens[q])
            assert earlier < q and keys == [earlier + 1]


def test_induction_placements_are_all_valid_pairs():
    pairs = {tuple(p) for p in induction_placements(10, 3).tolist()}
    brute = {(a, b) for a in range(10) for b in range(10) if a + 3 <= b and b + 3 <= 10}
    assert pairs == brute


def test_held_out_set_shares_no_sequence_and_seeds_reproduce():
    spec = TaskSpec("reverse", 4, 6)  # 4096 distinct sequences: collisions are frequent
    train, heldout = train_heldout_split(spec, 600, 300, "aligned", gen(0))
    assert len(train) == 600 and len(heldout) == 300
    assert not {tuple(r) for r in train.tokens.tolist()} & {tuple(r) for r in heldout.tokens.tolist()}
    again, _ = train_heldout_split(spec, 600, 300, "aligned", gen(0))
    other, _ = train_heldout_split(spec, 600, 300, "aligned", gen(1))
    assert torch.equal(train.tokens, again.tokens) and not torch.equal(train.tokens, other.tokens)
    with pytest.raises(ValueError, match="distinct sequences"):
        train_heldout_split(TaskSpec("reverse", 2, 4), 100, 20, "aligned", gen(0))


def test_induction_needs_causal_attention_and_valid_segments():
    with pytest.raises(ValueError, match="causal"):
        generate(TaskSpec("induction", 16, 20, 4), 5, "aligned", gen(0))
    with pytest.raises(ValueError, match="at least 8"):
        TaskSpec("induction", 16, 7, 4)
    with pytest.raises(ValueError, match="vocabulary must exceed"):
        TaskSpec("induction", 4, 12, 4)


def test_parse_tokens_and_find_repeat():
    spec = TaskSpec("reverse", 10, 5)
    assert parse_tokens("3 1 4 1 5", spec) == [3, 1, 4, 1, 5]
    assert parse_tokens("31415", spec) == [3, 1, 4, 1, 5]
    assert parse_tokens("3,1,4,1,5", spec) == [3, 1, 4, 1, 5]
    for bad, message in [("3 1 4", "exactly 5"), ("3 1 a 1 5", "whole numbers"), ("3 1 44 1 5", "outside"),
                         ("", "type a sequence")]:
        with pytest.raises(ValueError, match=message):
            parse_tokens(bad, spec)
    sequence = [9, 1, 2, 3, 7, 5, 1, 2, 3, 8]
    assert find_repeat(sequence) == (1, 6, 3)
    assert find_repeat([1, 2, 3, 4]) is None


# ------------------------------------------------------------------ config
@pytest.mark.parametrize("changes, message", [
    (dict(n_layers=5), "layers must be between 1 and 4"),
    (dict(n_layers=0), "layers must be between 1 and 4"),
    (dict(n_heads=9), "heads must be between 1 and 8"),
    (dict(d_model=8), "width must be between 16 and 128"),
    (dict(d_model=256), "width must be between 16 and 128"),
    (dict(d_model=30, n_heads=4), "divisible by the number of heads 4"),
    (dict(task="induction", vocab_size=16, seq_len=24), "causal"),
    (dict(task="induction", causal=True, architecture="rnn", seq_len=24, vocab_size=16), "not induction"),
    (dict(positional="rotary"), "sinusoidal, learned, none"),
    (dict(task="translate"), "unknown task"),
    (dict(rnn_attention="dot"), "additive, multiplicative"),
    (dict(lr=0.0), "learning rate"),
    (dict(batch_size=0), "batch size must be between 1 and 1024"),
    (dict(seq_len=40), "sequence length must be between 2 and 16"),
    (dict(vocab_size=1), "vocabulary size must be between 2 and 64"),
])
def test_config_validation_names_the_limit(changes, message):
    with pytest.raises(ValueError, match=message):
        AttentionConfig(**changes)


# ------------------------------------------------------------------ measures
def test_pattern_mass_against_hand_computation():
    ideal = torch.eye(4, dtype=torch.bool).flip(1)[None]  # reversal of length 4
    rows = torch.ones(1, 4, dtype=torch.bool)
    perfect = ideal.float()[:, None, None]
    uniform = torch.full((1, 1, 1, 4, 4), 0.25)
    assert float(pattern_mass(perfect, ideal, rows)) == pytest.approx(1.0)
    assert float(pattern_mass(uniform, ideal, rows)) == pytest.approx(0.25)
    mixed = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.5, 0.5], [0.9, 0.1, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    expected = (0.4 + 0.5 + 0.1 + 1.0) / 4
    assert float(pattern_mass(mixed[None, None, None], ideal, rows)) == pytest.approx(expected)
    only_two = torch.tensor([[False, True, True, False]])
    assert float(pattern_mass(mixed[None, None, None], ideal, only_two)) == pytest.approx((0.5 + 0.1) / 2)


@pytest.fixture(scope="module")
def trained_reversal():
    trainer = AttentionTrainer(AttentionConfig(heldout_size=128), seed=0)
    for _ in range(150):
        trainer.train_step()
    return trainer


def test_reversal_learns_the_anti_diagonal(trained_reversal):
    result = trained_reversal.measure()
    assert result.sequence_accuracy >= 0.9
    assert result.best_pattern_mass >= 0.8
    prediction = trained_reversal.predict([1, 2, 3, 4, 5, 6, 7, 8])
    assert prediction.predicted == (8, 7, 6, 5, 4, 3, 2, 1) == prediction.expected
    assert prediction.correct and prediction.attention.shape == (1, 1, 8, 8)
    assert prediction.attention[0, 0].argmax(-1).tolist() == [7, 6, 5, 4, 3, 2, 1, 0]


def test_evaluation_counts_like_a_brute_force_loop(trained_reversal):
    trainer = trained_reversal
    examples = trainer.heldout
    result = trainer.measure(examples)
    with torch.no_grad():
        logits = trainer.model(examples.tokens).logits
    tokens_right = sequences_right = 0
    for n in range(len(examples)):
        row = [int(logits[n, i].argmax()) == int(examples.target[n, i]) for i in range(8)]
        tokens_right += sum(row)
        sequences_right += all(row)
    assert result.token_accuracy == pytest.approx(tokens_right / (8 * len(examples)))
    assert result.sequence_accuracy == pytest.approx(sequences_right / len(examples))
    assert result.loss == pytest.approx(float(F.cross_entropy(logits.reshape(-1, 10), examples.target.reshape(-1))),
                                        rel=1e-5)


def test_prompt_layout_accuracy_uses_greedy_decoding():
    trainer = AttentionTrainer(AttentionConfig(causal=True, heldout_size=32, train_size=512), seed=1)
    for _ in range(30):  # part-trained: some outputs wrong, so feeding back mistakes matters
        trainer.train_step()
    examples = trainer.heldout
    right_tokens = right_sequences = 0
    with torch.no_grad():
        for n in range(len(examples)):
            stream = examples.tokens[n, :9].tolist()
            outputs = []
            for _ in range(8):
                next_token = int(trainer.model(torch.tensor([stream])).logits[0, -1].argmax())
                outputs.append(next_token)
                stream.append(next_token)
            row = [o == t for o, t in zip(outputs, examples.target[n].tolist())]
            right_tokens += sum(row)
            right_sequences += all(row)
    result = trainer.measure()
    assert result.token_accuracy == pytest.approx(right_tokens / (8 * len(examples)))
    assert result.sequence_accuracy == pytest.approx(right_sequences / len(examples))


def test_induction_score_is_the_standard_definition():
    config = AttentionConfig(task="induction", vocab_size=16, seq_len=16, segment_len=3, n_layers=2, n_heads=2,
                             causal=True, attention_only=True, train_size=256, heldout_size=64)
    trainer = AttentionTrainer(config, seed=0)
    for _ in range(20):
        trainer.train_step()
    examples = trainer.heldout
    with torch.no_grad():
        attention = trainer.model(examples.tokens).attention
    expected = np.zeros((2, 2))
    count = 0
    for n in range(len(examples)):
        a, b = int(examples.first_start[n]), int(examples.repeat_start[n])
        for q in range(b, b + 3):
            expected += attention[n, :, :, q, q - (b - a) + 1].numpy()
            count += 1
    np.testing.assert_allclose(trainer.measure().pattern_mass, expected / count, rtol=1e-5)


def test_ablation_equals_weight_surgery():
    config = AttentionConfig(n_layers=2, n_heads=2, d_model=16, heldout_size=64, train_size=256)
    trainer = AttentionTrainer(config, seed=0)
    for _ in range(40):
        trainer.train_step()
    ablation = trainer.ablation()
    assert ablation.token_accuracy.shape == (2, 2)
    assert ablation.baseline_token_accuracy == pytest.approx(trainer.measure().token_accuracy)
    original = trainer.model
    for layer in range(2):
        for head in range(2):
            trainer.model = copy.deepcopy(original)
            with torch.no_grad():
                trainer.model.blocks[layer].attention.output.weight[:, 8 * head:8 * head + 8] = 0.0
            assert ablation.token_accuracy[layer, head] == pytest.approx(trainer.measure().token_accuracy)
    trainer.model = original
    trainer.set_head(0, 1, False)
    assert trainer.measure().token_accuracy == pytest.approx(ablation.token_accuracy[0, 1])


def test_same_seed_same_run_other_seed_other_run():
    config = AttentionConfig(train_size=256, heldout_size=32)
    runs = []
    for seed in (5, 5, 6):
        trainer = AttentionTrainer(config, seed=seed)
        runs.append([trainer.train_step()["loss"] for _ in range(15)])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.parametrize("kind", ["additive", "multiplicative"])
def test_rnn_trainer_measures_target_by_source_attention(kind):
    config = AttentionConfig(architecture="rnn", rnn_attention=kind, rnn_hidden=16, train_size=256,
                             heldout_size=32, seq_len=6)
    trainer = AttentionTrainer(config, seed=0)
    losses = [trainer.train_step()["loss"] for _ in range(40)]
    assert losses[-1] < losses[0]
    maps = trainer.attention_maps()
    assert maps.attention.shape == (4, 1, 1, 6, 6)
    assert maps.ideal.shape == (4, 6, 6) and maps.ideal[0].tolist() == np.eye(6, dtype=bool)[::-1].tolist()
    result = trainer.measure()
    assert result.pattern_mass.shape == (1, 1)
    with pytest.raises(ValueError, match="transformers"):
        trainer.ablation()


def test_hyperparameters_change_live_with_warm_up():
    trainer = AttentionTrainer(AttentionConfig(lr=0.01, warmup_steps=4, train_size=128, heldout_size=16), seed=0)
    lrs = [trainer.train_step()["lr"] for _ in range(6)]
    assert lrs == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01])
    trainer.set_hyperparameters(lr=0.002, batch_size=8)
    assert trainer.train_step()["lr"] == pytest.approx(0.002)
    assert trainer.examples_seen == 6 * 64 + 8
    assert trainer.epoch == pytest.approx((6 * 64 + 8) / 128)
    with pytest.raises(ValueError, match="learning rate"):
        trainer.set_hyperparameters(lr=-1.0)


def test_every_epoch_visits_every_training_example_once():
    trainer = AttentionTrainer(AttentionConfig(train_size=100, heldout_size=16, batch_size=30), seed=0)
    seen = torch.cat([trainer._next_batch().tokens for _ in range(10)])  # 300 examples = 3 epochs
    for epoch in range(3):
        chunk = seen[100 * epoch:100 * (epoch + 1)]
        assert sorted(map(tuple, chunk.tolist())) == sorted(map(tuple, trainer.train_set.tokens.tolist()))


def test_timeline_thins_evenly_within_capacity():
    timeline = AttentionTimeline(capacity=4, interval=1)
    for step in range(0, 50):
        if timeline.due(step):
            timeline.record(step, np.full((1,), step, dtype=np.float32))
    steps, maps = timeline.frozen()
    assert len(steps) <= 4 and steps[0] == 0
    assert list(steps) == sorted(steps) and list(maps[:, 0]) == list(steps)
    assert np.all(np.diff(steps) == np.diff(steps)[0])  # evenly spaced
    assert steps[-1] >= 32


def test_induction_prediction_on_typed_sequence():
    trainer = AttentionTrainer(dataclasses.replace(ATTENTION_PRESETS["induction"], train_size=64, heldout_size=16))
    typed = [5, 9, 1, 2, 3, 7, 8, 1, 2, 3, 4]
    prediction = trainer.predict(typed)
    assert prediction.expected == (None,) * 7 + (2, 3, None, None)
    assert len(prediction.predicted) == 11 and prediction.attention.shape == (2, 2, 11, 11)
    assert prediction.pattern_mass.shape == (2, 2)
    by_hand = sum(prediction.attention[:, :, q, q - 5 + 1] for q in (7, 8, 9)) / 3
    np.testing.assert_allclose(prediction.pattern_mass, by_hand, rtol=1e-5)


def test_positional_similarity_is_dot_products():
    trainer = AttentionTrainer(AttentionConfig(positional="sinusoidal", train_size=64, heldout_size=16))
    encoding = trainer.positional_encoding()
    similarity = trainer.positional_similarity()
    assert similarity[2, 5] == pytest.approx(float(np.dot(encoding[2], encoding[5])), rel=1e-5)
    assert AttentionTrainer(AttentionConfig(positional="none", train_size=64, heldout_size=16)).positional_encoding() \
        is None


def test_engine_imports_neither_streamlit_nor_plotly():
    code = ("import sys, engine.attention.job; "
            "print([m for m in sys.modules if m.split('.')[0] in ('streamlit', 'plotly')])")
    # S603: runs this interpreter on a fixed string, no outside input.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,  # noqa: S603
                            cwd=str(Path(__file__).resolve().parent.parent))
    assert result.stdout.strip() == "[]"


def test_visuals_are_typed_and_pickle_to_equal_values():
    hyperparameters = {"query": (1, 2, 3, 4, 5, 6, 7, 8), "heads_off": ((0, 1),)}
    trainer = AttentionTrainer(AttentionConfig(n_heads=2, train_size=256, heldout_size=32), hyperparameters, seed=0)
    train(trainer, 12)
    trainer.apply_hyperparameters({"ablation_request": 1})
    visuals = trainer.observe()
    assert isinstance(visuals, AttentionVisuals)
    assert visuals.evaluated_step == 12 and visuals.heads_off == ((0, 1),)
    assert visuals.ablation_step == 12 and visuals.ablation.token_accuracy.shape == (1, 2)
    assert visuals.prediction.tokens == (1, 2, 3, 4, 5, 6, 7, 8) and visuals.query_error is None
    assert visuals.timeline_steps.tolist() == [0, 10] and visuals.positional_encoding.shape == (8, 32)
    with pytest.raises(dataclasses.FrozenInstanceError):
        visuals.evaluated_step = 3
    assert_pickles_to_equal_values(visuals)


def test_each_preset_is_a_spec_that_trains_its_config_and_names_itself():
    for name, config in ATTENTION_PRESETS.items():
        spec = PRESET_SPECS[name]
        assert spec.config() == config and spec.preset() == name
        assert spec.replace(speed="max", seed=7).preset() == name  # the pace and the seed are no part of a preset
    assert AttentionSpec().preset() == "reverse"  # the controls start from reversal's setting
    assert AttentionSpec(vocab=20).preset() == CUSTOM


def test_the_spec_refuses_what_the_engine_refuses_and_sends_the_live_settings_as_hyperparameters():
    with pytest.raises(ConfigError, match="causal"):
        AttentionSpec(task="induction", len=16).config()  # bidirectional attention would read the answer
    with pytest.raises(ConfigError, match="between 2 and 16"):
        AttentionSpec(len=30).config()  # reversal's sequences are shorter than induction's
    rnn = AttentionSpec(family="rnn_multiplicative", lr=0.01, batch=32, speed="max").config()
    assert (rnn.architecture, rnn.rnn_attention, rnn.lr) == ("rnn", "multiplicative", ATTENTION_PRESETS["reverse"].lr)
    assert AttentionSpec(lr=0.01, batch=32, speed="max").hyperparameters() == {
        "lr": 0.01, "batch_size": 32, "max_steps_per_second": None}
