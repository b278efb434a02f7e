"""Animated GIFs of a run, drawn straight into pixels with NumPy and Pillow.

A browser-rendered frame costs a quarter of a second; these cost milliseconds, so a replay of
dozens of frames is ready in well under a second. They use the theme's colours, so a GIF matches
the page it comes from: the playground's decision surface as it trains, the optimizer race, the
attention heads as they form, diffusion's noise turning into data.
"""

from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.runtime import Snapshot
from engine.playground.replay import playground_surfaces
from engine.optimizers.surfaces import Surface
from engine.optimizers.trajectory import Trajectory
from viz.diffusion import DATA_COLOR, DDIM_COLOR, DDPM_COLOR, EXTENT
from viz.generative import D_SCALE, FAKE_COLOR, REAL_COLOR
from viz.theme import DIVERGING, TRAIN_COLOR, class_color, optimizer_color
from viz.optimizers import contour_image, surface_values

FRAME_MS = 110
HOLD_MS = 1500  # the last frame stays up, so the result can be seen before the loop restarts
TEXT = "#1f2430"
_HEADER = 34  # pixels above the plot for the caption


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def _font(size: int = 16) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _scale(values: np.ndarray, stops: Sequence[tuple[float, str]]) -> np.ndarray:
    """Map values in [0, 1] through a piecewise-linear colour scale to (…, 3) floats."""
    positions = np.array([p for p, _ in stops])
    colours = np.array([_rgb(c) for _, c in stops])
    v = np.clip(values, 0.0, 1.0)
    return np.stack([np.interp(v, positions, colours[:, i]) for i in range(3)], axis=-1)


