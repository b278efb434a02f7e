"""The Words and sequences page's figures draw what they are given (and Plotly's validation keeps them as built)."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from tests.conftest import assert_valid_as_built
from viz import words as figures
from viz.theme import BROWSER_MARGINS, for_presentation


def traces(fig) -> dict:
    return {trace.name: trace for trace in fig.data}


# ----------------------------------------------------------------------------------------------- tokens
def test_tokens_are_escaped_boxes_with_a_gap_between_words_only():
    tokens = ["▁The", "<b>", "▁sm", "all", "\n"]
    words = [0, 0, 1, 1, 2]
    html = figures.tokens_html(tokens, words)
    boxes = re.findall(r'<span class="gs-token"[^>]*>(.*?)</span>(?=<span|</div>)', html)
    assert len(boxes) == 5
    assert boxes[1] == "&lt;b&gt;" and "<b>" not in html  # a typed tag is text, never markup
    assert boxes[4] == "↵"  # a line break shows as a mark
    assert boxes[0] == '<span class="gs-mark">▁</span>The'  # the space marker drawn grey
    body = html[html.index('<div class="gs-tokens">'):]
    # Between the two tokens of one word nothing; between words one gap.
    order = re.findall(r'class="gs-(token|gap)"', body)
    assert order == ["token", "token", "gap", "token", "token", "gap", "token"]
    shades = re.findall(r'class="gs-token" style="background:(#[0-9a-f]{6})"', html)
    assert all(a != b for a, b in zip(shades, shades[1:]))  # neighbours told apart
    assert figures.tokens_html([], []).endswith('<div class="gs-tokens"></div>')


def test_granularity_draws_the_bpe_path_the_two_ends_and_rings_the_step_shown():
    merges = np.array([0, 10, 20, 30])
    vocabulary = np.array([60, 70, 80, 90])
    tokens = np.array([1000, 800, 700, 650])
    fig = figures.granularity(merges, vocabulary, tokens, characters=(60, 1000), words=(400, 200), current=20,
                              title="t")
    assert_valid_as_built(fig)
    drawn = traces(fig)
    np.testing.assert_array_equal(drawn["BPE"].x, vocabulary)
    np.testing.assert_array_equal(drawn["BPE"].y, tokens)
    np.testing.assert_array_equal(drawn["BPE"].customdata, merges)  # each point's merges, for its hover
    assert (drawn["characters"].x, drawn["characters"].y) == ((60,), (1000,))
    assert (drawn["whole words"].x, drawn["whole words"].y) == ((400,), (200,))
    ring = drawn["after 20 merges"]
    assert (ring.x, ring.y) == ((80,), (700,)) and ring.marker.color == "rgba(0,0,0,0)" and ring.marker.line.width
    assert fig.layout.xaxis.type == "log" and fig.layout.title.text == "t"
    # Another step rings another point; a step between those listed, the nearest.
    moved = traces(figures.granularity(merges, vocabulary, tokens, characters=(60, 1000), words=(400, 200),
                                       current=0, title="t"))["after 0 merges"]
    assert (moved.x, moved.y) == ((60,), (1000,))
    between = figures.granularity(merges, vocabulary, tokens, characters=(60, 1000), words=(400, 200), current=29,
                                  title="t").data[-1]
    assert (between.x, between.y) == ((90,), (650,))


# ----------------------------------------------------------------------------------------------- word vectors
WORDS = ["france", "paris", "spain", "madrid", "king", "queen", "apple"]
GROUPS = ["country", "capital", "country", "capital", "male", "female", "other"]
POINTS = np.array([[0, 0], [1, 0], [0, 2], [1, 2], [5, 5], [6, 5], [9, 9]], dtype=float)


def test_the_map_joins_each_pair_and_colours_a_relation_alike_with_a_marker_per_side():
    pairs = [(0, 1), (2, 3), (4, 5)]
    fig = figures.embedding_map(POINTS, WORDS, GROUPS, [0.423, 0.187, 0.1], pairs=pairs, title="t")
    assert_valid_as_built(fig)
    drawn = traces(fig)
    x = np.asarray(drawn["planted pairs"].x, dtype=float)
    y = np.asarray(drawn["planted pairs"].y, dtype=float)
    segments = np.stack([x, y], axis=1).reshape(len(pairs), 3, 2)  # start, end, a gap
    assert np.isnan(segments[:, 2]).all()
    for (i, j), segment in zip(pairs, segments):
        np.testing.assert_allclose(segment[:2], POINTS[[i, j]])
    assert list(drawn["country"].text) == ["france", "spain"] and list(drawn["capital"].text) == ["paris", "madrid"]
    np.testing.assert_allclose(np.stack([drawn["capital"].x, drawn["capital"].y], axis=1), POINTS[[1, 3]])
    country, capital, male, female = (drawn[g].marker for g in ("country", "capital", "male", "female"))
    assert country.color == capital.color and male.color == female.color and country.color != male.color
    assert country.symbol != capital.symbol and male.symbol == country.symbol and female.symbol == capital.symbol
    assert drawn["country"].textfont.color == country.color
    assert fig.layout.xaxis.title.text == "PC1 (42%)"
    assert fig.layout.yaxis.title.text == "PC2 (19%)"


def test_the_map_draws_the_queried_words_last_and_out_of_their_groups():
    fig = figures.embedding_map(POINTS, WORDS, GROUPS, [0.5, 0.2], highlight=("paris", "king", "absent"),
                                title="t")
    assert_valid_as_built(fig)
    last = fig.data[-1]
    assert last.name == "your query" and list(last.text) == ["paris", "king"]
    np.testing.assert_allclose(np.stack([last.x, last.y], axis=1), POINTS[[1, 4]])
    assert last.marker.size > max(trace.marker.size for trace in fig.data[:-1])
    drawn = traces(fig)
    assert list(drawn["capital"].text) == ["madrid"] and "male" not in drawn  # king was male's only word
    assert "planted pairs" not in drawn
    # Plain words (a pasted text): one group per side, each its own colour.
    plain = traces(figures.embedding_map(POINTS, WORDS, GROUPS, [0.5, 0.2], sides=1, title="t"))
    assert plain["country"].marker.color != plain["capital"].marker.color


def test_the_querys_labels_where_its_words_crowd_cover_neither_each_other_nor_a_star():
    rng = np.random.default_rng(0)
    spread = rng.uniform(0, 10, size=(60, 2))  # the map's other words set its scale
    crowd = np.array([[5.0, 5.0], [5.08, 5.04], [4.95, 4.92], [9.0, 1.0]])  # king, man, woman; paris far off
    query = ["king", "man", "woman", "paris"]
    points, words = np.vstack([spread, crowd]), [f"w{i}" for i in range(60)] + query
    index = [60, 61, 62, 63]
    fig = figures.embedding_map(points, words, ["g"] * 64, [0.5, 0.2], highlight=query,
                                sides=1, title="t")
    positions = list(fig.data[-1].textposition)
    assert positions == figures.query_text_positions(points, index, query)
    assert positions[3] == "top center"  # a word alone keeps the usual place
    # The oracle: every label's box and every star's, in pixels of a laptop's map, drawn from the positions.
    scale = np.array(figures.MAP_PLOT_PX) / np.ptp(points, axis=0)
    centres = (points[index] - points.min(axis=0)) * scale
    labels = [figures.query_label_box(c, p, w) for c, p, w in zip(centres, positions, query)]
    half = figures.QUERY_STAR_PX / 2
    stars = [(x - half, y - half, x + half, y + half) for x, y in centres]
    for i, label in enumerate(labels):
        for j in range(len(labels)):
            if i != j:
                assert not figures._overlap(label, labels[j]) and not figures._overlap(label, stars[j])
    # All on top (as before) would have stacked them: the test means something only if they do crowd.
    stacked = [figures.query_label_box(c, "top center", w) for c, w in zip(centres, query[:3])]
    assert figures._overlap(stacked[0], stacked[1])


def test_on_a_projector_the_maps_legend_stands_beside_it_and_the_room_kept_below_is_the_plots():
    """On a 1280x720 projector the map's plot was ~15 px tall under a legend of four rows and its room."""
    desk = figures.embedding_map(POINTS, WORDS, GROUPS, [0.5, 0.2], title="t")
    assert desk.layout.margin.b > BROWSER_MARGINS["b"] and desk.layout.legend.orientation == "h"
    beside = for_presentation(copy.deepcopy(desk), legend_aside=True)
    assert beside.layout.legend.orientation == "v" and beside.layout.margin.b == BROWSER_MARGINS["b"]
    assert for_presentation(copy.deepcopy(beside), legend_aside=True).to_dict() == beside.to_dict()  # kept: the same


