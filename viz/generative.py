"""Figures of the Generative models page: pure functions from arrays to `go.Figure`, as plain dicts
(viz.theme.figure_from_dicts), since the live tabs redraw them at every refresh.

GAN colours follow GAN Lab's: real data green, generated points purple, and D(x) from purple (D says fake)
through white (D(x) = 1/2: it cannot tell) to green (D says real). VAE digits are ink on paper (viz.cnn.GREYS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from viz.raster import Cloud, cloud_image, legend_entry
from viz.theme import (
    CURVE_POINTS, OKABE_ITO, arrow_polyline, downsample, figure_from_dicts, legend_below, metric_curves,
)

REAL_COLOR, FAKE_COLOR = "#1b9e4b", "#7b3294"
D_SCALE = [[0.0, "#c2a5cf"], [0.5, "#f7f7f7"], [1.0, "#a6dba0"]]
WARP_COLOR = "rgba(123, 50, 148, 0.35)"
ARROW_COLOR = "#2d1a3a"
MODE_COLOR = "#1f2430"
Series = Mapping[str, tuple[np.ndarray, np.ndarray]]  # metric name -> (steps, values)


def _square(extent: float) -> dict:
    axis = {"range": [-extent, extent], "constrain": "domain", "zeroline": False, "showgrid": False}
    return {"xaxis": {**axis, "title": {"text": "x₁", "standoff": 4}},
            "yaxis": {**axis, "title": {"text": "x₂", "standoff": 4}, "scaleanchor": "x", "scaleratio": 1}}


def _points(points: np.ndarray, name: str, color: str, size: float = 5, symbol: str = "circle",
            opacity: float = 0.8) -> dict:
    points = np.asarray(points, dtype=np.float32)
    return {"type": "scatter", "x": points[:, 0], "y": points[:, 1], "mode": "markers", "name": name,
            "marker": {"size": size, "color": color, "opacity": opacity, "symbol": symbol}, "hoverinfo": "skip"}


def gan_field(extent: float, heatmap: np.ndarray, real: np.ndarray, fake: np.ndarray, *, warp: np.ndarray | None,
              arrows: np.ndarray | None, centres: np.ndarray | None, title: str, height: int = 560) -> go.Figure:
    """Real and generated points over D(x) as a heatmap; optionally G's image of the latent grid (the warp), the
    arrows of where G's loss wants its points to move, and a mixture's modes."""
    cells = heatmap.shape[0]
    ticks = np.linspace(-extent, extent, cells, dtype=np.float32)
    data = [{"type": "heatmap", "x": ticks, "y": ticks, "z": heatmap.astype(np.float32), "colorscale": D_SCALE,
             "zmin": 0.0, "zmax": 1.0, "name": "D(x)",
             "colorbar": {"title": {"text": "D(x)"}, "thickness": 12, "len": 0.6, "tickvals": [0, 0.5, 1]},
             "hovertemplate": "x = (%{x:.2f}, %{y:.2f})<br>D(x) = %{z:.2f}<extra></extra>"}]
    if warp is not None:  # (2, lines, points, 2): one polyline, NaN between lines
        lines = np.asarray(warp, dtype=np.float32).reshape(-1, warp.shape[2], 2)
        gaps = np.full((len(lines), 1, 2), np.nan, dtype=np.float32)
        path = np.concatenate([lines, gaps], axis=1).reshape(-1, 2)
        data.append({"type": "scatter", "x": path[:, 0], "y": path[:, 1], "mode": "lines", "name": "G(latent grid)",
                     "line": {"color": WARP_COLOR, "width": 1}, "hoverinfo": "skip"})
    # The points are one picture (viz.raster: as ~1,000 SVG markers they took the browser ~0.15 s at every
    # redraw), over D's heatmap: a layout image below the traces would sit under the heatmap, which is a trace.
    clouds = [Cloud(np.asarray(real, dtype=np.float32), "real data", REAL_COLOR, 5, 0.7),
              Cloud(np.asarray(fake, dtype=np.float32), "generated G(z)", FAKE_COLOR, 5, 0.8)]
    data += [legend_entry(cloud) for cloud in clouds]
    if arrows is not None and len(arrows):
        x, y = arrow_polyline(fake[:len(arrows)], arrows, 0.12 * extent)
        data.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "name": "G's gradient",
                     "line": {"color": ARROW_COLOR, "width": 1.5}, "hoverinfo": "skip"})
    if centres is not None:
        data.append(_points(centres, "modes", MODE_COLOR, 11, "circle-open", 0.9))
    layout = {**_square(extent), "height": height, "margin": {"t": 50, "b": 70, "l": 50, "r": 20},
              "legend": legend_below(),
              "images": [{**cloud_image(clouds, (-extent, extent), (-extent, extent)), "layer": "above"}]}
    outside = int((np.abs(fake) > extent).any(axis=1).sum())
    if outside:
        layout["annotations"] = [{"xref": "paper", "yref": "paper", "x": 0.5, "y": 0.98, "yanchor": "top",
                                  "showarrow": False, "bgcolor": "rgba(255,255,255,0.8)",
                                  "text": f"{outside} of {len(fake)} generated points lie outside this view"}]
    return figure_from_dicts(data, layout, title)


def gan_losses(history: Series) -> go.Figure:
    return metric_curves(history, (("d_loss", "D's loss", OKABE_ITO[2]), ("g_loss", "G's loss", FAKE_COLOR)),
                   {"title": {"text": "loss"}}, "Both players' losses", smooth=True)


def gan_outputs(history: Series) -> go.Figure:
    """Mean D(x) on real and on generated points: both tend to 1/2 at the game's optimum."""
    return metric_curves(history, (("d_real", "D(real)", REAL_COLOR), ("d_fake", "D(G(z))", FAKE_COLOR)),
                   {"title": {"text": "mean D(x)"}, "range": [0, 1.02]}, "What D says",
                   lines=((0.5, "½: the optimum"),), smooth=True)


