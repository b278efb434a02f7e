"""The Attention page driven through its controls (AppTest: no browser, no run_every)."""

import time

from streamlit.testing.v1 import AppTest

from engine.attention.config import ATTENTION_PRESETS
from engine.attention.labels import TASK_LABELS
from tests import conftest
from tests.conftest import metric


def open_page(**query) -> AppTest:
    return conftest.open_page("attention", 60, **query)


def run_until_step(at: AppTest, step: str, timeout_s: float = 60) -> None:
    """Rerun until the step counter shows `step`: the Epoch button waits at most 2 s for the
    trainer, and a loaded machine can take longer than that for 64 steps."""
    deadline = time.monotonic() + timeout_s
    while metric(at, "Step") != step and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()


def test_page_opens_and_step_and_epoch_train():
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "Attention"
    assert metric(at, "Step") == "0"
    at.button(key="at_step").click().run()
    assert metric(at, "Step") == "1"
    at.select_slider(key="at_speed").set_value("max").run()
    at.button(key="at_epoch").click().run()
    # 4,096 training examples in batches of 64: one epoch is 64 steps
    run_until_step(at, "64")
    assert metric(at, "Step") == "64"
    assert not at.exception


def test_typed_sequences_good_and_bad():
    at = open_page()
    at.text_input(key="at_query").set_value("1 2 3 4 5 6 7 8").run()
    assert not at.exception
    assert not at.error
    assert any("prediction" in m.value and "expected `8 7 6 5 4 3 2 1`" in m.value for m in at.markdown)
    at.text_input(key="at_query").set_value("1 2 x").run()
    assert not at.exception
    assert any("whole numbers" in e.value for e in at.error)
    at.text_input(key="at_query").set_value("1 2 3").run()
    assert any("exactly 8 tokens" in e.value for e in at.error)


def test_controls_rebuild_and_invalid_combination_keeps_the_model():
    at = open_page()
    at.button(key="at_step").click().run()
    at.select_slider(key="at_heads").set_value(2).run()
    assert metric(at, "Step") == "0"  # a new model
    assert not at.exception and not at.error
    at.select_slider(key="at_width").set_value(16).run()
    at.select_slider(key="at_heads").set_value(8).run()  # 16 / 8 = 2 per head: fine
    assert not at.error
    at.slider(key="at_len").set_value(30).run()  # reversal allows at most 16
    assert any("sequence length must be between 2 and 16" in e.value for e in at.error)
    assert not at.exception
    at.selectbox(key="at_family").set_value("rnn_multiplicative").run()
    assert not at.exception


def test_preset_fills_the_controls():
    at = open_page()
    assert at.selectbox(key="at_preset").value == "reverse"  # the controls' defaults are its setting
    at.selectbox(key="at_preset").set_value("induction").run()
    assert at.selectbox(key="at_task").value == "induction"
    assert at.slider(key="at_layers").value == 2
    assert at.toggle(key="at_causal").value is True
    assert at.selectbox(key="at_preset").value == "induction"
    at.slider(key="at_vocab").set_value(20).run()  # no preset has this: the box says so
    assert at.selectbox(key="at_preset").value == "custom"
    at.selectbox(key="at_preset").set_value("copy").run()
    assert at.selectbox(key="at_task").value == "copy"
    assert at.slider(key="at_vocab").value == ATTENTION_PRESETS["copy"].vocab_size
    assert not at.exception and not at.error


def test_the_preset_box_agrees_with_the_controls_a_link_sets():
    only_task = open_page(at_task=TASK_LABELS["induction"])  # induction, on reversal's model and sizes
    assert only_task.selectbox(key="at_task").value == "induction"
    assert only_task.selectbox(key="at_preset").value == "custom"
    config = ATTENTION_PRESETS["induction"]  # every value of the induction preset, written as a link writes it
    link = {"at_task": TASK_LABELS["induction"], "at_vocab": str(config.vocab_size), "at_len": str(config.seq_len),
            "at_train": str(config.train_size), "at_layers": str(config.n_layers), "at_heads": str(config.n_heads),
            "at_width": str(config.d_model), "at_causal": "true", "at_attn_only": "true"}
    at = open_page(**link)
    assert at.slider(key="at_layers").value == config.n_layers and at.toggle(key="at_attn_only").value is True
    assert at.selectbox(key="at_preset").value == "induction"
    assert not at.exception


def chart_titles(at: AppTest) -> list[str]:
    titles = []
    for figure in conftest.chart_figures(at):
        layout = figure.get("layout", {})
        title = layout.get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return titles


def timeline_step(at: AppTest) -> int:
    title = next(t for t in chart_titles(at) if t.startswith("Attention at step "))
    return int(title.removeprefix("Attention at step ").split(" ")[0].replace(",", ""))


def test_the_timeline_scrubber_goes_back_to_the_start_of_training():
    at = open_page(at_tab="Training timeline")  # tabs are lazy: only the open one draws its charts
    at.select_slider(key="at_speed").set_value("max").run()
    at.button(key="at_epoch").click().run()
    run_until_step(at, "64")
    assert 50 <= timeline_step(at) <= 64  # the latest recorded snapshot (one every few steps)
    at.slider(key="at_scrub").set_value(0).run()
    assert not at.exception
    assert timeline_step(at) == 0
    at.slider(key="at_scrub").set_value(50).run()
    assert 0 < timeline_step(at) < 50


def test_the_report_holds_the_charts_of_the_tabs_not_open():
    at = open_page()  # the Model view tab open: the others' charts are built only for the export
    at.button(key="at_step").click().run()
    slot = at.session_state["_exports_at_"]
    for chart in ("attention-reverse", "attention-lines-", "attention-timeline-", "attention-curves-", "positional-"):
        assert any(name.startswith(chart) for name in slot.offer.figures), chart
    assert len(conftest.chart_figures(at)) == 1  # only the open tab's chart was sent
    conftest.open_export_panel(at, "at_")
    at.button(key="export_at_prepare_report").click().run()
    assert not at.exception
    report = next(data for name, data, _ in slot.prepared.values() if name.endswith("-report.html"))
    assert report.decode().count("Plotly.newPlot(") == len(slot.offer.figures) >= 5
    assert "Loss, accuracy and attention pattern" in report.decode()  # the Curves tab's chart, built for the report
