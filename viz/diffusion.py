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

from viz.theme import OKABE_ITO, TEMPLATE, downsample, log_axis, styled

DDPM_COLOR, DDIM_COLOR = "#D55E00", "#0072B2"
SAMPLER_COLORS = {"ddpm": DDPM_COLOR, "ddim": DDIM_COLOR}
DATA_COLOR = "#9aa0aa"
FIELD_COLOR = "#8a8f99"
PATH_COLORS = OKABE_ITO[2:4] + OKABE_ITO[5:6] + ["#000000", OKABE_ITO[1], OKABE_ITO[4]]
EXTENT = 3.5
LOWEST_SCORE = 1e-3  # normalized scores are drawn on a log axis; lower ones (incl. < 0) sit on this line
HIGHEST_SCORE = 10.0  # an untrained network's samples can score thousands; they sit on this line
QUALITY_TARGET = 0.03
MAX_SCATTER = 5000


def sampler_label(sampler: str, steps: int | None = None) -> str:
    return "DDPM" if sampler == "ddpm" else f"DDIM, {steps} steps" if steps else "DDIM"


def _square_axes(fig: go.Figure, panels: int = 1) -> None:
    """Every panel (side by side) spans −3.5..3.5 on both axes at equal scales."""
    for index in range(1, panels + 1):
        suffix = "" if index == 1 else str(index)
        fig.update_layout({f"xaxis{suffix}": dict(range=[-EXTENT, EXTENT], constrain="domain", zeroline=False,
                                                  title=dict(text="x₁", standoff=4)),
                           f"yaxis{suffix}": dict(range=[-EXTENT, EXTENT], constrain="domain", zeroline=False,
                                                  scaleanchor=f"x{suffix}", scaleratio=1,
                                                  title=dict(text="x₂", standoff=4))})


def _thin(points: np.ndarray, limit: int = MAX_SCATTER) -> np.ndarray:
    return points if len(points) <= limit else points[np.linspace(0, len(points) - 1, limit).round().astype(int)]


# ----------------------------------------------------------------------- schedule
def schedule_curves(betas: np.ndarray, alpha_bars: np.ndarray, kind: str, t: int | None = None) -> go.Figure:
    """β_t, ᾱ_t (with √ᾱ_t, the share of signal left) and the SNR ᾱ_t / (1 − ᾱ_t) against t = 1..T."""
    T = len(betas) - 1
    steps = np.arange(1, T + 1)
    beta, alpha_bar = np.asarray(betas)[1:], np.asarray(alpha_bars)[1:]
    with np.errstate(divide="ignore"):
        snr = alpha_bar / (1.0 - alpha_bar)
    fig = make_subplots(rows=1, cols=3, subplot_titles=["β<sub>t</sub> (noise added at step t)",
                                                        "ᾱ<sub>t</sub> and √ᾱ<sub>t</sub> (signal kept)",
                                                        "signal-to-noise ᾱ<sub>t</sub> / (1 − ᾱ<sub>t</sub>)"],
                        horizontal_spacing=0.08)
    fig.add_trace(go.Scatter(x=steps, y=beta, name="β_t", line=dict(color=OKABE_ITO[0], width=2.5),
                             hovertemplate="t = %{x}<br>β = %{y:.4g}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=steps, y=alpha_bar, name="ᾱ_t", line=dict(color=OKABE_ITO[2], width=2.5),
                             hovertemplate="t = %{x}<br>ᾱ = %{y:.4g}<extra></extra>"), row=1, col=2)
    fig.add_trace(go.Scatter(x=steps, y=np.sqrt(alpha_bar), name="√ᾱ_t",
                             line=dict(color=OKABE_ITO[2], width=2, dash="dot"),
                             hovertemplate="t = %{x}<br>√ᾱ = %{y:.4g}<extra></extra>"), row=1, col=2)
    fig.add_trace(go.Scatter(x=steps, y=np.clip(snr, 1e-12, None), name="SNR", line=dict(color=OKABE_ITO[3], width=2.5),
                             hovertemplate="t = %{x}<br>SNR = %{y:.3g}<extra></extra>"), row=1, col=3)
    if t is not None and 1 <= t <= T:
        for col, value in ((1, beta[t - 1]), (2, alpha_bar[t - 1]), (3, max(snr[t - 1], 1e-12))):
            fig.add_vline(x=t, line=dict(color="#1f2430", width=1, dash="dash"), row=1, col=col)
            fig.add_trace(go.Scatter(x=[t], y=[value], mode="markers", showlegend=False, hoverinfo="skip",
                                     marker=dict(size=9, color="#1f2430")), row=1, col=col)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=3)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_xaxes(title_text="t", range=[0, T + 1])
    fig.update_layout(showlegend=False, margin=dict(t=60, b=50))
    title = f"{kind.capitalize()} schedule, T = {T}: ᾱ<sub>T</sub> = {alpha_bar[-1]:.2g}"
    fig = styled(fig, title, height=330)
    fig.update_annotations(font_size=14)
    return fig


