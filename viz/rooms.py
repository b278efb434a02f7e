"""The class view's figures (app_pages/classroom.py): every student's run of a class room at one moment
(engine.rooms.RoomView): final loss against the learning rate each student chose, all loss curves overlaid,
the spread of accuracy. Pure functions of the view; one run may be highlighted (the one opened big)."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from engine.rooms import RoomView
from viz.theme import OKABE_ITO, figure_from_dicts, legend_below, log_axis

# The loss a run is judged by: held-out first (a class compares generalization), then what its page trains on.
LOSS_METRICS = ("test_loss", "held_out_bpc", "val_loss", "loss", "train_loss")
ACCURACY_METRICS = ("test_accuracy", "accuracy", "analogy_top1")
MUTED, HIGHLIGHT, DIVERGED = "#8a93a3", OKABE_ITO[5], OKABE_ITO[7]


@dataclass(frozen=True)
class ClassRun:
    """A student's run as the class view draws it."""

    no: int
    name: str
    page: str
    step: int
    status: str
    learning_rate: float | None
    loss_metric: str | None
    loss_steps: np.ndarray
    loss_values: np.ndarray
    final_loss: float | None  # the last finite loss (None: none yet)
    accuracy: float | None
    differences: str  # "pg_lr=0.3, pg_act=relu" (or "as pushed")

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


def class_runs(view: RoomView) -> list[ClassRun]:
    """The runs that have reported, in joining order."""
    runs = []
    for run in view.runs:
        report = run.report
        if report is None:
            continue
        loss_metric = next((m for m in LOSS_METRICS if report.metrics.get(m)), None)
        points = report.metrics.get(loss_metric, ()) if loss_metric else ()
        steps = np.array([p[0] for p in points], dtype=float)
        values = np.array([p[1] for p in points], dtype=float)
        finite = values[np.isfinite(values)]
        accuracy_metric = next((m for m in ACCURACY_METRICS if report.metrics.get(m)), None)
        differences = ", ".join(f"{k}={','.join(v) if v else '(default)'}" for k, v in report.differences.items())
        runs.append(ClassRun(run.student_no, run.name, report.page, report.step, report.status,
                             report.learning_rate, loss_metric, steps, values,
                             float(finite[-1]) if len(finite) else None,
                             report.last(accuracy_metric) if accuracy_metric else None, differences or "as pushed"))
    return runs


def _hover(run: ClassRun) -> str:
    return html.escape(f"{run.name} · step {run.step:,} · {run.status}") + "<br>" + html.escape(run.differences)


def loss_against_learning_rate(runs: list[ClassRun], highlight: int | None = None, height: int = 420) -> go.Figure:
    """Each run's final loss at its learning rate (log axis); a diverged run as an ✕ on the top edge."""
    placed = [r for r in runs if r.learning_rate is not None]
    # The highlighted run last, so drawn on top of the runs at its learning rate.
    finished = sorted((r for r in placed if r.final_loss is not None and not r.diverged),
                      key=lambda r: r.no == highlight)
    diverged = [r for r in placed if r.diverged]
    finals = [r.final_loss for r in finished]
    # As the curves beside it: a log axis where the losses span more than 30x (the best runs, near 0 on a
    # linear axis, are told apart); the diverged runs' row just above the highest.
    log_y = len(finals) > 1 and min(finals) > 0 and max(finals) / min(finals) > 30
    top = max(finals, default=1.0) * (2.0 if log_y else 1.15) or 1.0
    metric = next((r.loss_metric for r in finished), "loss") or "loss"
    title = {"text": f"final {metric.replace('_', ' ')}"}
    yaxis = ({**log_axis(finals, top, title=title, automargin=True),
              "range": [math.log10(min(finals) / 1.5), math.log10(top * 1.3)]} if log_y
             else {"title": title, "rangemode": "tozero", "range": [0, top * 1.05], "automargin": True})
    data = [{"type": "scatter", "mode": "markers", "name": "a student's run", "cliponaxis": False,
             "x": [r.learning_rate for r in finished], "y": [r.final_loss for r in finished],
             "customdata": [r.no for r in finished], "text": [_hover(r) for r in finished],
             "hovertemplate": "η %{x:.3g} → %{y:.4g}<br>%{text}<extra></extra>",
             "marker": {"size": [16 if r.no == highlight else 10 for r in finished],
                        "color": [HIGHLIGHT if r.no == highlight else OKABE_ITO[0] for r in finished],
                        "line": {"width": 1, "color": "white"}}}]
    if diverged:
        data.append({"type": "scatter", "mode": "markers+text", "name": "diverged",
                     "x": [r.learning_rate for r in diverged], "y": [top] * len(diverged),
                     "customdata": [r.no for r in diverged], "text": [f"η={r.learning_rate:g}" for r in diverged],
                     "textposition": "bottom center", "cliponaxis": False,
                     "hovertext": [_hover(r) for r in diverged],
                     "hovertemplate": "η %{x:.3g}: diverged<br>%{hovertext}<extra></extra>",
                     "marker": {"symbol": "x-thin", "size": 14, "color": DIVERGED, "line": {"width": 3}}})
    layout = {"height": height, "showlegend": bool(diverged),
              "xaxis": log_axis([r.learning_rate for r in placed], title={"text": "learning rate η (log)"}),
              "yaxis": yaxis, "margin": {"t": 50, "b": 80},
              "legend": legend_below()}
    return figure_from_dicts(data, layout, "Final loss against η")


