"""Figures of the Diffusion page: pure functions from arrays to `go.Figure`.

Point sets are drawn in standardized units on a fixed square (−3.5..3.5 on
both axes, equal scales), so N(0, I) noise, the data and every frame of the
reverse process share one frame of reference. Digits are 8x8 images in
[0, 1] (ink dark on white), laid out as mosaics in a single heatmap.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.raster import Cloud, cloud_image, legend_entry
from viz.theme import (OKABE_ITO, TEMPLATE, FramedFigure, arrow_polyline, downsample, figure_from_dicts,
                        frame_player, legend_below, log_axis, metric_curves, styled, typed_arrays)

DDPM_COLOR, DDIM_COLOR = "#D55E00", "#0072B2"
SAMPLER_COLORS = {"ddpm": DDPM_COLOR, "ddim": DDIM_COLOR}
DATA_COLOR = "#9aa0aa"
FIELD_COLOR = "#8a8f99"
PATH_COLORS = OKABE_ITO[2:4] + OKABE_ITO[5:6] + ["#000000", OKABE_ITO[1], OKABE_ITO[4]]
EXTENT = 3.5
LOWEST_SCORE = 1e-3  # normalized scores are drawn on a log axis; lower ones (incl. < 0) sit on this line
HIGHEST_SCORE = 10.0  # an untrained network's samples can score thousands; they sit on this line
QUALITY_TARGET = 0.03
# Point sets are pictures drawn here (viz.raster): as SVG markers they cost the browser ~0.15 s per 1,000 points
# at every redraw (with WebGL, a new context at every redraw: worse). The forward process shows 1,000 of the data
# and of x_t (larger and more opaque: the same shapes as 5,000), the samples tab all its samples over 1,000 of the
# data, and the reverse process 1,000 of the data behind its animated points (those stay markers: frames move them).
CLOUD_POINTS = 1000
SCHEDULE_POINTS = 500  # per schedule curve: more than a panel's width in pixels


def sampler_label(sampler: str, steps: int | None = None) -> str:
    return "DDPM" if sampler == "ddpm" else f"DDIM, {steps} steps" if steps else "DDIM"


def _square_layout(panels: int = 1) -> dict:
    """Every panel (side by side) spans −3.5..3.5 on both axes at equal scales."""
    layout = {}
    for index in range(1, panels + 1):
        suffix = "" if index == 1 else str(index)
        layout[f"xaxis{suffix}"] = {"range": [-EXTENT, EXTENT], "constrain": "domain", "zeroline": False,
                                    "title": {"text": "x₁", "standoff": 4}}
        layout[f"yaxis{suffix}"] = {"range": [-EXTENT, EXTENT], "constrain": "domain", "zeroline": False,
                                    "scaleanchor": f"x{suffix}", "scaleratio": 1,
                                    "title": {"text": "x₂", "standoff": 4}}
    return layout


def _thin(points: np.ndarray, limit: int) -> np.ndarray:
    return points if len(points) <= limit else points[np.linspace(0, len(points) - 1, limit).round().astype(int)]


def _cloud(points: np.ndarray, name: str, size: float, color: str, opacity: float,
           limit: int | None = CLOUD_POINTS) -> Cloud:
    """A point set to draw as a picture (viz.raster), at most `limit` of its points."""
    points = np.asarray(points, dtype=np.float32)
    return Cloud(points if limit is None else _thin(points, limit), name, color, size, opacity)


def _cloud_image(clouds: Sequence[Cloud], panel: int = 1) -> dict:
    """The clouds as one picture behind panel `panel`'s axes (the square of _square_layout)."""
    suffix = "" if panel == 1 else str(panel)
    return cloud_image(clouds, (-EXTENT, EXTENT), (-EXTENT, EXTENT), xref=f"x{suffix}", yref=f"y{suffix}")


