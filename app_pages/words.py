"""Words and sequences: how text becomes something a network learns from. Byte-pair encoding merge by merge (in
the page run, cached), word vectors by skip-gram with negative sampling trained live beside an SVD of the PPMI
matrix, and a character-level recurrent language model trained live. The open tab is the experiment; only its job
runs."""

import math

import numpy as np
import pandas as pd
import streamlit as st

from engine.runtime import Snapshot
from engine.words import bpe
from engine.words.spec import CHAR_FIELDS, CHARACTERS, TOKEN_FIELDS, TOKENS, VECTOR_FIELDS, VECTORS, WordsSpec
from engine.words.vectors import WordVectorsJob
from engine.words.charlm import CharModelJob
from engine.words.corpus import planted_analogies
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.jobs import experiment_job
from ui.live import job_controls, live_area, status_bar
from ui.sharing import later, presenting
from viz import words as figures

STATE = st.session_state
ALL_MERGES = 10**6  # the step slider's "every merge learned", whatever their number
MAIN_BELOW = {TOKENS: 18.0, VECTORS: 24.0, CHARACTERS: 22.0}  # rem above the main chart in presentation mode
VECTOR_VIEWS = ("Map", "Neighbours and analogies", "Training")
MERGES_LISTED = 12

st.title("Words and sequences")
later("wd_intro").caption(
    "How text becomes numbers a network can learn from: tokens (byte-pair encoding), word vectors learned from "
    "the company words keep (skip-gram), and a recurrent network that learns to write one character at a time. "
    "Everything here is computed or trained live on your settings.")
export_panel(WordsSpec)
panel = ControlPanel(WordsSpec)
tabs = panel.tabs("part")
part = panel.values["part"]
SECTIONS = {TOKENS: TOKEN_FIELDS, VECTORS: VECTOR_FIELDS, CHARACTERS: CHAR_FIELDS}
IN_TAB = ("bpe_text",)  # drawn in their tab, above what they change
with st.sidebar:
    # The open part's settings first; the others' are kept (and shared in links) in folded expanders.
    for name in (part, *(other for other in SECTIONS if other != part)):
        fields = [field for field in SECTIONS[name] if field not in IN_TAB]
        with st.container() if name == part else st.expander(f"{name} settings (its tab is closed)"):
            if name == part:
                st.header(name)
            panel.draw(*fields)
    st.header("Every part")
    panel.draw("seed")
with tabs[TOKENS]:
    panel.draw("bpe_text", where=later("wd_typed"), height=90)
with tabs[VECTORS]:
    vector_buttons = st.container()
    query_cols = st.columns([1.3, 1, 1, 1, 1.5], gap="medium")
    for field, column in zip(("word", "a", "b", "c", "relation"), query_cols):
        panel.draw(field, where=column)
with tabs[CHARACTERS]:
    char_buttons = st.container()
    prefix_col, temperature_col = st.columns([1, 1.3])
    panel.draw("prefix", where=prefix_col)
    panel.draw("temperature", where=temperature_col)

spec: WordsSpec = panel.spec()
charts = Charts()


# ----------------------------------------------------------------------------------------------- tokens
@st.cache_data(max_entries=64, show_spinner=False)
def learned_on_typed(text: str, merges: int) -> tuple[bpe.BpeModel, bpe.Granularity]:
    """The merges learned from a typed text (at most 2,000 characters: milliseconds), and its granularity."""
    model = bpe.learn(text, merges)
    return model, bpe.granularity(text, model)


def move(by: int, merges: int) -> None:
    STATE["wd_step"] = int(np.clip(STATE.get("wd_step", merges) + by, 0, merges))


