"""The one look every Gradscape figure shares.

Readable from the back of a classroom, colour-blind safe (Okabe–Ito for
categories, a blue–white–orange diverging scale for signed values), and the
same colour for the same thing on every page: an optimizer, a class, a layer.
"""

from __future__ import annotations

import base64
import copy
import functools
import math
import re
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

TEMPLATE = "gradscape"
FONT_FAMILY = "Inter, 'Source Sans Pro', 'DejaVu Sans', Arial, sans-serif"
FONT_SIZE = 15
PRESENTATION_FONT_SIZE = 20  # presentation mode: read from the back of a room
PRESENTATION_SMALL_FONT_SIZE = 17
PRESENTATION_TICK_FONT_SIZE = 14  # tick labels and legends (12 px in normal mode: Streamlit's theme's)
MARGIN_PAD_PX = 8  # between the plot and its axes (Streamlit's theme's in normal mode: 0.5 rem)
TITLE_STANDOFF_PX = 24  # between an axis' tick labels and its title (Streamlit's theme's in normal mode: 1.5 rem)
# A chart below a projector's first screen keeps at least this much plot between its margins: its text grows there,
# its height did not, and a 300 px chart with a legend below kept an 85 px plot at 1280x720, its axis titles
# running up into its title (the GAN's mode coverage).
PRESENTATION_PLOT_PX = 220
PLOTLY_DEFAULT_HEIGHT = 450  # plotly.js's height for a figure that sets none
COLORBAR_XPAD_PX = 27  # between the plot and a colour axis' bar (Streamlit's theme's: 1.5 rem, 27 px at 1280 wide)

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

# Signed values: negative blue, zero white, positive orange.
DIVERGING = [[0.0, "#0b4f8a"], [0.25, "#6fa8d6"], [0.5, "#f7f7f7"], [0.75, "#f5b660"], [1.0, "#b35806"]]
SEQUENTIAL = "Viridis"
# The same scale as Plotly's validation spells it out (a name becomes its stops), for figures built from dicts.
SEQUENTIAL_SCALE = [list(stop) for stop in go.Heatmap(colorscale=SEQUENTIAL).colorscale]

CLASS_COLORS = ["#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00"]
OPTIMIZER_COLORS = {
    "gd": "#000000", "sgd": "#000000", "sgd_noise": "#999999", "momentum": "#0072B2", "nesterov": "#56B4E9",
    "adagrad": "#009E73", "rmsprop": "#CC79A7", "adam": "#D55E00", "adamw": "#E69F00", "rprop": "#a6761d",
    "newton": "#7f3c8d", "quickprop": "#8c564b", "perceptron": "#444444",
}
TRAIN_COLOR, TEST_COLOR = "#0072B2", "#D55E00"
CURVE_POINTS = 1500  # points of a metric curve drawn (engine histories are longer)


def optimizer_color(name: str) -> str:
    return OPTIMIZER_COLORS.get(name.lower(), OKABE_ITO[hash(name) % len(OKABE_ITO)])


def class_color(index: int) -> str:
    return CLASS_COLORS[index % len(CLASS_COLORS)]


def layer_color(index: int) -> str:
    return OKABE_ITO[index % len(OKABE_ITO)]


def _register() -> None:
    layout = go.Layout(
        font=dict(family=FONT_FAMILY, size=FONT_SIZE, color="#1f2430"),
        title=dict(font=dict(size=FONT_SIZE + 3), x=0.0, xanchor="left"),
        paper_bgcolor="white", plot_bgcolor="white",
        colorway=OKABE_ITO,
        margin=dict(l=60, r=20, t=50, b=50),
        # automargin as in the browser (Streamlit's theme turns it on): the axes' labels push the margins, and
        # an exported figure leaves the same room between an axis' title and a legend below (legend_below).
        xaxis=dict(showgrid=True, gridcolor="#e6e8ec", zeroline=False, linecolor="#9aa0aa", ticks="outside",
                   automargin=True),
        yaxis=dict(showgrid=True, gridcolor="#e6e8ec", zeroline=False, linecolor="#9aa0aa", ticks="outside",
                   automargin=True),
        legend=dict(bgcolor="rgba(255,255,255,0.7)", borderwidth=0),
        hoverlabel=dict(font=dict(family=FONT_FAMILY, size=FONT_SIZE - 1)),
        colorscale=dict(diverging=DIVERGING, sequential=SEQUENTIAL),
    )
    pio.templates[TEMPLATE] = go.layout.Template(layout=layout)


_register()


@functools.cache
def _template_dict() -> dict:
    return pio.templates[TEMPLATE].to_plotly_json()