# ---------------------------------------------------------------- forward process
def forward_points(x_t: np.ndarray, x0: np.ndarray, t: int, alpha_bar: float) -> go.Figure:
    """q(x_t | x_0) for the whole data set: x_t (coloured) over the clean data (grey) and N(0, I)'s 1σ, 2σ rings."""
    fig = go.Figure()
    x0, x_t = _thin(np.asarray(x0)), _thin(np.asarray(x_t))
    fig.add_trace(go.Scattergl(x=x0[:, 0], y=x0[:, 1], mode="markers", name="x<sub>0</sub> (data)",
                               marker=dict(size=3, color=DATA_COLOR, opacity=0.35), hoverinfo="skip"))
    angle = np.linspace(0, 2 * np.pi, 121)
    for radius in (1, 2):
        fig.add_trace(go.Scatter(x=radius * np.cos(angle), y=radius * np.sin(angle), mode="lines",
                                 name="N(0, I): 1σ and 2σ", legendgroup="prior", showlegend=radius == 1,
                                 line=dict(color="#1f2430", width=1, dash="dot"), hoverinfo="skip"))
    fig.add_trace(go.Scattergl(x=x_t[:, 0], y=x_t[:, 1], mode="markers", name=f"x<sub>t</sub>, t = {t}",
                               marker=dict(size=3.5, color=OKABE_ITO[0], opacity=0.6), hoverinfo="skip"))
    _square_axes(fig)
    fig.update_layout(legend=dict(orientation="h", y=-0.14, yanchor="top"), margin=dict(t=50, b=60))
    title = (f"x<sub>t</sub> = √ᾱ<sub>t</sub> x<sub>0</sub> + √(1−ᾱ<sub>t</sub>) ε at t = {t}: "
             f"√ᾱ = {np.sqrt(alpha_bar):.3f}, √(1−ᾱ) = {np.sqrt(1 - alpha_bar):.3f}")
    return styled(fig, title, height=560)