def show_tokens() -> None:
    typed = spec.bpe_from == "typed"
    model, learning = (learned_on_typed(spec.bpe_text, spec.merges) if typed
                       else bpe.learned_on_bundled(spec.bpe_from, spec.merges))
    count = len(model.merges)
    source = "the text above" if typed else "tiny Shakespeare"
    if count == 0:
        st.info(f"No pair of symbols occurs twice in {source}: there is nothing to merge. Type a longer text, or "
                "learn from tiny Shakespeare.", icon=":material/info:")
        step = 0
    else:
        back, forth, slider = st.columns([1, 1, 10])
        back.button("◀", key="wd_back", on_click=move, args=(-1, count), help="One merge fewer", width="stretch")
        forth.button("▶", key="wd_next", on_click=move, args=(1, count), help="One merge more", width="stretch")
        if STATE.get("wd_step", ALL_MERGES) > count:  # first visit, or fewer merges learned now: all of them
            STATE["wd_step"] = count
        step = slider.slider("Merges applied", 0, count, key="wd_step", bind="query-params",
                             label_visibility="collapsed")
    tokens = bpe.encode(spec.bpe_text, model, upto=step)
    words = len(tokens.words)
    cells = {f"Merges applied (of {count:,})": f"{step:,}", "Vocabulary": f"{len(model.vocabulary(step)):,}",
             "Characters": f"{len(spec.bpe_text):,}", "Tokens": f"{len(tokens.tokens):,}",
             "Tokens per word": f"{len(tokens.tokens) / words:.2f}" if words else "–"}
    for column, (label, value) in zip(st.columns(len(cells)), cells.items()):
        column.metric(label, value)
    if step:
        last = model.merges[step - 1]
        st.markdown(f"Merge {step}: **{_shown(last.left)}** + **{_shown(last.right)}** → "
                    f"**{_shown(last.symbol)}**, the most frequent pair left in {source} "
                    f"({last.count:,} times).")
    if presenting():  # on a projector the tokens share the first screen with the curve their step moves along
        tokens_col, chart_col = st.columns([1, 1], gap="medium")
        table_col = later("wd_merges")
    else:
        tokens_col, (chart_col, table_col) = st.container(), st.columns([1.5, 1])
    tokens_col.html(figures.tokens_html(tokens.tokens, tokens.word_of_token))
    merges = np.arange(count + 1)
    title = f"{'Your text' if typed else 'Tiny Shakespeare'}: vocabulary against length"
    charts.show(lambda: figures.granularity(merges, learning.vocabulary_sizes, learning.token_counts,
                                            characters=(int(learning.vocabulary_sizes[0]),
                                                        int(learning.token_counts[0])),
                                            words=(learning.distinct_words, learning.word_count), current=step,
                                            title=title),
                f"words-bpe-granularity-{spec.bpe_from}-{spec.merges}-step{step}", key="wd_fig_granularity",
                where=chart_col, main_below=MAIN_BELOW[TOKENS])
    with table_col:
        listed = range(step, max(0, step - MERGES_LISTED), -1)
        st.dataframe(pd.DataFrame({"merge": list(listed),  # a table shows text as it is: no escaping
                                   "pair": [f"{model.merges[k - 1].left} + {model.merges[k - 1].right}"
                                            for k in listed],
                                   "token": [model.merges[k - 1].symbol for k in listed],
                                   "count": [model.merges[k - 1].count for k in listed]}),
                     hide_index=True, width="stretch", height=min(460, 38 + 35 * max(1, len(listed))))
    per_word = tokens.tokens_per_word
    split = [f"{tokens.words[i].lstrip(bpe.WORD_BOUNDARY)} ({per_word[i]})" for i in np.argsort(-per_word)[:5]
             if per_word[i] > 1]
    stopped = ("early: no pair left occurs twice" if model.stopped_early else f"at the {count:,} merges asked for")
    later("wd_bpe_notes").caption(
        f"Tokens never cross a word; ▁ marks a word that follows a space, so “▁the” (a word) and “the” (inside "
        f"another) are different tokens. Learning stopped {stopped}. "
        f"On {source}, characters need {int(learning.token_counts[0]):,} tokens and a vocabulary of "
        f"{int(learning.vocabulary_sizes[0]):,}; whole words {learning.word_count:,} tokens and "
        f"{learning.distinct_words:,} words; after {step:,} merges {int(learning.token_counts[step]):,} tokens "
        f"({learning.tokens_per_word[step]:.2f} per word)."
        + (f" Split most in your text: {', '.join(split)}." if split else ""))


def _shown(symbol: str) -> str:
    """A symbol as Markdown shows it literally (a token may hold * or _)."""
    return symbol.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_").replace("`", "\\`")


