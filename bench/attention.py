"""Attention page targets: a transformer learns reversal and induction from scratch, on a CPU, in seconds.

From seed 0, with the presets the page uses (engine.attention.config.ATTENTION_PRESETS):

- reversal (vocabulary 10, length 8, 1 layer, 1 head, bidirectional): the step at
  which every held-out sequence first comes out right (checked every 10 steps),
  the training seconds it took, and the attention mass on the mirrored position
  at step 1,000 (targets: 100 % within 1,000 steps, mass >= 0.85);
- induction (2-layer attention-only, causal, segment repeated at a random offset):
  the best head's induction score at step 1,000 and the held-out accuracy of the
  scored tokens at step 3,000 (targets >= 0.6 and >= 90 %).

In the same run, the reference ways: the explicit attention that exposes every
probability against torch's fused scaled_dot_product_attention (largest logit
difference, and step-time ratio, interleaved best-of-3); and the models that
should fail, to show the attention is what does the work: reversal with no
positional encoding, induction with one attention-only layer (no induction head
is possible), and the RNN encoder–decoder with additive and multiplicative
attention on the same reversal. Last line: one JSON object.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.attention.config import ATTENTION_PRESETS  # noqa: E402
from engine.attention.trainer import AttentionTrainer  # noqa: E402

SEED = 0
REVERSE_STEPS = 1000
INDUCTION_STEPS = 3000
BASELINE_STEPS = 500
RNN_STEPS = 300


def train_reversal() -> dict[str, float]:
    trainer = AttentionTrainer(ATTENTION_PRESETS["reverse"], seed=SEED)
    seconds, reached, seconds_to_reach = 0.0, None, None
    for step in range(1, REVERSE_STEPS + 1):
        started = time.perf_counter()
        trainer.train_step()
        seconds += time.perf_counter() - started
        if reached is None and step % 10 == 0 and trainer.measure().sequence_accuracy == 1.0:
            reached, seconds_to_reach = step, seconds
    final = trainer.measure()
    print(f"reversal: 100% held-out at step {reached} ({seconds_to_reach:.2f} s of training); at step "
          f"{REVERSE_STEPS}: sequences {final.sequence_accuracy:.3f}, anti-diagonal mass {final.best_pattern_mass:.3f}",
          flush=True)
    return {"reverse_steps_to_100pct": reached, "reverse_antidiagonal_mass": round(final.best_pattern_mass, 4),
            "reverse_seconds": round(seconds_to_reach, 2) if seconds_to_reach is not None else None,
            "reverse_heldout_sequence_acc_at_1000": final.sequence_accuracy, "trainer": trainer}


def train_induction() -> dict[str, float]:
    trainer = AttentionTrainer(ATTENTION_PRESETS["induction"], seed=SEED)
    crossed, score_at_1000, started = None, None, time.perf_counter()
    for step in range(1, INDUCTION_STEPS + 1):
        trainer.train_step()
        if (crossed is None and step % 50 == 0) or step == 1000:
            result = trainer.measure()
            if crossed is None and result.best_pattern_mass >= 0.6:
                crossed = step
            if step == 1000:
                score_at_1000 = result.best_pattern_mass
                layer, head = result.best_head
    final = trainer.measure()
    seconds = time.perf_counter() - started
    print(f"induction: score >= 0.6 from step {crossed}; at 1000: {score_at_1000:.3f} (layer {layer}, head {head}); "
          f"at {INDUCTION_STEPS}: tokens {final.token_accuracy:.4f}, sequences {final.sequence_accuracy:.4f} "
          f"({seconds:.1f} s with evaluations)", flush=True)
    return {"induction_score_at_1000": round(score_at_1000, 4), "induction_acc_at_3000": final.token_accuracy,
            "induction_sequence_acc_at_3000": final.sequence_accuracy, "induction_steps_to_score_0.6": crossed,
            "trainer": trainer}


def explicit_versus_fused(trainer: AttentionTrainer) -> dict[str, float]:
    """The explicit attention we draw against torch's fused kernel: same logits, and what it costs."""
    model, examples = trainer.model, trainer.heldout
    with torch.no_grad():
        difference = (model(examples.tokens).logits - model(examples.tokens, need_weights=False).logits).abs().max()
    batch = trainer.train_set.subset(slice(0, trainer.batch_size))

    def step_time(need_weights: bool) -> float:
        started = time.perf_counter()
        for _ in range(100):
            output = model(batch.tokens, need_weights=need_weights)
            loss = F.cross_entropy(output.logits[batch.scored], batch.targets[batch.scored])
            model.zero_grad(set_to_none=True)
            loss.backward()
        return (time.perf_counter() - started) / 100

    explicit, fused = [], []
    for _ in range(3):  # interleaved, best of 3: background load hits both alike
        explicit.append(step_time(True))
        fused.append(step_time(False))
    ratio = min(explicit) / min(fused)
    print(f"explicit vs fused attention: max |logit difference| {float(difference):.2e}; "
          f"forward+backward time ratio {ratio:.2f}", flush=True)
    return {"explicit_vs_sdpa_max_logit_diff": float(difference), "explicit_vs_sdpa_time_ratio": round(ratio, 3)}


