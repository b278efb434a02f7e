"""The Gradient Flow page's runs as animated GIF frames, drawn with NumPy and Pillow (see viz/animation.py).

Deep networks: the per-layer gradient norm and the share of flat (saturated or dead) units at each
recorded probe, over the picture at initialization, so vanishing or exploding gradients and their
healing play out layer by layer. Through time: each cell's recall accuracy as training goes on.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.gradients.deep_config import ACTIVATION_CHOICES, INIT_CHOICES, DeepConfig
from engine.gradients.deep_trainer import DeepVisuals
from engine.gradients.probes import COLUMN
from engine.gradients.recurrent_config import CELLS, N_SYMBOLS, RecurrentConfig
from engine.common.history import frame_indices
from engine.runtime import Snapshot
from viz.animation import TEXT
from viz.gradients import CELL_COLORS, FLAT_COLOR
from viz.theme import OKABE_ITO

GRID, AXIS, FAINT = "#e6e8ec", "#9aa0aa", "#b8bcc4"
GRADIENT_COLOR = OKABE_ITO[5]  # as the page's "Gradient norm per layer" chart


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


class _Axes:
    """A plot box in an image: data -> pixels, a frame, grid lines and tick labels."""

    def __init__(self, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], x_range: tuple[float, float],
                 y_range: tuple[float, float]):
        self.draw, self.box = draw, box
        (self.x0, self.x1), (self.y0, self.y1) = x_range, y_range

    def px(self, x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
        left, top, right, bottom = self.box
        u = left + (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0) * (right - left)
        v = bottom - (np.asarray(y, dtype=float) - self.y0) / (self.y1 - self.y0) * (bottom - top)
        return list(zip(u.tolist(), v.tolist()))

    def frame(self, title: str, x_ticks: Sequence[tuple[float, str]], y_ticks: Sequence[tuple[float, str]]) -> None:
        left, top, right, bottom = self.box
        font = _font(13)
        for value, label in y_ticks:
            (_, y), = self.px([self.x0], [value])
            self.draw.line((left, y, right, y), fill=GRID)
            self.draw.text((left - 6, y), label, fill=TEXT, font=font, anchor="rm")
        for value, label in x_ticks:
            (x, _), = self.px([value], [self.y0])
            self.draw.line((x, bottom, x, bottom + 4), fill=AXIS)
            self.draw.text((x, bottom + 6), label, fill=TEXT, font=font, anchor="ma")
        self.draw.rectangle(self.box, outline=AXIS)
        self.draw.text((left, top - 8), title, fill=TEXT, font=_font(15), anchor="lb")

    def line(self, x, y, colour: str, width: int = 3, markers: bool = False) -> None:
        """A polyline broken at non-finite values (a layer whose gradient is exactly zero has no log)."""
        finite = np.isfinite(np.asarray(y, dtype=float))
        points = self.px(np.asarray(x)[finite], np.asarray(y, dtype=float)[finite])
        if len(points) > 1:
            self.draw.line(points, fill=colour, width=width, joint="curve")
        if markers:
            for u, v in points:
                self.draw.ellipse((u - 3.5, v - 3.5, u + 3.5, v + 3.5), fill=colour, outline="white")


def _layer_ticks(n_layers: int) -> list[tuple[float, str]]:
    """Hidden layers 1..n-1 then the output ("out"), a label every few layers."""
    every = max(1, math.ceil((n_layers - 1) / 8))
    ticks = [(float(i), str(i)) for i in range(1, n_layers) if i == 1 or i % every == 0]
    return [*ticks, (float(n_layers), "out")]


def _log_range(values: np.ndarray) -> tuple[float, float]:
    """Whole decades around the finite values (one decade when there are none)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return -1.0, 0.0
    low, high = math.floor(finite.min()), math.ceil(finite.max())
    return float(low), float(max(high, low + 1))


def _decade_ticks(low: float, high: float) -> list[tuple[float, str]]:
    every = max(1, math.ceil((high - low) / 6))
    return [(float(e), f"1e{int(e)}") for e in range(int(low), int(high) + 1, every)]


