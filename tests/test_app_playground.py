"""The playground page driven through its controls (AppTest: no browser, no run_every)."""

import types

import pytest
import torch
from streamlit.testing.v1 import AppTest

from tests import conftest
from tests.conftest import metric
from ui.jobs import REGISTRY_KEY


def open_page(**query) -> AppTest:
    return conftest.open_page("playground", 60, **query)


def parameters_label(at: AppTest) -> str:
    return next(e.label for e in at.expander if e.label.startswith("Parameters"))


def test_page_opens_with_the_default_experiment():
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "Network Playground"
    assert at.selectbox(key="pg_data").value == "circle"
    assert metric(at, "Step") == "0"
    # default: 2 inputs -> 4 -> 2 -> 1 output: (2·4+4) + (4·2+2) + (2·1+1) = 25 parameters
    assert parameters_label(at) == "Parameters: 25 in total"


def test_the_sidebar_says_where_the_pages_model_trains_and_drops_it_on_a_page_without_one():
    """The line has its place in the sidebar from the run's start (holding the last run's words until the page
    sets them, so nothing under it moves as the page runs); a page that trains nothing leaves it empty."""
    at = AppTest.from_file(str(conftest.ROOT / "app.py"), default_timeout=60)
    at.switch_page("app_pages/playground.py").run()

    def where() -> list[str]:
        return [c.value for c in at.sidebar.caption if c.value.startswith("This page's model trains in")]

    assert where() == ["This page's model trains in **the web server's process**."]
    at.run()
    assert len(where()) == 1
    at.switch_page("app_pages/home.py").run()
    assert not at.exception and where() == []
    at.switch_page("app_pages/playground.py").run()
    assert len(where()) == 1


def test_step_and_epoch_buttons_train_and_show_the_new_step():
    at = open_page()
    at.button(key="pg_step").click().run()
    assert metric(at, "Step") == "1"
    at.button(key="pg_epoch").click().run()
    # 250 training points in batches of 10: one epoch is 25 steps
    assert metric(at, "Step") == "25"
    at.button(key="pg_reset").click().run()
    assert metric(at, "Step") == "0"


def test_architecture_controls_rebuild_the_network():
    at = open_page()
    at.slider(key="pg_layers").set_value(3).run()
    at.number_input(key="pg_w3").set_value(6).run()
    # 2->4->2->6->1: (2·4+4) + (4·2+2) + (2·6+6) + (6·1+1)
    assert parameters_label(at) == "Parameters: 47 in total"
    at.toggle(key="pg_bn").set_value(True).run()
    assert parameters_label(at) == f"Parameters: {47 + 2 * (4 + 2 + 6)} in total"
    assert not at.exception


def test_learning_rate_changes_live_without_a_reset():
    at = open_page()
    at.button(key="pg_epoch").click().run()
    at.select_slider(key="pg_lr").set_value(0.3).run()
    assert metric(at, "Step") == "25"  # still trained: no reset
    at.selectbox(key="pg_data").set_value("xor").run()
    assert metric(at, "Step") == "0"  # new data: a new network


def test_bad_combination_is_explained_and_the_old_network_kept():
    at = open_page()
    at.selectbox(key="pg_opt").set_value("perceptron").run()
    errors = " ".join(e.value for e in at.error)
    assert "hidden layers to 0" in errors and "previous one" in errors
    at.slider(key="pg_layers").set_value(0).run()
    assert not at.error
    assert parameters_label(at) == "Parameters: 3 in total"


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"\x00\x01garbage\x00", "binary"),
    (b"x1,x2,label\n1,2\n", "data rows"),
    (b"x1,x2,label\n" + b"1,2,zzz\n" * 20, "not three numbers"),
])
def test_bad_csv_upload_gets_a_message_and_changes_nothing(content, fragment):
    at = open_page()
    at.button(key="pg_epoch").click().run()
    at.file_uploader(key="pg_upload").upload("points.csv", content, "text/csv").run()
    assert any(fragment in e.value and "Nothing was changed" in e.value for e in at.error)
    assert at.selectbox(key="pg_data").value == "circle"
    assert metric(at, "Step") == "25"