def gan_coverage(history: Series, modes: int) -> go.Figure:
    """Modes covered (of `modes`) and the share of high-quality samples, by step."""
    fig = metric_curves(history, (("high_quality", "high-quality share", OKABE_ITO[0]),),
                  {"title": {"text": "share of samples"}, "range": [0, 1.02], "tickformat": ".0%"},
                  "Mode coverage of 2,500 samples")
    if "modes_covered" in history and len(history["modes_covered"][0]):
        steps, covered = downsample(np.asarray(history["modes_covered"][0]),
                                    np.asarray(history["modes_covered"][1]), CURVE_POINTS)
        fig.add_trace(go.Scatter(x=steps, y=covered, mode="lines", name=f"modes covered (of {modes})", yaxis="y2",
                                 line={"color": OKABE_ITO[1], "width": 2, "shape": "hv"},
                                 hovertemplate="modes covered: %{y:.0f}<extra></extra>"))
        ticks = list(range(0, modes + 1, max(1, modes // 4)))
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "range": [0, modes * 1.02],
                                  "title": {"text": "modes covered"}, "showgrid": False, "tickvals": ticks})
    return fig


# ----------------------------------------------------------------------------------------------- the VAE
@dataclass(frozen=True)
class LatentPanel:
    """One latent space drawn: its held-out codes (and their classes), optionally the chosen example's posterior
    (mean, standard deviations), the interpolation's path, and the prior's circles."""

    means: np.ndarray
    labels: np.ndarray | None
    title: str
    posterior: tuple[np.ndarray, np.ndarray] | None = None
    path: np.ndarray | None = None
    prior: bool = True


def _latent_traces(panel: LatentPanel, axes: dict[str, str]) -> tuple[list[dict], list[Cloud]]:
    """The panel's traces, and its codes as clouds to draw as a picture (viz.raster: as ~700 SVG markers per
    panel they cost the browser ~0.1 s at every redraw)."""
    means = np.asarray(panel.means, dtype=np.float32)
    data = []
    circle = np.linspace(0, 2 * np.pi, 73)
    if panel.prior:
        for radius in (1, 2):
            data.append({"type": "scatter", "x": radius * np.cos(circle), "y": radius * np.sin(circle),
                         "mode": "lines", "name": "prior N(0, I): 1σ, 2σ", "legendgroup": "prior",
                         "showlegend": radius == 1, "line": {"color": "#9aa0aa", "dash": "dot", "width": 1},
                         "hoverinfo": "skip"})
    if panel.labels is None:
        clouds = [Cloud(means, "held-out codes", OKABE_ITO[0], 4, 0.6)]
        data.append(legend_entry(clouds[0]))
    else:
        labels = np.asarray(panel.labels)
        shown = [d for d in range(10) if (labels == d).any()]
        clouds = [Cloud(means[labels == d], f"digit {d}", DIGIT_COLORS[d], 6, 0.75) for d in shown]
        # Hover still tells each code's digit: one trace of every code whose markers are not drawn (one drawn
        # marker, opacity 0, instead of one SVG node per code), as the Optimizers' click grid does.
        data.append({"type": "scatter", "x": means[:, 0], "y": means[:, 1], "mode": "markers", "name": "codes",
                     "showlegend": False, "customdata": labels,
                     "marker": {"size": 6, "opacity": 0, "maxdisplayed": 1},
                     "hovertemplate": "digit %{customdata}<br>z = (%{x:.2f}, %{y:.2f})<extra></extra>"})
        # each digit's label at its codes' median, so a projector shows which cloud is which
        centres = np.array([np.median(means[labels == d], axis=0) for d in shown]).reshape(-1, 2)
        data.append({"type": "scatter", "x": centres[:, 0], "y": centres[:, 1], "mode": "text",
                     "text": [f"<b>{d}</b>" for d in shown], "name": "digits", "showlegend": False,
                     "hoverinfo": "skip", "textfont": {"size": 16, "color": "#1f2430"}})
    if panel.path is not None:
        data.append({"type": "scatter", "x": panel.path[:, 0], "y": panel.path[:, 1], "mode": "lines+markers",
                     "name": "interpolation A → B", "line": {"color": "#1f2430", "width": 2},
                     "marker": {"size": 6, "color": "#1f2430"}, "hoverinfo": "skip"})
    if panel.posterior is not None:
        mean, std = panel.posterior
        for k in (1, 2):
            data.append({"type": "scatter", "x": mean[0] + k * std[0] * np.cos(circle),
                         "y": mean[1] + k * std[1] * np.sin(circle), "mode": "lines", "legendgroup": "posterior",
                         "name": "q(z | A): 1σ, 2σ", "showlegend": k == 1, "fill": "toself" if k == 1 else "none",
                         "fillcolor": "rgba(213, 94, 0, 0.15)", "line": {"color": "#D55E00", "width": 2},
                         "hoverinfo": "skip"})
    return [{**trace, **axes} for trace in data], clouds


def _latent_box(panel: LatentPanel) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y ranges a panel shows: its codes, the prior's 2σ circle, the path, the posterior's 2σ ellipse,
    with a margin (fixed: the codes' picture spans exactly this box)."""
    extents = [np.asarray(panel.means, dtype=float).reshape(-1, 2)]
    if panel.prior:
        extents.append(np.array([[-2.0, -2.0], [2.0, 2.0]]))
    if panel.path is not None:
        extents.append(np.asarray(panel.path, dtype=float).reshape(-1, 2))
    if panel.posterior is not None:
        mean, std = (np.asarray(v, dtype=float) for v in panel.posterior)
        extents.append(np.stack([mean - 2 * std, mean + 2 * std]))
    points = np.concatenate(extents)
    points = points[np.isfinite(points).all(axis=1)]
    lo, hi = (points.min(axis=0), points.max(axis=0)) if len(points) else (np.full(2, -2.0), np.full(2, 2.0))
    margin = 0.06 * max(float((hi - lo).max()), 1e-3)
    return (float(lo[0] - margin), float(hi[0] + margin)), (float(lo[1] - margin), float(hi[1] + margin))


def latent_maps(panels: Sequence[LatentPanel], *, projected: bool, height: int = 480) -> go.Figure:
    """The latent spaces side by side, one figure (one chart for the browser to lay out, not one per panel)."""
    gap = 0.08
    width = (1 - gap * (len(panels) - 1)) / len(panels)
    # Above 2 dimensions the planes are the first two principal components (said on the axes: a panel title is
    # too narrow to say it too in presentation mode).
    x_title, y_title = ("PC₁ (first principal component)", "PC₂") if projected else ("z₁", "z₂")
    data, layout, annotations, images = [], {}, [], []
    for index, panel in enumerate(panels):
        suffix = "" if index == 0 else str(index + 1)
        x0 = index * (width + gap)
        traces, clouds = _latent_traces(panel, {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
        data += traces
        x_range, y_range = _latent_box(panel)
        images.append(cloud_image(clouds, x_range, y_range, xref=f"x{suffix}", yref=f"y{suffix}"))
        layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + width], "anchor": f"y{suffix}", "zeroline": False,
                                    "range": list(x_range), "title": {"text": x_title}}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "zeroline": False, "scaleanchor": f"x{suffix}",
                                    "scaleratio": 1, "range": list(y_range), "title": {"text": y_title, "standoff": 2}}
        annotations.append({"text": f"<b>{panel.title}</b>", "x": x0 + width / 2, "y": 1.0, "xref": "paper",
                            "yref": "paper", "showarrow": False, "yanchor": "bottom", "font": {"size": 14}})
    seen: set[str] = set()
    for trace in data:  # one legend entry per kind, not one per panel
        name = trace.get("name")
        if trace.get("showlegend", True) and name in seen:
            trace["showlegend"] = False
        seen.add(name)
    layout.update(height=height, annotations=annotations, images=images,
                  margin={"t": 40, "b": 70, "l": 50, "r": 20}, legend=legend_below())
    return figure_from_dicts(data, layout, None)


DIGIT_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8c6d31", "#000000",
                "#7b3294", "#b2182b"]


