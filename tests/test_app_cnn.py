"""The Convolutional networks page driven through its controls (AppTest: no browser, no run_every)."""

from __future__ import annotations


from streamlit.testing.v1 import AppTest

from engine.cnn.arithmetic import output_size
from tests import conftest
from tests.conftest import metric
from ui.jobs import REGISTRY_KEY


def open_page(**query) -> AppTest:
    return conftest.open_page("cnn", 90, **query)


def chart_titles(at: AppTest) -> list[str]:
    return [figure["layout"].get("title", {}).get("text", "") for figure in conftest.chart_figures(at)]


def test_the_cnn_trains_and_a_new_shift_is_measured_without_a_reset():
    at = open_page(cnn_view="Shift")
    assert not at.exception and at.title[0].value == "Convolutional networks"
    at.button(key="cnn_step").click().run()
    assert metric(at, "Step") == "1"
    assert "Shift, then convolve = convolve, then shift" in chart_titles(at)
    assert "shifted by (2, 2) px" in " ".join(m.value for m in at.markdown)
    at.slider(key="cnn_dy").set_value(-3).run()
    assert "shifted by (-3, 2) px" in " ".join(m.value for m in at.markdown)
    assert metric(at, "Step") == "1"  # what the page inspects changes live: the training goes on where it was
    at.selectbox(key="cnn_data").set_value("shapes").run()
    assert metric(at, "Step") == "0" and not at.exception  # a new data set is a new experiment


def test_the_shift_view_is_measured_only_while_it_is_open():
    at = open_page()  # the learning curves
    assert not at.exception and at.session_state[REGISTRY_KEY]["cnn"].hp["shift_view"] is False
    assert "Shift, then convolve = convolve, then shift" not in chart_titles(at)
    at = open_page(cnn_view="Shift")
    assert at.session_state[REGISTRY_KEY]["cnn"].hp["shift_view"] is True


def test_the_arithmetic_shows_each_layers_size_and_explains_an_empty_output():
    at = open_page(cnn_tab="Arithmetic", cnn_n="20", cnn_depth="2", cnn_kind2="max pool", cnn_k2="2", cnn_p2="0",
                   cnn_s2="2")
    assert not at.exception
    table = conftest.markdown_tables(at)[0]
    assert list(table["output"]) == ["20×20×8", f"{output_size(20, 2, 0, 2, 1)}×10×8"]
    assert any("Layer 1" in title for title in chart_titles(at))
    at.slider(key="cnn_n").set_value(3).run()
    at.slider(key="cnn_k1").set_value(7).run()
    at.slider(key="cnn_p1").set_value(0).run()
    assert not at.exception
    assert any("Layer 1" in w.value and "does not fit" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not [t for t in chart_titles(at) if "Layer" in t]  # explained, not drawn


def test_the_kernel_sandbox_applies_a_typed_kernel_and_refuses_a_wrong_one():
    at = open_page(cnn_tab="Kernels", cnn_kern="Typed numbers", cnn_typed="0 0 0; 0 2 0; 0 0 0")
    assert not at.exception and not at.error
    assert any("Digit 3" in title for title in chart_titles(at))
    at.text_input(key="cnn_typed").set_value("1 2 3 4 five").run()
    assert at.error and "five" in at.error[0].value


def test_a_closed_tabs_controls_are_not_drawn_and_keep_their_values_in_the_address():
    """A closed tab's controls are held, not drawn (ui.controls.ControlPanel.hold). Oracle: the widget itself,
    drawn once its tab opens, shows the value the link or the last visit gave it."""
    at = open_page(cnn_k2="5", cnn_lr="0.03")  # the Train tab open: kernel k of layer 2 is an Arithmetic control
    assert not at.exception and not at.warning  # the link's value is used, not refused
    assert "cnn_k2" not in [s.key for s in at.slider] and dict(at.query_params)["cnn_k2"] == "5"
    at.session_state["cnn_tab"] = "Arithmetic"
    at.run()
    assert at.slider(key="cnn_k2").value == 5  # the link's value, now in its widget
    assert "cnn_lr" not in [w.key for w in at.select_slider]  # the Train tab's: held
    assert dict(at.query_params)["cnn_lr"] == "0.03"
    at.slider(key="cnn_k2").set_value(6).run()
    at.session_state["cnn_tab"] = "Train a CNN"
    at.run()
    assert not at.exception and dict(at.query_params)["cnn_k2"] == "6"  # closed again: kept in the address
    assert at.select_slider(key="cnn_lr").value == 0.03  # the link's, kept while the Train tab was closed
    at.session_state["cnn_tab"] = "Arithmetic"
    at.run()
    assert at.slider(key="cnn_k2").value == 6  # the session's value, kept while its tab was closed
    at.slider(key="cnn_k2").set_value(3).run()  # the default: it leaves the address once its tab closes
    at.session_state["cnn_tab"] = "Kernels"
    at.run()
    assert "cnn_k2" not in dict(at.query_params)