def figure_from_dicts(data: list[dict], layout: dict, title: str | None, frames: list[dict] = ()) -> go.Figure:
    """A styled figure from plain dicts in Plotly's canonical form, built without Plotly's per-property
    validation: for figures redrawn at every live refresh or control change, where adding traces and updating
    the layout piece by piece costs ~10x more Python. Tests check that validation leaves each such figure as
    built."""
    layout = {**layout, "template": copy.deepcopy(_template_dict())}
    if title is not None:
        layout["title"] = {"text": title}
    return unchecked_figure(data, layout, frames)


def unchecked_figure(data: list[dict], layout: dict, frames: Sequence[dict] = ()) -> go.Figure:
    """A figure from dicts in Plotly's canonical form, without Plotly's per-property validation. Its animation
    frames stay plain dicts (FramedFigure), their numeric arrays encoded here as the typed arrays Plotly would make of
    them (it passes every numpy array through narwhals on the way to the browser: ~0.2 ms an array, and the
    Optimizers page's race of 38 frames holds 600). (A frame's `data[i].x` then reads as that typed array.)"""
    return FramedFigure({"data": data, "layout": layout}, frames=typed_arrays(list(frames)), _validate=False)


class FramedFigure(go.Figure):
    """A go.Figure whose animation frames stay the plain dicts they were given as until something asks for
    `frames`. Given frames, Plotly makes an object of each frame and of each of its traces, checking them even when
    told not to (its frames' validator takes no `_validate`), and copies them all again whenever it hands the
    figure out as a dict (`to_dict`, which st.plotly_chart calls): ~30 ms of the Optimizers page's ~70 ms run at
    every change (38 frames of 8 traces), for frames nothing on the server reads. Shown, serialized, pickled and
    exported as the go.Figure with those frames is; reading or setting `frames` makes them Plotly's objects.
    It leans on how Plotly's BaseFigure keeps frames (`frames`' setter, `__getitem__`, `to_dict`; plotly is pinned
    in requirements.txt): if an upgrade changes that, tests/test_viz_theme.py's comparison with Plotly's own JSON
    fails."""

    def __init__(self, data: Any = None, layout: Any = None, frames: Any = None, **kwargs: Any):
        if isinstance(data, dict) and "frames" in data:  # (how a copy or an unpickled figure arrives)
            data = dict(data)
            frames = data.pop("frames")
        super().__init__(data, layout, **kwargs)
        self._plain_frames = list(frames or ())

    @property
    def frames(self) -> tuple:
        return self["frames"]

    @frames.setter
    def frames(self, new_frames: Any) -> None:
        self._plain_frames = []
        go.Figure.frames.fset(self, new_frames)

    def __getitem__(self, prop: Any) -> Any:
        if prop == "frames" and self._plain_frames:  # asked for: Plotly's objects from now on
            frames, self._plain_frames = self._plain_frames, []
            go.Figure.frames.fset(self, frames)
        return super().__getitem__(prop)

    def to_dict(self) -> dict:
        result = super().to_dict()
        if self._plain_frames:
            result["frames"] = self._plain_frames  # (nothing changes them: shared, not copied)
        return result


# plotly.js's names of the dtypes it reads as typed arrays; an int64 or uint64 array is first narrowed, as Plotly
# narrows it, to the smallest of these that holds its values.
# (Keyed by the dtype itself: its `.name` is built anew at each call, 10 us, and a race's frames hold 600 arrays.)
_TYPED_ARRAY = {np.dtype(name): short for name, short in (("int8", "i1"), ("uint8", "u1"), ("int16", "i2"),
                                                          ("uint16", "u2"), ("int32", "i4"), ("uint32", "u4"),
                                                          ("float32", "f4"), ("float64", "f8"))}
_NARROWER = {np.dtype(wide): tuple(map(np.iinfo, narrow)) for wide, narrow in (
    ("int64", ("int8", "int16", "int32")), ("uint64", ("uint8", "uint16", "uint32")))}
_NOT_TYPED = {"geojson", "layer", "layers", "range"}  # keys whose arrays Plotly sends as they are