def decoded_points(grid_points: np.ndarray, data: np.ndarray, title: str, height: int = 480) -> go.Figure:
    """2-D data: the decoder's means over a latent grid (coloured by the grid's first coordinate, so folds show)
    over the data."""
    side = int(round(np.sqrt(len(grid_points))))
    colour = np.tile(np.linspace(0, 1, side), side)
    traces = [_points(data, "held-out data", "#9aa0aa", 4, opacity=0.5),
              {"type": "scatter", "x": grid_points[:, 0], "y": grid_points[:, 1], "mode": "markers",
               "name": "decoded latent grid", "hoverinfo": "skip",
               "marker": {"size": 5, "color": colour, "colorscale": "Viridis", "opacity": 0.9}}]
    layout = {"height": height, "margin": {"t": 50, "b": 70, "l": 50, "r": 20},
              "xaxis": {"title": {"text": "x₁"}, "zeroline": False},
              "yaxis": {"title": {"text": "x₂"}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
              "legend": legend_below()}
    return figure_from_dicts(traces, layout, title)


def vae_terms(history: Series) -> go.Figure:
    """The negative ELBO per held-out example and its two terms (β = 1: the bound itself)."""
    return metric_curves(history, (("test_neg_elbo", "−ELBO (held out)", "#1f2430"),
                             ("test_recon", "reconstruction −log p(x|z)", OKABE_ITO[0]),
                             ("test_kl", "KL(q(z|x) ‖ N(0, I))", OKABE_ITO[1]),
                             ("ae_test_recon", "autoencoder's reconstruction", OKABE_ITO[2])),
                   {"title": {"text": "nats per example"}, "rangemode": "tozero"},
                   "Negative ELBO = reconstruction + KL", height=340)


def encoder_gradients(history: Series) -> go.Figure:
    """The size of the encoder's gradient from each term, step by step."""
    return metric_curves(history, (("encoder_grad_recon", "from the reconstruction term", OKABE_ITO[0]),
                             ("encoder_grad_kl", "from β·KL", OKABE_ITO[1])),
                   {"title": {"text": "‖∂term/∂encoder‖"}, "rangemode": "tozero"},
                   "What reaches the encoder", height=300, smooth=True)
