"""Links: every page's experiment round-trips through the URL; bad links get a notice, not a traceback."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.catalog import PAGES

WIDGET_KINDS = ("slider", "select_slider", "selectbox", "number_input", "toggle", "checkbox", "radio",
                "multiselect", "text_input", "text_area", "segmented_control", "pills")

# For each page, controls set away from their defaults: key -> (as written in a link, the widget's value).
CHANGES = {
    "lessons": {"lesson": ("2. XOR needs a hidden layer", 2)},
    "playground": {"pg_data": ("XOR", "xor"), "pg_lr": ("0.1", 0.1), "pg_seed": ("7", 7), "pg_layers": ("1", 1)},
    "optimizers": {"opt_fn": ("Rosenbrock", "rosenbrock"), "opt_steps": ("200", 200), "opt_x0": ("-1.2", -1.2)},
    "landscape": {"ls_seed": ("3", 3), "ls_res": ("31", 31)},
    "gradients": {"gf_seed": ("5", 5), "gf_depth": ("12", 12)},
    "attention": {"at_seed": ("5", 5), "at_len": ("6", 6)},
    "diffusion": {"df_seed": ("4", 4)},
    "cnn": {"cnn_seed": ("4", 4), "cnn_channels": ("8", 8), "cnn_kernel": ("5", 5)},
    "generative": {"gen_seed": ("4", 4), "gen_latent": ("4", 4), "gen_beta": ("4.0", 4.0)},
    "generalization": {"gl_seed": ("4", 4), "gl_degree": ("7", 7), "gl_sigma": ("0.5", 0.5)},
    "backprop": {"bp_seed": ("4", 4), "bp_layers": ("2", 2), "bp_lr": ("1.0", 1.0)},
    "words": {"wd_seed": ("4", 4), "wd_merges": ("200", 200), "wd_bpe_text": ("lower lowest", "lower lowest")},
}
SHARED_PAGES = [page for page in PAGES if page.key_prefix]


def open_page(page, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.switch_page(page.file)
    return at.run()


def widget(at: AppTest, key: str):
    for kind in WIDGET_KINDS:
        for element in at.get(kind):
            if getattr(element, "key", None) == key:
                return element
    raise KeyError(f"no widget with key {key!r}")


def controls(at: AppTest, prefix: str) -> dict:
    return {element.key: element.value for kind in WIDGET_KINDS for element in at.get(kind)
            if (element.key or "").startswith(prefix)}


def headline_numbers(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric if metric.label != "Steps/s"}


def press_step(at: AppTest) -> None:
    steps = [button for button in at.button if button.label == "Step"]
    if steps:
        steps[0].click().run()


def test_every_page_says_how_it_is_changed_for_the_round_trip():
    assert {page.url_path for page in SHARED_PAGES} <= set(CHANGES)


@pytest.mark.parametrize("page", SHARED_PAGES, ids=lambda page: page.url_path)
def test_a_link_opens_the_experiment_set_by_hand(page):
    """The link's values become the controls' values, and the experiment is the same one
    (same data, same seed: same numbers at step 0 and after one step). The browser test
    tests/browser/test_sharing.py checks the other half: controls -> the link the app writes."""
    by_hand = open_page(page)
    for key, (_, value) in CHANGES[page.url_path].items():  # one at a time, as a user does
        widget(by_hand, key).set_value(value).run()
        assert not by_hand.exception
    by_hand_numbers = [headline_numbers(by_hand)]
    press_step(by_hand)
    by_hand_numbers.append(headline_numbers(by_hand))
    st.cache_resource.clear()  # AppTest sessions share an id: release the first session's job

    by_link = open_page(page, {key: text for key, (text, _) in CHANGES[page.url_path].items()})
    assert not by_link.exception
    assert not by_link.warning, "every parameter of the link must be used"
    assert controls(by_link, page.key_prefix) == controls(by_hand, page.key_prefix)
    by_link_numbers = [headline_numbers(by_link)]
    press_step(by_link)
    by_link_numbers.append(headline_numbers(by_link))
    assert by_link_numbers == by_hand_numbers


# Options relabelled since links were made with them: (page, key, the old label, the option it meant).
OLD_LABELS = [("attention", "at_task", "Induction (continue a repeated segment)", "induction"),
              ("landscape", "ls_dirs", "PCA of the training trajectory", "pca"),
              ("optimizers", "opt_sched", "inverse sqrt", "inverse_sqrt")]


@pytest.mark.parametrize("url_path, key, old, option", OLD_LABELS, ids=[key for _, key, _, _ in OLD_LABELS])
def test_a_label_from_before_a_relabelling_opens_its_option_and_the_link_then_holds_todays(url_path, key, old, option):
    page = next(page for page in PAGES if page.url_path == url_path)
    label = page.spec.controls()[key.removeprefix(page.key_prefix)].label_of(option)
    at = open_page(page, {key: old})
    assert not at.exception
    assert not at.warning, "the old label is used, so the link gets no notice"
    assert at.session_state[key] == option
    at.session_state["share_panel"] = True
    assert urlencode({key: label}) in at.run().sidebar.code[0].value  # the link to share has today's label


HOSTILE = {
    "pg_lr": "not-a-number",
    "pg_points": "1e308",
    "pg_seed": "-5",
    "pg_data": "<script>alert(1)</script>",
    "no_such_control": "<img src=x onerror=alert(1)>",
    "hide": "pg_noise,}body{display:none",
}


def test_a_hostile_link_gets_defaults_and_a_notice_never_a_traceback():
    page = next(page for page in PAGES if page.url_path == "playground")
    at = open_page(page, HOSTILE)
    assert not at.exception
    defaults = open_page(page)
    for key in ("pg_lr", "pg_points", "pg_seed", "pg_data"):
        assert at.session_state[key] == defaults.session_state[key]
    notice = at.warning[0].value
    for key in ("pg_lr", "pg_points", "pg_seed", "pg_data", "no_such_control"):
        assert key in notice
    # User text is shown inside inline code only, so Markdown/HTML in it is never rendered.
    assert "`no_such_control=<img src=x onerror=alert…`" in notice  # long values are cut short
    assert not at.sidebar.code  # the link is drawn once the Share panel is opened
    at.session_state["share_panel"] = True
    link = at.run().sidebar.code[0].value
    assert "no_such_control" not in link and "pg_lr" not in link
    assert at.session_state["_hide_playground"] == ["pg_noise"]  # the CSS-breaking name is dropped


def test_presentation_mode_and_hidden_controls_come_from_the_link():
    page = next(page for page in PAGES if page.url_path == "playground")
    at = open_page(page, {"present": "true", "hide": "pg_noise,pg_seed"})
    assert not at.exception
    assert at.session_state["present"] is True
    css = "".join(element.proto.body for element in at.get("html"))
    assert "html {font-size: clamp(" in css and "zoom" not in css  # laid out for the screen, not zoomed after
    assert ".st-key-pg_boundary_screen" in css  # the main chart fills the screen below the numbers
    assert ".st-key-pg_noise {display: none !important}" in css
    assert ".st-key-pg_seed {display: none !important}" in css
    plain = open_page(page)
    plain_css = "".join(element.proto.body for element in plain.get("html"))
    assert "html {font-size" not in plain_css and "_screen" not in plain_css
