"""A branch's curves with its original run's (viz.forks.with_original), on a two-plot chart of the CNN page."""

import numpy as np

from tests.conftest import assert_valid_as_built
from viz.cnn import learning_curves
from viz.forks import ORIGINAL_RUN, with_original
from viz.theme import metric_curves


def history(steps: int, offset: float) -> dict:
    x = np.arange(0, steps, 10)
    return {"test_accuracy": (x, np.linspace(0.1, 0.9, len(x)) - offset),
            "test_loss": (x, np.linspace(2, 0.3, len(x)) + offset),
            "mlp_test_accuracy": (x, np.linspace(0.1, 0.7, len(x))), "mlp_test_loss": (x, np.linspace(2, 0.5, len(x)))}


def test_the_original_runs_curves_from_the_fork_on_dotted_under_one_legend_entry():
    branch, original = learning_curves(history(300, 0.05)), learning_curves(history(500, 0.0))
    merged = with_original(branch, original, 120, leave_out={"MLP"})
    assert_valid_as_built(merged)
    added = merged.data[len(branch.data):]
    names = [trace.name for trace in added]
    assert names == ["original: CNN", "original: CNN", ORIGINAL_RUN]  # both plots' CNN curves; the MLP's left out
    for trace, source in zip(added[:2], original.data[::2]):
        assert list(trace.x) == [step for step in source.x if step >= 120]
        assert np.array_equal(trace.y, np.asarray(source.y)[np.asarray(source.x) >= 120])
        assert trace.line.dash == "dot" and trace.line.color == source.line.color and not trace.showlegend
        assert trace.legendgroup == ORIGINAL_RUN
    assert [(s.x0, s.xref, s.yref) for s in merged.layout.shapes] == [(120, "x", "y domain"), (120, "x2", "y2 domain")]
    assert merged.data[:len(branch.data)] == branch.data and merged.layout.title.text == branch.layout.title.text


def test_a_faint_unnamed_line_and_a_chart_without_curves_add_nothing():
    steps = np.arange(40)
    noisy = metric_curves({"loss": (steps, np.sin(steps) + 2)}, (("loss", "loss", "#000"),), {}, "t", smooth=True)
    merged = with_original(noisy, noisy, 10)
    assert [t.name for t in merged.data[len(noisy.data):]] == ["original: loss", ORIGINAL_RUN]  # not the faint one
    empty = with_original(noisy, metric_curves({}, (), {}, "t"), 10)
    assert len(empty.data) == len(noisy.data) and not empty.layout.shapes
