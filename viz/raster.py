"""Pictures drawn on the server for plotly.js to show behind the axes: filled contours and point clouds.

A point drawn as an SVG marker costs the browser ~0.15 ms at every redraw (a node to create, style and lay out):
the Diffusion page's 2,000 points took a third of a control change's time. Drawn here into one PNG, a cloud of any
size costs the browser one image, and the server a few milliseconds. What a picture gives up: hover on single
points (the clouds here have none) and sharpness when zoomed far in.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

CLOUD_PIXELS = 720  # the picture's width: sharp on a plot of ~380 px, still fine at a projector's ~700
# The plot area (px) at which a disc of `size` looks like Plotly's marker of that size: a square chart ~550 px
# high in a page's column on a 1,500 px window. Larger plots (a projector) show the discs larger, as a picture.
PLOT_PIXELS = 380


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
    marker.size), `opacity` each disc's (overlapping discs darken as overlapping translucent markers do)."""

    points: np.ndarray  # (n, 2) data coordinates
    name: str
    color: str  # "#rrggbb"
    size: float
    opacity: float


def cloud_pixels(clouds: Sequence[Cloud], x_range: Sequence[float], y_range: Sequence[float],
                 width: int = CLOUD_PIXELS) -> np.ndarray:
    """The clouds, later ones over earlier ones, as an (h, w, 4) uint8 RGBA picture of the box x_range x y_range
    (rows from the top, max y, down; h from equal scales on both axes). Each disc's edge is anti-aliased: a
    pixel's coverage falls from 1 to 0 over the pixel across the disc's rim."""
    (x0, x1), (y0, y1) = x_range, y_range
    height = max(1, round(width * (y1 - y0) / (x1 - x0)))
    rgb, alpha = np.zeros((height * width, 3)), np.zeros(height * width)  # premultiplied colour, coverage
    for cloud in clouds:
        points = np.asarray(cloud.points, dtype=float).reshape(-1, 2)
        radius = cloud.size / 2 * width / PLOT_PIXELS
        offsets = np.arange(-int(np.ceil(radius + 0.5)), int(np.ceil(radius + 0.5)) + 1)
        col = (points[:, 0] - x0) / (x1 - x0) * width  # pixel coordinates, continuous: pixel j spans [j, j + 1)
        row = (y1 - points[:, 1]) / (y1 - y0) * height
        cols = np.floor(col)[:, None, None] + offsets[None, None, :]
        rows = np.floor(row)[:, None, None] + offsets[None, :, None]
        distance = np.hypot(cols + 0.5 - col[:, None, None], rows + 0.5 - row[:, None, None])
        coverage = np.clip(radius + 0.5 - distance, 0.0, 1.0)
        inside = (coverage > 0) & (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
        index = (rows * width + cols)[inside].astype(np.int64)
        # n translucent discs over one pixel let (1 - a c1)(1 - a c2)... of what is behind through: summed as
        # logs, then composited over the clouds before, on the pixels this one touches
        log_through = np.bincount(index, np.log1p(-cloud.opacity * coverage[inside]), minlength=height * width)
        touched = np.flatnonzero(log_through)
        through = np.exp(log_through[touched])
        rgb[touched] = hex_rgb(cloud.color)[None, :] * (1.0 - through)[:, None] + rgb[touched] * through[:, None]
        alpha[touched] = 1.0 - through + alpha[touched] * through
    rgba = np.zeros((height * width, 4), dtype=np.uint8)
    shown = np.flatnonzero(alpha)
    rgba[shown, :3] = np.clip(rgb[shown] / alpha[shown, None], 0, 255).round()  # straight (not premultiplied)
    rgba[shown, 3] = np.round(255 * alpha[shown])
    return rgba.reshape(height, width, 4)


def cloud_image(clouds: Sequence[Cloud], x_range: Sequence[float], y_range: Sequence[float], *, xref: str = "x",
                yref: str = "y") -> dict:
    """The clouds as a layout image spanning the box x_range x y_range of the axes (xref, yref), behind the
    traces. The axes must show that box at equal scales (a fixed range, scaleanchor)."""
    return {"source": png_data_uri(cloud_pixels(clouds, x_range, y_range)), "xref": xref, "yref": yref,
            "x": x_range[0], "y": y_range[1], "sizex": x_range[1] - x_range[0], "sizey": y_range[1] - y_range[0],
            "sizing": "stretch", "layer": "below"}


def legend_entry(cloud: Cloud, **trace: object) -> dict:
    """A trace of no points that gives the cloud its line in the legend (the picture has none)."""
    return {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": cloud.name,
            "marker": {"size": max(cloud.size, 6), "color": cloud.color, "opacity": max(cloud.opacity, 0.7)},
            "hoverinfo": "skip", **trace}
