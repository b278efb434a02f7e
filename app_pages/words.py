"""Words and sequences: how text becomes something a network learns from. Byte-pair encoding merge by merge (in
the page run, cached), word vectors by skip-gram with negative sampling trained live beside an SVD of the PPMI
matrix, and a character-level recurrent language model trained live. The open tab is the experiment; only its job
runs."""


import numpy as np
import streamlit as st

from engine.words import bpe
from engine.words.spec import CHAR_FIELDS, CHARACTERS, TOKEN_FIELDS, TOKENS, VECTOR_FIELDS, VECTORS, WordsSpec
from engine.words.vectors import WordVectorsJob
from engine.words.charlm import CharModelJob
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.forks import branch_job, fork_controls
from ui.jobs import experiment_job
from ui.live import job_controls, live_area
from ui.sharing import later, presenting
from ui.tables import static_table
from ui.words import MAIN_BELOW, draw_characters, draw_vectors
from viz import words as figures

STATE = st.session_state
ALL_MERGES = 10**6  # the step slider's "every merge learned", whatever their number
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
# Drawn in their tab, above what they change (the rest of a part's settings in the sidebar)
IN_TAB = {TOKENS: ("bpe_text",), VECTORS: ("word", "a", "b", "c", "relation"), CHARACTERS: ("prefix", "temperature")}
with st.sidebar:
    # The open part's settings; the closed parts' are held (kept, and in links) while their tabs are closed.
    st.header(part)
    panel.draw(*(field for field in SECTIONS[part] if field not in IN_TAB[part]))
    for name in SECTIONS:
        if name != part:
            panel.hold(*dict.fromkeys((*SECTIONS[name], *IN_TAB[name])))
    st.header("Every part")
    panel.draw("seed")
with tabs[part]:
    if part == TOKENS:
        panel.draw("bpe_text", where=later("wd_typed"), height=90)
    elif part == VECTORS:
        buttons, forks = st.container(), later("wd_vectors_forks")
        # (on a projector the maps need the first screen's height: the query goes below them)
        query_cols = (later("wd_query") if presenting() else st.container()).columns([1.3, 1, 1, 1, 1.5], gap="medium")
        for field, column in zip(IN_TAB[VECTORS], query_cols):
            panel.draw(field, where=column)
    else:
        buttons, forks = st.container(), later("wd_chars_forks")
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
    title = f"{'Your text' if typed else 'Tiny Shakespeare'}: vocabulary vs. length"
    charts.show(lambda: figures.granularity(merges, learning.vocabulary_sizes, learning.token_counts,
                                            characters=(int(learning.vocabulary_sizes[0]),
                                                        int(learning.token_counts[0])),
                                            words=(learning.distinct_words, learning.word_count), current=step,
                                            title=title),
                f"words-bpe-granularity-{spec.bpe_from}-{spec.merges}-step{step}", key="wd_fig_granularity",
                where=chart_col, main_below=MAIN_BELOW[TOKENS])
    listed = range(step, max(0, step - MERGES_LISTED), -1)
    static_table([{"merge": k, "pair": f"{model.merges[k - 1].left} + {model.merges[k - 1].right}",
                   "token": model.merges[k - 1].symbol, "count": model.merges[k - 1].count} for k in listed],
                 where=table_col)
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


if part == TOKENS:
    with tabs[TOKENS]:
        show_tokens()
    offer_exports(spec, "words", charts, setting=f"bpe-{spec.bpe_from}-{spec.merges}")
else:
    which = "vectors" if part == VECTORS else "chars"
    name, key = f"words_{which}", f"wd_{which}"
    job = branch_job(key, spec) or experiment_job(name, WordVectorsJob if part == VECTORS else CharModelJob, spec)
    with buttons:
        job_controls(job, key=key)
    with forks:
        fork_controls(job, name, key)
    with tabs[part]:
        draw = draw_vectors if part == VECTORS else draw_characters
        live_area(job, lambda snap: draw(snap, spec, charts))
