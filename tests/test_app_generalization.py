"""The Generalization page driven through its controls (AppTest: no browser, no run_every)."""

from __future__ import annotations


from streamlit.testing.v1 import AppTest

from tests import conftest
from tests.conftest import metric


def open_page(**query) -> AppTest:
    return conftest.open_page("generalization", 90, **query)


def chart_titles(at: AppTest) -> list[str]:
    return [figure["layout"].get("title", {}).get("text", "") for figure in conftest.chart_figures(at)]


def number(text: str) -> float:
    return float(text.split("±")[0])


def test_the_decomposition_follows_the_degree():
    at = open_page()
    assert not at.exception and at.title[0].value == "Generalization"
    assert chart_titles(at) == ["100 refits of a polynomial, degree 3", "Where the test error comes from"]
    simple = {label: number(metric(at, label)) for label in ("bias²", "variance", "test error, measured")}
    at.slider(key="gl_degree").set_value(1).run()
    line = {label: number(metric(at, label)) for label in ("bias²", "variance")}
    assert line["bias²"] > 10 * simple["bias²"] and line["bias²"] > 5 * line["variance"]
    at.slider(key="gl_degree").set_value(12).run()
    wiggly = {label: number(metric(at, label)) for label in ("bias²", "variance", "test error, measured")}
    assert wiggly["variance"] > 10 * wiggly["bias²"] and wiggly["test error, measured"] > simple["test error, measured"]
    assert number(metric(at, "σ²")) == 0.09
    at.select_slider(key="gl_sigma").set_value(0.5).run()
    assert number(metric(at, "σ²")) == 0.25 and not at.exception


def test_the_sweep_and_the_regularization_views():
    at = open_page(gl_view="Complexity sweep", gl_family="Random ReLU features")
    assert not at.exception and chart_titles(at) == ["Error against model size (50 refits at each)"]
    assert any("interpolation threshold" in caption.value and "times N" in caption.value for caption in at.caption)
    at.select_slider(key="gl_alpha").set_value(0.001).run()
    sweep = conftest.chart_figures(at)[0]
    assert any(trace["name"] == "test error (median), ridge α = 0.001" for trace in sweep["data"])
    at = open_page(gl_view="Regularization", gl_degree="8")
    assert not at.exception and "Input noise becomes L2" in chart_titles(at)
    assert any("set ridge α above 0" in info.value for info in at.info)
    at.select_slider(key="gl_alpha").set_value(0.01).run()
    assert "L1 against L2: the same training error" in chart_titles(at) and not at.info


def test_the_mlp_trains_in_the_early_stopping_view():
    at = open_page(gl_view="Early stopping", gl_mlp_width="16")
    assert not at.exception and metric(at, "Step") == "0" and metric(at, "Test error") == "–"
    at.button(key="gl_mlp_step").click().run()
    assert metric(at, "Step") == "1" and float(metric(at, "Validation error")) > 0
    assert chart_titles(at) == ["The MLP's fit", "Errors while training"]
    at.select_slider(key="gl_lr").set_value(0.001).run()  # live: no reset
    assert metric(at, "Step") == "1" and not at.exception
