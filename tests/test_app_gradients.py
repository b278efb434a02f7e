"""The Gradient Flow page driven through its controls (AppTest: no browser, no run_every)."""

import json

from streamlit.testing.v1 import AppTest

from tests import conftest
from tests.conftest import metric
from ui.jobs import REGISTRY_KEY


def open_page(**query) -> AppTest:
    return conftest.open_page("gradients", 60, **query)


def chart_text(at: AppTest) -> str:
    """Every chart's figure as one JSON string."""
    return " ".join(json.dumps(figure, ensure_ascii=False) for figure in conftest.chart_figures(at))


def test_deep_mode_shows_init_probes_then_trains_a_step():
    at = open_page(gf_depth="6", gf_width="16")
    assert not at.exception
    assert at.title[0].value == "Gradient Flow"
    assert metric(at, "Step") == "0"
    subheaders = [s.value for s in at.subheader]
    assert any("at initialization" in s for s in subheaders)  # no training needed for the probes
    at.button(key="gf_deep_step").click().run()
    assert not at.exception
    assert metric(at, "Step") == "1"
    assert any(s == "While training" for s in [s.value for s in at.subheader])


def test_a_control_change_rebuilds_the_network():
    at = open_page(gf_depth="6", gf_width="16")
    at.button(key="gf_deep_step").click().run()
    assert metric(at, "Step") == "1"
    at.selectbox(key="gf_act").set_value("tanh").run()
    assert not at.exception
    assert metric(at, "Step") == "0"  # a new network
    assert "saturated: |tanh u|" in chart_text(at)
    at.slider(key="gf_depth").set_value(3).run()
    assert not at.exception and at.slider(key="gf_depth").value == 3


def test_through_time_mode_renders_and_trains():
    at = open_page(gf_mode="Through time", gf_T="10", gf_hidden="8")
    assert not at.exception
    assert "RNN (tanh) acc." in [m.label for m in at.metric]
    assert "Eigenvalues of W_hh" in chart_text(at) and "unit circle" in chart_text(at)
    at.slider(key="gf_rho").set_value(1.2).run()
    assert not at.exception
    assert "ρ = 1.2" in chart_text(at)
    at.button(key="gf_time_step").click().run()
    assert not at.exception
    assert metric(at, "Step") == "1"
    at.segmented_control(key="gf_ropt").set_value("sgd").run()
    assert not at.exception
    assert metric(at, "Step") == "0"  # another optimizer: four fresh networks


def test_layer_norm_offers_its_parameter_free_form_and_keeps_gamma_and_beta_by_default():
    at = open_page(gf_depth="4", gf_width="16")
    assert not [t for t in at.toggle if t.key == "gf_ln_affine"]  # only where layer norm is chosen
    at.button_group(key="gf_norm").set_value("layer").run()
    assert at.toggle(key="gf_ln_affine").value is True
    assert at.session_state[REGISTRY_KEY]["gradients_deep"].config.layer_norm_affine is True
    at.toggle(key="gf_ln_affine").set_value(False).run()
    assert not at.exception
    assert at.session_state[REGISTRY_KEY]["gradients_deep"].config.layer_norm_affine is False


def test_residual_blocks_offer_the_pre_activation_order_with_its_theory_line():
    at = open_page(gf_depth="4", gf_width="16")
    assert not [b for b in at.get("button_group") if b.key == "gf_res_order"]  # only with residual connections
    at.toggle(key="gf_res").set_value(True).run()
    assert at.button_group(key="gf_res_order").value == "post"  # as before the order was a choice
    at.button_group(key="gf_res_order").set_value("pre").run()
    assert not at.exception
    assert at.session_state[REGISTRY_KEY]["gradients_deep"].config.residual_order == "pre"
    assert "theory at init" in chart_text(at) and "no theory line" not in chart_text(at)
    assert any("pre-activation" in m.value and "doubles" in m.value for m in at.markdown)
