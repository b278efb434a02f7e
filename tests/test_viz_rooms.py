"""The class view's figures (viz.rooms) from hand-made room views: what is plotted is what the runs reported."""

from __future__ import annotations

import math

import numpy as np

from engine.rooms import RoomView, StudentRun, validate_report
from tests.conftest import assert_valid_as_built
from viz import rooms as figures


def run(no: int, lr: float | None, losses: list[float], status: str = "paused", accuracy: float | None = None,
        differences: dict | None = None) -> StudentRun:
    steps = [25 * i for i in range(len(losses))]
    metrics = {"test_loss": [[s, v] for s, v in zip(steps, losses)]}
    if accuracy is not None:
        metrics["test_accuracy"] = [[steps[-1], accuracy]]
    report = validate_report({"page": "playground", "push_version": 1, "params": {}, "differences":
                              differences or {}, "learning_rate": lr, "step": steps[-1], "status": status,
                              "metrics": metrics})
    return StudentRun(no, f"Student {no}", 0.0, 1.0, report)


VIEW = RoomView("ACDEFG", None, (
    run(1, 0.01, [0.7, 0.6, 0.5], accuracy=0.8, differences={"pg_lr": ["0.01"]}),
    run(2, 0.1, [0.7, 0.3, 0.2], accuracy=0.95),
    run(3, 3.0, [0.7, 5.0, math.inf], status="diverged"),
    StudentRun(4, "Student 4", 0.0, None, None),  # joined, not reported yet
    run(5, None, [0.7, 0.65], accuracy=0.7),  # a page without a learning rate
), version=9, created_at=0.0)


def test_class_runs_hold_each_reported_run_with_its_last_finite_loss():
    runs = figures.class_runs(VIEW)
    assert [r.no for r in runs] == [1, 2, 3, 5]
    assert [r.final_loss for r in runs] == [0.5, 0.2, 5.0, 0.65]
    assert [r.diverged for r in runs] == [False, False, True, False]
    assert runs[0].differences == "pg_lr=0.01" and runs[1].differences == "as pushed"
    assert runs[0].accuracy == 0.8 and runs[2].accuracy is None


def test_final_loss_against_the_learning_rate_on_a_log_axis_with_the_diverged_run_on_top():
    runs = figures.class_runs(VIEW)
    fig = figures.loss_against_learning_rate(runs, highlight=2)
    assert_valid_as_built(fig)
    finished, diverged = fig.data
    assert list(finished.x) == [0.01, 0.1] and list(finished.y) == [0.5, 0.2]  # no η: not placed
    assert list(finished.marker.size) == [10, 16]  # the highlighted run stands out
    assert list(diverged.x) == [3.0] and diverged.y[0] > max(finished.y) and diverged.marker.symbol == "x-thin"
    assert fig.layout.xaxis.type == "log"


def test_every_curve_overlaid_and_the_highlighted_one_drawn_last_and_thick():
    runs = figures.class_runs(VIEW)
    fig = figures.loss_curves(runs, highlight=1)
    assert_valid_as_built(fig)
    assert len(fig.data) == 4 and fig.data[-1].name == "Student 1" and fig.data[-1].line.width > fig.data[0].line.width
    diverged = next(trace for trace in fig.data if trace.name == "Student 3")
    assert np.isnan(diverged.y[-1]) and list(diverged.y[:2]) == [0.7, 5.0]


def test_the_accuracy_spread_holds_every_run_that_measured_one():
    fig = figures.accuracy_spread(figures.class_runs(VIEW), highlight=5)
    assert_valid_as_built(fig)
    box, points = fig.data
    assert sorted(box.x) == sorted(points.x) == [0.7, 0.8, 0.95] and "3 runs" in fig.layout.title.text
    assert list(points.marker.size) == [9, 9, 15]  # Student 5 highlighted


def test_the_run_table_has_a_row_per_reported_run():
    table = figures.run_table(figures.class_runs(VIEW))
    assert table["student"] == ["Student 1", "Student 2", "Student 3", "Student 5"]
    assert table["η"] == [0.01, 0.1, 3.0, None] and table["status"][2] == "diverged"


def test_losses_spanning_decades_are_drawn_on_a_log_axis_with_the_diverged_row_above_the_highest():
    view = RoomView("ACDEFG", None, (run(1, 0.001, [0.7, 0.5]), run(2, 0.3, [0.7, 0.001]),
                                     run(3, 10.0, [0.7, math.nan], status="diverged")), version=3, created_at=0.0)
    fig = figures.loss_against_learning_rate(figures.class_runs(view))
    assert_valid_as_built(fig)
    finished, diverged = fig.data
    assert fig.layout.yaxis.type == "log" and list(finished.y) == [0.5, 0.001]
    low, high = fig.layout.yaxis.range  # in decades
    assert low < math.log10(0.001) and math.log10(0.5) < math.log10(diverged.y[0]) < high
    assert list(diverged.text) == ["η=10"]
    # Within a decade and a half the axis stays linear from 0 (VIEW: 0.5 and 0.2).
    assert figures.loss_against_learning_rate(figures.class_runs(VIEW)).layout.yaxis.type != "log"


def test_the_accuracy_axis_starts_a_little_below_the_lowest_run():
    fig = figures.accuracy_spread(figures.class_runs(VIEW))
    assert list(fig.layout.xaxis.range) == [0.6, 1.02]  # runs at 70%, 80%, 95%
