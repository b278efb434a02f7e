"""Diffusion: sample quality after training, and DDIM's speed against the full DDPM chain.

Trains the default DDPM of engine/diffusion/ (fixed seed) on moons, the
swiss roll and the 8x8 digits, then measures against data it never saw:

- point sets: RBF MMD² (bandwidths 0.05..1) and energy distance, normalized as
  (metric − floor) / (ceiling − floor) per 2,000-vs-2,000 comparison and
  averaged over several independent comparisons (one is too noisy to read at
  the 0.03 level; the standard errors are printed too). Main keys: the full
  DDPM chain; `*_ddim50_*`: DDIM with 50 steps from the same network.
- digits: the mean top-class probability of a logistic-regression judge
  trained on real digits, on DDPM samples, next to its value on real held-out
  digits, and how close samples sit to training digits compared with fresh
  digits (copying ratio, ~1 = no copying).
- the reference way in the same run: the same network and steps with
  tiny-diffusion's schedule (T = 50, β linear 1e-4..0.02, so ᾱ_T ≈ 0.6), and
  DDPM's T-step chain against DDIM's 50 steps (time to draw 2,000 points).

Point sets and digits train in two processes, one torch thread each (the
bench targets a 2-core CPU). Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.diffusion.config import default_config  # noqa: E402
from engine.diffusion.quality import QUALITY_SAMPLE_SIZE, copying_ratio  # noqa: E402
from engine.diffusion.trainer import DiffusionTrainer  # noqa: E402
from engine.runtime import train  # noqa: E402

SEED = 0
POINT_STEPS = 6_000  # the issue allows up to 20,000
DIGIT_STEPS = 10_000  # the issue allows up to 10,000
DDIM_STEPS = 50
DDIM_COMPARISONS = 10  # 2,000-vs-2,000 comparisons averaged for DDIM's scores
DDPM_COMPARISONS = 5  # the same for DDPM, whose chain costs T = 1,000 network passes
DIGIT_SAMPLES = 500


def _train(trainer: DiffusionTrainer, steps: int) -> tuple[float, float]:
    started = time.perf_counter()
    losses = [metrics["loss"] for metrics in train(trainer, steps)]
    return time.perf_counter() - started, statistics.fmean(losses[-500:])


def _draw(trainer: DiffusionTrainer, sampler: str, batches: int, batch: int, seed: int) -> tuple[torch.Tensor, float]:
    """`batches` draws of `batch` samples; returns them all and the median seconds per draw."""
    generator = torch.Generator().manual_seed(seed)
    samples, seconds = [], []
    for _ in range(batches):
        started = time.perf_counter()
        samples.append(trainer.sample(batch, sampler, DDIM_STEPS, generator=generator).samples)
        seconds.append(time.perf_counter() - started)
    return torch.cat(samples), statistics.median(seconds)


def point_set(name: str, **overrides) -> dict:
    torch.set_num_threads(1)
    trainer = DiffusionTrainer(default_config(name, seed=SEED, **overrides))
    train_s, loss = _train(trainer, POINT_STEPS)
    trainer.quality_reference(DDIM_COMPARISONS)
    ddim, ddim_s = _draw(trainer, "ddim", DDIM_COMPARISONS, QUALITY_SAMPLE_SIZE, seed=1)
    ddpm, ddpm_s = _draw(trainer, "ddpm", DDPM_COMPARISONS, QUALITY_SAMPLE_SIZE, seed=2)
    ddim_q, ddpm_q = trainer.quality(ddim), trainer.quality(ddpm)
    return {"name": name, "train_s": train_s, "final_loss": loss, "ddim_s": ddim_s, "ddpm_s": ddpm_s,
            "ddim": ddim_q, "ddpm": ddpm_q, "alpha_bar_T": trainer.schedule.alpha_bar_T,
            "warning": trainer.schedule.prior_warning()}


def tiny_diffusion_schedule() -> dict:
    """Moons with tiny-diffusion's default schedule: T = 50, β linear from 1e-4 to 0.02."""
    return point_set("moons", T=50, schedule="linear", beta_start=1e-4, beta_end=0.02, sampler_steps=50)


def digits() -> dict:
    torch.set_num_threads(1)
    trainer = DiffusionTrainer(default_config("digits", seed=SEED))
    train_s, loss = _train(trainer, DIGIT_STEPS)
    data = trainer.data
    ddpm, _ = _draw(trainer, "ddpm", 1, DIGIT_SAMPLES, seed=3)
    ddim, _ = _draw(trainer, "ddim", 1, DIGIT_SAMPLES, seed=4)
    judge = trainer.judge()
    return {"train_s": train_s, "final_loss": loss,
            "ddpm_confidence": trainer.quality(ddpm)["judge_confidence"],
            "ddim_confidence": trainer.quality(ddim)["judge_confidence"],
            "real_confidence": trainer.real_digit_confidence(),
            "judge_accuracy": judge.accuracy(data.to_pixels(data.test), data.test_labels),
            "class_shares": judge.class_shares(data.to_pixels(ddpm)).round(3).tolist(),
            "copying_ratio": copying_ratio(data.to_pixels(ddpm), data.to_pixels(data.train),
                                           data.to_pixels(data.test))}