def test_ranked_words_list_the_best_on_top_and_darken_the_expected_answer():
    sgns = [("madrid", 0.91), ("rome", 0.5), ("spain", 0.2)]
    ppmi = [("spain", 0.7), ("madrid", 0.6)]
    fig = figures.ranked_words(sgns, ppmi, title="t", score="3CosAdd score", expected="madrid")
    assert_valid_as_built(fig)
    left, right = fig.data
    assert (left.xaxis, left.yaxis, right.xaxis, right.yaxis) == ("x", "y", "x2", "y2")
    # Plotly stacks categories bottom-up: the last listed is drawn on top.
    assert [label.strip() for label in left.y] == ["spain", "rome", "madrid"]
    np.testing.assert_allclose(left.x, [0.2, 0.5, 0.91])
    assert [label.strip() for label in right.y] == ["madrid", "spain"]
    assert left.marker.color[-1] == right.marker.color[0] == "#1f2430"
    assert left.marker.color[0] == figures.SGNS_COLOR and right.marker.color[1] == figures.PPMI_COLOR
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "3CosAdd score"
    assert [a.text for a in fig.layout.annotations] == ["<b>skip-gram (SGNS)</b>", "<b>PPMI + SVD (LSA)</b>"]
    plain = figures.ranked_words(sgns, ppmi, title="t")
    assert "#1f2430" not in list(plain.data[0].marker.color) + list(plain.data[1].marker.color)
    # One range for both panels, the longest bar ending well inside it (the right panel's words run into that room)
    assert list(fig.layout.xaxis.range) == list(fig.layout.xaxis2.range) == [0.0, pytest.approx(0.91 * 1.3)]
    negative = figures.ranked_words([("a", -0.5), ("b", 0.5)], [("c", 0.25)], title="t")
    assert negative.layout.xaxis.range[0] == pytest.approx(-0.52)


