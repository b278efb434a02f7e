"""The Backprop-by-hand page driven through its controls (AppTest)."""

from __future__ import annotations


import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.backprop.data import examples
from engine.backprop.formulas import number
from engine.backprop.network import Architecture, run
from engine.backprop.presets import PRESETS
from engine.backprop.spec import BackpropSpec, weights_text
from tests import conftest
from tests.conftest import metric


def open_page(**query) -> AppTest:
    return conftest.open_page("backprop", 90, **query)


def graph_numbers(at: AppTest) -> str:
    graph = conftest.chart_figures(at)[0]
    return " ".join(str(trace.get("text", "")) for trace in graph["data"]) + " ".join(
        a["text"] for a in graph["layout"].get("annotations", []))


def test_a_preset_solves_xor_and_swapping_units_keeps_the_loss():
    at = open_page()
    assert not at.exception and at.title[0].value == "Backprop by hand"
    at.selectbox(key="bp_preset").set_value("xor_bool").run()
    assert at.text_input(key="bp_weights").value == weights_text(PRESETS["xor_bool"].weights)
    assert metric(at, "Training accuracy") == "100%"
    title = conftest.chart_figures(at)[1]["layout"]["title"]["text"]
    at.button(key="bp_swap").click().run()
    assert at.text_input(key="bp_weights").value != weights_text(PRESETS["xor_bool"].weights)
    assert conftest.chart_figures(at)[1]["layout"]["title"]["text"] == title  # same loss
    label = next(e.label for e in at.expander if e.label.startswith("Gradient check"))
    assert float(label.rsplit(" ", 1)[1]) <= 1e-6


