"""Links made before experiments became specs (issue 14) open the same experiment after it.

tests/data/links.json holds real links, recorded before that change by the commit that added this file (every
lesson link, and links typed by hand for every page with the label values the widgets wrote then, such as
`pg_data=1-D: sin x`,
`gf_init=Xavier/Glorot normal`, `at_task=Induction (continue a repeated segment)`), each with what it opened:
the page's settings, each job's engine configuration, hyperparameters and seed, and the notice a bad value got.
Each link is opened again with AppTest and must open the same. `python -m tests.test_links_kept` records the
file's missing links (a new page's or lesson's); the links recorded before are kept as they are.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.recorded_links import DATA, plain, recorded
from ui.catalog import PAGES
from ui.jobs import REGISTRY_KEY
from ui.lessons import LESSONS

TYPED_LINKS = [
    "playground?pg_data=1-D: sin x&pg_layers=1&pg_w1=12&pg_act=ReLU&pg_opt=Adam&pg_lr=0.01",
    "playground?pg_data=Spiral&pg_layers=3&pg_w3=5&pg_a2=Tanh&pg_features=x₁&pg_features=x₂&pg_features=x₁·x₂"
    "&pg_batch=32&pg_l2=0.001&pg_seed=7",
    "playground?pg_data=Multiclass blobs&pg_classes=4&pg_opt=SGD %2B momentum&pg_momentum=0.8&pg_bn=true",
    "playground?pg_lr=banana&pg_points=99999&pg_nonsense=1",  # refused values and an unknown key: the notice
    "optimizers?opt_fn=Rosenbrock&opt_opts=GD&opt_opts=Adam&opt_gd_lr=0.0005&opt_steps=300",
    "optimizers?opt_kappa=50&opt_angle=30&opt_sched=step decay&opt_step_gamma=0.25&opt_clip=by norm",
    "landscape?ls_dirs=PCA of the training path&ls_view=3-D surface&ls_res=31&ls_log=true",
    "landscape?ls_preset=banana&ls_k=5&ls_method=Power iteration",
    "gradients?gf_init=Xavier/Glorot normal&gf_act=Tanh&gf_depth=30&gf_norm=Batch norm",
    "gradients?gf_mode=Through time&gf_T=80&gf_rho=1.2",
    "attention?at_task=Induction (continue a repeated segment)&at_layers=2&at_heads=2&at_len=16",
    "attention?at_task=Sort the sequence&at_family=RNN %2B multiplicative attention (Luong)",
    "diffusion?df_data=Swiss roll&df_schedule=cosine&df_T=200",
    "diffusion?df_data=Handwritten digits (8x8)&df_seed=3",
    # Pages added after the specs: recorded when they were added, so that later changes keep their links too.
    "cnn?cnn_data=Shapes (16×16, anywhere)&cnn_layers=3&cnn_pool=Average 2×2&cnn_eps=4.0&cnn_view=Shift",
    "cnn?cnn_tab=Arithmetic&cnn_n=28&cnn_depth=2&cnn_kind2=max pool&cnn_k2=2&cnn_s2=2&cnn_row=3&cnn_col=4",
    "generative?gen_vae_data=Two moons&gen_latent=4&gen_beta=4.0&gen_reparam=false&gen_view=Training",
    "generative?gen_model=GAN&gen_gan_data=5×5 grid of Gaussians&gen_loss=Least squares&gen_d_steps=2"
    "&gen_smooth=0.1&gen_show=Modes",
    "generalization?gl_view=Complexity sweep&gl_family=Random ReLU features&gl_width=150&gl_alpha=0.0001&gl_n=30",
    "generalization?gl_view=Early stopping&gl_function=A step&gl_sigma=0.5&gl_validation=20&gl_patience=300 steps",
    "backprop?bp_data=Playground: moons&bp_noise=0.1&bp_layers=2&bp_width=3&bp_act=Tanh&bp_example=7&bp_lr=1.0",
    "backprop?bp_data=OR (4 points)&bp_layers=0&bp_weights=10, 10, -5&bp_stage=2",
    "words?wd_bpe_from=The text below&wd_bpe_text=low lower lowest newer newest wider&wd_merges=20&wd_step=5",
    "words?wd_part=Word vectors&wd_dimensions=20&wd_window=2&wd_subsample=off&wd_relation=country – capital"
    "&wd_a=paris&wd_b=france&wd_c=italy&wd_view=Training",
    "words?wd_part=Character model&wd_cell=GRU&wd_hidden=64&wd_bptt=16&wd_clip=Off&wd_temperature=1.2"
    "&wd_prefix=JULIET:",
]


def lesson_links() -> list[str]:
    return [preset.url for lesson in LESSONS for preset in lesson.presets]


def opened(link: str) -> dict:
    """What the link opens in a fresh session: the page's settings, its jobs' experiments, the notice."""
    path, _, query = link.partition("?")
    info = next(page for page in PAGES if page.url_path == urlsplit(path).path)
    st.cache_resource.clear()  # AppTest runs share a session id: a job left by the last run would be reused
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in parse_qsl(query, keep_blank_values=True):
        previous = at.query_params.get(key)
        at.query_params[key] = value if previous is None else [*np.atleast_1d(previous).tolist(), value]
    at.switch_page(info.file).run()
    assert not at.exception, (link, at.exception)
    keys = [key for key in at.session_state if isinstance(key, str)]
    settings = {key: at.session_state[key] for key in keys
                if key.startswith(info.key_prefix) and not key.startswith("_")}
    registry = at.session_state[REGISTRY_KEY] if REGISTRY_KEY in at.session_state else {}
    jobs = {name: {"config": applied.config, "seed": applied.seed, "hp": applied.hp}
            for name, applied in registry.items()}
    notices = sorted(w.value for w in at.warning if "settings in the link" in w.value)
    # A closed tab's controls are held, not drawn (ui.controls): no widget value, but the address holds theirs
    address = {key: np.atleast_1d(at.query_params[key]).tolist() for key in at.query_params}
    return plain({"settings": settings, "jobs": jobs, "notices": notices, "held": held_settings(info.spec, address)})


def held_settings(spec_type, address: dict) -> dict:
    """Every control's value as the address after the run gives it (a value left out is the default)."""
    spec, refused = spec_type.from_query(address)
    assert not refused, refused  # the page leaves only usable values in the address
    return {spec_type.PREFIX + name: value for name, value in spec.to_dict().items()}


