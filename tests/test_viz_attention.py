"""Attention figures on small inputs whose right picture is known."""

import numpy as np
import plotly.graph_objects as go
import pytest

from viz import attention as figures

LABELS = ["a", "b", "c", "d"]


def anti_diagonal(n: int = 4) -> np.ndarray:
    return np.eye(n)[::-1].copy()


def test_model_view_puts_each_head_in_its_cell_and_the_anti_diagonal_in_its_cells():
    attention = np.zeros((2, 3, 4, 4))
    attention[1, 2] = anti_diagonal()
    attention[0, 0] = np.eye(4)
    fig = figures.model_view(attention, LABELS, LABELS, ideal=anti_diagonal().astype(bool), heads_off=[(0, 1)])
    heatmaps = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heatmaps) == 6
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["L1 H1", "L1 H2 (off)", "L1 H3", "L2 H1", "L2 H2", "L2 H3"]
    last = heatmaps[5]  # row 2, column 3 = layer 2, head 3
    z = np.array(last.z)
    for q in range(4):  # query q (row) looks at key 3 - q (column)
        assert z[q, 3 - q] == 1 and z[q].sum() == 1
        assert list(last.x)[3 - q] == 3 - q and list(last.y)[q] == q
    assert np.array_equal(np.array(heatmaps[0].z), np.eye(4))
    assert fig.layout.yaxis.autorange == "reversed"  # query 0 on top
    assert list(fig.layout.xaxis.ticktext) == LABELS
    dots = [t for t in fig.data if isinstance(t, go.Scatter)]
    assert sorted(zip(dots[0].y, dots[0].x)) == [(0, 3), (1, 2), (2, 1), (3, 0)]


def test_head_lines_threshold_hides_weak_links_and_selection_isolates_a_token():
    attention = np.array([[0.7, 0.2, 0.1], [0.05, 0.9, 0.05], [0.3, 0.3, 0.4]])
    assert figures.line_count(figures.head_lines(attention, LABELS[:3], LABELS[:3])) == 9
    assert figures.line_count(figures.head_lines(attention, LABELS[:3], LABELS[:3], threshold=0.25)) == 5
    only_first = figures.head_lines(attention, LABELS[:3], LABELS[:3], selected=0, threshold=0.15)
    assert figures.line_count(only_first) == 2
    segments = [(trace.y[i], trace.y[i + 1]) for trace in only_first.data if trace.mode == "lines"
                for i in range(0, len(trace.y), 3)]
    assert sorted(segments) == [(0, -1), (0, 0)]  # query 0 -> keys 0 and 1 (drawn downwards)
    # the strongest link is drawn widest
    strong = figures.head_lines(np.array([[0.95, 0.05]]), ["x"], ["y", "z"])
    widths = {trace.line.width: trace.y[1] for trace in strong.data if trace.mode == "lines"}
    assert widths[max(widths)] == 0


def test_training_curves_put_the_pattern_score_on_the_accuracy_axis():
    steps = np.arange(1, 6)
    history = {"loss": (steps, np.array([2.0, 1.5, 0.4, 0.1, 0.05])),
               "pattern_mass": (steps, np.array([0.1, 0.1, 0.8, 0.9, 0.9])),
               "heldout_sequence_accuracy": (steps, np.linspace(0, 1, 5))}
    fig = figures.training_curves(history, "induction score")
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"training loss", "best head's induction score", "held-out sequences right"}
    assert by_name["best head's induction score"].yaxis == "y2" and by_name["training loss"].yaxis == "y"
    assert fig.layout.yaxis.type == "log"


def tick_value(text: str) -> float:
    """What a tick label says, read back: "0.05", "2×10<sup>−5</sup>", "10<sup>3</sup>"."""
    if "<sup>" not in text:
        return float(text)
    lead, power = text.removesuffix("</sup>").split("10<sup>")
    return float(lead.removesuffix("×") or 1) * 10.0 ** int(power.replace("−", "-"))