def gif_bytes(frames: Sequence[Image.Image], frame_ms: int = FRAME_MS, hold_ms: int = HOLD_MS) -> bytes:
    """The frames as a looping GIF (each frame quantized to its own 256-colour palette)."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    palettized = [frame.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT) for frame in frames]
    durations = [frame_ms] * (len(frames) - 1) + [hold_ms]
    out = io.BytesIO()
    palettized[0].save(out, format="GIF", save_all=True, append_images=palettized[1:], duration=durations, loop=0,
                       disposal=1, optimize=False)
    return out.getvalue()


def _caption(image: Image.Image, text: str) -> Image.Image:
    framed = Image.new("RGB", (image.width, image.height + _HEADER), "white")
    framed.paste(image, (0, _HEADER))
    ImageDraw.Draw(framed).text((8, 7), text, fill=TEXT, font=_font(17))
    return framed


class _Plane:
    """Data coordinates -> pixels for a square-ish plot of `size` pixels."""

    def __init__(self, x_range, y_range, width: int, height: int):
        self.x0, self.x1 = map(float, x_range)
        self.y0, self.y1 = map(float, y_range)
        self.width, self.height = width, height

    def pixels(self, points: np.ndarray) -> np.ndarray:
        px = (points[:, 0] - self.x0) / (self.x1 - self.x0) * (self.width - 1)
        py = (self.y1 - points[:, 1]) / (self.y1 - self.y0) * (self.height - 1)
        # Far-off points (a diverged run) still draw as lines towards the edge, without overflowing.
        return np.clip(np.column_stack([px, py]), -10 * self.width, 10 * self.width)


# --------------------------------------------------------------------------- the playground's replay
def _surface_rgb(surface: np.ndarray, task: str) -> np.ndarray:
    """(n2, n1) or (n2, n1, k) output -> (n2, n1, 3) colours, as the page's heatmap draws them."""
    white = _rgb("#ffffff")
    if task == "multiclass":
        k = surface.shape[-1]
        winner, confidence = surface.argmax(axis=-1), surface.max(axis=-1)
        strength = 0.75 * np.clip((confidence - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
        colours = np.stack([_rgb(class_color(c)) for c in range(k)])[winner]
        return white + strength[..., None] * (colours - white)
    if task == "regression":
        return white + 0.8 * (_scale((surface + 1.0) / 2.0, DIVERGING) - white)
    scale = [(0.0, class_color(0)), (0.5, "#f7f7f7"), (1.0, class_color(1))]
    return white + 0.75 * (_scale(surface, scale) - white)


def _draw_points(draw: ImageDraw.ImageDraw, plane: _Plane, x: np.ndarray, colours: Sequence[str],
                 radius: float = 3.5, outline: str = "white") -> None:
    for (px, py), colour in zip(plane.pixels(x), colours):
        draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=colour, outline=outline)


def _point_colours(y: np.ndarray, task: str) -> list[str]:
    if task == "regression":
        rgb = _scale((np.asarray(y, dtype=float) + 1.0) / 2.0, DIVERGING).round().astype(int)
        return ["#%02x%02x%02x" % tuple(c) for c in rgb]
    return [class_color(int(c)) for c in y]


def boundary_frames(grid_x1: np.ndarray, grid_x2: np.ndarray | None, surfaces: Sequence[np.ndarray],
                    steps: Sequence[int], task: str, x: np.ndarray, y: np.ndarray, size: int = 420
                    ) -> list[Image.Image]:
    """One frame per surface: the network's output over the input plane at that step, with the
    training points on top (for 1-D data: the fitted curve over the points)."""
    frames = []
    for surface, step in zip(surfaces, steps):
        if grid_x2 is None:
            image = _curve_image(grid_x1, np.ravel(surface), x[:, 0], y, size)
        else:
            image = _plane_image(grid_x1, grid_x2, np.asarray(surface, dtype=float), task, x, y, size)
        frames.append(_caption(image, f"step {int(step):,}"))
    return frames


def _plane_image(grid_x1, grid_x2, surface, task, x, y, size) -> Image.Image:
    rgb = _surface_rgb(surface, task)[::-1]  # image rows run from the largest x2 down
    image = Image.fromarray(rgb.round().astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)
    if task == "binary":  # the decision boundary, where P(class 1) crosses 1/2
        p = np.asarray(Image.fromarray(surface[::-1].astype(np.float32), mode="F").resize(
            (size, size), Image.Resampling.BILINEAR))
        above = p > 0.5
        edge = np.zeros_like(above)
        edge[:, 1:] |= above[:, 1:] != above[:, :-1]
        edge[1:, :] |= above[1:, :] != above[:-1, :]
        pixels = np.asarray(image).copy()
        pixels[edge] = (51, 51, 51)
        image = Image.fromarray(pixels)
    plane = _Plane((grid_x1[0], grid_x1[-1]), (grid_x2[0], grid_x2[-1]), size, size)
    _draw_points(ImageDraw.Draw(image), plane, x, _point_colours(y, task))
    return image


def _curve_image(grid_x1, curve, x, y, size) -> Image.Image:
    finite = np.concatenate([np.asarray(y, dtype=float), curve[np.isfinite(curve)]])
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.08 * (hi - lo or 1.0)
    plane = _Plane((grid_x1[0], grid_x1[-1]), (lo - pad, hi + pad), size, size)
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size - 1, size - 1), outline="#9aa0aa")
    _draw_points(draw, plane, np.column_stack([x, y]), [TRAIN_COLOR] * len(x), radius=3.0)
    line = plane.pixels(np.column_stack([grid_x1, np.nan_to_num(curve, nan=lo)]))
    draw.line([tuple(p) for p in line], fill="#222222", width=3)
    return image


def playground_replay(snapshot: Snapshot, max_frames: int = 48) -> list[Image.Image]:
    """The Playground's training as frames: its output surface at up to `max_frames` recorded steps."""
    visuals = snapshot.visuals
    data = visuals.dataset
    steps, surfaces = playground_surfaces(snapshot.config, data, visuals.state, visuals.trajectory, visuals.grid_x1,
                                          visuals.grid_x2, max_frames)
    if not steps or steps[-1] != snapshot.step:  # end on exactly what the page shows
        steps, surfaces = [*steps, snapshot.step], [*surfaces, visuals.surface]
    return boundary_frames(visuals.grid_x1, visuals.grid_x2, surfaces, steps, data.task, data.x_train, data.y_train)