# ----------------------------------------------------------------------- digits
def digit_mosaic(images: np.ndarray, row_labels: Sequence[str] = (), column_labels: Sequence[str] = (),
                 title: str = "", cell_px: int = 44) -> go.Figure:
    """images (rows, cols, 8, 8) in [0, 1] as one heatmap, ink dark, a thin gap between images."""
    images = np.asarray(images, dtype=np.float32)
    rows, cols = images.shape[:2]
    gap = 1
    mosaic = np.full((rows * (8 + gap) - gap, cols * (8 + gap) - gap), np.nan, dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            mosaic[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = images[r, c]
    fig = go.Figure(go.Heatmap(z=mosaic, colorscale="Greys", zmin=0, zmax=1, showscale=False,
                               hovertemplate="%{z:.2f}<extra></extra>"))
    fig.update_xaxes(showgrid=False, ticks="", showline=False, zeroline=False, constrain="domain",
                     tickmode="array", tickvals=[c * 9 + 3.5 for c in range(len(column_labels))],
                     ticktext=list(column_labels), side="top", showticklabels=bool(column_labels))
    fig.update_yaxes(showgrid=False, ticks="", showline=False, zeroline=False, autorange="reversed",
                     scaleanchor="x", scaleratio=1, constrain="domain",
                     tickmode="array", tickvals=[r * 9 + 3.5 for r in range(len(row_labels))],
                     ticktext=list(row_labels), showticklabels=bool(row_labels))
    left = 90 if row_labels else 10
    top = 80 if column_labels else 40
    fig.update_layout(margin=dict(l=left, r=10, t=top, b=10))
    return styled(fig, title, height=top + 20 + rows * cell_px)


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
    """Minibatch loss (faint) and its running mean over ~1 % of the run (log scale)."""
    steps, loss = np.asarray(steps), np.asarray(loss)
    fig = go.Figure()
    if len(loss):
        window = min(len(loss), max(5, len(loss) // 100))
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        shown_steps, shown = downsample(steps, loss)
        fig.add_trace(go.Scatter(x=shown_steps, y=shown, mode="lines", name="minibatch",
                                 line=dict(color="#c9ced6", width=1),
                                 hovertemplate="step %{x}<br>%{y:.4f}<extra></extra>"))
        smooth_steps, smooth = downsample(steps[window - 1:], smooth)
        fig.add_trace(go.Scatter(x=smooth_steps, y=smooth, mode="lines", name=f"mean of {window}",
                                 line=dict(color=OKABE_ITO[0], width=2.5),
                                 hovertemplate="step %{x}<br>%{y:.4f}<extra></extra>"))
    fig.update_yaxes(**log_axis(loss, title_text="loss"))
    fig.update_xaxes(title_text="step")
    fig.update_layout(legend=dict(orientation="h", y=-0.25, yanchor="top"), margin=dict(b=80), hovermode="x unified")
    return styled(fig, title, height=330)


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
    fig.update_layout(legend=dict(orientation="h", y=-0.25, yanchor="top"), margin=dict(b=80))
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
    """Samples (coloured by sampler) over the training data (grey), in standardized units."""
    fig = go.Figure()
    data, samples = _thin(np.asarray(data)), np.asarray(samples)
    fig.add_trace(go.Scattergl(x=data[:, 0], y=data[:, 1], mode="markers", name="training data",
                               marker=dict(size=3, color=DATA_COLOR, opacity=0.4), hoverinfo="skip"))
    fig.add_trace(go.Scattergl(x=samples[:, 0], y=samples[:, 1], mode="markers", name="samples",
                               marker=dict(size=3.5, color=SAMPLER_COLORS.get(sampler, OKABE_ITO[0]), opacity=0.7),
                               hoverinfo="skip"))
    _square_axes(fig)
    outside = int((np.abs(samples) > EXTENT).any(axis=1).sum())
    if outside:  # an untrained network throws samples far away: say so rather than show an empty plot
        fig.add_annotation(xref="paper", yref="paper", x=0.5, y=0.98, yanchor="top", showarrow=False,
                           text=f"{outside:,} of {len(samples):,} samples lie outside this view "
                                f"(farthest at {np.abs(samples).max():,.3g})",
                           font=dict(size=13, color="#5f6672"), bgcolor="rgba(255,255,255,0.8)")
    fig.update_layout(legend=dict(orientation="h", y=-0.14, yanchor="top"), margin=dict(t=50, b=60))
    return styled(fig, title, height=520)


# --------------------------------------------------------------- reverse process
def field_arrows(xs: np.ndarray, ys: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arrows along −ε̂ (the direction of the score ∇ log q(x_t)) as one polyline with NaN gaps.

    The longest arrow of the frame spans 0.9 grid cells; the others keep their length relative to it.
    """
    gx, gy = np.meshgrid(xs, ys)
    vectors = -np.asarray(eps, dtype=np.float64).reshape(-1, 2)
    lengths = np.linalg.norm(vectors, axis=1)
    n = len(vectors)
    if not n or lengths.max() <= 0 or not np.isfinite(lengths).all():
        return np.full(1, np.nan, np.float32), np.full(1, np.nan, np.float32)
    cell = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    vectors *= 0.9 * cell / lengths.max()
    start = np.stack([gx.ravel(), gy.ravel()], axis=1)
    tip = start + vectors
    # Two barbs at ±25° of the shaft, a third of its length.
    back = -vectors / 3
    cos, sin = np.cos(np.radians(25)), np.sin(np.radians(25))
    left = tip + np.stack([back[:, 0] * cos - back[:, 1] * sin, back[:, 0] * sin + back[:, 1] * cos], axis=1)
    right = tip + np.stack([back[:, 0] * cos + back[:, 1] * sin, -back[:, 0] * sin + back[:, 1] * cos], axis=1)
    gap = np.full((n, 2), np.nan)
    polyline = np.stack([start, tip, gap, left, tip, right, gap], axis=1).reshape(-1, 2)
    return polyline[:, 0].astype(np.float32), polyline[:, 1].astype(np.float32)


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
    if data is not None:
        data = _thin(np.asarray(data), 2000)
        for col in (1, 2):
            fig.add_trace(go.Scattergl(x=data[:, 0], y=data[:, 1], mode="markers", name="training data",
                                       showlegend=col == 1, marker=dict(size=3, color=DATA_COLOR, opacity=0.18),
                                       hoverinfo="skip"), row=1, col=col)
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
    fig.frames = [go.Frame(data=frame_traces(i), traces=animated, name=str(t)) for i, t in enumerate(frame_t)]
    _square_axes(fig, panels=2)
    step_args = dict(frame=dict(duration=0, redraw=False), mode="immediate", transition=dict(duration=0))
    play = dict(frame=dict(duration=350, redraw=False), transition=dict(duration=0), mode="immediate")
    fig.update_layout(
        template=TEMPLATE,
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.13, xanchor="left", yanchor="top",
                          pad=dict(t=0, r=8), showactive=False,
                          buttons=[dict(label="▶ Play", method="animate", args=[[str(t) for t in frame_t], play]),
                                   dict(label="❚❚", method="animate", args=[[None], step_args])])],
        sliders=[dict(active=last, x=0.2, len=0.8, y=-0.1, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(prefix="t = ", font=dict(size=15, color="#1f2430")),
                      steps=[dict(label=str(t), method="animate", args=[[str(t)], step_args]) for t in frame_t])],
        # Below the slider: above the panels it would run into the title on a narrow page.
        legend=dict(orientation="h", y=-0.3, yanchor="top", x=0),
        margin=dict(t=90, b=170),
    )
    return styled(fig, title, height=680)