# ----------------------------------------------------------------------------------------------- word vectors
def vectors_setting(snap: Snapshot) -> str:
    c = snap.config
    return f"sgns-{c.corpus}-d{c.dimensions}-w{c.window}"


def draw_vectors(snap: Snapshot) -> None:
    v = snap.visuals
    top1 = snap.latest("analogy_top1")
    cells = {"Analogies top-1": f"{top1:.0%}" if math.isfinite(top1) else "–",
             "PPMI + SVD": f"{snap.latest('ppmi_analogy_top1'):.0%}" if math.isfinite(
                 snap.latest("ppmi_analogy_top1")) else "–",
             "Loss": f"{snap.latest('loss'):.3f}" if math.isfinite(snap.latest("loss")) else "–"}
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
                  main_below=MAIN_BELOW[VECTORS])
        live.show(lambda: figures.embedding_map(v.ppmi_projection, v.words, v.groups, v.ppmi_variance, pairs=pairs,
                                                highlight=query, sides=sides, title="PPMI + SVD (LSA)"),
                  f"words-map-ppmi-{setting}", key="wd_fig_map_ppmi", where=right, visible=shown,
                  main_below=MAIN_BELOW[VECTORS])
        st.caption("Each word's vector projected on the first two principal components of the words shown (their "
                   "share of the variance on each axis). Grey segments join planted pairs: where they run "
                   "parallel, a − b + c lands near d.")
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
            st.dataframe(pd.DataFrame(v.per_relation, columns=["relation", "skip-gram top-1", "PPMI + SVD top-1"]),
                         hide_index=True, column_config={name: st.column_config.ProgressColumn(
                             name, min_value=0.0, max_value=1.0, format="percent")
                             for name in ("skip-gram top-1", "PPMI + SVD top-1")})
    with views[2]:
        shown = views[2].open is not False
        history = {name: (series.steps, series.values) for name, series in snap.history.items()}
        if "analogy_top1" in history:
            live.show(lambda: figures.analogy_scores(history, snap.latest("ppmi_analogy_top1"),
                                                     len(planted_analogies())),
                      f"words-analogies-{setting}-step{snap.step}", key="wd_fig_scores", visible=shown)
        live.show(lambda: figures.sgns_loss(history), f"words-loss-{setting}-step{snap.step}", key="wd_fig_loss",
                  visible=shown)
    offer_exports(spec, "words", live, snap, setting=setting)


def _rank(rank: int | None) -> str:
    return "outside the vocabulary" if rank is None else f"#{rank}"


# ----------------------------------------------------------------------------------------------- the character model
def chars_setting(snap: Snapshot) -> str:
    c = snap.config
    return f"charlm-{c.text}-{c.cell}{c.hidden}x{c.layers}"


def draw_characters(snap: Snapshot) -> None:
    v = snap.visuals
    held_out = snap.latest("held_out_bpc")
    cells = {"Held-out bits/char": f"{held_out:.3f}" if math.isfinite(held_out) else "–"}
    if v is not None:
        cells.update({"Bigram": f"{v.baselines.bigram_bpc:.3f}", "Unigram": f"{v.baselines.unigram_bpc:.3f}"})
    status_bar(snap, cells)
    if v is None:
        return
    if v.problem:
        st.warning(v.problem, icon=":material/text_fields:")
    setting = chars_setting(snap)
    history = {name: (series.steps, series.values) for name, series in snap.history.items()}
    curve_col, next_col = st.columns([1.3, 1])
    charts.show(lambda: figures.bits_per_character(history, v.baselines.unigram_bpc, v.baselines.bigram_bpc,
                                                   v.baselines.bigram_k),
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


if part == TOKENS:
    with tabs[TOKENS]:
        show_tokens()
    offer_exports(spec, "words", charts, setting=f"bpe-{spec.bpe_from}-{spec.merges}")
else:
    job = experiment_job(f"words_{'vectors' if part == VECTORS else 'chars'}",
                         WordVectorsJob if part == VECTORS else CharModelJob, spec)
    with (vector_buttons if part == VECTORS else char_buttons):
        job_controls(job, key=f"wd_{'vectors' if part == VECTORS else 'chars'}")
    with tabs[part]:
        live_area(job, draw_vectors if part == VECTORS else draw_characters)
