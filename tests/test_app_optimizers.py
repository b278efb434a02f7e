"""The optimizer trajectories page driven through its controls (AppTest, no browser)."""

import pytest
from streamlit.testing.v1 import AppTest

from engine.optimizers.surfaces import FIXED_SURFACES, quadratic
from engine.optimizers.table import RACE_OPTIMIZERS
from tests import conftest


def open_page(**query) -> AppTest:
    return conftest.open_page("optimizers", 120, **query)


def summary(at: AppTest):
    return conftest.markdown_tables(at)[-1].set_index("optimizer")


THEORY = {"opt_tab": "Step-size theory"}  # the tab that shows the regimes (tabs are built only when open)


def regimes(at: AppTest):
    return next(d.value for d in at.dataframe if "regime" in d.value.columns)


def test_page_opens_with_four_optimizers_on_the_quadratic():
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "Optimizer trajectories"
    assert at.selectbox(key="opt_fn").value == "quadratic"
    table = summary(at)
    assert list(table.index) == ["GD", "Momentum", "Adam", "Newton"]
    assert table.loc["Newton", "outcome"] == "within 0.001 of the target at step 1"
    assert table.loc["GD", "hyperparameters"] == "η=1.6"
    assert (at.number_input(key="opt_x0").value, at.number_input(key="opt_y0").value) == quadratic().start


def test_momentum_and_nesterov_show_torchs_rule_beside_the_course_notes():
    at = open_page(opt_opts=["GD", "Nesterov"])
    notes = [c.value for c in at.caption if "Course note 002" in c.value]
    assert len(notes) == 1 and notes[0].startswith("**Nesterov**") and r"w - \alpha\beta m" in notes[0]
    at.multiselect(key="opt_opts").set_value(["gd", "momentum", "nesterov"]).run()
    notes = [c.value for c in at.caption if "Course note 002" in c.value]
    assert [n.split("**")[1] for n in notes] == ["Momentum", "Nesterov"] and r"1/(1-\mu)" in notes[0]
    assert not at.exception


def test_gd_regimes_follow_the_learning_rate_typed_in():
    at = open_page(**THEORY)
    # λmax = 1: η = 1 is η_opt, 2.1 is beyond 2η_opt
    at.number_input(key="opt_gd_lr").set_value(1.0).run()
    assert list(regimes(at)["regime"]) == ["one step", "monotone"]
    at.number_input(key="opt_gd_lr").set_value(2.1).run()
    assert list(regimes(at)["regime"]) == ["diverging", "monotone"]
    table = summary(at)
    assert table.loc["GD", "outcome"].startswith("diverged: left the region at step")
    assert table.loc["GD", "hyperparameters"] == "η=2.1"
    assert not at.exception


def test_condition_number_changes_the_slow_direction():
    at = open_page(**THEORY)
    at.slider(key="opt_kappa").set_value(40.0).run()
    rows = regimes(at)
    assert rows["λ"].tolist() == pytest.approx([1.0, 1 / 40])
    assert rows["η_opt = 1/λ"].tolist() == pytest.approx([1.0, 40.0])


def test_switching_function_resets_start_and_learning_rates_to_its_defaults():
    at = open_page()
    at.number_input(key="opt_gd_lr").set_value(0.5).run()
    at.selectbox(key="opt_fn").set_value("rosenbrock").run()
    rosen = FIXED_SURFACES["rosenbrock"]
    assert (at.number_input(key="opt_x0").value, at.number_input(key="opt_y0").value) == rosen.start
    assert at.number_input(key="opt_gd_lr").value == rosen.gd_lr
    assert not any(s.key == "opt_kappa" for s in at.slider)  # the quadratic's own controls are gone
    assert summary(at).loc["Newton", "outcome"].startswith("within 0.001")
    assert not at.exception


def test_url_sets_the_experiment():
    at = open_page(opt_fn="Saddle", opt_opts=["GD", "Newton"], opt_steps="100")
    assert at.selectbox(key="opt_fn").value == "saddle"
    table = summary(at)
    assert list(table.index) == ["GD", "Newton"]
    assert table.loc["GD", "outcome"].startswith("diverged")  # escapes the saddle: leaves the plot
    assert float(table.loc["Newton", "final distance"]) == 0.0  # Newton jumps onto the saddle point
    assert table.loc["Newton", "steps"] == "100"


def test_schedule_and_clipping_controls_show_in_the_settings_table():
    at = open_page()
    at.selectbox(key="opt_sched").set_value("step").run()
    at.slider(key="opt_step_gamma").set_value(0.25).run()
    at.slider(key="opt_step_every").set_value(20).run()
    at.selectbox(key="opt_clip").set_value("norm").run()
    at.number_input(key="opt_clip_at").set_value(0.5).run()
    table = summary(at)
    assert set(table["lr schedule"]) == {"η·0.25^⌊k/20⌋"}
    assert set(table["clipping"]) == {"‖g‖ ≤ 0.5"}
    assert not at.exception


def test_power_schedule_exponent_is_a_control_that_defaults_to_the_inverse_square_root():
    at = open_page()
    at.selectbox(key="opt_sched").set_value("inverse_sqrt").run()
    assert at.slider(key="opt_power_c").value == 0.5
    assert set(summary(at)["lr schedule"]) == {"η/√(1+k)"}
    at.slider(key="opt_power_c").set_value(1.0).run()
    assert set(summary(at)["lr schedule"]) == {"η/(1+k)^1"}
    assert not at.exception


def test_every_optimizer_at_once_with_noise_and_a_seed():
    at = open_page()
    at.multiselect(key="opt_opts").set_value(list(RACE_OPTIMIZERS)).run()
    assert not at.exception
    assert list(summary(at).index) == [info.label for info in RACE_OPTIMIZERS.values()]
    first = summary(at).loc["Noisy SGD", "final f"]
    at.number_input(key="opt_seed").set_value(3).run()
    assert summary(at).loc["Noisy SGD", "final f"] != first  # other noise, other path


def test_no_optimizer_selected_says_so():
    at = open_page()
    at.multiselect(key="opt_opts").set_value([]).run()
    assert not at.exception
    assert any("Pick at least one optimizer" in i.value for i in at.info)
