"""Words and sequences, the character language model: does a small LSTM trained for about a minute on one CPU
thread beat the count models on text it never saw?

The page's default model (engine.words.charlm: an LSTM of 128 units, one layer, one-hot input; Adam at 3e-3,
truncated BPTT over 64 characters, 32 parallel streams, gradients clipped by norm at 1) trains on the first 90%
of tiny Shakespeare for a fixed number of steps, STEPS_PER_SECOND per second of `budget_s` (about 60 s on one
thread where this was written: a step count, not a clock, so the figure is reproducible). Then:

- char_bpc: its bits per character over the whole held-out last 10% (111,539 characters), read once in order.
- bigram_bpc, bigram_k: the add-k bigram on the same characters, k chosen on a validation slice of the training
  part; unigram_bpc: the add-one unigram. Target: char_bpc at least 0.3 below bigram_bpc (`char_margin_bpc`).
- char_steps, char_seconds (training only), char_eval_seconds, and the model's sizes.

`measure` is what bench/words.py imports. Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine.runtime import train
from engine.words.charlm import CharModelConfig, CharModelTrainer, model_size

STEPS_PER_SECOND = 36  # the default model's training steps per second on one thread where this was written (2 cores)
TARGET_MARGIN_BPC = 0.3


def measure(budget_s: float = 60.0, seed: int = 0) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = CharModelConfig()
        trainer = CharModelTrainer(config, seed=seed)
        steps = max(1, round(STEPS_PER_SECOND * budget_s))
        started = time.perf_counter()
        train(trainer, steps)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        char_bpc = trainer.held_out_bpc()
        eval_seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    baselines, hp = trainer.baselines, trainer.hp
    return {"char_bpc": round(char_bpc, 4), "bigram_bpc": round(baselines.bigram_bpc, 4),
            "bigram_k": baselines.bigram_k, "unigram_bpc": round(baselines.unigram_bpc, 4),
            "char_margin_bpc": round(baselines.bigram_bpc - char_bpc, 4),
            "char_target_met": bool(baselines.bigram_bpc - char_bpc >= TARGET_MARGIN_BPC),
            "char_steps": steps, "char_seconds": round(seconds, 2), "char_eval_seconds": round(eval_seconds, 2),
            "char_train_chars_read": trainer.chars_trained, "char_held_out_chars": len(trainer.corpus.held_out),
            "char_cell": config.cell, "char_hidden": config.hidden, "char_layers": config.layers,
            "char_parameters": model_size(trainer), "char_alphabet": trainer.corpus.size,
            "char_bptt": hp["bptt"], "char_batch_size": hp["batch_size"], "char_lr": hp["lr"]}


if __name__ == "__main__":
    print(json.dumps(measure()))