def main() -> None:
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        # The digits take longest, so they start first; the point sets share the other process.
        digit_job = pool.submit(digits)
        jobs = {name: pool.submit(point_set, name) for name in ("moons", "swissroll")}
        reference_job = pool.submit(tiny_diffusion_schedule)
        points = {name: job.result() for name, job in jobs.items()}
        reference, digit = reference_job.result(), digit_job.result()
    wall_s = time.perf_counter() - started

    for name, result in points.items():
        print(f"{name}: {POINT_STEPS} steps in {result['train_s']:.0f} s, final loss {result['final_loss']:.4f}")
        for sampler, comparisons in (("ddpm", DDPM_COMPARISONS), ("ddim", DDIM_COMPARISONS)):
            q = result[sampler]
            print(f"  {sampler.upper():5s} MMD² norm {q['mmd_norm']:+.4f} ± {q['mmd_norm_se']:.4f}   energy norm "
                  f"{q['energy_norm']:+.4f} ± {q['energy_norm_se']:.4f}   "
                  f"({comparisons} comparisons of 2,000 vs 2,000)")
        print(f"  2,000 points: DDPM {result['ddpm_s']:.2f} s, DDIM-{DDIM_STEPS} {result['ddim_s']:.2f} s "
              f"({result['ddpm_s'] / result['ddim_s']:.1f}x faster)")
    q = reference["ddpm"]
    print(f"moons with tiny-diffusion's schedule (ᾱ_T = {reference['alpha_bar_T']:.3f}): DDPM MMD² norm "
          f"{q['mmd_norm']:+.4f}, energy norm {q['energy_norm']:+.4f}\n  warning shown: {reference['warning']}")
    print(f"digits: {DIGIT_STEPS} steps in {digit['train_s']:.0f} s; "
          f"judge confidence DDPM {digit['ddpm_confidence']:.3f}, "
          f"DDIM-{DDIM_STEPS} {digit['ddim_confidence']:.3f}, real held-out {digit['real_confidence']:.3f} "
          f"(judge accuracy {digit['judge_accuracy']:.3f}); copying ratio {digit['copying_ratio']:.2f}; "
          f"classes of samples {digit['class_shares']}")
    print(f"wall time {wall_s:.0f} s")

    moons, swiss = points["moons"], points["swissroll"]
    out = {
        "moons_mmd_norm": moons["ddpm"]["mmd_norm"], "moons_energy_norm": moons["ddpm"]["energy_norm"],
        "swissroll_mmd_norm": swiss["ddpm"]["mmd_norm"], "swissroll_energy_norm": swiss["ddpm"]["energy_norm"],
        "train_steps": POINT_STEPS,
        "digits_judge_confidence": digit["ddpm_confidence"],
        "ddim50_sample_s_2000": moons["ddim_s"], "ddpm_sample_s_2000": moons["ddpm_s"],
        # Beyond the keys: DDIM's scores, standard errors, the reference schedule, digits context.
        "ddim50_speedup": moons["ddpm_s"] / moons["ddim_s"],
        "moons_ddim50_mmd_norm": moons["ddim"]["mmd_norm"], "moons_ddim50_energy_norm": moons["ddim"]["energy_norm"],
        "swissroll_ddim50_mmd_norm": swiss["ddim"]["mmd_norm"],
        "swissroll_ddim50_energy_norm": swiss["ddim"]["energy_norm"],
        "moons_mmd_norm_se": moons["ddpm"]["mmd_norm_se"], "moons_energy_norm_se": moons["ddpm"]["energy_norm_se"],
        "swissroll_mmd_norm_se": swiss["ddpm"]["mmd_norm_se"],
        "swissroll_energy_norm_se": swiss["ddpm"]["energy_norm_se"],
        "ddpm_comparisons": DDPM_COMPARISONS, "ddim_comparisons": DDIM_COMPARISONS,
        "tinydiffusion_schedule_moons_mmd_norm": reference["ddpm"]["mmd_norm"],
        "tinydiffusion_schedule_moons_energy_norm": reference["ddpm"]["energy_norm"],
        "tinydiffusion_schedule_alpha_bar_T": reference["alpha_bar_T"],
        "digits_train_steps": DIGIT_STEPS,
        "digits_ddim50_judge_confidence": digit["ddim_confidence"],
        "digits_real_judge_confidence": digit["real_confidence"],
        "digits_copying_ratio": digit["copying_ratio"],
        "wall_s": wall_s,
    }
    print(json.dumps({key: round(value, 5) if isinstance(value, float) else value for key, value in out.items()}))


if __name__ == "__main__":
    main()
