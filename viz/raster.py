"""Pictures drawn on the server for plotly.js to show behind the axes: filled contours and point clouds.

A point drawn as an SVG marker costs the browser ~0.15 ms at every redraw (a node to create, style and lay out):
the Diffusion page's 2,000 points took a third of a control change's time. Drawn here into one PNG, a cloud of any
size costs the browser one image, and the server ~20 ms for 2,000 points (~1 ms as plain coordinates), paid per
student at each live refresh where the points move (the GAN's); a fixed data set's picture is drawn once and
reused (the Playground's). What a picture gives up: hover on single points (a page that hovers them keeps an
undrawn trace of them) and sharpness when zoomed far in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import threading
from dataclasses import dataclass
from typing import Callable, Hashable, Sequence

import numpy as np
from PIL import Image

CLOUD_PIXELS = 560  # the picture's width: sharp on a plot of ~380 px, fine at a projector's ~700
# The plot area (px) at which a disc of `size` looks like Plotly's marker of that size, unless a chart says its
# own: a square chart ~550 px high in a page's column on a 1,500 px window. Larger plots (a projector) show the
# discs larger, as a picture.
PLOT_PIXELS = 380
SUBPIXEL = 4  # a disc's centre is placed to a quarter of a picture's pixel


def png_data_uri(pixels: np.ndarray) -> str:
    """An (h, w, 3) RGB or (h, w, 4) RGBA uint8 array as a PNG data URI. RGBA is reduced to a palette of 256
    colours: a cloud's translucent rims made its PNG four times larger (~150 KB), and the palette's picture is
    one a viewer cannot tell from it."""
    image = Image.fromarray(np.ascontiguousarray(pixels), "RGBA" if pixels.shape[2] == 4 else "RGB")
    if image.mode == "RGBA":
        image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
    encoded = io.BytesIO()
    image.save(encoded, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(encoded.getvalue()).decode("ascii")


def hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


@dataclass(frozen=True)
class Cloud:
    """A point set drawn as discs: `size` is the disc's diameter in px on a plot of PLOT_PIXELS (Plotly's
    marker.size), `opacity` each disc's (overlapping discs darken as overlapping translucent markers do). A
    marker with an outline is two clouds: the filled disc, then the outline's ring over it."""

    points: np.ndarray  # (n, 2) data coordinates
    name: str
    color: str  # "#rrggbb"
    size: float
    opacity: float
    ring: float = 0.0  # > 0: only a ring this many px wide inside the disc's edge (an open marker, an outline)