def test_good_csv_upload_becomes_the_data_set():
    rows = "\n".join(f"{i % 9 - 4},{i % 7 - 3},{int(i % 9 > 4)}" for i in range(60))
    at = open_page()
    at.file_uploader(key="pg_upload").upload("points.csv", ("x1,x2,label\n" + rows).encode(), "text/csv").run()
    assert not at.error
    assert at.selectbox(key="pg_data").value == "csv"


def test_controls_are_read_from_the_url():
    at = open_page(pg_layers="3", pg_lr="0.1")
    assert at.slider(key="pg_layers").value == 3
    assert at.select_slider(key="pg_lr").value == 0.1


def test_the_l2_control_names_the_regularizer_the_optimizer_applies_and_old_links_keep_their_value():
    at = open_page(pg_opt="AdamW", pg_l2="0.01")  # a link made before the control had two names
    assert at.session_state[REGISTRY_KEY]["playground"].hp["l2"] == 0.01  # held in its folded panel
    assert "pg_l2" not in [w.key for w in at.select_slider] and dict(at.query_params)["pg_l2"] == "0.01"
    at.session_state["folded_pg_schedule"] = True  # the panel opened (its header clicked)
    at.run()
    control = at.select_slider(key="pg_l2")
    assert control.label == "Weight decay λ (decoupled)" and "η·λ·w" in control.help and control.value == 0.01
    assert at.session_state[REGISTRY_KEY]["playground"].hp["l2"] == 0.01
    at.selectbox(key="pg_opt").set_value("sgd").run()
    control = at.select_slider(key="pg_l2")
    assert control.label == "L2 rate λ" and "λ·Σw²" in control.help and control.value == 0.01


def test_dropout_states_both_conventions_once_it_is_on():
    assert not any("Bernoulli" in caption.value for caption in open_page().caption)
    captions = " ".join(caption.value for caption in open_page(pg_dropout="0.2").caption)
    assert "h̃ = m·h/(1 − p) while training" in captions and "h̃ = (1 − p)·h at test time" in captions
    assert "agree in expectation" in captions


def test_early_stopping_shows_the_gap_of_stopping_on_the_test_set():
    at = open_page(pg_patience="5")
    assert not any(m.label == "Optimistic gap" for m in at.metric)  # nothing watched yet
    at.button(key="pg_epoch").click().run()
    assert float(metric(at, "Optimistic gap")) == 0.0  # one epoch watched: both sets chose it
    caption = next(c.value for c in at.caption if c.value.startswith("Early stopping watches the validation loss"))
    assert "(250 points kept apart" in caption and "the same epoch" in caption
    assert not any(m.label == "Optimistic gap" for m in open_page().metric)  # early stopping off: not shown


def test_the_exported_script_trains_the_network_on_the_page_to_its_weights():
    """The Export panel's Python script, run for the steps the page took, ends on the weights the page shows."""
    at = open_page(pg_data="XOR", pg_opt="Adam", pg_lr="0.01", pg_act="ReLU")
    assert (at.session_state["pg_data"], at.session_state["pg_opt"], at.session_state["pg_act"]) == ("xor", "adam",
                                                                                                    "relu")
    at.button(key="pg_epoch").click().run()
    conftest.open_export_panel(at, "pg_")
    at.button(key="export_pg_prepare_script").click().run()
    assert not at.exception
    offer = at.session_state["_exports_pg_"].offer
    (name, text, _), = [item for kind, item in at.session_state["_exports_pg_"].prepared.items() if kind == "script"]
    assert name.endswith(".py") and offer.step == 25
    module = types.ModuleType("exported_from_the_page")
    exec(compile(text, name, "exec"), module.__dict__)  # noqa: S102 - the script the page just made
    model, _, losses = module.train(offer.step, report=lambda line: None)
    assert len(losses) == offer.step
    weights = model.state_dict()
    assert weights.keys() == offer.weights.keys()
    for key, value in offer.weights.items():
        torch.testing.assert_close(weights[key], value, rtol=0, atol=1e-6)
