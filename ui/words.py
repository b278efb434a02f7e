"""The Words page's two live areas (app_pages/words.py draws the controls and the tokens tab): the word vectors
(skip-gram beside PPMI + SVD) and the character-level language model."""

from __future__ import annotations

import math

import streamlit as st

from engine.runtime import Snapshot
from engine.words.corpus import planted_analogies
from engine.words.spec import CHARACTERS, TOKENS, VECTORS, WordsSpec
from ui.exports import Charts, offer_exports
from ui.forks import forked_curves
from ui.live import latest_text, status_bar
from viz import words as figures

MAIN_BELOW = {TOKENS: 18.0, VECTORS: 21.5, CHARACTERS: 22.0}  # rem above the main chart in presentation mode
VECTOR_VIEWS = ("Map", "Neighbours and analogies", "Training")


# ----------------------------------------------------------------------------------------------- word vectors
def vectors_setting(snap: Snapshot) -> str:
    c = snap.config
    return f"sgns-{c.corpus}-d{c.dimensions}-w{c.window}"


def draw_vectors(snap: Snapshot, spec: WordsSpec, charts: Charts) -> None:
    """The word vectors' live area: both maps, neighbours and analogies, training curves (a tab each)."""
    v = snap.visuals
    cells = {"Analogies top-1": latest_text(snap, "analogy_top1", "{:.0%}"),
             "PPMI + SVD": latest_text(snap, "ppmi_analogy_top1", "{:.0%}"),
             "Loss": latest_text(snap, "loss", "{:.3f}")}
    if v is not None:
        cells["Vocabulary"] = f"{v.vocabulary_size:,}"
    status_bar(snap, cells)
    if v is None:
        return
    if v.problem:
        st.warning(v.problem, icon=":material/search_off:")
    live = Charts(charts)
    views = st.tabs(VECTOR_VIEWS, key="wd_view", on_change="rerun", bind="query-params")
    setting = vectors_setting(snap)
    query = (v.word, *v.analogy)
    with views[0]:
        shown = views[0].open is not False
        left, right = st.columns(2)
        pairs = [tuple(pair) for pair in v.pairs]
        sides = 2 if v.corpus == "templates" else 1  # groups: each relation's two sides, or plain words
        live.show(lambda: figures.embedding_map(v.sgns_projection, v.words, v.groups, v.sgns_variance, pairs=pairs,
                                                highlight=query, sides=sides, title=f"Skip-gram, step {snap.step:,}"),
                  f"words-map-{setting}-step{snap.step}", key="wd_fig_map", where=left, visible=shown,
                  main_below=MAIN_BELOW[VECTORS], legend_aside=True)
        live.show(lambda: figures.embedding_map(v.ppmi_projection, v.words, v.groups, v.ppmi_variance, pairs=pairs,
                                                highlight=query, sides=sides, title="PPMI + SVD (LSA)"),
                  f"words-map-ppmi-{setting}", key="wd_fig_map_ppmi", where=right, visible=shown,
                  main_below=MAIN_BELOW[VECTORS], legend_aside=True)
        st.caption("Each word's vector projected on the first two principal components of the words shown, PC1 and "
                   "PC2 (in brackets, each one's share of the variance). Grey segments join planted pairs: where they "
                   "run parallel, a − b + c lands near d.")
    with views[1]:
        shown = views[1].open is not False
        left, right = st.columns(2)
        a, b, c = v.analogy
        # A query with a word outside the vocabulary has nothing to list: the warning above says which word.
        if v.sgns_neighbours:
            live.show(lambda: figures.ranked_words(v.sgns_neighbours, v.ppmi_neighbours,
                                                   title=f"Nearest to “{v.word}”"),
                      f"words-neighbours-{v.word}-{setting}-step{snap.step}", key="wd_fig_neighbours", where=left,
                      visible=shown)
        if v.sgns_answers:
            live.show(lambda: figures.ranked_words(v.sgns_answers, v.ppmi_answers, title=f"{a} − {b} + {c} ≈ ?",
                                                   score="3CosAdd score", expected=v.expected),
                      f"words-analogy-{a}-{b}-{c}-{setting}-step{snap.step}", key="wd_fig_analogy", where=right,
                      visible=shown)
        if v.expected and v.sgns_answers:
            ranks = [f"{name} ranks it {_rank(rank)}" for name, rank in (("skip-gram", v.sgns_expected_rank),
                                                                         ("PPMI + SVD", v.ppmi_expected_rank))]
            right.caption(f"Expected: **{v.expected}**; {' and '.join(ranks)} (the three query words left out).")
        if v.per_relation:
            live.show(lambda: figures.relation_scores(v.per_relation), f"words-relations-{setting}-step{snap.step}",
                      key="wd_fig_relations", visible=shown, wide=True)
    with views[2]:
        shown = views[2].open is not False
        if "analogy_top1" in snap.history:
            live.show(lambda: forked_curves("wd_vectors", "scores", lambda run: figures.analogy_scores(
                run.curves, snap.latest("ppmi_analogy_top1"), len(planted_analogies())), snap),
                      f"words-analogies-{setting}-step{snap.step}", key="wd_fig_scores", visible=shown)
        live.show(lambda: forked_curves("wd_vectors", "loss", lambda run: figures.sgns_loss(run.curves), snap),
                  f"words-loss-{setting}-step{snap.step}", key="wd_fig_loss", visible=shown)
    offer_exports(spec, "words", live, snap, setting=setting)