def cloud_pixels(clouds: Sequence[Cloud], x_range: Sequence[float], y_range: Sequence[float],
                 width: int = CLOUD_PIXELS, plot_pixels: float = PLOT_PIXELS) -> np.ndarray:
    """The clouds, later ones over earlier ones, as an (h, w, 4) uint8 RGBA picture of the box x_range x y_range
    (rows from the top, max y, down; h from equal scales on both axes), its discs sized for a plot `plot_pixels`
    wide. Each disc's edge is anti-aliased: a pixel's coverage falls from 1 to 0 over the pixel across its rim."""
    (x0, x1), (y0, y1) = x_range, y_range
    height = max(1, round(width * (y1 - y0) / (x1 - x0)))
    # premultiplied colour and coverage, float32: the picture's whole-image passes are most of its cost
    rgb, alpha = np.zeros((height * width, 3), np.float32), np.zeros(height * width, np.float32)
    for cloud in clouds:
        points = np.asarray(cloud.points, dtype=float).reshape(-1, 2)
        # pixel coordinates, continuous (pixel j spans [j, j + 1)), to a SUBPIXEL-th of a pixel: each point is
        # then one of SUBPIXEL² precomputed stamps of coverage, not a distance per pixel per point
        col = np.round((points[:, 0] - x0) / (x1 - x0) * width * SUBPIXEL)
        row = np.round((y1 - points[:, 1]) / (y1 - y0) * height * SUBPIXEL)
        finite = np.isfinite(col) & np.isfinite(row) & (np.abs(col) < 1e9) & (np.abs(row) < 1e9)
        col, row = col[finite].astype(np.int64), row[finite].astype(np.int64)
        scale = width / plot_pixels
        offsets, stamps = _stamps(cloud.size / 2 * scale, cloud.opacity, cloud.ring * scale)
        cols = (col // SUBPIXEL)[:, None, None] + offsets[None, None, :]
        rows = (row // SUBPIXEL)[:, None, None] + offsets[None, :, None]
        weights = stamps[row % SUBPIXEL, col % SUBPIXEL]  # (points, stamp rows, stamp columns)
        inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height) & (weights < 0)
        # n translucent discs over one pixel let (1 - a c1)(1 - a c2)... of what is behind through: summed as
        # logs, then composited over the clouds before, on the pixels this one touches
        log_through = np.bincount((rows * width + cols)[inside], weights[inside], minlength=height * width)
        touched = np.flatnonzero(log_through)
        through = np.exp(log_through[touched]).astype(np.float32)
        color = hex_rgb(cloud.color).astype(np.float32)
        rgb[touched] = color * (1 - through)[:, None] + rgb[touched] * through[:, None]
        alpha[touched] = 1 - through + alpha[touched] * through
    rgba = np.zeros((height * width, 4), dtype=np.uint8)
    shown = np.flatnonzero(alpha)
    rgba[shown, :3] = np.clip(rgb[shown] / alpha[shown, None], 0, 255).round()  # straight (not premultiplied)
    rgba[shown, 3] = np.round(255 * alpha[shown])
    return rgba.reshape(height, width, 4)


@functools.lru_cache(maxsize=64)
def _stamps(radius: float, opacity: float, ring: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A disc of `radius` pixels (or its outer ring `ring` pixels wide) centred at each of SUBPIXEL x SUBPIXEL
    positions within a pixel: the pixel offsets it reaches, and log(1 - opacity x coverage) of each pixel
    (SUBPIXEL, SUBPIXEL, offsets, offsets). A pixel's coverage falls from 1 to 0 across each rim (anti-aliased)."""
    reach = int(np.ceil(radius + 0.5))
    offsets = np.arange(-reach, reach + 1)
    at = np.arange(SUBPIXEL) / SUBPIXEL  # the disc's centre within its pixel
    distance = np.hypot(offsets[None, None, None, :] + 0.5 - at[None, :, None, None],
                        offsets[None, None, :, None] + 0.5 - at[:, None, None, None])
    coverage = np.clip(radius + 0.5 - distance, 0.0, 1.0)
    if ring > 0:
        coverage -= np.clip(radius - ring + 0.5 - distance, 0.0, 1.0)
    return offsets, np.log1p(-np.minimum(opacity * coverage, 1 - 1e-6))  # (an opaque disc: log of ~0, not of 0)


def cloud_image(clouds: Sequence[Cloud], x_range: Sequence[float], y_range: Sequence[float], *, xref: str = "x",
                yref: str = "y", plot_pixels: float = PLOT_PIXELS) -> dict:
    """The clouds as a layout image spanning the box x_range x y_range of the axes (xref, yref), behind the
    traces, its discs sized for a plot of about `plot_pixels` (the chart's usual size on a desktop page). The axes
    must show that box at equal scales (a fixed range, scaleanchor). The same clouds in the same box give the
    picture drawn before (a page's live refresh redraws fixed data sets over a new surface)."""
    key = (tuple((content_key(np.asarray(cloud.points, dtype=np.float32)), cloud.color, cloud.size, cloud.opacity,
                  cloud.ring) for cloud in clouds),
           tuple(map(float, x_range)), tuple(map(float, y_range)), float(plot_pixels))
    source = kept_picture(("clouds", key), lambda: cloud_pixels(clouds, x_range, y_range, plot_pixels=plot_pixels))
    return {"source": source, "xref": xref, "yref": yref,
            "x": x_range[0], "y": y_range[1], "sizex": x_range[1] - x_range[0], "sizey": y_range[1] - y_range[0],
            "sizing": "stretch", "layer": "below"}


def kept_picture(key: Hashable, draw: Callable[[], np.ndarray]) -> str:
    """The PNG data URI (png_data_uri) of the pixels `draw()` gives, drawn once for each `key` (which must say
    everything the pixels depend on, e.g. a hash of the data) while it is among the last DRAWN_KEPT pictures: a
    page redraws the same picture at each control change or live refresh that leaves its data alone."""
    with _drawn_lock:
        source = _drawn.get(key)
    if source is None:
        source = png_data_uri(draw())
        with _drawn_lock:
            _drawn[key] = source
            while len(_drawn) > DRAWN_KEPT:
                _drawn.pop(next(iter(_drawn)))
    return source


def content_key(array: np.ndarray) -> tuple:
    """What identifies an array's content in a picture's key: its shape, dtype and a hash of its bytes."""
    array = np.ascontiguousarray(array)
    return array.shape, array.dtype.str, hashlib.blake2b(array.tobytes(), digest_size=16).digest()


DRAWN_KEPT = 256  # pictures kept (~40 KB each); the oldest goes first
_drawn: dict[Hashable, str] = {}  # shared by every session's script thread
_drawn_lock = threading.Lock()


def legend_entry(cloud: Cloud, **trace: object) -> dict:
    """A trace of no points that gives the cloud its line in the legend (the picture has none)."""
    return {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": cloud.name,
            "marker": {"size": max(cloud.size, 6), "color": cloud.color, "opacity": max(cloud.opacity, 0.7)},
            "hoverinfo": "skip", **trace}
