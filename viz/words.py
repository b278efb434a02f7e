"""Figures of the Words and sequences page: pure functions from plain data to `go.Figure` (built from dicts,
viz.theme.figure_from_dicts, since the live tabs redraw them), and the tokenized text as HTML.

Word groups (a relation's two sides, e.g. countries and capitals) take Okabe–Ito colours in the order the engine
lists them; the word-vector model is blue and the PPMI-SVD baseline orange wherever the two are compared.
"""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from viz.theme import CHAR_EM, OKABE_ITO, figure_from_dicts, legend_below, log_axis, metric_curves

Series = Mapping[str, tuple[np.ndarray, np.ndarray]]  # metric name -> (steps, values)
SGNS_COLOR, PPMI_COLOR = OKABE_ITO[0], OKABE_ITO[5]
MODEL_COLOR, BIGRAM_COLOR, UNIGRAM_COLOR = OKABE_ITO[0], OKABE_ITO[5], "#5f6672"
# Token backgrounds: pale, distinguishable neighbours, dark text readable on each.
TOKEN_SHADES = ("#dbeafe", "#fde2c4", "#d1fae5", "#fce7f3", "#e0e7ff", "#fef3c7")
SIDE_SYMBOLS = ("circle", "diamond-open")
# The query's labels on a map: where each may go around its star, in order of preference, and what a map's plot
# area is on a laptop (a half-width column), to tell in data units when two labels would cover each other.
QUERY_TEXT_POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right", "top left",
                        "bottom right", "bottom left")
QUERY_FONT_PX, QUERY_STAR_PX = 16, 13
MAP_PLOT_PX = (460, 390)
WORD_MARK = "▁"  # engine.words.bpe.WORD_BOUNDARY: drawn grey, so a token reads as the word it starts


# ----------------------------------------------------------------------------------------------- tokens
def tokens_html(tokens: Sequence[str], words_of_tokens: Sequence[int]) -> str:
    """The text as its tokens: each token a shaded box (neighbouring tokens alternate shades), a gap between
    words. Tokens are escaped: a typed text is never markup. The word-start mark "▁" is drawn grey."""
    boxes, last_word = [], None
    for index, (token, word) in enumerate(zip(tokens, words_of_tokens)):
        if last_word is not None and word != last_word:
            boxes.append('<span class="gs-gap"> </span>')
        last_word = word
        shade = TOKEN_SHADES[index % len(TOKEN_SHADES)]
        text = html.escape(token).replace("\n", "↵").replace(WORD_MARK, f'<span class="gs-mark">{WORD_MARK}</span>')
        boxes.append(f'<span class="gs-token" style="background:{shade}">{text}</span>')
    style = ("<style>.gs-tokens{line-height:2.1;font-family:'DejaVu Sans Mono',monospace;font-size:1.05rem;"
             "word-break:break-word}.gs-token{border-radius:4px;padding:1px 3px;margin:0 1px;"
             "border:1px solid rgba(31,36,48,.18);color:#1f2430;white-space:pre}.gs-gap{margin-right:.45em}"
             ".gs-mark{color:#8a93a3}</style>")
    return style + '<div class="gs-tokens">' + "".join(boxes) + "</div>"


def granularity(merges: np.ndarray, vocabulary: np.ndarray, tokens: np.ndarray, *, characters: tuple[int, int],
                words: tuple[int, int], current: int, title: str, height: int = 420) -> go.Figure:
    """Vocabulary size against sequence length: BPE after each number of merges in `merges` (a path from the
    characters towards whole words), the two ends marked, and the step shown now ringed."""
    merges, vocabulary, tokens = (np.asarray(a) for a in (merges, vocabulary, tokens))
    data = [{"type": "scatter", "x": vocabulary, "y": tokens, "mode": "lines+markers", "name": "BPE",
             "line": {"color": OKABE_ITO[0], "width": 2}, "marker": {"size": 5}, "customdata": merges,
             "hovertemplate": "%{customdata} merges<br>vocabulary %{x:,}<br>%{y:,} tokens<extra></extra>"}]
    # The two ends sit at the plot's corners (the characters top left, whole words bottom right): each label
    # goes inwards, beside its marker, and is not clipped where it overhangs.
    for (size, length), name, color, symbol, side in (
            (characters, "characters", OKABE_ITO[5], "square", "middle right"),
            (words, "whole words", OKABE_ITO[2], "diamond", "middle left")):
        data.append({"type": "scatter", "x": [size], "y": [length], "mode": "markers+text", "name": name,
                     "text": [name], "textposition": side, "cliponaxis": False,
                     "marker": {"size": 13, "color": color, "symbol": symbol},
                     "hovertemplate": f"{name}<br>vocabulary %{{x:,}}<br>%{{y:,}} tokens<extra></extra>"})
    at = int(np.argmin(np.abs(merges - current)))
    data.append({"type": "scatter", "x": [vocabulary[at]], "y": [tokens[at]], "mode": "markers",
                 "name": f"after {current:,} merges", "hoverinfo": "skip",
                 "marker": {"size": 18, "color": "rgba(0,0,0,0)", "line": {"color": "#1f2430", "width": 2.5}}})
    every = np.concatenate([vocabulary, [characters[0], words[0]]])
    layout = {"height": height, "xaxis": log_axis(every, title={"text": "vocabulary size (distinct tokens)"}),
              "yaxis": {"title": {"text": "sequence length (tokens)"}, "rangemode": "tozero"},
              "legend": legend_below(), "margin": {"t": 50, "b": 90}}
    return figure_from_dicts(data, layout, title)


