"""Words and sequences: the issue's speed and quality figures for the page's three tabs, in one run.

- Word vectors (bench/words_vectors.py): skip-gram with negative sampling, the page's defaults, trained on the
  template corpus for a fixed step budget that takes about 60 s on one CPU thread; analogy_top1 is the share of
  the planted analogies (`analogies` of them) answered top-1 by 3CosAdd, the query words excluded. Target >= 0.8,
  beside ppmi_analogy_top1, the PPMI-SVD (LSA) baseline on the same corpus, window and dimensions.
- Character model (bench/words_charlm.py): the default LSTM trained for a fixed step budget of about 60 s on one
  thread; char_bpc is its bits per character on tiny Shakespeare's held-out last 10%, against bigram_bpc (add-k,
  k tuned on validation text) and unigram_bpc. Target: char_bpc at least 0.3 below bigram_bpc.
- Tokens (bench/words_bpe.py): bpe_learn_s, learning 1,000 merges on tiny Shakespeare, and bpe_1mb_s, encoding
  1 MB of it with them (target <= 2 s), each against the textbook way.

The budgets are step counts scaled from a measured 60 s, never a clock, so a run is reproducible; `--quick` scales
both to 10 s (a smoke run: its quality figures are not the targets'). Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.words_bpe import measure as measure_tokens  # noqa: E402
from bench.words_charlm import measure as measure_character_model  # noqa: E402
from bench.words_vectors import measure as measure_word_vectors  # noqa: E402

TARGET_ANALOGY_TOP1 = 0.8
TARGET_BPE_1MB_S = 2.0
FULL_BUDGET_S = 60.0
QUICK_BUDGET_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"train each model for {QUICK_BUDGET_S:g} s, not 60")
    args = parser.parse_args()
    budget_s = QUICK_BUDGET_S if args.quick else FULL_BUDGET_S

    vectors = measure_word_vectors(budget_s=budget_s)
    print({key: vectors[key] for key in ("analogy_top1", "ppmi_analogy_top1", "vector_steps", "vector_seconds")},
          flush=True)
    character_model = measure_character_model(budget_s=budget_s)
    print({key: character_model[key] for key in ("char_bpc", "bigram_bpc", "char_steps", "char_seconds")},
          flush=True)
    tokens = measure_tokens()
    print({key: tokens[key] for key in ("bpe_learn_s", "bpe_1mb_s")}, flush=True)

    print(json.dumps({
        "budget_s": budget_s,
        **vectors,
        "analogy_target_met": bool(vectors["analogy_top1"] >= TARGET_ANALOGY_TOP1),
        **character_model,  # with char_target_met
        **tokens,
        "bpe_target_met": bool(tokens["bpe_1mb_s"] <= TARGET_BPE_1MB_S),
    }))


if __name__ == "__main__":
    main()