def _rank(rank: int | None) -> str:
    return "outside the vocabulary" if rank is None else f"#{rank}"


# ----------------------------------------------------------------------------------------------- the character model
def chars_setting(snap: Snapshot) -> str:
    c = snap.config
    return f"charlm-{c.text}-{c.cell}{c.hidden}x{c.layers}"


def draw_characters(snap: Snapshot, spec: WordsSpec, charts: Charts) -> None:
    """The character model's live area: bits per character, the next character, samples at three temperatures."""
    v = snap.visuals
    cells = {"Held-out bits/char": latest_text(snap, "held_out_bpc", "{:.3f}")}
    if v is not None:
        cells.update({"Bigram": f"{v.baselines.bigram_bpc:.3f}", "Unigram": f"{v.baselines.unigram_bpc:.3f}"})
    status_bar(snap, cells)
    if v is None:
        return
    if v.problem:
        st.warning(v.problem, icon=":material/text_fields:")
    setting = chars_setting(snap)
    curve_col, next_col = st.columns([1.3, 1])
    charts.show(lambda: forked_curves("wd_chars", "bpc", lambda run: figures.bits_per_character(
        run.curves, v.baselines.unigram_bpc, v.baselines.bigram_bpc, v.baselines.bigram_k), snap),
                f"words-bpc-{setting}-step{snap.step}", key="wd_fig_bpc", where=curve_col,
                main_below=MAIN_BELOW[CHARACTERS])
    after = repr(v.prefix[-12:]) if v.prefix else "a newline"
    charts.show(lambda: figures.next_character(list(zip(v.next_model.chars, v.next_model.probabilities)),
                                               list(zip(v.next_bigram.chars, v.next_bigram.probabilities)),
                                               title=f"The next character after {after}"),
                f"words-next-{setting}-step{snap.step}", key="wd_fig_next", where=next_col)
    columns = st.columns(len(v.samples))
    for column, (temperature, text) in zip(columns, v.samples):
        mine = math.isclose(temperature, float(spec.temperature))
        column.markdown(f"**T = {temperature:g}**" + (" (your slider)" if mine else ""))
        column.html(figures.sample_html(v.prefix, text, highlighted=mine))
    st.caption(f"Samples of the network at step {v.sampled_at_step:,}, from one random stream (so they differ only "
               "by temperature). The held-out curve reads the held-out text's first "
               f"{v.held_out_slice_chars:,} characters; {v.train_chars:,} characters train, {v.held_out_chars:,} "
               f"are held out; alphabet of {v.alphabet_size} symbols.")
    details = {f"sample at T = {t:g}": text for t, text in v.samples}
    offer_exports(spec, "words", charts, snap, setting=setting, details=details)
    st.download_button("Download the samples (.txt)",
                       "\n\n".join(f"# T = {t:g}\n{v.prefix}{text}" for t, text in v.samples),
                       file_name=f"{setting}-step{v.sampled_at_step}-samples.txt", mime="text/plain",
                       on_click="ignore", icon=":material/download:", key="wd_samples_download")
