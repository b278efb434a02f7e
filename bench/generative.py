"""Generative models: the page's default GAN and its collapse preset on the mode-coverage ring, and the page's
default VAE on digits, on one CPU thread.

- GAN, on the benchmark ring of the VEEGAN and PacGAN papers (8 Gaussians of standard deviation 0.02 on a circle
  of radius 2): the page's default settings trained GAN_STEPS steps (a step = the default number of D updates, then
  one G update; batch 256), then 2,500 samples straight from G(z), z ~ N(0, I): modes covered and the share of
  high-quality samples (engine.generative.coverage). The collapse preset (the GAN lesson's, which differs from the
  default only in its loss) at the same step. Each the mean over SEEDS; the default's seconds per run.
- VAE, digits, latent 2, the page's defaults trained VAE_STEPS steps: the held-out negative ELBO per example
  (Bernoulli likelihood on the pixels scaled to [0, 1], in nats), and the Diffusion page's logistic-regression
  judge on 1,000 decoded prior samples (z ~ N(0, I), the decoder's Bernoulli means as grey levels): its mean
  confidence, the classes it assigns (covered: at least 1% of the samples), the largest class's share; the same
  judge on the plain autoencoder's decoder at the same z, and on real held-out digits.

Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.common.spec import Spec  # noqa: E402
from engine.generative.gan_trainer import GanTrainer  # noqa: E402
from engine.generative.spec import GenerativeSpec  # noqa: E402
from engine.generative.vae_trainer import VaeTrainer, prior_sample_scores  # noqa: E402
from engine.runtime import train  # noqa: E402
from ui.lessons import GAN_COLLAPSE  # noqa: E402

SEEDS = (0, 1, 2)
GAN_STEPS = 5_000
VAE_STEPS = 6_000


def gan_run(spec: Spec, seed: int) -> tuple[int, float, float]:
    """(modes covered, high-quality share, seconds) of the spec's GAN after GAN_STEPS steps."""
    trainer = GanTrainer(spec.config(), spec.hyperparameters(), seed=seed)
    started = time.perf_counter()
    train(trainer, GAN_STEPS)
    seconds = time.perf_counter() - started
    coverage = trainer.coverage()
    return coverage.modes_covered, coverage.high_quality, seconds


def gan() -> dict[str, float]:
    default = GenerativeSpec(model="GAN")
    collapse = GAN_COLLAPSE.spec
    # The seed aside (each is run on SEEDS here), the collapse preset is the default with another loss.
    differs = {name for name in default.to_dict() if getattr(default, name) != getattr(collapse, name)} - {"seed"}
    if differs != {"loss"} or default.config().data != "ring":
        raise RuntimeError(f"the collapse preset must differ from the default GAN on the ring only in its loss, "
                           f"not in {sorted(differs)}")
    healthy = [gan_run(default, seed) for seed in SEEDS]
    collapsed = [gan_run(collapse, seed) for seed in SEEDS]
    for name, runs in (("default", healthy), ("collapse", collapsed)):
        print(f"{name}: " + ", ".join(f"seed {s}: {m} modes, {q:.0%} high quality, {t:.0f} s"
                                      for s, (m, q, t) in zip(SEEDS, runs)), flush=True)
    return {"gan_steps": GAN_STEPS,
            "gan_modes_covered": statistics.mean(m for m, _, _ in healthy),
            "gan_high_quality": round(statistics.mean(q for _, q, _ in healthy), 3),
            "gan_seconds": round(statistics.mean(t for _, _, t in healthy), 1),
            "gan_collapse_modes": statistics.mean(m for m, _, _ in collapsed),
            "gan_collapse_high_quality": round(statistics.mean(q for _, q, _ in collapsed), 3),
            "gan_collapse_loss": collapse.loss}


def vae() -> dict[str, float]:
    spec = GenerativeSpec(model="VAE")
    config = spec.config()
    if (config.data, config.latent, config.autoencoder) != ("digits", 2, True):
        raise RuntimeError(f"the page's default VAE is not digits in 2-D with its autoencoder: {config}")
    trainer = VaeTrainer(config, spec.hyperparameters(), seed=SEEDS[0])
    started = time.perf_counter()
    train(trainer, VAE_STEPS)
    seconds = time.perf_counter() - started
    scores = prior_sample_scores(trainer, 1000)
    print(f"VAE prior samples by class: {[round(float(s), 3) for s in scores.vae_shares]}; autoencoder's: "
          f"{[round(float(s), 3) for s in scores.ae_shares]}", flush=True)
    return {"vae_steps": VAE_STEPS, "vae_seconds": round(seconds, 1),
            "vae_neg_elbo": round(trainer.evaluate()["test_neg_elbo"], 2), "vae_likelihood": "bernoulli on pixels/16",
            "vae_judge_confidence": round(scores.vae_confidence, 3), "vae_classes_covered": scores.classes_covered,
            "vae_max_class_share": round(scores.max_share, 3), "ae_judge_confidence": round(scores.ae_confidence, 3),
            "real_judge_confidence": round(scores.real_confidence, 3)}


def main() -> None:
    torch.set_num_threads(1)
    result = {**vae(), **gan()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