def test_loss_axis_labels_decades_over_a_wide_span():
    steps = np.arange(1, 301)
    loss = 2.5 * np.exp(-steps / 30)  # 2.5 down to 1e-4: four decades
    fig = figures.training_curves({"loss": (steps, loss), "heldout_loss": (steps, loss * 1.3)}, "induction score")
    axis = fig.layout.yaxis
    assert axis.type == "log" and axis.exponentformat == "power"
    assert axis.dtick == 1 and axis.tickvals is None  # 10⁰, 10⁻¹, ...: never a bare "5, 2, 1"
    assert axis.title.text == "loss (cross-entropy)"


@pytest.mark.parametrize("high, low, labels", [
    (2.3, 0.4, ["0.5", "1", "2"]),  # 1, 2, 5 × 10ᵏ inside the span (± a factor 1.5)
    (3e-5, 1.2e-5, ["8×10<sup>−6</sup>", "10<sup>−5</sup>", "1.5×10<sup>−5</sup>", "2×10<sup>−5</sup>",
                    "3×10<sup>−5</sup>", "4×10<sup>−5</sup>"]),  # under half a decade: finer steps
])
def test_loss_axis_over_a_narrow_span_writes_each_tick_out(high, low, labels):
    steps = np.arange(1, 51)
    axis = figures.training_curves({"loss": (steps, np.linspace(high, low, 50))}, "reversal").layout.yaxis
    assert axis.type == "log" and axis.tickmode == "array"
    assert list(axis.ticktext) == labels
    assert [tick_value(t) for t in axis.ticktext] == pytest.approx(list(axis.tickvals))  # each says its value


def test_ablation_heatmap_and_positional_view():
    accuracy = np.array([[0.5, 1.0], [0.25, 1.0]])
    fig = figures.ablation_heatmap(accuracy, baseline=1.0)
    assert np.array_equal(np.array(fig.data[0].z), accuracy)
    assert fig.data[0].text[1][0] == "25.0%<br>(-75.0%)"
    encoding = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    fig = figures.positional_view(encoding, encoding @ encoding.T)
    assert np.array_equal(np.array(fig.data[1].z), [[1, 0, 1], [0, 1, 1], [1, 1, 2]])


@pytest.mark.parametrize("layers, heads", [(1, 1), (2, 4)])
def test_every_heads_matrix_has_square_cells_under_its_title(layers, heads):
    """A matrix reads as one: each y axis is scaled to its x axis (square cells), shrinking toward its title; the
    figure gives a row of heads at least the height of a head's square on a laptop's main column."""
    fig = figures.model_view(np.full((layers, heads, 8, 8), 1 / 8), list("abcdefgh"), list("abcdefgh"))
    for cell in range(1, layers * heads + 1):
        suffix = "" if cell == 1 else str(cell)
        y = fig.layout[f"yaxis{suffix}"]
        assert (y.scaleanchor, y.constrain, y.constraintoward) == (f"x{suffix}", "domain", "top")
    assert fig.layout.height >= layers * min(figures.MODEL_VIEW_ROW_PX, figures.MAIN_WIDTH_PX / heads)


def test_the_model_view_built_without_validation_is_what_plotlys_validation_makes_of_it():
    """model_view skips Plotly's per-property checks (it is redrawn at every live refresh); Plotly's own
    validator is the oracle that every property exists and is written in Plotly's form."""
    import json

    import plotly.io as pio

    for shape in ((1, 1, 4, 4), (2, 3, 4, 4), (3, 1, 4, 4)):
        fig = figures.model_view(np.random.default_rng(0).random(shape), LABELS, LABELS,
                                 ideal=anti_diagonal().astype(bool), heads_off=[(0, 0)])
        validated = go.Figure(fig.to_dict())  # raises on an unknown property or a bad value
        assert json.loads(pio.to_json(fig, validate=False)) == json.loads(pio.to_json(validated, validate=False))
        domains = [fig.layout[name].domain for name in fig.layout if name.startswith(("xaxis", "yaxis"))]
        assert len(domains) == 2 * shape[0] * shape[1] and all(0 <= lo < hi <= 1 for lo, hi in domains)