def loss_curves(runs: list[ClassRun], highlight: int | None = None, height: int = 420) -> go.Figure:
    """Every run's loss curve, thin and grey; the highlighted one thick and coloured, on top."""
    ordered = sorted(runs, key=lambda r: r.no == highlight)  # the highlighted last: drawn on top
    data = []
    for run in ordered:
        mine = run.no == highlight
        values = np.where(np.isfinite(run.loss_values), run.loss_values, np.nan)
        data.append({"type": "scatter", "mode": "lines", "name": run.name, "x": run.loss_steps, "y": values,
                     "customdata": [run.no] * len(values), "text": [_hover(run)] * len(values),
                     "hovertemplate": "step %{x:,}: %{y:.4g}<br>%{text}<extra></extra>",
                     "line": {"width": 3.5 if mine else 1.2, "color": HIGHLIGHT if mine else MUTED},
                     "opacity": 1.0 if mine else 0.55, "showlegend": mine})
    metric = next((r.loss_metric for r in runs if r.loss_metric), "loss")
    values = np.concatenate([r.loss_values[np.isfinite(r.loss_values)] for r in runs] + [np.empty(0)])
    positive = values[values > 0]
    log_y = len(positive) > 1 and positive.max() / positive.min() > 30
    layout = {"height": height, "xaxis": {"title": {"text": "step"}},
              "yaxis": log_axis(positive, title={"text": metric.replace("_", " ")}, automargin=True) if log_y
              else {"title": {"text": metric.replace("_", " ")}, "rangemode": "tozero", "automargin": True},
              "margin": {"t": 50, "b": 80}, "legend": legend_below()}
    return figure_from_dicts(data, layout, f"Every run's {metric.replace('_', ' ')}")


def accuracy_spread(runs: list[ClassRun], highlight: int | None = None, height: int = 320) -> go.Figure:
    """The final accuracy of every run that has one: a box over the class, each run a point."""
    measured = [r for r in runs if r.accuracy is not None and math.isfinite(r.accuracy)]
    # Each run a point beside the box, spread up and down by its number (the same place at every refresh).
    jitter = [((r.no * 0.618) % 1 - 0.5) * 0.5 for r in measured]
    data = [{"type": "box", "name": "class", "x": [r.accuracy for r in measured], "y": [0.0] * len(measured),
             "orientation": "h", "boxpoints": False, "hoverinfo": "skip", "line": {"color": MUTED},
             "fillcolor": "rgba(0,158,115,0.12)", "width": 0.7},
            {"type": "scatter", "mode": "markers", "name": "runs", "x": [r.accuracy for r in measured],
             "y": jitter, "cliponaxis": False, "customdata": [r.no for r in measured],
             "text": [_hover(r) for r in measured],
             "hovertemplate": "%{x:.1%}<br>%{text}<extra></extra>",
             "marker": {"size": [15 if r.no == highlight else 9 for r in measured],
                        "color": [HIGHLIGHT if r.no == highlight else OKABE_ITO[2] for r in measured],
                        "line": {"width": 1, "color": "white"}}}]
    # From a little below the lowest (in steps of 10%): a class of runs at 90-100% is told apart, not squeezed
    # at the right edge of 0-100%.
    low = max(0.0, math.floor(min((r.accuracy for r in measured), default=0.0) * 10 - 0.5) / 10)
    layout = {"height": height, "showlegend": False,
              "xaxis": {"title": {"text": "final accuracy"}, "tickformat": ".0%", "range": [low, 1.02]},
              "yaxis": {"showticklabels": False, "ticks": "", "range": [-0.6, 0.6], "zeroline": False}}
    runs = f"{len(measured)} run" + ("" if len(measured) == 1 else "s")
    return figure_from_dicts(data, layout, f"Accuracy across the class ({runs})")


def run_table(runs: list[ClassRun]) -> dict[str, list]:
    """The runs as table columns (for st.dataframe)."""
    return {"student": [r.name for r in runs], "page": [r.page for r in runs], "step": [r.step for r in runs],
            "status": [r.status for r in runs], "η": [r.learning_rate for r in runs],
            "final loss": [r.final_loss for r in runs], "accuracy": [r.accuracy for r in runs],
            "changed from the push": [r.differences for r in runs]}