def typed_arrays(value: Any) -> Any:
    """`value` with every numeric numpy array in it (in dicts, lists and tuples) as a plotly.js typed array, the
    base64 form Plotly sends a numpy array in (except under the keys it leaves alone); other values as they are."""
    if isinstance(value, np.ndarray) and value.size:
        if value.dtype in _NARROWER:
            low, high = value.min(), value.max()
            fits = next((info for info in _NARROWER[value.dtype] if info.min <= low and high <= info.max), None)
            value = value if fits is None else value.astype(fits.dtype)
        if value.dtype not in _TYPED_ARRAY:
            return value
        spec = {"dtype": _TYPED_ARRAY[value.dtype],
                "bdata": base64.b64encode(np.ascontiguousarray(value)).decode("ascii")}
        if value.ndim > 1:
            spec["shape"] = ", ".join(map(str, value.shape))
        return spec
    if isinstance(value, dict):
        return {key: item if key in _NOT_TYPED else typed_arrays(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(typed_arrays(item) for item in value)
    return value


def awaiting_training(layout: dict, text: str, axes: Sequence[str]) -> dict:
    """The layout of a chart of training curves before it has any (step 0 alone draws no line): `text` says what
    will be drawn there (break it with <br> for a chart in a column), and the `axes` (layout keys, "xaxis",
    "yaxis2") show no tick labels or grid for a range that means nothing yet."""
    for axis in axes:
        layout[axis] = {**layout.get(axis, {}), "showticklabels": False, "showgrid": False}
    layout["annotations"] = [*layout.get("annotations", []),
                             {"text": text, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5, "showarrow": False,
                              "font": {"size": 14, "color": "#5f6672"}}]
    return layout


def legend_below(**extra: Any) -> dict:
    """A horizontal legend under the plot, placed from the figure's bottom edge (yref "container"), not at a
    fraction of the plot's height below it (yref "paper", y < 0). The paper offset made the legend's room depend
    on the plot's height, which depends on the margins that the legend and the axes push (Streamlit's theme turns
    the axes' automargin on): plotly.js then redrew some charts a dozen times looking for margins that fit
    ("Too many auto-margin redraws"; 3 s for the VAE's latent map). From the container's bottom the legend reserves
    a fixed height, which plotly.js stacks below the axis' ticks and title. (orientation="v": a list of its entries,
    a row each, as tall at every width.)"""
    return {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", **extra}


def legend_beside(**extra: Any) -> dict:
    """A vertical legend at the figure's right edge, beside the plot (and beside its colour bar, which stands just
    right of the plot): for a plot with equal scales in a box wider than tall, whose height a legend below would
    take (presentation mode on a projector's wide screen). margins_for_one_draw gives it its room."""
    return {"orientation": "v", "xref": "container", "x": 1, "xanchor": "right", "yref": "paper", "y": 0.5,
            "yanchor": "middle", **extra}


PLAYER_BELOW_PX = 64  # under the plot: clear of an x axis' tick labels and title at presentation sizes
PLAYER_BUTTONS_PX = 150  # the play and pause buttons' room, left of the slider (at presentation sizes too)
PLAYER_STILL = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}


def frame_player(names: Sequence[str], play: dict, *, active: int, prefix: str, play_label: str = "▶ Play",
                 step_labels: bool = False, y: float = 0.0, below_px: int = PLAYER_BELOW_PX) -> dict:
    """The layout's `updatemenus` and `sliders` of an animation over the frames `names`: a play button (`play`:
    plotly's animation options; it plays from the current frame where they say `fromcurrent`), a pause button and
    a slider that shows the frame's name after `prefix` (its step labels hidden unless `step_labels`: dozens
    overlap), all with their top `below_px` pixels under paper height `y` (0: the plot's bottom).

    Placed in pixels, not at a fraction of the plot's height below it: a chart stretched to a projector's short
    screen (ui.sharing.fit_to_screen) drew the buttons and the slider over its x axis' labels, and the buttons over
    the slider's value. The figure's bottom margin must hold them (about below_px + 75 px)."""
    place = {"y": y, "yanchor": "top"}
    buttons = {"type": "buttons", "direction": "left", "x": 0, "xanchor": "left", **place,
               "pad": {"t": below_px, "r": 8}, "showactive": False,
               "buttons": [{"label": play_label, "method": "animate", "args": [None, play]},
                           {"label": "❚❚", "method": "animate", "args": [[None], PLAYER_STILL]}]}
    slider = {"active": active, "x": 0, "len": 1, **place, "pad": {"t": below_px, "l": PLAYER_BUTTONS_PX},
              "ticklen": 3, "currentvalue": {"prefix": prefix, "font": {"size": 15, "color": "#1f2430"}},
              "steps": [{"label": name, "method": "animate", "args": [[name], PLAYER_STILL]} for name in names]}
    if not step_labels:  # (small too: unseen, they still take their height)
        slider["font"] = {"color": "rgba(0,0,0,0)", "size": 8}
    return {"updatemenus": [buttons], "sliders": [slider]}


# The margins a chart is drawn with in the browser where its layout sets none. Streamlit's theme, merged over
# ours, sets l = r = 0, so the axes' labels (automargin) pushed the margins of nearly every chart after its first
# draw and plotly.js drew it twice, at every change. Room for the usual labels: a y axis' ticks and title (56-93
# px), an x axis' (~74 px), the last x tick label's overhang (up to ~24 px).
BROWSER_MARGINS = {"l": 90, "r": 30, "t": 50, "b": 75}
X_TICKS_PX = 48  # below the plot: an x axis' tick labels, without a title
X_TITLE_EM = 2.5  # ... and its title under them, in font sizes (2.4 left Gradient Flow's accuracy a pixel short)
# A character's width, in font sizes (digits and lower case, a few wide capitals): in the template's font (titles),
# and in the narrower one Streamlit's theme gives tick labels and legends, at 12 px where the figure sets no size.
CHAR_EM, THEME_CHAR_EM = 0.66, 0.5
TICK_FONT_PX = 12
# A legend below the plot, as plotly.js lays it out: rows 1.6 of its font size apart, 10 px of padding, each entry
# 40 px (its symbol) and its text wide, in rows as wide as the plot (wrapped in columns as wide as the widest
# entry, or in groups side by side). Measured: one row 29 px, two 48, five 105 at 12 px.
LEGEND_ROW_EM, LEGEND_PAD_PX, LEGEND_SYMBOL_PX, LEGEND_GAP_PX = 1.6, 10, 40, 5
TEXT_LINE_EM = 1.3  # plotly.js's line spacing in text broken with <br>
# The width a chart with a legend below is taken to have: the narrowest with one, in a column of a page (a wider
# chart may then leave a row empty under its legend: better than a second draw at every change); in presentation
# mode the same column is 1.3 to 1.45 times as wide (larger side margins, no sidebar).
LEGEND_FIGURE_WIDTH_PX, PRESENTATION_WIDTH_SCALE = 400, 1.3
# ... and a chart drawn across the page's main area (Charts.show(wide=True)): narrowest in a 1280 px window with the
# sidebar open (~820 px). Taken at 400 px, the Generalization sweep's six entries were six rows for the one they take:
# 140 px of a projector's 720 below an empty axis title, and a plot squashed to ~120 px.
WIDE_FIGURE_WIDTH_PX = 760
LEGEND_FOOT_PX = BROWSER_MARGINS["b"] + round(LEGEND_ROW_EM * TICK_FONT_PX) + LEGEND_PAD_PX  # an x axis, a legend row
_TAGS = re.compile(r"<[^>]+>")


def _text_px(text: Any, font_px: float, char_em: float = CHAR_EM) -> float:
    return char_em * font_px * len(_TAGS.sub("", str(text or "")))


def _raw(fig: go.Figure) -> tuple[dict, list[dict]]:
    """The figure's layout and traces as Plotly keeps them, its own dicts: through Plotly's objects, every property
    read builds and checks objects (margins_for_one_draw took 2-6 ms a chart that way, at every chart's every draw:
    a fifth of the web server's interpreter time in a class of 40, py-spy)."""
    return fig.layout._props, [trace._props for trace in fig.data]


def _dig(props: Any, path: str) -> Any:
    """props["a"]["b"] for path "a.b", None where a level is missing."""
    for key in path.split("."):
        if not isinstance(props, dict):
            return None
        props = props.get(key)
    return props


@functools.cache
def _trace_has(trace_type: str, prop: str) -> bool:
    """Whether traces of this type have the property at all (a heatmap shows a colour bar unless told not to;
    a bar chart has none to show)."""
    return hasattr(go.Figure({"data": [{"type": trace_type}]}).data[0], prop)


def _axis_names(traces: list[dict], letter: str) -> set[str]:
    """The 2-D axes ("x", "x2", ...) the traces use; a figure without traces yet still draws x and y with their
    titles; a 3-D scene or a table uses none."""
    cartesian = [trace for trace in traces if _trace_has(trace.get("type", "scatter"), letter + "axis")]
    return {trace.get(letter + "axis") or letter for trace in cartesian} or (set() if traces else {letter})


def _colorbar_paths(layout: dict, traces: list[dict]) -> list[tuple[int | None, str]]:
    """Where the colour bars the figure shows are: its traces' own (trace index, path), and those of the colour
    axes they share (None, path in the layout)."""
    paths: list[tuple[int | None, str]] = []
    for index, trace in enumerate(traces):
        kind = trace.get("type", "scatter")
        scatter = kind.startswith("scatter")
        axis = _dig(trace, "marker.coloraxis") if scatter else trace.get("coloraxis")
        if axis:
            if _dig(layout, f"{axis}.showscale") is not False and (None, f"{axis}.colorbar") not in paths:
                paths.append((None, f"{axis}.colorbar"))
        elif (_dig(trace, "marker.showscale") if scatter else
              _trace_has(kind, "showscale") and trace.get("showscale") is not False):
            paths.append((index, "marker.colorbar" if scatter else "colorbar"))
    return paths


def _colorbars(fig: go.Figure) -> list[Any]:
    """The colour bars the figure shows, as Plotly's objects (to set their fonts)."""
    return [(fig.layout if index is None else fig.data[index])[path] for index, path in _colorbar_paths(*_raw(fig))]


def _colorbar_right_px(bar: dict, font_px: float) -> float:
    """The right margin a colour bar takes (0 where it stands inside the plot): the bar, its tick labels and
    its title (above the bar unless its side says otherwise)."""
    if bar.get("x") is not None and bar["x"] < 1:
        return 0.0
    labels = bar.get("ticktext") or ["−0.25"]  # plotly's default ticks: a few characters
    tick_px = TICK_FONT_PX * font_px / FONT_SIZE  # (larger in presentation mode)
    width = 40 + (bar.get("thickness") or 30) + max(_text_px(label, tick_px, THEME_CHAR_EM) for label in labels)
    title, side = _dig(bar, "title.text"), _dig(bar, "title.side")
    if title and side in (None, "top", "bottom"):
        width = max(width, 55 + _text_px(title, font_px))
    return width + (20 if title and side == "right" else 0)


def _legend_entries(traces: list[dict], font_px: float) -> dict[str, list[float]]:
    """The legend's entries (the figure's named, shown traces), by group: their widths (an ungrouped trace is a
    group of its own)."""
    entries: dict[str, list[float]] = {}
    for trace in traces:
        if trace.get("showlegend") is not False and trace.get("name"):
            group = entries.setdefault(trace.get("legendgroup") or f"\0{trace['name']}", [])
            group.append(LEGEND_SYMBOL_PX + _text_px(trace["name"], font_px, THEME_CHAR_EM))
    return entries


def _legend_rows(traces: list[dict], font_px: float, room_px: float) -> int:
    """Rows a horizontal legend takes in `room_px` (the plot's width), as plotly.js lays it out: in one row if
    every entry fits; else, where traces are grouped (legendgroup), each group a column of its entries, groups
    side by side; else in columns as wide as the widest entry."""
    entries = _legend_entries(traces, font_px)
    widths = [width for group in entries.values() for width in group]
    if not widths:
        return 0  # (no entry yet: plotly.js draws no legend)
    if sum(widths) + LEGEND_GAP_PX * (len(widths) - 1) <= room_px:
        return 1
    if not any(trace.get("legendgroup") for trace in traces):
        columns = max(1, int((room_px + LEGEND_GAP_PX) // (max(widths) + LEGEND_GAP_PX)))
        return math.ceil(len(widths) / columns)
    rows, row_rows, used = 0, 0, 0.0
    for group in entries.values():
        width = max(group) + LEGEND_GAP_PX
        if used and used + width > room_px:
            rows, row_rows, used = rows + row_rows, 0, 0.0
        row_rows, used = max(row_rows, len(group)), used + width
    return rows + row_rows


def margins_for_one_draw(fig: go.Figure, wide: bool = False) -> go.Figure:
    """The figure with the margins it is drawn with, so that plotly.js draws it once: BROWSER_MARGINS where its
    layout sets none; where it sets some, at least the room of what stands in them (a colour bar at the right, an
    x axis' labels and title, a legend below: plotly.js otherwise reserves it only after a first draw, at every
    change); and equal-scale plots that keep them. Only unset or short margins change, so a figure kept between
    live refreshes goes through this unchanged. The room of text is estimated from its length and the figure's
    font size: an estimate short by a few pixels costs a second draw, not a clipped label.

    A plot with equal scales fits its ranges or its domain to its size, which moves its tick labels; with
    automargin their width (y) or their overhang at the plot's sides (x) changed the size again, and plotly.js
    went round that loop a dozen times (seconds of a frozen tab: the VAE's codes at latent 3, the Optimizers'
    contour in a lesson). So such a y axis keeps the margin it is given, and its x axis pushes only the bottom one
    (its ticks and title, with a legend stacked below).

    `wide`: the chart is drawn across the page's main area, not in a column (a legend below then takes fewer rows)."""
    layout, traces = _raw(fig)
    automargin = {}  # axis -> the automargin it is drawn with, where this sets it
    for name in (key for key in layout if re.fullmatch(r"yaxis\d*", key)):
        anchor = _dig(layout, f"{name}.scaleanchor")
        if anchor is not None and anchor.startswith("x"):
            automargin[name] = False
            automargin["xaxis" + anchor.removeprefix("x")] = "bottom"
    given = layout.get("margin") or {}
    margin = {side: px if given.get(side) is None else given[side] for side, px in BROWSER_MARGINS.items()}
    font_px = _dig(layout, "font.size") or FONT_SIZE
    legend = layout.get("legend") or {}
    legend_px = _dig(legend, "font.size") or TICK_FONT_PX * font_px / FONT_SIZE  # (Streamlit's theme's where unset)
    right = max((_colorbar_right_px(_dig(layout if index is None else traces[index], path) or {}, font_px)
                 for index, path in _colorbar_paths(layout, traces)), default=0.0)
    if legend.get("orientation") == "v" and legend.get("xref") == "container" and layout.get("showlegend") is not False:
        widths = [width for group in _legend_entries(traces, legend_px).values() for width in group]
        right += max(widths, default=0.0) + 2 * LEGEND_PAD_PX  # beside the bar
    if margin["r"] < right:
        margin["r"] = round(right)
    bottom = 0
    for name in _axis_names(traces, "x"):
        xaxis = layout.get("xaxis" + name.removeprefix("x")) or {}  # ("" or "x": the first)
        yaxis = layout.get("yaxis" + (xaxis.get("anchor") or "y").removeprefix("y")) or {}
        at_the_foot = xaxis.get("anchor") == "free" or not yaxis.get("domain") or yaxis["domain"][0] == 0
        if (at_the_foot and xaxis.get("visible") is not False and xaxis.get("showticklabels") is not False
                and xaxis.get("side") != "top"):
            ticks = X_TICKS_PX + 2 * (font_px - FONT_SIZE)  # (larger in presentation mode)
            lines = max((str(text).count("<br>") + 1 for text in xaxis.get("ticktext") or ()), default=1)
            ticks += round((lines - 1) * TEXT_LINE_EM * font_px * TICK_FONT_PX / FONT_SIZE)  # (ticktext's lines)
            bottom = max(bottom, ticks + (round(X_TITLE_EM * font_px) if _dig(xaxis, "title.text") else 0))
    for name in _axis_names(traces, "y"):
        key = "yaxis" + name.removeprefix("y")
        yaxis = layout.get(key) or {}
        xaxis = layout.get("xaxis" + (yaxis.get("anchor") or "x").removeprefix("x")) or {}
        at_the_left = yaxis.get("anchor") == "free" or not xaxis.get("domain") or xaxis["domain"][0] == 0
        if (_dig(yaxis, "title.text") and yaxis.get("showticklabels") is not False
                and automargin.get(key, yaxis.get("automargin")) is not False):
            # (an equal-scale plot's y axis keeps the margin it has)
            room = BROWSER_MARGINS["l"] + 3 * (font_px - FONT_SIZE)
            if yaxis.get("side") == "right":
                margin["r"] = max(margin["r"], room)
            elif at_the_left:
                margin["l"] = max(margin["l"], room)
        # Words as a left axis' tick labels (horizontal bars): as wide as the longest (a pasted text's long words, or
        # a projector's larger labels, pushed the ranked words' margin at every refresh)
        labels = [label for trace in traces if trace.get("orientation") == "h" and (trace.get("yaxis") or "y") == name
                  for label in trace.get("y", ()) if isinstance(label, str)]
        if (labels and at_the_left and yaxis.get("side") != "right" and yaxis.get("showticklabels") is not False
                and not _dig(yaxis, "title.text")):
            tick_px = _dig(yaxis, "tickfont.size") or TICK_FONT_PX * font_px / FONT_SIZE
            widest = max(_text_px(label, tick_px) for label in labels)
            margin["l"] = max(margin["l"], round(widest) + 2 * MARGIN_PAD_PX)
    if legend.get("yref") == "container" and legend.get("y") == 0 and layout.get("showlegend") is not False:
        width = ((WIDE_FIGURE_WIDTH_PX if wide else LEGEND_FIGURE_WIDTH_PX)
                 * (PRESENTATION_WIDTH_SCALE if font_px >= PRESENTATION_FONT_SIZE else 1))
        rows = (_legend_rows(traces, legend_px, width - margin["l"] - margin["r"]) if legend.get("orientation") == "h"
                else sum(map(len, _legend_entries(traces, legend_px).values())))  # (a list: a row an entry)
        if rows:
            bottom = max(bottom, BROWSER_MARGINS["b"]) + round(LEGEND_ROW_EM * legend_px * rows) + LEGEND_PAD_PX
    margin["b"] = max(margin["b"], bottom)
    # Written into the layout's own dict, which Plotly's objects read through (numbers, False and "bottom", values
    # Plotly takes): its update_layout, with its checks and callbacks, took 1.5 ms a chart.
    for axis, value in automargin.items():
        layout.setdefault(axis, {})["automargin"] = value
    layout["margin"] = {**given, **margin}
    return fig


def styled(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    fig.update_layout(template=TEMPLATE)
    if title is not None:
        fig.update_layout(title_text=title)
    if height is not None:
        fig.update_layout(height=height)
    return fig



def for_presentation(fig: go.Figure, legend_aside: bool = False) -> go.Figure:
    """The figure with text sized for a projector: the template's text at PRESENTATION_FONT_SIZE, the smaller
    text a figure sets itself (annotations, a slider's label) at least PRESENTATION_SMALL_FONT_SIZE, tick labels
    and legends at least PRESENTATION_TICK_FONT_SIZE; with `legend_aside`, a legend below moves beside the plot
    (legend_beside). Sizes are set, not multiplied, so a figure kept between live refreshes can go through this
    again unchanged."""
    if legend_aside and fig.layout.legend.yref == "container" and fig.layout.legend.orientation == "h":
        fig.update_layout(legend=legend_beside())
        if (fig.layout.margin.b or 0) > BROWSER_MARGINS["b"]:  # the room a figure kept for its legend below is the
            fig.layout.margin.b = BROWSER_MARGINS["b"]  # plot's now (the words map's: all of it, on a 720p screen)
    fig.update_layout(font_size=PRESENTATION_FONT_SIZE, title_font_size=PRESENTATION_FONT_SIZE + 3,
                      hoverlabel_font_size=PRESENTATION_FONT_SIZE - 1)
    small = PRESENTATION_SMALL_FONT_SIZE
    for font in [*(a.font for a in fig.layout.annotations), *(s.currentvalue.font for s in fig.layout.sliders)]:
        if font.size is not None and font.size < small:
            font.size = small
    # What the figure leaves unset of its tick labels, legend and axis titles takes Streamlit's theme's size, in
    # rem: it grows with the screen (tick labels 13.5 px at 1280 wide, 18 at 1920; a title's standoff 27 px, 36;
    # the axes' padding 9 px, 12; a colour axis' bar's distance from the plot 27 px, 36), past the room
    # margins_for_one_draw gives them, and plotly.js drew most charts twice on a large screen. Set here in px, they
    # are as large on every projector.
    if fig.layout.margin.pad is None:
        fig.layout.margin.pad = MARGIN_PAD_PX
    axes = [*fig.select_xaxes(), *fig.select_yaxes()]
    for font in [fig.layout.legend.font, *(axis.tickfont for axis in axes), *(bar.tickfont for bar in _colorbars(fig))]:
        if font.size is None or font.size < PRESENTATION_TICK_FONT_SIZE:
            font.size = PRESENTATION_TICK_FONT_SIZE
    for axis in axes:
        if axis.title.standoff is None:
            axis.title.standoff = TITLE_STANDOFF_PX
    for font in [*(axis.title.font for axis in axes), *(bar.title.font for bar in _colorbars(fig))]:
        if font.size is None:
            font.size = PRESENTATION_FONT_SIZE
    # (the theme pads only a shared colour axis' bar so: 36 px at 1920 wide drew the Attention model view twice)
    for index, path in _colorbar_paths(*_raw(fig)):
        if index is None and fig.layout[path].xpad is None:
            fig.layout[path].xpad = COLORBAR_XPAD_PX
    return fig


def with_plot_room(fig: go.Figure, least_px: int = PRESENTATION_PLOT_PX) -> go.Figure:
    """The figure made taller where its margins (as margins_for_one_draw set them) leave its plot less than
    `least_px` of height; unchanged otherwise, so a figure kept between live refreshes can go through this again."""
    height = fig.layout.height or PLOTLY_DEFAULT_HEIGHT
    plot = height - (fig.layout.margin.t or 0) - (fig.layout.margin.b or 0)
    if plot < least_px:
        fig.layout.height = height + least_px - plot
    return fig


def chart_config(filename: str, image_format: str = "png") -> dict:
    """plotly.js's config for a page's chart (ui.chart_component): the camera button downloads a 2x image named
    for the figure; no button sends the chart to Plotly's cloud (plotly.js shows one unless told not to)."""
    return {
        "displaylogo": False,
        "showSendToCloud": False,
        "toImageButtonOptions": {"format": image_format, "filename": safe_filename(filename), "scale": 2},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }


def safe_filename(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return name[:120] or "figure"


def downsample(x: np.ndarray, y: np.ndarray, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Keep a trace under `max_points` by taking evenly spaced points (the last one always kept)."""
    n = len(x)
    if n <= max_points:
        return x, y
    index = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return x[index], y[index]


def arrow_polyline(start: np.ndarray, vectors: np.ndarray, longest: float) -> tuple[np.ndarray, np.ndarray]:
    """Arrows from each `start` along its vector, as one polyline with NaN gaps (one trace draws them all).

    The longest arrow spans `longest` data units; the others keep their length relative to it.
    """
    vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, 2)
    lengths = np.linalg.norm(vectors, axis=1)
    n = len(vectors)
    if not n or lengths.max() <= 0 or not np.isfinite(lengths).all():
        return np.full(1, np.nan, np.float32), np.full(1, np.nan, np.float32)
    start = np.asarray(start, dtype=np.float64).reshape(-1, 2)
    vectors = vectors * (longest / lengths.max())
    tip = start + vectors
    # Two barbs at ±25° of the shaft, a third of its length.
    back = -vectors / 3
    cos, sin = np.cos(np.radians(25)), np.sin(np.radians(25))
    left = tip + np.stack([back[:, 0] * cos - back[:, 1] * sin, back[:, 0] * sin + back[:, 1] * cos], axis=1)
    right = tip + np.stack([back[:, 0] * cos + back[:, 1] * sin, -back[:, 0] * sin + back[:, 1] * cos], axis=1)
    gap = np.full((n, 2), np.nan)
    polyline = np.stack([start, tip, gap, left, tip, right, gap], axis=1).reshape(-1, 2)
    return polyline[:, 0].astype(np.float32), polyline[:, 1].astype(np.float32)


def log_axis(*arrays, **axis: Any) -> dict:
    """A log axis without plotly's 2-3-4-5-6-7-8-9 clutter (or its bare "5, 2, 1, 5, 2" mantissas): a label every
    decade (or every few, over a huge span) where the data span two decades or more; over a narrower span, labels
    at 1, 2, 5 (or finer) times a power of ten, written out. Zeros, negatives and non-finite values are left out."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays if a is not None] + [np.empty(0)])
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return dict(type="log", exponentformat="power", **axis)
    lo, hi = float(values.min()), float(values.max())
    decades = np.log10(hi / lo)
    if decades >= 2:
        return dict(type="log", exponentformat="power", dtick=max(1, int(np.ceil(decades / 10))), **axis)
    mantissas = (1, 2, 5) if decades >= 0.6 else (1, 1.5, 2, 3, 4, 5, 6, 8)
    powers = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
    ticks = [m * 10.0 ** k for k in powers for m in mantissas if lo / 1.5 <= m * 10.0 ** k <= hi * 1.5]
    return dict(type="log", tickmode="array", tickvals=ticks, ticktext=[log_tick_label(t) for t in ticks], **axis)


def log_tick_label(value: float) -> str:
    """A tick value written out in full ("0.05", "200") or as m×10ⁿ outside 0.001 … 10⁴."""
    if 1e-3 <= value < 1e4:
        return f"{value:.3g}"
    power = int(np.floor(np.log10(value) + 1e-9))
    mantissa = round(value / 10.0 ** power, 2)
    lead = "" if mantissa == 1 else f"{mantissa:g}×"
    return f"{lead}10<sup>{'−' if power < 0 else ''}{abs(power)}</sup>"


def metric_curves(history: Mapping[str, tuple[np.ndarray, np.ndarray]], names: Sequence[tuple[str, str, str]],
                  yaxis: dict, title: str, lines: Sequence[tuple[float, str]] = (), height: int = 300,
                  smooth: bool = False) -> go.Figure:
    """Metrics by step (`names`: metric, label, colour) under dotted horizontal `lines` (value, label).
    `smooth`: each drawn faint, step by step, under its running mean over ~1% of the run (a game's per-step
    values jump about; the mean shows where they sit)."""
    data = []
    for name, label, color in names:
        if name not in history or not len(history[name][0]):
            continue
        steps, values = np.asarray(history[name][0]), np.asarray(history[name][1], dtype=float)
        if smooth and len(values) >= 10:
            window = max(5, len(values) // 100)
            shown_steps, shown = downsample(steps, values, CURVE_POINTS)
            data.append({"type": "scatter", "x": shown_steps, "y": shown, "mode": "lines", "showlegend": False,
                         "line": {"color": color, "width": 1}, "opacity": 0.25, "hoverinfo": "skip"})
            steps, values = steps[window - 1:], np.convolve(values, np.ones(window) / window, mode="valid")
        steps, values = downsample(steps, values, CURVE_POINTS)
        data.append({"type": "scatter", "x": steps, "y": values, "mode": "lines", "name": label,
                     "line": {"color": color, "width": 2.5 if smooth else 2},
                     "hovertemplate": f"{label}<br>step %{{x}}: %{{y:.3f}}<extra></extra>"})
    shapes = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": value, "y1": value,
               "line": {"color": "#5f6672", "dash": "dot", "width": 1.2}} for value, _ in lines]
    annotations = [{"xref": "paper", "x": 1, "xanchor": "right", "y": value, "yanchor": "bottom", "text": text,
                    "showarrow": False, "font": {"size": 12, "color": "#5f6672"}} for value, text in lines]
    layout = {"height": height, "xaxis": {"title": {"text": "step"}, "rangemode": "tozero"}, "yaxis": yaxis,
              "hovermode": "x unified", "legend": legend_below(),
              "margin": {"t": 50, "b": 80}, **({"shapes": shapes, "annotations": annotations} if lines else {})}
    return figure_from_dicts(data, layout, title)
