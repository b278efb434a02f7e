"""Word vectors: how many of the template corpus's planted analogies does skip-gram with negative sampling answer
after about a minute on one CPU thread, against the PPMI-SVD (LSA) baseline on the same corpus?

- analogy_top1: the share of the planted analogies a - b + c ≈ d (engine.words.corpus; 360) whose top answer by
  3CosAdd, the query words excluded, is d, after VECTOR_STEPS training steps of the page's defaults (seed 0; a
  fixed step budget that took about 60 s here). Target >= 0.8.
- ppmi_analogy_top1: the same score of the PPMI-SVD vectors, same corpus, vocabulary, window and dimensions.
- vector_steps, vector_seconds: the step budget and the time it took (setup apart: setup_seconds, which includes
  the PPMI matrix and its SVD); analogy_top1_curve: (steps, share) along the way.

`measure` is imported by bench/words.py. Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine.runtime import train
from engine.words.vectors import WordVectorsConfig, WordVectorsTrainer

VECTOR_STEPS = 24_000  # 58.6 to 64.9 s for 25,000 on one thread of this 2-core machine, busy with others
CURVE_POINTS = 10


def measure(budget_s: float = 60.0) -> dict:
    """Train for VECTOR_STEPS scaled by budget_s / 60 (the budget sets the steps, never a clock, so a run is
    reproducible) and score the planted analogies."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        steps = max(CURVE_POINTS, round(VECTOR_STEPS * budget_s / 60.0))
        started = time.perf_counter()
        trainer = WordVectorsTrainer(WordVectorsConfig(), seed=0)
        setup_seconds = time.perf_counter() - started
        curve, trained, seconds = [], 0, 0.0
        for point in range(1, CURVE_POINTS + 1):
            started = time.perf_counter()
            trained += len(train(trainer, steps * point // CURVE_POINTS - trained))
            seconds += time.perf_counter() - started
            curve.append((trained, round(trainer.evaluate()["analogy_top1"], 4)))
        scores = trainer.evaluate()
    finally:
        torch.set_num_threads(threads)
    print(f"word vectors: {trained} steps in {seconds:.1f} s (setup {setup_seconds:.1f} s); analogies top-1 "
          f"{scores['analogy_top1']:.3f}, PPMI-SVD {scores['ppmi_analogy_top1']:.3f}", file=sys.stderr)
    return {"analogies": len(trainer.analogies), "analogy_top1": scores["analogy_top1"],
            "ppmi_analogy_top1": scores["ppmi_analogy_top1"], "vector_steps": trained,
            "vector_seconds": round(seconds, 2), "setup_seconds": round(setup_seconds, 2),
            "vocabulary": len(trainer.vocabulary), "corpus_tokens": len(trainer.tokens),
            "analogy_top1_curve": curve}


if __name__ == "__main__":
    print(json.dumps(measure()))
