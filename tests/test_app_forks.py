"""Fork and rewind on every training page besides the Playground's (tests/test_app_playground_fork.py): the
branch takes the controls, its curves chart shows the original run's from the fork on, ending it gives the
original back untouched; Rewind goes back to step 0. The engine's side (exact losses): test_engine_checkpoints."""


import pytest

from tests import conftest
from tests.conftest import metric
from ui.jobs import REGISTRY_KEY

# page (and its link's query), the controls' key prefix, a learning rate's control, its
# hyperparameter and a new value for it, the curves chart's key and the original's trace it must show
PAGES = {
    "gradient flow": ("gradients", {}, "gf_deep", "gf_lr", "lr", 0.1, "gf_loss", "original: loss"),
    "gradient flow, through time": ("gradients", {"gf_mode": "Through time", "gf_T": "10", "gf_hidden": "8"},
                                    "gf_time", "gf_rlr", "lr", 0.1, "gf_accuracy", "original: LSTM"),
    "cnn": ("cnn", {}, "cnn", "cnn_lr", "lr", 0.01, "cnn_fig_curves", "original: CNN"),
    "vae": ("generative", {"gen_view": "Training"}, "gen_vae", "gen_vae_lr", "lr", 0.001, "gen_fig_elbo",
            "original: −ELBO (held out)"),
    "gan": ("generative", {"gen_model": "GAN"}, "gen_gan", "gen_lr_g", "lr_g", 0.003, "gen_fig_losses",
            "original: G's loss"),
    "word vectors": ("words", {"wd_part": "Word vectors", "wd_view": "Training"}, "wd_vectors", "wd_vectors_lr", "lr",
                     0.1, "wd_fig_loss", "original: loss per pair"),
    "character model": ("words", {"wd_part": "Character model"}, "wd_chars", "wd_char_lr", "lr", 0.01, "wd_fig_bpc",
                        "original: training batches"),
    "generalization": ("generalization", {"gl_view": "Early stopping", "gl_mlp_width": "16"}, "gl_mlp", "gl_lr", "lr",
                       0.03, "gl_fig_mlp_errors", "original: training"),
    "attention": ("attention", {"at_tab": "Curves"}, "at", "at_lr", "lr", 0.01, "at_curves",
                  "original: training loss"),
}


def chart(at, key: str) -> dict:
    return conftest.chart_figure(at, key)


@pytest.mark.parametrize("case", PAGES)
def test_a_branch_takes_the_controls_and_its_chart_shows_the_original_run(case):
    page, query, key, lr_key, lr, new_lr, chart_key, original_trace = PAGES[case]
    at = conftest.open_page(page, 60, **query)
    for _ in range(3):
        at.button(key=f"{key}_step").click().run()
    assert metric(at, "Step") == "3"
    at.button(key=f"{key}_fork").click().run()  # at step 0, the only checkpoint yet
    assert not at.exception and metric(at, "Step") == "0"
    branch, original = at.session_state[f"{key}_branch"][0], at.session_state[f"{key}_branch"][-1]
    old_lr = at.session_state[lr_key]
    at.select_slider(key=lr_key).set_value(new_lr).run()
    registry = at.session_state[REGISTRY_KEY]
    assert registry[branch].hp[lr] == new_lr and registry[original].hp[lr] == old_lr
    at.button(key=f"{key}_step").click().run()
    assert metric(at, "Step") == "1"
    names = [trace["name"] for trace in chart(at, chart_key)["data"]]
    assert original_trace in names
    at.button(key=f"{key}_rewind").click().run()  # the branch, back to its initial weights
    assert metric(at, "Step") == "0"
    at.button(key=f"{key}_unfork").click().run()
    assert metric(at, "Step") == "3" and not at.exception  # the original, as it was left
    assert original_trace not in [trace["name"] for trace in chart(at, chart_key)["data"]]