def _log10(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def layer_profile_frames(steps: Sequence[int], grad_norms: np.ndarray, flat: np.ndarray, init_grad_norms: np.ndarray,
                         init_flat: np.ndarray, flat_label: str, captions: Sequence[str], width: int = 860,
                         height: int = 400) -> list[Image.Image]:
    """One frame per step: ‖∂L/∂W‖ per layer (log scale) beside the % of flat units per hidden layer,
    the picture at initialization faint behind both.

    grad_norms (frames, layers + 1) with the output layer last; flat (frames, layers)."""
    grad_norms, flat = np.asarray(grad_norms, dtype=float), np.asarray(flat, dtype=float)
    logs, init_logs = _log10(grad_norms), _log10(init_grad_norms)
    low, high = _log_range(np.concatenate([logs.ravel(), init_logs]))
    n = grad_norms.shape[1]
    layers, hidden = np.arange(1, n + 1), np.arange(1, n)
    header, footer, gap = 40, 42, 90
    panel = (width - 70 - gap - 20) // 2
    left_box = (70, header + 22, 70 + panel, height - footer)
    right_box = (70 + panel + gap, header + 22, width - 20, height - footer)
    frames = []
    for step_flat, step_logs, caption in zip(flat, logs, captions):
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        draw.text((10, 8), caption, fill=TEXT, font=_font(17))
        grads = _Axes(draw, left_box, (0.5, n + 0.5), (low, high))
        grads.frame("weight-gradient norm per layer (log scale)", _layer_ticks(n), _decade_ticks(low, high))
        grads.line(layers, init_logs, FAINT, width=2)
        grads.line(layers, step_logs, GRADIENT_COLOR, markers=True)
        units = _Axes(draw, right_box, (0.5, n - 0.5), (0.0, 100.0))
        units.frame(f"% of units {flat_label}", _layer_ticks(n)[:-1], [(v, f"{v:g}") for v in (0, 25, 50, 75, 100)])
        units.line(hidden, 100 * np.asarray(init_flat, dtype=float), FAINT, width=2)
        units.line(hidden, 100 * step_flat, FLAT_COLOR, markers=True)
        draw.text((width // 2, height - 14), "layer (input side to output)    ·    grey: at initialization",
                  fill=TEXT, font=_font(13), anchor="mm")
        frames.append(image)
    return frames


def deep_replay(snapshot: Snapshot, max_frames: int = 48) -> list[Image.Image]:
    """The Deep networks run as frames: every kept probe (at most `max_frames`, evenly spread), after
    the picture at initialization."""
    visuals: DeepVisuals = snapshot.visuals
    init = visuals.init_probe
    steps, stats = visuals.history_steps, visuals.history_stats
    picked = frame_indices(len(steps), max_frames - 1)
    grad = np.concatenate([init.column("grad_norm")[None], stats[picked, :, COLUMN["grad_norm"]]])
    flat = np.concatenate([init.column("flat_fraction")[None, :-1],
                           stats[picked, :-1, COLUMN["flat_fraction"]]])
    loss = snapshot.series("loss")
    captions = ["at initialization"]
    for step in steps[picked]:
        at = np.searchsorted(loss.steps, step, side="right") - 1
        captions.append(f"step {int(step):,}" + (f"  ·  loss {loss.values[at]:.3g}" if at >= 0 else ""))
    config: DeepConfig = snapshot.config
    label = visuals.flat_region.label
    frames = layer_profile_frames([0, *steps[picked]], grad, flat, init.column("grad_norm"),
                                  init.column("flat_fraction")[:-1], label, captions)
    title = f"{ACTIVATION_CHOICES[config.activation]}, {INIT_CHOICES[config.init]}, depth {config.depth}"
    for frame in frames:
        ImageDraw.Draw(frame).text((frame.width - 10, 10), title, fill=AXIS, font=_font(14), anchor="ra")
    return frames


def _step_ticks(last: int) -> list[tuple[float, str]]:
    """Round steps (1, 2 or 5 times a power of ten apart) from 0 to `last`."""
    rough = max(last, 1) / 4
    power = 10 ** math.floor(math.log10(rough))
    spacing = next(power * m for m in (1, 2, 5, 10) if power * m >= rough)
    return [(float(v), f"{int(v):,}") for v in np.arange(0, max(last, 1) + 1, spacing)]


def accuracy_race_frames(curves: dict[str, tuple[np.ndarray, np.ndarray]], labels: dict[str, str],
                         chance: float, last: int, n_frames: int = 48, width: int = 640, height: int = 420
                         ) -> list[Image.Image]:
    """Each cell's accuracy curve growing with training up to step `last`; frame k shows every curve up
    to the same step."""
    ends = np.unique(np.linspace(0, last, max(2, n_frames)).round().astype(int)) if last else np.array([0])
    legend = 26 * math.ceil(len(curves) / 4)
    box = (60, 62, width - 20, height - 44 - legend)
    frames = []
    for end in ends:
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        axes = _Axes(draw, box, (0.0, float(max(last, 1))), (0.0, 1.0))
        axes.frame("recall accuracy (held-out sequences)", _step_ticks(last),
                   [(v, f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1)])
        (x0, y), (x1, _) = axes.px([0.0, float(max(last, 1))], [chance, chance])
        for start in range(int(x0), int(x1), 12):  # dashed: chance
            draw.line((start, y, min(start + 6, x1), y), fill=AXIS, width=2)
        shown = []
        for cell, (steps, values) in curves.items():
            keep = np.asarray(steps) <= end
            colour = CELL_COLORS.get(cell, OKABE_ITO[7])
            axes.line(np.asarray(steps)[keep], np.asarray(values)[keep], colour)
            if keep.any():
                shown.append(f"{labels[cell]} {np.asarray(values)[keep][-1]:.0%}")
        draw.text((10, 8), f"step {int(end):,}" + ("  ·  " + "  ".join(shown) if shown else ""), fill=TEXT,
                  font=_font(16))
        top = height - legend - 8
        draw.text((box[2], box[1] - 8), f"dashed: chance ({chance:.0%})", fill=TEXT, font=_font(13), anchor="rb")
        for index, cell in enumerate(curves):
            x, y = 60 + (index % 4) * 120, top + 26 * (index // 4)
            draw.rectangle((x, y + 4, x + 18, y + 12), fill=CELL_COLORS.get(cell, OKABE_ITO[7]))
            draw.text((x + 24, y), labels[cell], fill=TEXT, font=_font(14))
        frames.append(image)
    return frames


def recurrent_replay(snapshot: Snapshot, n_frames: int = 48) -> list[Image.Image]:
    """The Through time run as frames: the cells racing to recall the first token."""
    config: RecurrentConfig = snapshot.config
    curves = {}
    for cell in config.cells:
        series = snapshot.series(f"accuracy_{cell}")
        curves[cell] = (series.steps, series.values)
    return accuracy_race_frames(curves, CELLS, 1 / N_SYMBOLS, snapshot.step, n_frames)
