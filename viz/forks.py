"""A branch and its original run on one chart (issue 22's fork: "the two runs shown side by side on the same charts
from the fork point on"): any page's curves, drawn once from the branch's history and once from the original's,
merged here, so every training page compares the two the same way."""

from __future__ import annotations

from typing import Collection

import numpy as np
import plotly.graph_objects as go

from viz.theme import unchecked_figure

FORK_LINE = {"color": "#7f7f7f", "width": 1, "dash": "dash"}
ORIGINAL_RUN = "original run"


def with_original(figure: go.Figure, original: go.Figure, fork_step: int, leave_out: Collection[str] = ()) -> go.Figure:
    """`figure` (the branch's curves) with the line traces of `original` (the same chart of the original run) from
    `fork_step` on: dotted and thinner in their own colours, named "original: …" (the named ones, except those in
    `leave_out`, such as a noisy minibatch loss), and a dashed vertical line at the fork on every plot they share.
    The legend gets one entry for them all (it toggles them all): doubled entries wrapped onto a second row, into
    a chart's title; a curve's colour says which it is, its hover its name."""
    data = [trace.to_plotly_json() for trace in figure.data]
    plots = []
    for trace in original.data:
        trace = trace.to_plotly_json()
        if trace.get("type") != "scatter" or "lines" not in trace.get("mode", "lines") or \
                not trace.get("name") or trace["name"] in leave_out:  # unnamed: a faint line under its mean
            continue
        steps, values = np.asarray(trace["x"]), np.asarray(trace["y"])
        after = steps >= fork_step
        label = f"original: {trace.get('name', '')}"
        line = trace.get("line", {})
        data.append({**{k: v for k, v in trace.items() if k in ("type", "mode", "xaxis", "yaxis")},
                     "x": steps[after], "y": values[after], "name": label, "legendgroup": ORIGINAL_RUN,
                     "showlegend": False,
                     "line": {**line, "dash": "dot", "width": min(1.5, line.get("width", 2))},
                     "hovertemplate": f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>"})
        plots.append((trace.get("xaxis", "x"), trace.get("yaxis", "y")))
    if plots:
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines", "name": ORIGINAL_RUN,
                     "legendgroup": ORIGINAL_RUN, "line": {"color": FORK_LINE["color"], "width": 1.5, "dash": "dot"},
                     "xaxis": plots[0][0], "yaxis": plots[0][1], "hoverinfo": "skip"})
    layout = figure.layout.to_plotly_json()
    layout["shapes"] = [*layout.get("shapes", ()), *(
        {"type": "line", "x0": fork_step, "x1": fork_step, "xref": x, "y0": 0, "y1": 1, "yref": f"{y} domain",
         "line": FORK_LINE} for x, y in dict.fromkeys(plots))]
    return unchecked_figure(data, layout, [f.to_plotly_json() for f in figure.frames])