def baselines() -> dict[str, float]:
    results = {}
    no_positions = AttentionTrainer(dataclasses.replace(ATTENTION_PRESETS["reverse"], positional="none"), seed=SEED)
    one_layer = AttentionTrainer(dataclasses.replace(ATTENTION_PRESETS["induction"], n_layers=1), seed=SEED)
    for name, trainer in (("reverse_no_positional_encoding", no_positions), ("induction_one_layer", one_layer)):
        for _ in range(BASELINE_STEPS):
            trainer.train_step()
        result = trainer.measure()
        results[f"{name}_token_acc"] = round(result.token_accuracy, 4)
        results[f"{name}_pattern_mass"] = round(result.best_pattern_mass, 4)
        print(f"baseline {name} after {BASELINE_STEPS} steps: tokens {result.token_accuracy:.3f}, "
              f"pattern mass {result.best_pattern_mass:.3f}", flush=True)
    for kind in ("additive", "multiplicative"):
        trainer = AttentionTrainer(dataclasses.replace(ATTENTION_PRESETS["reverse"], architecture="rnn",
                                                       rnn_attention=kind),
                                   seed=SEED)
        for _ in range(RNN_STEPS):
            trainer.train_step()
        result = trainer.measure()
        results[f"rnn_{kind}_reverse_sequence_acc_at_{RNN_STEPS}"] = round(result.sequence_accuracy, 4)
        results[f"rnn_{kind}_reverse_antidiagonal_mass"] = round(result.best_pattern_mass, 4)
        print(f"RNN encoder-decoder, {kind} attention, after {RNN_STEPS} steps: sequences "
              f"{result.sequence_accuracy:.3f}, mirrored-position mass {result.best_pattern_mass:.3f}", flush=True)
    return results


def main() -> None:
    torch.set_num_threads(1)
    started = time.perf_counter()
    reversal = train_reversal()
    induction = train_induction()
    reference = explicit_versus_fused(induction.pop("trainer"))
    reversal.pop("trainer")
    others = baselines()
    summary = {**{k: reversal[k] for k in ("reverse_steps_to_100pct", "reverse_antidiagonal_mass", "reverse_seconds")},
               **{k: induction[k] for k in ("induction_score_at_1000", "induction_acc_at_3000")},
               "reverse_heldout_sequence_acc_at_1000": reversal["reverse_heldout_sequence_acc_at_1000"],
               "induction_sequence_acc_at_3000": induction["induction_sequence_acc_at_3000"],
               "induction_steps_to_score_0.6": induction["induction_steps_to_score_0.6"],
               **reference, **others, "bench_seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