# ----------------------------------------------------------------------------------------------- word vectors
def embedding_map(points: np.ndarray, words: Sequence[str], groups: Sequence[str], variance: Sequence[float], *,
                  pairs: Sequence[tuple[int, int]] = (), highlight: Sequence[str] = (), sides: int = 2, title: str,
                  height: int = 560) -> go.Figure:
    """Words at their 2-D PCA coordinates, labelled, with a grey segment for each planted pair (i, j) (a relation
    parallel across pairs is what an analogy needs). Groups come in `sides` consecutive groups per relation (a
    relation's two sides: country, capital): a relation has one colour, its sides a marker each. Axis titles give
    each principal component's share of the variance; `highlight`ed words (a query) are drawn large, on top."""
    points = np.asarray(points, dtype=np.float32)
    data = []
    if len(pairs):
        segments = np.full((len(pairs), 3, 2), np.nan, dtype=np.float32)
        for row, (i, j) in enumerate(pairs):
            segments[row, 0], segments[row, 1] = points[i], points[j]
        segments = segments.reshape(-1, 2)
        data.append({"type": "scatter", "x": segments[:, 0], "y": segments[:, 1], "mode": "lines",
                     "name": "planted pairs", "line": {"color": "rgba(95,102,114,0.35)", "width": 1},
                     "hoverinfo": "skip"})
    chosen = set(highlight)
    for number, group in enumerate(dict.fromkeys(groups)):
        index = [i for i, g in enumerate(groups) if g == group and words[i] not in chosen]
        if not index:
            continue
        color = OKABE_ITO[(number // sides) % len(OKABE_ITO)]
        data.append({"type": "scatter", "x": points[index, 0], "y": points[index, 1], "mode": "markers+text",
                     "name": group, "text": [words[i] for i in index], "textposition": "top center",
                     "textfont": {"size": 12, "color": color},
                     "marker": {"size": 8, "color": color, "symbol": SIDE_SYMBOLS[number % sides % 2]},
                     "hovertemplate": "%{text}<extra>" + html.escape(group) + "</extra>"})
    index = [i for i, word in enumerate(words) if word in chosen]
    if index:  # last, so on top of every other word
        data.append({"type": "scatter", "x": points[index, 0], "y": points[index, 1], "mode": "markers+text",
                     "name": "your query", "text": [words[i] for i in index],
                     "textposition": query_text_positions(points, index, [words[i] for i in index]),
                     "textfont": {"size": QUERY_FONT_PX, "color": "#1f2430"},
                     "marker": {"size": QUERY_STAR_PX, "color": "#1f2430", "symbol": "star"},
                     "hovertemplate": "%{text}<extra>your query</extra>"})
    # (short: a long title ran past a 720p projector's short plot into the chart's title; the page's caption says
    # the share is of the variance)
    first, second = (f"PC{k + 1} ({share:.0%})" for k, share in enumerate(variance[:2]))
    layout = {"height": height, "xaxis": {"title": {"text": first}, "zeroline": False},
              "yaxis": {"title": {"text": second}, "zeroline": False},
              "legend": legend_below(),
              "margin": {"t": 50, "b": 120}}
    return figure_from_dicts(data, layout, title)


def query_label_box(centre: np.ndarray, position: str, text: str) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in pixels, y up, of a query label drawn at `position` (Plotly's textposition)
    around a star at `centre`; its width estimated from the characters as the theme estimates its font's."""
    width, height, gap = CHAR_EM * QUERY_FONT_PX * len(text), 1.2 * QUERY_FONT_PX, QUERY_STAR_PX / 2 + 1
    vertical, horizontal = position.split()
    x, y = centre
    left = {"center": x - width / 2, "right": x + gap, "left": x - gap - width}[horizontal]
    bottom = {"middle": y - height / 2, "top": y + gap, "bottom": y - gap - height}[vertical]
    return left, bottom, left + width, bottom + height


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def query_text_positions(points: np.ndarray, index: Sequence[int], texts: Sequence[str]) -> list[str]:
    """A textposition for each queried word's label (the words at `points[index]`), so that where the query's
    words crowd (king, man and woman often do) no label covers another, nor another query word's star: in order,
    each takes the first of QUERY_TEXT_POSITIONS clear of those placed before it and of the stars (the plot's
    scale estimated from the extent of all `points` on a laptop's map, MAP_PLOT_PX); where none is, the
    first."""
    low, span = points.min(axis=0), np.ptp(points, axis=0)
    span = np.where(span > 0, span, 1.0)
    centres = (points[list(index)] - low) / span * np.array(MAP_PLOT_PX)
    stars = [(x - QUERY_STAR_PX / 2, y - QUERY_STAR_PX / 2, x + QUERY_STAR_PX / 2, y + QUERY_STAR_PX / 2)
             for x, y in centres]
    placed: list[tuple[float, float, float, float]] = []
    positions = []
    for number, (centre, text) in enumerate(zip(centres, texts)):
        others = [box for other, box in enumerate(stars) if other != number]
        boxes = {position: query_label_box(centre, position, text) for position in QUERY_TEXT_POSITIONS}
        position = next((position for position, box in boxes.items()
                         if not any(_overlap(box, taken) for taken in placed + others)), QUERY_TEXT_POSITIONS[0])
        positions.append(position)
        placed.append(boxes[position])
    return positions


def ranked_words(sgns: Sequence[tuple[str, float]], ppmi: Sequence[tuple[str, float]], *, title: str,
                 score: str = "cosine", expected: str | None = None, height: int = 380) -> go.Figure:
    """The best answers of both models side by side as horizontal bars, best on top; `expected` (a planted
    answer) is drawn darker wherever it appears."""
    data, annotations = [], []
    for column, (answers, name, color) in enumerate(((sgns, "skip-gram (SGNS)", SGNS_COLOR),
                                                     (ppmi, "PPMI + SVD (LSA)", PPMI_COLOR))):
        words = [word for word, _ in answers][::-1]
        values = [float(value) for _, value in answers][::-1]
        colors = ["#1f2430" if word == expected else color for word in words]
        axis = "" if column == 0 else "2"
        data.append({"type": "bar", "orientation": "h", "x": values, "y": [f"{w} " for w in words], "name": name,
                     "marker": {"color": colors}, "xaxis": f"x{axis}", "yaxis": f"y{axis}", "showlegend": False,
                     "text": [f"{v:.2f}" for v in values], "textposition": "auto",
                     "hovertemplate": "%{y}: %{x:.3f}<extra>" + name + "</extra>"})
        annotations.append({"xref": f"x{axis} domain", "yref": "paper", "x": 0.5, "y": 1.0, "yanchor": "bottom",
                            "text": f"<b>{name}</b>", "showarrow": False, "font": {"color": color}})
    # One score range for both, with room right of the longest bar: the right panel's words stand in the gap
    # between the panels and run on into that room (a bar reaching the panel's edge hid "moscow"'s first letter).
    values = [float(value) for _, value in (*sgns, *ppmi)] or [0.0]
    low, high = min(0.0, *values), max(0.0, *values)
    span = (high - low) or 1.0
    scores = {"range": [low - 0.02 * span if low < 0 else 0.0, high + 0.3 * span], "title": {"text": score}}
    layout = {"height": height, "bargap": 0.25, "annotations": annotations, "margin": {"t": 70, "b": 50},
              "xaxis": {"domain": [0.0, 0.44], **scores}, "xaxis2": {"domain": [0.56, 1.0], **scores},
              "yaxis": {"automargin": True}, "yaxis2": {"anchor": "x2", "automargin": True}}
    return figure_from_dicts(data, layout, title)


def relation_scores(rows: Sequence[tuple[str, float, float]], height: int = 300) -> go.Figure:
    """Each relation's share of its planted analogies answered top-1 (rows: relation, skip-gram, PPMI-SVD), the two
    models' bars side by side, the relations top to bottom in the engine's order."""
    names = [f"{name} " for name, _, _ in rows][::-1]
    # plotly.js stacks a group's horizontal bars from the bottom up: skip-gram, listed last, is drawn on top (and
    # the reversed legend lists it first, as everywhere on the page)
    data = [{"type": "bar", "orientation": "h", "y": names, "x": values, "name": model, "marker": {"color": color},
             "text": [f"{v:.0%}" for v in values], "textposition": "outside", "cliponaxis": False,
             "textfont": {"size": 12}, "constraintext": "none",
             "hovertemplate": "%{y}: %{x:.0%}<extra>" + model + "</extra>"}
            for model, color, values in (("PPMI + SVD (LSA)", PPMI_COLOR, [r[2] for r in rows][::-1]),
                                         ("skip-gram (SGNS)", SGNS_COLOR, [r[1] for r in rows][::-1]))]
    layout = {"height": height, "barmode": "group", "bargap": 0.3, "legend": legend_below(traceorder="reversed"),
              "xaxis": {"range": [0, 1.08], "tickformat": ".0%", "title": {"text": "answered top-1"}},
              "yaxis": {"automargin": True}}
    return figure_from_dicts(data, layout, "Planted analogies answered top-1, by relation")


def analogy_scores(history: Series, ppmi_share: float, analogies: int) -> go.Figure:
    """The share of the planted analogies answered top-1 over training, against the PPMI-SVD baseline's."""
    return metric_curves(history, (("analogy_top1", "skip-gram (SGNS)", SGNS_COLOR),),
                         {"title": {"text": "answered top-1"}, "range": [0, 1.02], "tickformat": ".0%"},
                         f"The {analogies} planted analogies, top-1 by 3CosAdd",
                         lines=((ppmi_share, f"PPMI + SVD: {ppmi_share:.0%}"),))


def sgns_loss(history: Series) -> go.Figure:
    return metric_curves(history, (("loss", "loss per pair", SGNS_COLOR),), {"title": {"text": "nats"}},
                         "Skip-gram loss (one positive and k negative pairs)", smooth=True)


# ----------------------------------------------------------------------------------------------- the character model
def bits_per_character(history: Series, unigram: float, bigram: float, bigram_k: float) -> go.Figure:
    """Training and held-out bits per character against the two count baselines."""
    return metric_curves(history, (("train_bpc", "training batches", "#9aa5b4"),
                                   ("held_out_bpc", "held out", MODEL_COLOR)),
                         {"title": {"text": "bits per character"}, "rangemode": "tozero"},
                         "Bits per character (lower is better)",
                         lines=((unigram, f"unigram {unigram:.2f}"),
                                (bigram, f"bigram (add-{bigram_k:.2g}) {bigram:.2f}")), height=360)


def next_character(model: Sequence[tuple[str, float]], bigram: Sequence[tuple[str, float]], *, title: str,
                   height: int = 360) -> go.Figure:
    """The next character's probabilities after the prefix, the model's beside the bigram's (the union of their
    top characters, in the model's order). Whitespace is drawn as a sign: ␣ a space, ↵ a new line."""
    model_p, bigram_p = dict(model), dict(bigram)
    characters = list(dict.fromkeys([c for c, _ in model] + [c for c, _ in bigram]))
    names = [_visible(c) for c in characters]
    data = [{"type": "bar", "x": names, "y": [p.get(c, 0.0) for c in characters], "name": name,
             "marker": {"color": color}, "hovertemplate": "%{x}: %{y:.3f}<extra>" + name + "</extra>"}
            for p, name, color in ((model_p, "the network", MODEL_COLOR), (bigram_p, "bigram", BIGRAM_COLOR))]
    layout = {"height": height, "barmode": "group", "bargap": 0.2,
              "xaxis": {"type": "category", "title": {"text": "next character"}},
              "yaxis": {"title": {"text": "probability"}, "rangemode": "tozero"},
              "legend": {"y": 0.98, "yanchor": "top", "x": 0.98, "xanchor": "right"}}  # where the tail is low
    return figure_from_dicts(data, layout, title)


def _visible(character: str) -> str:
    return {" ": "␣", "\n": "↵", "\t": "⇥"}.get(character, character)


def sample_html(prefix: str, text: str, highlighted: bool = False) -> str:
    """A generated sample as the page shows it: the prefix it continues in grey, then the sample, whitespace and
    line breaks kept, escaped (a sample is never markup). Its box is always as tall (a longer sample scrolls): new
    samples every refresh while the model trains, of other line counts, moved what stands under them each time."""
    border = "#1f2430" if highlighted else "rgba(31,36,48,.2)"
    return (f'<div style="font-family:\'DejaVu Sans Mono\',monospace;font-size:.95rem;white-space:pre-wrap;'
            f'line-height:1.35;border:{2 if highlighted else 1}px solid {border};border-radius:6px;padding:8px 10px;'
            f'height:22rem;overflow-y:auto"><span style="color:#8a93a3">{html.escape(prefix)}</span>'
            f"{html.escape(text)}</div>")
