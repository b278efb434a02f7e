"""The landscape page driven through its controls (AppTest: no browser, no run_every)."""

import base64
import json
import time

import numpy as np
from streamlit.testing.v1 import AppTest

from engine.landscape.presets import DIRECTIONS
from tests import conftest
from tests.conftest import ROOT, metric


def open_page(**query) -> AppTest:
    return conftest.open_page("landscape", 120, **query)


def array(value) -> np.ndarray:
    """A trace's data array from the chart's JSON (Plotly sends NumPy arrays as base64)."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape).astype(float)
    return np.asarray(value, dtype=float)


def figure_traces(at: AppTest) -> list[list[dict]]:
    return [figure["data"] for figure in conftest.chart_figures(at)]


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def train(at: AppTest, steps: int = 500) -> AppTest:
    """Press 'Train 500 steps' and rerun until the page shows them done (run_every never fires here)."""
    at.button(key="ls_train").click().run()
    deadline = time.monotonic() + 60
    while metric(at, "Step") != f"{steps:,}" and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert metric(at, "Step") == f"{steps:,}"
    return at


def test_page_opens_on_the_preset_with_a_surface_whose_centre_is_the_current_loss():
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "Loss Landscape"
    assert metric(at, "Step") == "0"
    assert "2,601 points" in captions(at)
    surface, hessian = figure_traces(at)
    contour = next(t for t in surface if t["type"] == "contour")
    z = array(contour["z"])
    assert z.shape == (51, 51)
    assert f"{z[25, 25]:.4f}" == metric(at, "Train loss")
    bars = next(t for t in hessian if t["type"] == "bar")
    eigenvalues = array(bars["y"])
    assert len(eigenvalues) == 3 and eigenvalues[0] >= eigenvalues[1] >= eigenvalues[2]
    assert "2/λmax" in captions(at)


def test_pca_needs_training_then_shows_the_path_and_its_off_plane_error():
    at = open_page()
    at.selectbox(key="ls_dirs").set_value("pca").run()
    assert "train a few steps first" in " ".join(i.value for i in at.info)
    train(at)
    assert not at.info and not at.exception
    surface, _, path = figure_traces(at)
    assert any(t.get("name") == "training path (projected)" for t in surface)
    names = {t["name"] for t in path}
    assert {"true loss at the recorded weights", "surface value at the projected point",
            "distance from the plane"} <= names
    assert "of the path" in json.dumps(conftest.chart_figures(at)[0]["layout"]["xaxis"])
    assert "The plane holds" in captions(at)


def test_controls_change_resolution_range_view_and_data():
    at = open_page()
    at.select_slider(key="ls_res").set_value(21).run()
    assert "441 points" in captions(at)
    at.select_slider(key="ls_range").set_value(0.25).run()
    contour = next(t for t in figure_traces(at)[0] if t["type"] == "contour")
    assert array(contour["x"])[0] == -0.25 and array(contour["x"])[-1] == 0.25
    at.radio(key="ls_view").set_value("surface").run()
    assert any(t["type"] == "surface" for t in figure_traces(at)[0])
    at.radio(key="ls_view").set_value("curve").run()
    lines = [t["name"] for t in figure_traces(at)[0]]
    assert lines == ["train loss", "test loss"] and "21 points" in captions(at)
    at.radio(key="ls_view").set_value("contour").run()
    train_z = array(figure_traces(at)[0][0]["z"])
    at.radio(key="ls_data").set_value("test").run()
    test_z = array(figure_traces(at)[0][0]["z"])
    assert f"{test_z[10, 10]:.4f}" == metric(at, "Test loss") and not np.allclose(train_z, test_z)
    assert not at.exception


def test_interpolation_lines_from_the_initial_and_a_pinned_network():
    at = open_page()
    at.selectbox(key="ls_dirs").set_value("initial").run()
    assert "train a few steps first" in " ".join(i.value for i in at.info)
    at.button(key="ls_pin").click().run()  # pin the untrained network
    train(at)
    curve = figure_traces(at)[0]
    train_line = next(t for t in curve if t["name"] == "train loss")
    alphas, losses = array(train_line["x"]), array(train_line["y"])
    assert -0.55 < alphas[0] < -0.45 and 1.45 < alphas[-1] < 1.55 and {0.0, 1.0} <= set(alphas)
    current = losses[list(alphas).index(1.0)]
    assert f"{current:.4f}" == metric(at, "Train loss")
    at.selectbox(key="ls_dirs").set_value("pinned").run()
    pinned = array(next(t for t in figure_traces(at)[0] if t["name"] == "train loss")["y"])
    np.testing.assert_allclose(pinned, losses, atol=1e-6)  # pinned at step 0: the same line
    assert "Pinned: the weights at step 0" in captions(at)


def test_a_directions_label_in_a_link_selects_its_kind():
    # a link holds the option's label, as the select box shows it (short: the detail is in its help)
    at = open_page(ls_dirs=DIRECTIONS["layer"], ls_res="11")
    assert at.selectbox(key="ls_dirs").value == "layer" and not at.exception
    assert "Li et al." in at.selectbox(key="ls_dirs").help
    assert {kind for kind, label in DIRECTIONS.items() if label in at.selectbox(key="ls_dirs").options} == \
        set(DIRECTIONS)


def test_a_url_sets_the_experiment():
    at = open_page(ls_res="31", ls_log="true", ls_k="5")
    assert at.select_slider(key="ls_res").value == 31 and at.toggle(key="ls_log").value is True
    assert "961 points" in captions(at)
    hessian = figure_traces(at)[1]
    assert len(array(next(t for t in hessian if t["type"] == "bar")["y"])) == 5


def test_preset_choice_rebuilds_the_network_until_the_playground_owns_it():
    at = open_page()
    circle_loss = metric(at, "Train loss")
    at.selectbox(key="ls_preset").set_value("spiral_bn").run()
    assert metric(at, "Train loss") != circle_loss and not at.exception
    assert "Adam rescales its steps" in captions(at)  # the spiral preset trains with Adam
    at.radio(key="ls_method").set_value("power").run()
    assert "(power)" in captions(at)



def test_the_playground_pages_network_once_it_has_set_one_up():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("app_pages/landscape.py").run()
    assert not at.selectbox(key="ls_preset").disabled  # the job under the Playground's name is not its own yet
    at.switch_page("app_pages/playground.py").run()
    at.switch_page("app_pages/landscape.py").run()
    assert at.selectbox(key="ls_preset").disabled and not at.exception
    assert "Network Playground" in captions(at)


def surface_title(at: AppTest) -> str:
    return conftest.chart_figures(at)[0]["layout"]["title"]["text"]


def test_while_training_the_surface_is_redrawn_only_as_often_as_the_live_budget_allows():
    from ui.live import LIVE_AREAS

    share = LIVE_AREAS.share
    at = open_page(ls_res="21")
    assert surface_title(at).endswith("step 0")
    try:
        LIVE_AREAS.share = 1e-12  # no budget: while training, the surface of step 0 stays
        at.button(key="ls_play").click().run()
        deadline = time.monotonic() + 30
        while metric(at, "Step") in ("0", "1") and time.monotonic() < deadline:
            time.sleep(0.2)
            at.run()
        assert metric(at, "Step") not in ("0", "1")
        assert surface_title(at).endswith("step 0")  # and says which step it shows
        LIVE_AREAS.share = 1e12  # all the budget: the next refresh draws the current weights
        at.run()
        shown = int(surface_title(at).rsplit("step ", 1)[1].replace(",", ""))
        assert shown > 0
    finally:
        LIVE_AREAS.share = share
        at.button(key="ls_pause").click().run()
    assert not at.exception