# Jobs renamed when their page got one name (issue 14); what each one runs is unchanged.
RENAMED_JOBS = {"gradient_flow_deep": "gradients_deep", "gradient_flow_time": "gradients_time"}
# Live settings a job got after the links were recorded, which the record cannot hold: they follow the view open
# (the CNN measures its shift view only while that view is shown), not the experiment.
ADDED_HYPERPARAMETERS = {"cnn": {"shift_view"}}


def recorded_as_named_now(link: str) -> dict:
    before = recorded()[link]
    return {**before, "jobs": {RENAMED_JOBS.get(name, name): job for name, job in before["jobs"].items()}}


def controls_only(record: dict, page) -> dict:
    """What a link opened, its settings narrowed to the page's controls: what else the page keeps in the session
    under its prefix (buttons, a chart's selection, the open tab) is no part of the experiment; nor are the live
    settings added since the record."""
    jobs = {name: {**job, "hp": {k: v for k, v in job["hp"].items() if k not in ADDED_HYPERPARAMETERS.get(name, ())}}
            for name, job in record["jobs"].items()}
    return {**record, "settings": {k: v for k, v in record["settings"].items() if k in page.spec.keys()},
            "jobs": jobs}


@pytest.mark.parametrize("link", list(recorded()), ids=lambda link: link[:60])
def test_a_link_recorded_before_the_specs_opens_the_same_experiment(link):
    page = next(page for page in PAGES if page.url_path == urlsplit(link).path)
    now, before = opened(link), recorded_as_named_now(link)
    held = now.pop("held")  # the recorded settings were all drawn then: those held now are read from the address
    now["settings"] = {**{key: held[key] for key in before["settings"] if key in held}, **now["settings"]}
    assert controls_only(now, page) == controls_only(before, page)


def experiment_of(link: str) -> tuple:
    """(page, spec, view state) that a link names, read by the page's spec."""
    path, _, query = link.partition("?")
    page = next(page for page in PAGES if page.url_path == urlsplit(path).path)
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    multi = {page.spec.PREFIX + c.field for c in page.spec.CONTROLS if c.widget in ("pills", "multiselect")}
    params = {key: values if key in multi else values[0] for key, values in params.items()}
    spec, refused = page.spec.from_query(params)
    assert not refused, (link, refused)
    return page.url_path, spec, {key: params[key] for key in page.spec.VIEW_KEYS if key in params}


def test_the_recorded_links_cover_every_page_and_every_lesson_link():
    """Every page has recorded links, and every lesson link opens what a recorded one opened (its text may differ:
    the spec writes `opt_gd_lr=1.0` where the hand-made link had `opt_gd_lr=1`)."""
    links = recorded()
    assert {link.split("?")[0] for link in links} >= {p.url_path for p in PAGES if p.url_path != "lessons"}
    lesson_recorded = [experiment_of(link) for link in links if link not in TYPED_LINKS]
    for link in lesson_links():
        assert experiment_of(link) in lesson_recorded, link


if __name__ == "__main__":  # records the links not recorded yet (a new page's, a new lesson's); the rest stay
    DATA.parent.mkdir(exist_ok=True)
    records = json.loads(DATA.read_text()) if DATA.exists() else {}  # as recorded: what was added since is not
    known = [experiment_of(link) for link in recorded() if link not in TYPED_LINKS]  # written into old records
    new = [link for link in TYPED_LINKS if link not in records] + [
        link for link in lesson_links() if experiment_of(link) not in known]  # a lesson's link written anew is known
    records.update({link: {key: value for key, value in opened(link).items() if key != "held"} for link in new})
    DATA.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {DATA}")