def test_relation_scores_draw_both_models_per_relation_in_the_engines_order_skip_gram_on_top():
    rows = [("country-capital", 0.8, 0.1), ("male-female", 0.25, 0.5), ("animal-sound", 0.0, 0.375)]
    fig = figures.relation_scores(rows)
    assert_valid_as_built(fig)
    by_name = traces(fig)
    # Plotly stacks categories bottom-up, and a group's bars too: the first relation and skip-gram on top
    assert [label.strip() for label in by_name["skip-gram (SGNS)"].y] == ["animal-sound", "male-female",
                                                                         "country-capital"]
    np.testing.assert_allclose(by_name["skip-gram (SGNS)"].x, [0.0, 0.25, 0.8])
    np.testing.assert_allclose(by_name["PPMI + SVD (LSA)"].x, [0.375, 0.5, 0.1])
    assert [t.name for t in fig.data][-1] == "skip-gram (SGNS)" and fig.layout.legend.traceorder == "reversed"
    assert list(by_name["PPMI + SVD (LSA)"].text) == ["38%", "50%", "10%"]
    assert fig.layout.xaxis.range[1] > 1.0 and fig.layout.barmode == "group"


def test_the_analogy_scores_and_the_loss_draw_their_series():
    steps = np.arange(1, 101)
    history = {"analogy_top1": (steps, steps / 100), "loss": (steps, 3 / np.sqrt(steps))}
    scores = figures.analogy_scores(history, 0.35, 360)
    assert_valid_as_built(scores)
    assert [shape.y0 for shape in scores.layout.shapes] == [0.35]
    assert "360 planted analogies" in scores.layout.title.text
    np.testing.assert_allclose(traces(scores)["skip-gram (SGNS)"].y, steps / 100)
    assert_valid_as_built(figures.sgns_loss(history))


# ----------------------------------------------------------------------------------------------- the character model
def test_bits_per_character_has_both_curves_and_the_baselines_at_their_values():
    steps = np.arange(0, 500, 50)
    history = {"train_bpc": (steps, 4 - steps / 250), "held_out_bpc": (steps, 4.1 - steps / 260)}
    fig = figures.bits_per_character(history, unigram=4.31, bigram=3.58, bigram_k=0.05)
    assert_valid_as_built(fig)
    drawn = traces(fig)
    np.testing.assert_allclose(drawn["held out"].y, 4.1 - steps / 260)
    np.testing.assert_allclose(drawn["training batches"].x, steps)
    assert sorted(shape.y0 for shape in fig.layout.shapes) == [3.58, 4.31]
    labels = {a.y: a.text for a in fig.layout.annotations}
    assert labels == {4.31: "unigram 4.31", 3.58: "bigram (add-0.05) 3.58"}
    empty = figures.bits_per_character({}, unigram=4.31, bigram=3.58, bigram_k=1)
    assert len(empty.data) == 0 and len(empty.layout.shapes) == 2  # before the first step, the baselines alone


def test_the_next_character_names_whitespace_and_takes_the_union_in_the_models_order():
    model = [("e", 0.4), (" ", 0.3), ("\n", 0.1)]
    bigram = [(" ", 0.5), ("a", 0.2), ("\t", 0.1)]
    fig = figures.next_character(model, bigram, title="After 'th'")
    assert_valid_as_built(fig)
    network, counts = fig.data
    assert (network.name, counts.name) == ("the network", "bigram")
    assert list(network.x) == list(counts.x)
    names = list(network.x)
    assert names[0] == "e" and names[3] == "a"
    # Whitespace gets a visible name of its own: a bar over a blank label, or two such labels, would be unreadable.
    whitespace = names[1], names[2], names[4]
    assert all(name.strip() and not name.isspace() for name in whitespace) and len(set(names)) == 5
    np.testing.assert_allclose(network.y, [0.4, 0.3, 0.1, 0, 0])
    np.testing.assert_allclose(counts.y, [0, 0.5, 0, 0.2, 0.1])
    assert fig.layout.xaxis.type == "category" and fig.layout.barmode == "group"
    assert fig.layout.title.text == "After 'th'"


def test_a_sample_is_escaped_text_after_its_grey_prefix():
    html = figures.sample_html("<i>ROMEO:</i>", "\nA & B <script>x</script>")
    assert "<script>" not in html and "<i>" not in html
    assert '<span style="color:#8a93a3">&lt;i&gt;ROMEO:&lt;/i&gt;</span>' in html
    assert html.endswith("\nA &amp; B &lt;script&gt;x&lt;/script&gt;</div>")  # the line break kept
    assert "white-space:pre-wrap" in html
    assert "2px solid #1f2430" in figures.sample_html("", "x", highlighted=True) and "2px" not in html
