"""The Diffusion page driven through its controls (AppTest: no browser, no run_every)."""

import time

from streamlit.testing.v1 import AppTest

from engine.diffusion.data import DATASET_LABELS
from tests import conftest
from tests.conftest import metric
from ui.jobs import REGISTRY_KEY


def open_page(**query) -> AppTest:
    return conftest.open_page("diffusion", 90, **query)


def run_until(at: AppTest, done, timeout: float = 90.0) -> AppTest:
    """Rerun until `done(at)`: measurements finish in the job's thread after a Step returns."""
    deadline = time.monotonic() + timeout
    while not done(at) and time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
    return at


def test_points_page_opens_steps_and_shows_samples_and_the_reverse_process():
    at = open_page(df_schedule="cosine", df_T="200", df_steps="20", df_points="2000")
    assert not at.exception
    assert at.title[0].value == "Diffusion"
    assert metric(at, "Step") == "0"
    assert not at.warning  # the cosine schedule ends at ᾱ_T = 0
    at.button(key="df_step").click().run()
    assert not at.exception
    assert metric(at, "Step") == "1"
    run_until(at, lambda a: metric(a, "MMD² (norm.)") != "–")
    assert float(metric(at, "MMD² (norm.)")) > 0.3  # one step from random weights is far from the data
    assert not at.exception


def test_digits_page_opens_and_a_step_draws_digits():
    # A selectbox bound to the URL keeps the option's label there.
    at = open_page(df_data=DATASET_LABELS["digits"], df_T="100", df_steps="10", df_width="64", df_depth="1")
    assert not at.exception
    assert metric(at, "Step") == "0"
    at.button(key="df_step").click().run()
    assert metric(at, "Step") == "1"
    run_until(at, lambda a: metric(a, "Judge on samples") != "–")
    assert 0.0 < float(metric(at, "Judge on samples")) <= 1.0
    assert 0.8 < float(metric(at, "Judge on real digits")) <= 1.0
    assert not at.exception


def test_tiny_diffusions_schedule_warns_and_controls_take_effect():
    at = open_page(df_T="50", df_points="1000")
    assert not at.exception
    assert any("far from 0" in w.value and "β_max" in w.value for w in at.warning)
    at.button(key="df_step").click().run()
    at.select_slider(key="df_bmax").set_value(0.35).run()  # a rebuild: the warning goes and training restarts
    assert not any("far from 0" in w.value for w in at.warning)
    run_until(at, lambda a: metric(a, "Step") == "0")  # the rebuild may wait for the last step's measurement
    assert metric(at, "Step") == "0"
    at.radio(key="df_schedule").set_value("cosine").run()
    assert at.select_slider(key="df_bmax").disabled and not at.warning
    at.selectbox(key="df_data").set_value("word").run()
    at.text_input(key="df_word").set_value("   ").run()
    assert any("type a word" in e.value for e in at.error)
    assert not at.exception


def test_a_shorter_chain_shows_its_last_timestep_instead_of_failing():
    """The forward process shows t = 900 of T = 1000; T = 200 then shows t = 200 (the slider once refused it)."""
    at = open_page(df_tab="Forward process and schedule", df_t="900")
    assert at.slider(key="df_t").value == 900
    at.number_input(key="df_T").set_value(200).run()
    assert not at.exception
    assert at.slider(key="df_t").value == 200 and at.slider(key="df_t").max == 200


def test_the_schedule_tab_keys_this_pages_letters_to_course_note_002s():
    at = open_page(df_tab="Forward process and schedule", df_T="100")
    key = next(m.value for m in at.markdown if m.value.startswith("**Notation.**"))
    assert all(line.count("|") == 4 for line in key.splitlines()[2:])  # three cells a row, none split by a "|"
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in key.splitlines()[3:]}
    assert rows[r"$\bar\alpha_t = \alpha_1 \cdots \alpha_t$"] == r"$\alpha_t$"
    assert next(there for here, there in rows.items() if here.startswith(r"$\tilde\beta_t")) == r"$\sigma_t^2$"
    assert not at.exception


def test_the_timestep_stays_within_a_chain_whose_length_changes_twice():
    """T 1000 -> 500 keeps t = 250; t moved to 125, then T -> 200 keeps 125. (The slider Streamlit makes for new
    bounds came back with the 250 kept from before the first change, above its maximum, and the page failed.)"""
    at = open_page(df_tab="Forward process and schedule")
    at.number_input(key="df_T").set_value(500).run()
    assert at.slider(key="df_t").value == 250
    at.slider(key="df_t").set_value(125).run()
    at.number_input(key="df_T").set_value(200).run()
    assert not at.exception
    assert at.slider(key="df_t").value == 125 and at.slider(key="df_t").max == 200


def test_a_new_data_set_keeps_the_schedule_figure_a_new_T_redraws_it():
    at = open_page(df_tab="Forward process and schedule", df_T="100")
    drawn = at.session_state["_remembered"]["df_schedule"][1]
    at.selectbox(key="df_data").set_value("circles").run()  # a new experiment, the same schedule
    assert at.session_state["_remembered"]["df_schedule"][1] is drawn
    at.number_input(key="df_T").set_value(200).run()
    assert at.session_state["_remembered"]["df_schedule"][1] is not drawn
    assert not at.exception


def test_choosing_digits_fills_in_the_tuned_network():
    at = open_page(df_T="100")
    at.selectbox(key="df_data").set_value("digits").run()
    assert at.select_slider(key="df_width").value == 256
    assert at.select_slider(key="df_lr").value == 0.002
    assert not at.exception


def test_exports_of_a_measured_step_read_back():
    import io

    import torch
    from PIL import Image

    from engine.common.export import load_weights
    from engine.diffusion.trainer import DiffusionTrainer

    at = open_page(df_schedule="cosine", df_T="100", df_steps="10", df_points="1000")
    at.button(key="df_step").click().run()
    run_until(at, lambda a: metric(a, "MMD² (norm.)") != "–")
    slot = at.session_state["_exports_df_"]
    conftest.open_export_panel(at, "df_")
    for kind in ("report", "history", "weights", "animation"):
        at.button(key=f"export_df_prepare_{kind}").click().run()
        assert not at.exception, kind
    files = {name: data for name, data, _ in slot.prepared.values()}
    stem = "diffusion-moons-cosine-T100-step1"
    assert files[f"{stem}-report.html"].decode().count("Plotly.newPlot(") == len(slot.offer.figures) >= 5
    gif = Image.open(io.BytesIO(files[f"{stem}-replay.gif"]))
    assert gif.n_frames == 11  # DDIM's 10 stops from x_T, then t = 0
    config = at.session_state[REGISTRY_KEY]["diffusion"].config
    network = DiffusionTrainer(config).ema_network
    network.load_state_dict(load_weights(files[f"{stem}-weights.pt"]), strict=True)
    x, t = torch.zeros(3, 2), torch.tensor([1, 50, 100])
    expected = DiffusionTrainer(config).ema_network
    expected.load_state_dict(slot.offer.weights)
    assert torch.equal(network(x, t), expected(x, t))
