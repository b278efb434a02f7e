"""ui.chart_component: plotly.js built for the plotly package's version with the pages' trace types, the figure sent
as plotly.io writes it, clicks read alike from every page, and no page drawing a chart any other way."""

from __future__ import annotations

import ast
import json

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.offline import get_plotlyjs_version
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, chart_figures
from ui.chart_component import PLOTLY_BUNDLES, STATIC, clicked_points, plotly_chart, plotly_js


def test_plotly_js_is_built_for_the_plotly_packages_version_with_the_pages_trace_types():
    """(tests/browser/test_charts.py checks in Chromium that these are the trace types each bundle registers)"""
    for bundle, traces in PLOTLY_BUNDLES.items():
        assert plotly_js(bundle) == f"plotly-gradscape-{bundle}-{get_plotlyjs_version()}.min.js"
        with open(STATIC / plotly_js(bundle), encoding="utf-8") as script:
            header = [next(script) for _ in range(2)]
        assert header[1] == f"* plotly.js v{get_plotlyjs_version()} (traces: {', '.join(traces)})\n"
    assert sorted(path.name for path in STATIC.iterdir() if path.suffix == ".js") == \
        sorted(plotly_js(bundle) for bundle in PLOTLY_BUNDLES)  # (old ones removed)


def test_a_figure_with_a_trace_type_outside_the_bundle_is_refused_not_drawn_blank():
    figure = go.Figure([go.Scatter(y=[1, 2]), go.Pie(values=[1, 2]), go.Violin(y=[1, 2])])
    with pytest.raises(ValueError, match=r"trace types \['pie', 'violin'\] are not in the charts' plotly.js"):
        plotly_chart(figure, key="refused", config={})


def test_the_page_gets_the_figure_as_plotly_writes_it():
    figure = go.Figure(go.Scatter(x=[0, 1, 2], y=[2.5, -1, 3], name="ρ line"), layout={"title": {"text": "a < b"}})
    at = AppTest.from_function(_one_chart, args=(figure.to_json(),), default_timeout=30).run()
    assert not at.exception
    (sent,) = chart_figures(at)
    assert sent == json.loads(pio.to_json(figure, validate=False))


def _one_chart(figure_json: str) -> None:
    import plotly.io as pio

    from ui.chart_component import plotly_chart

    plotly_chart(pio.from_json(figure_json), key="one", config={})


def test_clicked_points_reads_a_click_and_nothing_else():
    point = {"x": 1.5, "y": -2.0, "customdata": [3], "curve_number": 0, "point_number": 7, "point_index": 7}
    assert clicked_points({"selection": {"points": [point]}}) == [point]
    for nothing in (None, {}, {"selection": None}, {"selection": {"points": None}}, "selection"):
        assert clicked_points(nothing) == []


def test_no_page_draws_a_chart_other_than_in_place():
    """st.plotly_chart remade a chart at every change (ui/chart_component.py says why): every chart goes through
    ui.chart_component (Charts.show)."""
    modules = [ROOT / "app.py", *(path for folder in ("app_pages", "ui", "viz")
                                  for path in (ROOT / folder).rglob("*.py"))]
    found = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in modules
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Attribute) and node.attr == "plotly_chart"]
    assert found == []


def test_a_missing_plotly_js_is_said_on_the_page_and_the_page_still_runs(tmp_path, monkeypatch):
    """A plotly other than the pinned one has no bundles here: the app says what to do, not a bare error."""
    import ui.chart_component

    assert ui.chart_component.missing_plotly_js() is None
    monkeypatch.setattr(ui.chart_component, "STATIC", tmp_path)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    (error,) = at.error
    assert f"static/{plotly_js('2d')} is missing" in error.value and "scripts/build_plotly_js.sh" in error.value
    assert at.title[0].value == "Gradscape"  # (the home page ran below it)
