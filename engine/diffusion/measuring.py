"""What the Diffusion page measures of one step's averaged network (the job does it in its measuring thread,
on a copy, beside training):

- point sets: `QUALITY_SAMPLE_SIZE` samples from the chosen sampler, their normalized MMD² and energy
  distance against held-out data, and the reverse process of a few hundred points run by DDPM and DDIM
  from one shared x_T, kept at the same t for both, with the learned noise field on a grid at each of those t;
- digits: a grid of samples, the judge's confidence on them next to its value on real held-out digits,
  and strips of a few images denoising step by step under DDPM and DDIM.

Every draw starts from the same seeded x_T, so between two measurements the samples change only because
the network did.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import torch

from engine.diffusion.data import DigitsData
from engine.diffusion.quality import QUALITY_SAMPLE_SIZE
from engine.diffusion.sampling import ddim_timesteps
from engine.diffusion.trainer import DiffusionTrainer
from engine.diffusion.visuals import DIGIT_STRIP, Measurement, ReverseProcess, digit_images

ANIMATION_POINTS = 300  # points run through the reverse-process animation
MAX_FRAMES = 17  # frames of the animation, x_T and x_0 included
FIELD_RESOLUTION = 13
FIELD_EXTENT = (-3.0, 3.0, -3.0, 3.0)
DIGIT_SAMPLES = 256  # the judge scores this many; the page shows the first 64
DIGIT_GRID = 64
DIGIT_STRIP_FRAMES = 11


def frame_times(T: int, ddim_steps: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """The t at which both samplers are shown: DDIM's own stops (thinned to `max_frames`), T first, 0 last.

    DDPM visits every t, so it can be caught at each of them.
    """
    stops = [*ddim_timesteps(T, ddim_steps), 0]
    if len(stops) > max_frames:
        keep = np.unique(np.linspace(0, len(stops) - 1, max_frames).round().astype(int))
        stops = [stops[i] for i in keep]
    return stops


def prepare(trainer: DiffusionTrainer, interrupt: Callable[..., None] | None = None) -> None:
    """The held-out reference or the judge, built once per run (it takes seconds: ahead of the first draw)."""
    if isinstance(trainer.data, DigitsData):
        trainer.judge()
    else:
        trainer.quality_reference(interrupt=interrupt)


def measure(trainer: DiffusionTrainer, network: torch.nn.Module, step: int, sampler: str, steps: int,
            ddim_steps: int, passes_done: Callable[[], None] = lambda: None) -> tuple[Measurement, dict[str, float]]:
    """Samples, their quality and the reverse process of `network` (a copy of the averaged network of
    `step`): the measurement, and the metrics to record in the history at `step`. `passes_done` is called once
    the network's passes are over, before the samples are scored (the job's measuring thread gives its turn at
    training back there: scoring is large tensor operations, not steps)."""
    # The trainer, seen with the copied network: its data, schedule and references, nothing that trains.
    view = copy.copy(trainer)
    view.network = view.ema_network = network
    weights = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    drawn: dict[str, Any] = {"step": step, "sampler": sampler, "steps": steps, "state": weights}
    if isinstance(trainer.data, DigitsData):
        data = trainer.data
        samples, reverse = _draw_both(view, sampler, ddim_steps, step, DIGIT_SAMPLES, DIGIT_STRIP, DIGIT_STRIP_FRAMES)
        passes_done()
        mean, scale = float(data.standardizer.mean), data.standardizer.scale
        strips = replace(reverse, ddpm=digit_images(reverse.ddpm, mean, scale),
                         ddim=digit_images(reverse.ddim, mean, scale))
        measurement = Measurement(samples=data.images(samples[:DIGIT_GRID]).numpy().astype(np.float32),
                                  reverse=strips, class_shares=trainer.judge().class_shares(data.to_pixels(samples)),
                                  real_confidence=trainer.real_digit_confidence(), **drawn)
        return measurement, {"judge_confidence": view.quality(samples)["judge_confidence"]}
    samples, reverse = _draw_both(view, sampler, ddim_steps, step, QUALITY_SAMPLE_SIZE, ANIMATION_POINTS, MAX_FRAMES)
    fields = [view.noise_field(int(t), FIELD_EXTENT, FIELD_RESOLUTION) for t in reverse.frame_t if t > 0]
    eps = np.stack([field.eps.numpy() for field in fields] + [np.zeros_like(fields[0].eps.numpy())])
    reverse = replace(reverse, field_x=fields[0].xs.numpy(), field_y=fields[0].ys.numpy(),
                      field_eps=eps.astype(np.float32))
    passes_done()
    quality = view.quality(samples)
    measurement = Measurement(samples=samples.numpy().astype(np.float32), reverse=reverse, **drawn)
    return measurement, {name: quality[name] for name in ("mmd_norm", "energy_norm", "mmd", "energy")}


def _draw_both(view: DiffusionTrainer, sampler: str, ddim_steps: int, step: int, n: int, shown: int,
               max_frames: int) -> tuple[torch.Tensor, ReverseProcess]:
    """`n` samples from the chosen sampler, and both samplers' paths for the first `shown` of them.

    The chosen sampler runs once on all `n` (its frames serve the animation); the other one runs on the
    `shown` points only, from the same x_T. Seeds are fixed per run: every measurement starts from the
    same noise, so the pictures change only because the network did.
    """
    seed = view.seed
    times = frame_times(view.schedule.T, ddim_steps, max_frames)
    x_T = torch.randn((n, view.data.dim), generator=torch.Generator().manual_seed(seed * 7919 + 1))
    chains = {}
    other = "ddim" if sampler == "ddpm" else "ddpm"
    for name, points in ((sampler, n), (other, shown)):
        generator = torch.Generator().manual_seed(seed * 7919 + 2)
        chains[name] = view.sample(points, name, ddim_steps, generator=generator, x_T=x_T[:points],
                                   frame_times=times)
    frames = {name: chain.frames[:, :shown].numpy().astype(np.float32) for name, chain in chains.items()}
    reverse = ReverseProcess(np.array(times), frames["ddpm"], frames["ddim"], ddim_steps, sampled_step=step)
    return chains[sampler].samples.cpu(), reverse