# --------------------------------------------------------------------------- the optimizer race
def race_frames(background: Image.Image, x_range, y_range, paths: Sequence[tuple[np.ndarray, str, str]],
                start, n_frames: int = 60, size: int = 480) -> list[Image.Image]:
    """Every optimizer's path growing step by step over the contour picture.

    paths: (points (n+1, 2), colour, label) per optimizer; frame k shows each path up to the
    same step, so the race is fair whatever the paths' lengths."""
    longest = max((len(points) for points, _, _ in paths), default=1)
    plane = _Plane(x_range, y_range, size, size)
    base = background.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    legend_height = 24 * ((len(paths) + 2) // 3)
    pixels = [plane.pixels(_finite_prefix(points)) for points, _, _ in paths]
    start_pixel = plane.pixels(np.asarray([start], dtype=float))[0]
    frames = []
    for step in np.unique(np.linspace(1, longest - 1, max(2, n_frames)).round().astype(int)):
        image = base.copy()
        draw = ImageDraw.Draw(image)
        sx, sy = start_pixel
        draw.ellipse((sx - 6, sy - 6, sx + 6, sy + 6), fill="#1f2430")
        for path, (_, colour, _) in zip(pixels, paths):
            shown = path[: step + 1]
            if len(shown) > 1:
                draw.line([tuple(p) for p in shown], fill=colour, width=3, joint="curve")
            hx, hy = shown[-1]
            draw.ellipse((hx - 6, hy - 6, hx + 6, hy + 6), fill=colour, outline="white", width=2)
        framed = Image.new("RGB", (size, size + legend_height), "white")
        framed.paste(image, (0, 0))
        _legend(ImageDraw.Draw(framed), [(label, colour) for _, colour, label in paths], size)
        frames.append(_caption(framed, f"step {int(step):,}"))
    return frames


def optimizer_race(surface: Surface, trajectories: Sequence[Trajectory], start, n_frames: int = 60
                   ) -> list[Image.Image]:
    """The Optimizer page's race as frames, over the same contour picture the page draws."""
    uri = contour_image(surface_values(surface, surface.grid(240)[2]))
    background = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    paths = [(t.points, optimizer_color(t.kind), t.label) for t in trajectories]
    return race_frames(background, surface.x_range, surface.y_range, paths, start, n_frames)


def _finite_prefix(points: np.ndarray) -> np.ndarray:
    """The points up to the first non-finite one (a diverged run stops where it blew up)."""
    bad = ~np.isfinite(points).all(axis=1)
    return points[: int(np.argmax(bad))] if bad.any() else points


def _legend(draw: ImageDraw.ImageDraw, entries: Sequence[tuple[str, str]], top: int) -> None:
    font = _font(14)
    for index, (label, colour) in enumerate(entries):
        x, y = 10 + (index % 3) * 158, top + 5 + 24 * (index // 3)
        draw.rectangle((x, y + 4, x + 18, y + 12), fill=colour)
        draw.text((x + 24, y), label[:18], fill=TEXT, font=font)


# --------------------------------------------------------------------------- attention as it forms
def attention_replay(snapshot: Snapshot, example: int = 0) -> list[Image.Image]:
    """The Attention page's timeline as frames: every head on one held-out example, step by step."""
    steps, maps = snapshot.visuals.timeline_steps, snapshot.visuals.timeline_attention
    return attention_frames(steps, maps[:, example])


def attention_frames(steps: np.ndarray, maps: np.ndarray, cell: int | None = None) -> list[Image.Image]:
    """maps (S, layers, heads, Q, K): one frame per recorded step, every layer × head as a heatmap
    (white 0 to dark blue 1), laid out as the page's model view."""
    _, layers, heads, n_queries, n_keys = maps.shape
    cell = cell or max(3, min(24, 520 // max(1, heads * n_keys)))
    gap = 8
    width = heads * n_keys * cell + (heads - 1) * gap
    height = layers * n_queries * cell + (layers - 1) * gap
    scale = [(0.0, "#ffffff"), (0.5, "#56B4E9"), (1.0, "#0b3a6e")]
    frames = []
    for step, attention in zip(steps, maps):
        canvas = np.full((height, width, 3), 255.0)
        for layer in range(layers):
            for head in range(heads):
                block = np.kron(_scale(attention[layer, head], scale), np.ones((cell, cell, 1)))
                top, left = layer * (n_queries * cell + gap), head * (n_keys * cell + gap)
                canvas[top:top + block.shape[0], left:left + block.shape[1]] = block
        frames.append(_caption(Image.fromarray(canvas.round().astype(np.uint8)),
                               f"attention at step {int(step):,}"))
    return frames



# --------------------------------------------------------------------------- diffusion's reverse process
def denoising_replay(snapshot: Snapshot) -> list[Image.Image]:
    """The Diffusion page's reverse process as frames, from x_T = noise down to t = 0: the points of DDPM
    and DDIM side by side over the training data, or the strips of digits denoising."""
    v = snapshot.visuals
    r = v.measurement.reverse
    if v.kind == "points":
        return denoising_frames(r.frame_t, r.ddpm, r.ddim, r.ddim_steps, v.x0)
    return digit_denoising_frames(r.frame_t, r.ddpm, r.ddim, r.ddim_steps)


def denoising_frames(frame_t: Sequence[int], ddpm: np.ndarray, ddim: np.ndarray, ddim_steps: int,
                     data: np.ndarray, size: int = 380, max_data: int = 1500) -> list[Image.Image]:
    """ddpm, ddim (frames, points, 2): one frame per t, DDPM left and DDIM right, both from the same x_T."""
    plane = _Plane((-EXTENT, EXTENT), (-EXTENT, EXTENT), size, size)
    gap = 12
    background = Image.new("RGB", (2 * size + gap, size), "white")
    draw = ImageDraw.Draw(background)
    data = np.asarray(data)[:max_data]
    for left in (0, size + gap):
        draw.rectangle((left, 0, left + size - 1, size - 1), outline="#9aa0aa")
        for px, py in plane.pixels(data):
            draw.point((left + px, py), fill=DATA_COLOR)
    frames = []
    for index, t in enumerate(frame_t):
        image = background.copy()
        draw = ImageDraw.Draw(image)
        for left, points, colour in ((0, ddpm[index], DDPM_COLOR), (size + gap, ddim[index], DDIM_COLOR)):
            for px, py in plane.pixels(np.asarray(points)):
                if 0 <= px < size and 0 <= py < size:
                    draw.ellipse((left + px - 2.5, py - 2.5, left + px + 2.5, py + 2.5), fill=colour)
        frames.append(_caption(image, f"t = {int(t)}:  DDPM, {int(frame_t[0])} steps (left)  ·  "
                                      f"DDIM, {ddim_steps} steps (right)"))
    return frames


def digit_denoising_frames(frame_t: Sequence[int], ddpm: np.ndarray, ddim: np.ndarray, ddim_steps: int,
                           cell: int = 8) -> list[Image.Image]:
    """ddpm, ddim (frames, images, 8, 8) in [0, 1]: one frame per t, a row of DDPM images over a row of
    DDIM images, drawn like the page (ink dark on white)."""
    frames = []
    for index, t in enumerate(frame_t):
        rows = []
        for strip in (ddpm[index], ddim[index]):
            tiles = [np.pad(np.kron(1.0 - np.asarray(image), np.ones((cell, cell))), 4, constant_values=1.0)
                     for image in strip]
            rows.append(np.concatenate(tiles, axis=1))
        canvas = np.concatenate([rows[0], np.ones((8, rows[0].shape[1])), rows[1]], axis=0)
        image = Image.fromarray((canvas * 255).round().astype(np.uint8)).convert("RGB")
        frames.append(_caption(image, f"t = {int(t)}: DDPM (top), DDIM {ddim_steps} steps (bottom)"))
    return frames


# --------------------------------------------------------------------------- the GAN's game
def gan_replay(snapshot: Snapshot, size: int = 400, max_frames: int = 48) -> list[Image.Image]:
    """The GAN tab's run as frames: D(x) as the page's heatmap (purple fake, white 1/2, green real), real points
    in green and the generated points in purple, at up to `max_frames` frames of the trainer's film, evenly
    spaced (a GIF of a few MB at most, for a slide)."""
    visuals = snapshot.visuals
    film = visuals.film
    film = [film[i] for i in np.unique(np.linspace(0, len(film) - 1, min(len(film), max_frames)).round().astype(int))]
    extent = visuals.extent
    plane = _Plane((-extent, extent), (-extent, extent), size, size)
    scale = [(position, colour) for position, colour in D_SCALE]
    real = visuals.real[:300]
    frames = []
    for frame in film:
        rgb = _scale(frame.heatmap.astype(float), scale)[::-1]  # image rows run from the largest x2 down
        image = Image.fromarray(rgb.round().astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(image)
        _draw_points(draw, plane, real, [REAL_COLOR] * len(real), radius=2.5, outline=REAL_COLOR)
        fake = frame.fake.astype(float)
        _draw_points(draw, plane, fake, [FAKE_COLOR] * len(fake), radius=2.5, outline=FAKE_COLOR)
        frames.append(_caption(image, f"{visuals.loss.replace('_', '-')} GAN · step {frame.step:,}"))
    return frames