@pytest.mark.parametrize("hidden", [(1,), (2,), (3,), (4,), (2, 2), (1, 2), (1, 1, 1)])
@pytest.mark.parametrize("projector", [False, True])
@pytest.mark.parametrize("example", [0, 3])  # (2-2-1's fourth on a projector had a label cut off below the plot)
def test_edge_labels_clear_the_units_and_each_other_and_each_sits_by_its_edge(hidden, projector, example):
    # 2-4-1's eight first-layer labels, all at 40% of the way, overlapped in a heap (and on the units) at every
    # size. Geometry from the units' positions and the plot area the labels are placed for: every label's box
    # (label_box, which Chromium's boxes are within: tests/browser/test_backprop_page.py) clears every unit's
    # circle and every other label, and its centre is on its edge or at most three of its half heights above or
    # below it, at a point of the edge between its units.
    from viz.backprop import (LABEL_FONT_PX, PLOT_PX, PROJECTOR_LABEL_FONT_PX, PROJECTOR_PLOT_PX, UNIT_PX,
                              label_box, network_graph, positions)

    arch = Architecture(hidden=hidden)
    flat = arch.initial(np.random.default_rng(0))
    data = examples("xor_bool")
    every = {(layer, j) for layer in range(1, len(arch.sizes)) for j in range(arch.sizes[layer])}
    figure = network_graph(arch, flat, run(arch, flat, data.x, data.y), example, forward_to=len(arch.sizes) - 1,
                           deltas=every, current=None, projector=projector)
    font, (width, height) = (PROJECTOR_LABEL_FONT_PX, PROJECTOR_PLOT_PX) if projector else (LABEL_FONT_PX, PLOT_PX)
    rows = max(arch.sizes)
    sx, sy = width / (len(arch.sizes) - 0.2), (height or figure.layout.height - 50) / (rows + 0.2)
    where = positions(arch)
    edges = [(where[layer - 1][i], where[layer][j]) for layer in range(1, len(arch.sizes))
             for j in range(arch.sizes[layer]) for i in range(arch.sizes[layer - 1])]
    labels = [a for a in figure.layout.annotations if a.text.startswith("w ")]
    (units,) = [trace for trace in figure.data if trace.name == "units"]
    diameter = units.marker.size  # larger on a projector where there is room, never smaller than on a desk
    assert UNIT_PX <= diameter and (projector or diameter == UNIT_PX)
    assert len(labels) == (len(edges) if not projector or len(edges) <= 6 else 0)  # else only those in focus
    boxes = []
    for label in labels:
        w, h = label_box(label.text, font)
        shift = -label.ay if label.showarrow else 0.0  # off its edge: hung from its marker by a leader
        x, y = label.x * sx, label.y * sy + shift
        boxes.append((x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        assert any(abs((x1 - x0) * (label.y - y0) - (y1 - y0) * (label.x - x0)) < 1e-9 and x0 < label.x < x1
                   for (x0, y0), (x1, y1) in edges)  # its marker: on an edge, between its units
        assert abs(shift) <= 3 * (h / 2 + 6) + 1e-9 and label.ax == 0
    # ... off the other edges (one lying along another edge reads as that edge's): where it crosses one, at most
    # this much of it (2-2-1 on a projector: its diagonals cross between the units, where two labels must be)
    t = np.linspace(0, 1, 2001)
    for label, (left, bottom, right, top) in zip(labels, boxes):
        for (x0, y0), (x1, y1) in edges:
            if abs((x1 - x0) * (label.y - y0) - (y1 - y0) * (label.x - x0)) < 1e-9 and x0 < label.x < x1:
                continue  # its own
            x, y = (x0 + t * (x1 - x0)) * sx, (y0 + t * (y1 - y0)) * sy
            under = ((left <= x) & (x <= right) & (bottom <= y) & (y <= top)).mean() * np.hypot(x[-1] - x[0],
                                                                                                 y[-1] - y[0])
            assert under <= 25
    x_range, y_range = figure.layout.xaxis.range, figure.layout.yaxis.range  # and inside the plot, not cut off
    for left, bottom, right, top in boxes:
        assert x_range[0] * sx <= left and right <= x_range[1] * sx
        assert y_range[0] * sy <= bottom and top <= y_range[1] * sy
    for index, (left, bottom, right, top) in enumerate(boxes):
        for ux, uy in (xy for units in where for xy in units):
            nearest = (min(max(ux * sx, left), right), min(max(uy * sy, bottom), top))
            assert np.hypot(ux * sx - nearest[0], uy * sy - nearest[1]) >= diameter / 2 - 1e-6
        for other in boxes[index + 1:]:
            assert min(right, other[2]) <= max(left, other[0]) or min(top, other[3]) <= max(bottom, other[1])


def test_the_length_of_an_edge_under_a_label_is_what_points_along_it_say():
    # (label_places keeps a label off other edges by it: one lying on another edge reads as that edge's)
    from viz.backprop import _crossing

    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 10, (40, 2, 2))
    boxes = np.column_stack([corners[:, :, 0].min(1), corners[:, :, 1].min(1), corners[:, :, 0].max(1),
                             corners[:, :, 1].max(1)])
    segments = rng.uniform(0, 10, (30, 4))
    segments[:5, 2] = segments[:5, 0]  # upright
    segments[5:10, 3] = segments[5:10, 1]  # level, as an edge between two units side by side is
    t = np.linspace(0, 1, 100_001)
    expected = np.zeros(len(boxes))
    for x0, y0, x1, y1 in segments:
        x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        inside = ((boxes[:, [0]] <= x) & (x <= boxes[:, [2]]) & (boxes[:, [1]] <= y) & (y <= boxes[:, [3]]))
        expected += inside.mean(axis=1) * np.hypot(x1 - x0, y1 - y0)
    np.testing.assert_allclose(_crossing(boxes, segments), expected, atol=1e-3)
    assert (expected > 0).sum() > 20  # most boxes are crossed: the oracle checks lengths, not zeros


def test_in_a_dense_network_only_the_edges_in_focus_carry_labels_and_every_edge_keeps_its_hover():
    # Beyond DENSE_EDGES weights only the edges into the unit in focus carry labels (h1.2's two); every edge's
    # marker still says its numbers on hover.
    from viz.backprop import network_graph

    arch = Architecture(hidden=(4, 4))
    flat = arch.initial(np.random.default_rng(0))
    data = examples("xor_bool")
    figure = network_graph(arch, flat, run(arch, flat, data.x, data.y), 0, forward_to=3, deltas=set(),
                           current=("unit", 1, 1))
    shown = [a["text"] for a in figure.layout.annotations if a["text"].startswith("w ")]
    first = arch.unpack(flat)[0][0]
    assert sorted(shown) == sorted(f"w {number(w)}" for w in first[1])
    (markers,) = [trace for trace in figure.data if trace.name == "edges"]
    assert len(markers.hovertext) == 2 * 4 + 4 * 4 + 4


def test_stepping_through_reveals_the_backward_pass_and_an_update_lowers_the_loss():
    at = open_page()
    at.slider(key="bp_stage").set_value(0).run()
    assert "δ" not in graph_numbers(at) and " a " not in graph_numbers(at).replace("<br>", " ")
    at.button(key="bp_next").click().run()
    assert at.slider(key="bp_stage").value == 1 and "h1.1" in "".join(m.value for m in at.markdown)
    at.slider(key="bp_stage").set_value(3).run()  # the output unit's δ
    assert "δ = ∂L/∂a = σ(a) − y" in "".join(m.value for m in at.markdown)
    loss_before = metric_loss(at)
    at.button(key="bp_update").click().run()
    assert metric_loss(at) < loss_before


def metric_loss(at: AppTest) -> float:
    return float(conftest.chart_figures(at)[1]["layout"]["title"]["text"].split("loss ")[1]
                 .rstrip(")").replace("−", "-"))


def test_a_typed_weight_changes_the_function_and_the_quiz_judges_answers():
    at = open_page(bp_weights="1, 1, 1, 1, 0, -1, 10, -20, -5")
    assert metric(at, "Training accuracy") == "100%"
    at.text_input(key="bp_weights").set_value("1, 1, 1, 1, 0, -1, 10, 20, -5").run()
    assert metric(at, "Training accuracy") != "100%"
    at.toggle(key="bp_quiz_on").set_value(True).run()
    arch = Architecture(hidden=(2,))
    data = examples("xor_bool")
    p = run(arch, np.array([1, 1, 1, 1, 0, -1, 10, 20, -5.0]), data.x, data.y)
    truth = float(p.grad_w[0][3, 0, 0])  # the first edge, for the example shown first: the fourth, (1, 1)
    at.number_input(key="bp_quiz_answer").set_value(truth + 0.5).run()
    assert at.error and "Not quite" in at.error[0].value
    at.number_input(key="bp_quiz_answer").set_value(round(truth, 4)).run()
    assert at.success and at.success[0].value.startswith("Right")


def test_weights_that_do_not_fit_are_refused_with_the_count():
    at = open_page(bp_weights="1, 2")
    assert not at.exception and "must be 9 numbers for this network, not 2" in at.error[0].value


def test_train_live_shows_its_weights_and_stop_keeps_them():
    """While it trains live the graph shows the weights in training and nothing edits the box's; Stop puts the
    weights it reached into the box (and the link)."""
    at = open_page()
    start = at.text_input(key="bp_weights").value
    at.toggle(key="bp_live").set_value(True).run()
    assert not at.exception
    assert any("Training live: step 0" in caption.value for caption in at.caption)
    assert at.button(key="bp_update").disabled and at.button(key="bp_train").disabled
    assert not [e for e in at.expander if e.label.startswith("Gradient check")]  # nothing checks stale weights
    arch = Architecture((2,), "relu", "bce")
    data = examples("xor_bool", 0.0, 0)
    trained = at.session_state["bp_live_weights"] - 0.3 * run(arch, at.session_state["bp_live_weights"], data.x,
                                                               data.y).mean_gradient()
    at.session_state["bp_live_weights"] = trained  # as a tick of the live fragment leaves them
    at.toggle(key="bp_live").set_value(False).run()
    assert at.text_input(key="bp_weights").value == weights_text(trained) != start
    assert not at.button(key="bp_update").disabled


def test_the_bias_of_the_unit_in_focus_can_be_dragged():
    at = open_page()
    at.slider(key="bp_stage").set_value(3).run()  # the output unit's δ: the output unit in focus
    next(s for s in at.slider if s.label == "Drag the bias of out").set_value(1.5).run()
    after = np.array([float(v) for v in at.text_input(key="bp_weights").value.split(",")])
    start = BackpropSpec().flat()  # the seed's random start, which the box held (empty)
    assert after[-1] == 1.5 and np.array_equal(after[:-1], start[:-1])  # the output's bias is the last parameter
    assert not at.exception


def descended(spec: BackpropSpec, steps: int) -> np.ndarray:
    """Plain gradient descent on the spec's data from its start (the oracle: NumPy, step by step)."""
    arch, data, flat = spec.arch(), spec.examples(), spec.flat().astype(np.float64)
    for _ in range(steps):
        flat = flat - spec.lr * run(arch, flat, data.x, data.y).mean_gradient()
    return flat


def test_a_network_stuck_short_of_fitting_says_so_and_names_its_dead_unit():
    """XOR with two ReLUs from seed 0: descent ends where one unit outputs 0 on every example and the loss is
    ln 2 (every gradient ~0, 50% right). Seed 1's start learns XOR: no note there."""
    stuck = descended(BackpropSpec(seed=0), 3000)
    arch, data = BackpropSpec().arch(), BackpropSpec().examples()
    p = run(arch, stuck, data.x, data.y)
    assert abs(p.loss - np.log(2)) < 1e-6 and np.abs(p.mean_gradient()).max() < 1e-6
    dead = [j for j in range(2) if not np.any(p.z[1][:, j])]
    assert dead == [0]
    at = open_page(bp_weights=weights_text(stuck))
    notes = [i.value for i in at.info if i.value.startswith("**Stuck**")]
    assert len(notes) == 1 and "h1.1 outputs 0 on every example" in notes[0]
    at = open_page(bp_weights=weights_text(descended(BackpropSpec(seed=1), 3000)))
    assert metric(at, "Training accuracy") == "100%" and not [i for i in at.info if i.value.startswith("**Stuck**")]
    at = open_page()  # the seed's random start: still moving
    assert not [i for i in at.info if i.value.startswith("**Stuck**")]