# ----------------------------------------------------------------------- schedule
def schedule_curves(betas: np.ndarray, alpha_bars: np.ndarray, kind: str, t: int | None = None) -> go.Figure:
    """β_t, ᾱ_t (with √ᾱ_t, the share of signal left) and the SNR ᾱ_t / (1 − ᾱ_t) against t = 1..T.

    Plain dicts (viz.theme.figure_from_dicts): redrawn on every change of T or t, where make_subplots and
    Plotly's validation cost more than the rest of the page's run."""
    T = len(betas) - 1
    steps = np.arange(1, T + 1)
    beta, alpha_bar = np.asarray(betas)[1:], np.asarray(alpha_bars)[1:]
    with np.errstate(divide="ignore"):
        snr = np.clip(alpha_bar / (1.0 - alpha_bar), 1e-12, None)
    titles = ("β<sub>t</sub> (noise added at step t)", "ᾱ<sub>t</sub> and √ᾱ<sub>t</sub> (signal kept)",
              "signal-to-noise ᾱ<sub>t</sub> / (1 − ᾱ<sub>t</sub>)")
    panels = ((0.0, 0.28), (0.36, 0.64), (0.72, 1.0))  # three side by side, 0.08 apart

    def curve(panel: int, y: np.ndarray, name: str, color: str, width: float, hover: str, dash: str = "") -> dict:
        line = {"color": color, "width": width, **({"dash": dash} if dash else {})}
        suffix = "" if panel == 1 else str(panel)
        x, y = downsample(steps, y, SCHEDULE_POINTS)
        return {"type": "scatter", "x": x, "y": y.astype(np.float32), "name": name, "line": line,
                "hovertemplate": f"t = %{{x}}<br>{hover}<extra></extra>", "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}

    data = [curve(1, beta, "β_t", OKABE_ITO[0], 2.5, "β = %{y:.4g}"),
            curve(2, alpha_bar, "ᾱ_t", OKABE_ITO[2], 2.5, "ᾱ = %{y:.4g}"),
            curve(2, np.sqrt(alpha_bar), "√ᾱ_t", OKABE_ITO[2], 2, "√ᾱ = %{y:.4g}", dash="dot"),
            curve(3, snr, "SNR", OKABE_ITO[3], 2.5, "SNR = %{y:.3g}")]
    layout: dict = {"showlegend": False, "margin": {"t": 60, "b": 50}, "height": 330,
                    "annotations": [{"text": text, "x": (left + right) / 2, "xanchor": "center", "xref": "paper",
                                     "y": 1.0, "yanchor": "bottom", "yref": "paper", "showarrow": False,
                                     "font": {"size": 14}} for text, (left, right) in zip(titles, panels)]}
    for panel, domain in enumerate(panels, start=1):
        suffix = "" if panel == 1 else str(panel)
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": list(domain), "title": {"text": "t"},
                                    "range": [0, T + 1]}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [0.0, 1.0]}
    layout["yaxis2"]["range"] = [0, 1.02]
    layout["yaxis3"].update(type="log", exponentformat="power")
    if t is not None and 1 <= t <= T:
        layout["shapes"] = []
        for panel, value in ((1, beta[t - 1]), (2, alpha_bar[t - 1]), (3, snr[t - 1])):
            suffix = "" if panel == 1 else str(panel)
            layout["shapes"].append({"type": "line", "x0": t, "x1": t, "xref": f"x{suffix}", "y0": 0, "y1": 1,
                                     "yref": f"y{suffix} domain", "line": {"color": "#1f2430", "width": 1,
                                                                           "dash": "dash"}})
            data.append({"type": "scatter", "x": [t], "y": [float(value)], "mode": "markers", "showlegend": False,
                         "hoverinfo": "skip", "marker": {"size": 9, "color": "#1f2430"},
                         "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
    title = f"{kind.capitalize()} schedule, T = {T}: ᾱ<sub>T</sub> = {alpha_bar[-1]:.2g}"
    return figure_from_dicts(data, layout, title)


# ---------------------------------------------------------------- forward process
def forward_points(x_t: np.ndarray, x0: np.ndarray, t: int, alpha_bar: float) -> go.Figure:
    """q(x_t | x_0) for the whole data set: x_t (coloured) over the clean data (grey) and N(0, I)'s 1σ, 2σ rings.

    Plain dicts (viz.theme.figure_from_dicts): it is redrawn on every change of t or of the experiment."""
    angle = np.linspace(0, 2 * np.pi, 121)
    rings = [{"type": "scatter", "x": (radius * np.cos(angle)).astype(np.float32),
              "y": (radius * np.sin(angle)).astype(np.float32), "mode": "lines", "name": "N(0, I): 1σ and 2σ",
              "legendgroup": "prior", "showlegend": radius == 1,
              "line": {"color": "#1f2430", "width": 1, "dash": "dot"}, "hoverinfo": "skip"} for radius in (1, 2)]
    clouds = [_cloud(x0, "x<sub>0</sub> (data)", 3.5, DATA_COLOR, 0.5),
              _cloud(x_t, f"x<sub>t</sub>, t = {t}", 4, OKABE_ITO[0], 0.7)]
    data = [legend_entry(clouds[0]), *rings, legend_entry(clouds[1])]
    layout = {**_square_layout(), "legend": legend_below(), "images": [_cloud_image(clouds)],
              "margin": {"t": 50, "b": 60}, "height": 560}
    title = (f"x<sub>t</sub> = √ᾱ<sub>t</sub> x<sub>0</sub> + √(1−ᾱ<sub>t</sub>) ε at t = {t}: "
             f"√ᾱ = {np.sqrt(alpha_bar):.3f}, √(1−ᾱ) = {np.sqrt(1 - alpha_bar):.3f}")
    return figure_from_dicts(data, layout, title)


# ----------------------------------------------------------------------- digits
# Plotly's "Greys", as its validator spells a named colorscale out (the mosaics are built without it)
GREYS = [[0.0, "rgb(255,255,255)"], [0.125, "rgb(240,240,240)"], [0.25, "rgb(217,217,217)"],
         [0.375, "rgb(189,189,189)"], [0.5, "rgb(150,150,150)"], [0.625, "rgb(115,115,115)"],
         [0.75, "rgb(82,82,82)"], [0.875, "rgb(37,37,37)"], [1.0, "rgb(0,0,0)"]]


def digit_mosaic(images: np.ndarray, row_labels: Sequence[str] = (), column_labels: Sequence[str] = (),
                 title: str = "", cell_px: int = 44) -> go.Figure:
    """images (rows, cols, 8, 8) in [0, 1] as one heatmap, ink dark, a thin gap between images.

    Plain dicts (viz.theme.figure_from_dicts): the Generative and Diffusion pages redraw several at every live
    refresh and click, for every student (built through Plotly's validation, 19 ms each)."""
    images = np.asarray(images, dtype=np.float32)
    rows, cols = images.shape[:2]
    gap = 1
    mosaic = np.full((rows * (8 + gap) - gap, cols * (8 + gap) - gap), np.nan, dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            mosaic[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = images[r, c]
    data = [{"type": "heatmap", "z": mosaic, "colorscale": GREYS, "zmin": 0, "zmax": 1, "showscale": False,
             "hovertemplate": "%{z:.2f}<extra></extra>"}]
    bare = {"showgrid": False, "ticks": "", "showline": False, "zeroline": False, "constrain": "domain",
            "tickmode": "array"}
    left = 90 if row_labels else 10
    top = 80 if column_labels else 40
    layout = {"xaxis": {**bare, "tickvals": [c * 9 + 3.5 for c in range(len(column_labels))],
                        "ticktext": list(column_labels), "side": "top", "showticklabels": bool(column_labels)},
              "yaxis": {**bare, "autorange": "reversed", "scaleanchor": "x", "scaleratio": 1,
                        "tickvals": [r * 9 + 3.5 for r in range(len(row_labels))], "ticktext": list(row_labels),
                        "showticklabels": bool(row_labels)},
              "margin": {"l": left, "r": 10, "t": top, "b": 10}, "height": top + 20 + rows * cell_px}
    return figure_from_dicts(data, layout, title)


def digit_grid(images: np.ndarray, title: str, columns: int = 8) -> go.Figure:
    """(n, 8, 8) images laid out `columns` to a row."""
    images = np.asarray(images)
    rows = -(-len(images) // columns)
    padded = np.full((rows * columns, 8, 8), np.nan, dtype=np.float32)
    padded[: len(images)] = images
    return digit_mosaic(padded.reshape(rows, columns, 8, 8), title=title, cell_px=52)


def denoising_strip(frames: np.ndarray, frame_t: Sequence[int], title: str) -> go.Figure:
    """frames (k, n, 8, 8): n images (rows) at k timesteps from T to 0 (columns)."""
    frames = np.asarray(frames)
    return digit_mosaic(frames.transpose(1, 0, 2, 3), column_labels=[f"t={t}" for t in frame_t], title=title)


def judge_class_shares(shares: np.ndarray, title: str = "What the judge reads in the samples") -> go.Figure:
    """Share of samples in each class: a model that draws only a few digits shows it here."""
    fig = go.Figure(go.Bar(x=[str(d) for d in range(len(shares))], y=shares, marker_color=OKABE_ITO[0],
                           hovertemplate="digit %{x}: %{y:.1%}<extra></extra>"))
    fig.add_hline(y=1 / len(shares), line=dict(color="#1f2430", dash="dot", width=1),
                  annotation_text="uniform", annotation_position="top right")
    fig.update_yaxes(tickformat=".0%", title_text="share of samples", rangemode="tozero")
    fig.update_xaxes(title_text="digit the judge sees", type="category")
    return styled(fig, title, height=300)


# -------------------------------------------------------------------- training
def loss_curve(steps: np.ndarray, loss: np.ndarray, title: str = "Training loss ‖ε − ε̂‖²") -> go.Figure:
    """Minibatch loss (faint) and its running mean over ~1 % of the run (log scale): viz.theme.metric_curves,
    plain dicts (every student's live refresh draws it)."""
    steps, loss = np.asarray(steps), np.asarray(loss)
    window = max(5, len(loss) // 100)  # metric_curves' running mean
    return metric_curves({"loss": (steps, loss)}, [("loss", f"mean of {window}", OKABE_ITO[0])],
                         yaxis=log_axis(loss, title={"text": "loss"}), title=title, height=330, smooth=True)


def quality_curves(history: Mapping[str, tuple[np.ndarray, np.ndarray]],
                   title: str = "Sample quality (0 = fresh data, 1 = noise)") -> go.Figure:
    """Normalized MMD² and energy distance by step, log scale, with the 0.03 target."""
    fig = go.Figure()
    for name, label, color in (("mmd_norm", "MMD² (normalized)", OKABE_ITO[0]),
                               ("energy_norm", "energy distance (normalized)", OKABE_ITO[1])):
        if name not in history or not len(history[name][0]):
            continue
        steps, values = history[name]
        values = np.asarray(values, dtype=float)
        fig.add_trace(go.Scatter(x=steps, y=np.clip(values, LOWEST_SCORE, HIGHEST_SCORE), mode="lines+markers",
                                 name=label,
                                 customdata=values, line=dict(color=color, width=2.5), marker=dict(size=6),
                                 hovertemplate=f"{label}<br>step %{{x}}<br>%{{customdata:.4f}}<extra></extra>"))
    # Shapes and labels placed by hand: on a log axis add_hline() puts its label at 10^y instead of y.
    for value, text, dash, color in ((QUALITY_TARGET, f"target {QUALITY_TARGET}", "dot", "#1f2430"),
                                     (1.0, "N(0, I) noise", "dash", DATA_COLOR)):
        fig.add_shape(type="line", xref="paper", x0=0, x1=1, y0=value, y1=value,
                      line=dict(color=color, dash=dash, width=1.2))
        fig.add_annotation(xref="paper", x=1, xanchor="right", y=np.log10(value), yanchor="bottom", text=text,
                           showarrow=False, font=dict(size=12, color="#5f6672"))
    # A fixed axis, so 0.03 and 0.01 stay apart however bad the first samples were (hover shows true values).
    fig.update_yaxes(type="log", title_text="normalized score", exponentformat="power",
                     range=[np.log10(LOWEST_SCORE) - 0.1, np.log10(HIGHEST_SCORE) + 0.1])
    fig.update_xaxes(title_text="step", rangemode="tozero")
    fig.update_layout(legend=legend_below(), margin=dict(b=80))
    return styled(fig, title, height=330)


def judge_curve(steps: np.ndarray, confidence: np.ndarray, real: float | None,
                title: str = "Judge's confidence in the samples") -> go.Figure:
    """Mean top-class probability of the logistic-regression judge on samples, against its value on real digits."""
    fig = go.Figure(go.Scatter(x=steps, y=confidence, mode="lines+markers", name="samples",
                               line=dict(color=OKABE_ITO[0], width=2.5),
                               hovertemplate="step %{x}<br>%{y:.3f}<extra></extra>"))
    if real is not None:
        fig.add_hline(y=real, line=dict(color=OKABE_ITO[2], dash="dash", width=1.5),
                      annotation_text=f"real held-out digits {real:.2f}", annotation_position="bottom right")
    fig.update_yaxes(range=[0, 1.02], title_text="mean top-class probability")
    fig.update_xaxes(title_text="step", rangemode="tozero")
    fig.update_layout(showlegend=False)
    return styled(fig, title, height=330)


def samples_vs_data(samples: np.ndarray, data: np.ndarray, sampler: str, title: str) -> go.Figure:
    """Samples (coloured by sampler) over the training data (grey), in standardized units.

    Plain dicts (viz.theme.figure_from_dicts): it is redrawn with every measurement while training."""
    samples = np.asarray(samples)
    clouds = [_cloud(data, "training data", 3.5, DATA_COLOR, 0.5),
              _cloud(samples, "samples", 3.5, SAMPLER_COLORS.get(sampler, OKABE_ITO[0]), 0.7, limit=None)]
    layout = {**_square_layout(), "legend": legend_below(), "images": [_cloud_image(clouds)],
              "margin": {"t": 50, "b": 60}, "height": 520}
    outside = int((np.abs(samples) > EXTENT).any(axis=1).sum())
    if outside:  # an untrained network throws samples far away: say so rather than show an empty plot
        layout["annotations"] = [{"xref": "paper", "yref": "paper", "x": 0.5, "y": 0.98, "yanchor": "top",
                                  "showarrow": False, "text": f"{outside:,} of {len(samples):,} samples lie outside "
                                                              f"this view (farthest at {np.abs(samples).max():,.3g})",
                                  "font": {"size": 13, "color": "#5f6672"}, "bgcolor": "rgba(255,255,255,0.8)"}]
    return figure_from_dicts([legend_entry(cloud) for cloud in clouds], layout, title)


# --------------------------------------------------------------- reverse process
def field_arrows(xs: np.ndarray, ys: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arrows along −ε̂ (the direction of the score ∇ log q(x_t)) on the grid, as one polyline with NaN gaps.

    The longest arrow of the frame spans 0.9 grid cells; the others keep their length relative to it.
    """
    gx, gy = np.meshgrid(xs, ys)
    cell = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    return arrow_polyline(np.stack([gx.ravel(), gy.ravel()], axis=1), -np.asarray(eps).reshape(-1, 2), 0.9 * cell)


def _paths(frames: np.ndarray, upto: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` points' positions over frames 0..upto, one polyline with NaN gaps."""
    pieces = frames[: upto + 1, :count].transpose(1, 0, 2)  # (count, upto + 1, 2)
    gap = np.full((count, 1, 2), np.nan, dtype=np.float32)
    line = np.concatenate([pieces, gap], axis=1).reshape(-1, 2)
    return line[:, 0], line[:, 1]


def reverse_animation(frame_t: Sequence[int], ddpm: np.ndarray, ddim: np.ndarray, ddim_steps: int,
                      field_x: np.ndarray | None = None, field_y: np.ndarray | None = None,
                      field_eps: np.ndarray | None = None, data: np.ndarray | None = None, paths: int = 6,
                      title: str = "Reverse process: from N(0, I) noise to data") -> go.Figure:
    """DDPM (left) and DDIM (right) from the same x_T, frame by frame down to t = 0, with a t slider and Play.

    Each panel shows the points at the frame's t, the whole path so far of the first `paths` points (one
    colour each, the same start in both panels), and the learned field −ε̂ at that t as arrows.
    """
    frame_t = [int(t) for t in frame_t]
    k = len(frame_t)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.05,
                        subplot_titles=[f"DDPM: {frame_t[0]} stochastic steps",
                                        f"DDIM: {ddim_steps} deterministic steps"])
    data_cloud = None if data is None else _cloud(data, "training data", 3, DATA_COLOR, 0.25)
    if data_cloud is not None:
        fig.add_trace(legend_entry(data_cloud), row=1, col=1)
    paths = min(paths, ddpm.shape[1])

    def frame_traces(i: int) -> list[dict]:
        traces = []
        arrows = field_arrows(field_x, field_y, field_eps[i]) if field_eps is not None else (np.array([np.nan]),) * 2
        for frames in (ddpm, ddim):
            traces.append(dict(type="scatter", x=arrows[0], y=arrows[1]))
            traces.append(dict(type="scatter", x=frames[i, :, 0], y=frames[i, :, 1]))
            for p in range(paths):
                path_x, path_y = _paths(frames[:, p:p + 1], i, 1)
                traces.append(dict(type="scatter", x=path_x, y=path_y))
        return traces

    first = len(fig.data)
    last = k - 1
    for col, (frames, color) in enumerate(((ddpm, DDPM_COLOR), (ddim, DDIM_COLOR)), start=1):
        arrows = field_arrows(field_x, field_y, field_eps[last]) if field_eps is not None else ([np.nan], [np.nan])
        fig.add_trace(go.Scatter(x=arrows[0], y=arrows[1], mode="lines", name="−ε̂ field (direction of the score)",
                                 showlegend=col == 1, line=dict(color=FIELD_COLOR, width=1.2), hoverinfo="skip"),
                      row=1, col=col)
        fig.add_trace(go.Scatter(x=frames[last, :, 0], y=frames[last, :, 1], mode="markers",
                                 name="DDPM" if col == 1 else "DDIM",
                                 marker=dict(size=4, color=color, opacity=0.65), hoverinfo="skip"), row=1, col=col)
        for p in range(paths):
            path_x, path_y = _paths(frames[:, p:p + 1], last, 1)
            fig.add_trace(go.Scatter(x=path_x, y=path_y, mode="lines+markers", name="paths of 6 points",
                                     legendgroup="paths", showlegend=col == 1 and p == 0,
                                     line=dict(color=PATH_COLORS[p % len(PATH_COLORS)], width=2),
                                     marker=dict(size=4), hoverinfo="skip"), row=1, col=col)
    animated = list(range(first, len(fig.data)))
    frames = [{"data": frame_traces(i), "traces": animated, "name": str(t)} for i, t in enumerate(frame_t)]
    fig.update_layout(_square_layout(panels=2))
    if data_cloud is not None:  # one picture of the data, behind both panels
        behind = _cloud_image([data_cloud])
        fig.update_layout(images=[behind, {**behind, "xref": "x2", "yref": "y2"}])
    play = dict(frame=dict(duration=350, redraw=False), transition=dict(duration=0), mode="immediate")
    fig.update_layout(
        template=TEMPLATE,
        **frame_player([str(t) for t in frame_t], play, active=last, prefix="t = ", step_labels=True),
        # Below the slider: above the panels it would run into the title on a narrow page.
        legend=legend_below(x=0),
        margin=dict(t=90, b=205),
    )
    # The frames stay plain dicts (FramedFigure): the figure is sent again at each page run that shows its tab,
    # and Plotly copied all their traces each time (~25 ms). (Its own traces were checked as they were added.)
    return FramedFigure(styled(fig, title, height=680).to_dict(), frames=typed_arrays(frames), _validate=False)
