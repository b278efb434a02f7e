"""Fork and rewind on the Playground page (AppTest): branch at a checkpoint, the controls drive the branch, the
original stays on the loss chart; rewind to the initial weights."""


from streamlit.testing.v1 import AppTest

from tests import conftest
from tests.conftest import metric
from tests.test_app_landscape import array
from ui.jobs import REGISTRY_KEY


def open_page() -> AppTest:
    return conftest.open_page("playground", 60)


def train_epochs(at: AppTest, epochs: int) -> None:
    for _ in range(epochs):
        at.button(key="pg_epoch").click().run()


def curves(at: AppTest) -> dict[str, list]:
    """The loss chart's traces: name -> steps."""
    figure = next(f for f in conftest.chart_figures(at) if any(t.get("name") == "train loss" for t in f["data"]))
    return {trace["name"]: array(trace["x"]) for trace in figure["data"]}


def test_branch_here_starts_a_second_run_that_the_controls_drive():
    at = open_page()
    train_epochs(at, 3)  # 75 steps: checkpoints at 0 and 50
    assert metric(at, "Step") == "75"
    assert at.select_slider(key="pg_fork_step").options == ["0", "50"]
    at.select_slider(key="pg_fork_step").set_value(50).run()
    at.button(key="pg_fork").click().run()
    assert not at.exception
    assert metric(at, "Step") == "50"  # the branch, from the checkpoint at step 50
    name = at.session_state["pg_branch"][0]
    at.select_slider(key="pg_lr").set_value(0.3).run()  # the controls set the branch, live
    registry = at.session_state[REGISTRY_KEY]
    assert registry[name].hp["lr"] == 0.3 and registry["playground"].hp["lr"] == 0.03
    at.button(key="pg_step").click().run()
    assert metric(at, "Step") == "51"
    traces = curves(at)  # the original's curves from the fork on, on the branch's chart
    assert min(traces["original: train loss"]) >= 50 and max(traces["original: train loss"]) == 75
    assert max(traces["minibatch loss"]) == 51
    at.button(key="pg_unfork").click().run()
    assert metric(at, "Step") == "75"  # back to the original, which the branch left alone
    assert "original: train loss" not in curves(at)

def test_a_new_seed_ends_the_branch():
    at = open_page()
    train_epochs(at, 2)
    at.button(key="pg_fork").click().run()
    assert "pg_branch" in at.session_state
    at.number_input(key="pg_seed").set_value(7).run()
    assert "pg_branch" not in at.session_state and metric(at, "Step") == "0"
    assert not at.exception


def test_rewind_goes_back_to_the_initial_weights():
    at = open_page()
    train_epochs(at, 2)
    assert metric(at, "Step") == "50"
    at.button(key="pg_rewind").click().run()
    assert metric(at, "Step") == "0"
    assert not at.exception


def fork_label(at: AppTest) -> str:
    return next(e.label for e in at.expander if e.label.startswith("Fork and rewind"))


def test_the_fork_label_counts_checkpoints_only_when_it_cannot_go_stale():
    """The label is drawn once per whole-page run while the job trains on: while it trains, no count; paused, the
    checkpoints it has."""
    at = open_page()
    train_epochs(at, 3)
    assert fork_label(at).startswith("Fork and rewind: 2 checkpoints, steps 0–50, every 50 steps, ")
    at.button(key="pg_play").click().run()
    try:
        assert fork_label(at) == ("Fork and rewind: checkpoints are kept as it trains (pause to fork from the "
                                  "newest)")
    finally:
        at.button(key="pg_pause").click().run()
    assert not at.exception

