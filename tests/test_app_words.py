"""The Words and sequences page driven through its controls (AppTest: no browser, no run_every)."""

from __future__ import annotations


import pytest
from streamlit.testing.v1 import AppTest

from engine.common.export import MAX_CONFIG_BYTES, config_document, parse_config_document
from engine.common.limits import ConfigError
from engine.words import bpe
from engine.words.spec import SAMPLE_TEXT, WordsSpec
from engine.words.texts import bundled_text
from tests import conftest
from tests.conftest import metric
from ui.exports import settings

SENNRICH = "low low low low low lower lower newest newest newest newest newest newest widest widest widest"


def open_page(**query) -> AppTest:
    return conftest.open_page("words", 90, **query)


def chart_titles(at: AppTest) -> list[str]:
    return [figure["layout"].get("title", {}).get("text", "") for figure in conftest.chart_figures(at)]


def test_tokens_step_back_merge_by_merge_to_characters():
    at = open_page()
    assert not at.exception and at.title[0].value == "Words and sequences"
    model = bpe.learn(bundled_text("shakespeare"), 500)  # the oracle: the engine on the same text, apart
    assert metric(at, "Merges applied (of 500)") == "500"
    assert metric(at, "Tokens") == str(len(bpe.encode(SAMPLE_TEXT, model).tokens))
    assert metric(at, "Vocabulary") == f"{len(model.vocabulary()):,}"
    at.button(key="wd_back").click().run()
    assert metric(at, "Merges applied (of 500)") == "499"
    assert metric(at, "Tokens") == str(len(bpe.encode(SAMPLE_TEXT, model, upto=499).tokens))
    at.slider(key="wd_step").set_value(0).run()
    # No merge: a token per character, each single space as the ▁ of the word after it, and the first word's ▁.
    assert "  " not in SAMPLE_TEXT and metric(at, "Tokens") == str(len(SAMPLE_TEXT) + 1)
    assert "Tiny Shakespeare: vocabulary vs. length" in chart_titles(at)


def test_merges_learned_from_the_typed_text_and_a_text_with_nothing_to_merge():
    at = open_page(wd_bpe_from="The text below")
    at.text_area(key="wd_bpe_text").set_value(SENNRICH).run()
    model = bpe.learn(SENNRICH, 500)
    assert model.stopped_early and metric(at, f"Merges applied (of {len(model.merges)})") == f"{len(model.merges)}"
    assert metric(at, "Tokens") == str(len(SENNRICH.split()))  # every word a token once all is merged
    assert any("Learning stopped early" in caption.value for caption in at.caption)
    at.text_area(key="wd_bpe_text").set_value("abc").run()
    assert not at.exception and "nothing to merge" in at.info[0].value
    assert metric(at, "Merges applied (of 0)") == "0"


def test_word_vectors_train_and_a_query_changes_live_a_dimension_resets():
    at = open_page(wd_part="Word vectors", wd_view="Neighbours and analogies")
    assert not at.exception and metric(at, "Vocabulary") == "5,000" and metric(at, "PPMI + SVD") == "34%"
    at.button(key="wd_vectors_step").click().run()
    assert metric(at, "Step") == "1"
    titles = chart_titles(at)
    assert "Nearest to “paris”" in titles and "king − man + woman ≈ ?" in titles
    assert "Planted analogies answered top-1, by relation" in titles
    at.text_input(key="wd_word").set_value("Rome").run()  # a query is live: no reset, lower-cased
    assert metric(at, "Step") == "1" and "Nearest to “rome”" in chart_titles(at)
    at.text_input(key="wd_a").set_value("zyzzyva").run()
    assert "'zyzzyva' is not in the vocabulary (5,000 words)" in at.warning[0].value and not at.exception
    assert [t for t in chart_titles(at) if "≈" in t] == [] and "Nearest to “rome”" in chart_titles(at)
    at.slider(key="wd_negatives").set_value(10).run()
    assert metric(at, "Step") == "1"
    at.select_slider(key="wd_dimensions").set_value(20).run()
    assert metric(at, "Step") == "0" and not at.exception


def test_a_pasted_corpus_is_refused_empty_and_trained_when_given():
    at = open_page(wd_part="Word vectors", wd_corpus="A text you paste")
    assert at.error and "the pasted text is empty" in at.error[0].value and not at.exception
    text = " ".join(f"the {animal} sat on the mat. a {animal} ran to the door." for animal in
                    ("cat", "dog", "fox", "owl", "bat", "cow", "hen", "pig", "rat", "elk", "yak", "ant"))
    at.text_area(key="wd_corpus_text").set_value(text).run()
    assert not at.error and not at.exception
    at.button(key="wd_vectors_step").click().run()
    assert metric(at, "Step") == "1" and metric(at, "Analogies top-1") == "–"  # no planted analogy to score


def test_the_character_model_trains_and_samples_at_the_slider_and_beside_it():
    at = open_page(wd_part="Character model")
    assert not at.exception
    assert metric(at, "Bigram") == "3.581" and metric(at, "Unigram") == "4.829"
    at.button(key="wd_chars_step").click().run()
    assert metric(at, "Step") == "1"
    assert {"Bits per character (lower is better)", "The next character after 'ROMEO:'"} <= set(chart_titles(at))
    temperatures = [m.value for m in at.markdown if m.value.startswith("**T = ")]
    assert temperatures == ["**T = 0.5**", "**T = 0.8** (your slider)", "**T = 1**", "**T = 1.5**"]
    at.select_slider(key="wd_temperature").set_value(1.0).run()  # one of the compared: three samples
    assert [m.value for m in at.markdown if m.value.startswith("**T = ")] == [
        "**T = 0.5**", "**T = 1** (your slider)", "**T = 1.5**"]
    at.text_input(key="wd_prefix").set_value("ROMEO: é").run()
    assert "é" in at.warning[0].value and metric(at, "Step") == "1"
    at.segmented_control(key="wd_cell").set_value("gru").run()
    assert metric(at, "Step") == "0" and not at.exception


def test_a_link_cannot_carry_a_pasted_text_and_says_so():
    spec, refused = WordsSpec.from_query({"wd_corpus": "A text you paste", "wd_corpus_text": "the cat sat"})
    assert spec.corpus == "pasted" and spec.corpus_text == "" and [r.key for r in refused] == ["wd_corpus_text"]
    assert "settings file" in refused[0].reason
    assert "wd_corpus_text" not in WordsSpec(corpus="pasted", corpus_text="the cat sat").to_query()
    assert WordsSpec.from_dict(WordsSpec(corpus="pasted", corpus_text="the cat").to_dict()).corpus_text == "the cat"


def test_a_settings_file_carries_the_longest_pasted_text():
    """What a link cannot carry a settings file does: 200,000 characters, accented and with line breaks."""
    text = ("Ünïcödé wörds, line after line.\n" * 7_000)[:200_000]
    spec = WordsSpec(part="Word vectors", corpus="pasted", corpus_text=text)
    document = config_document("words", spec.PREFIX, settings(spec)).encode()
    assert len(document) <= MAX_CONFIG_BYTES
    controls = parse_config_document(document, spec.PREFIX)
    assert WordsSpec.from_dict({key.removeprefix(spec.PREFIX): value for key, value in controls.items()}) == spec
    with pytest.raises(ConfigError, match="words.text_chars|at most 200000"):
        WordsSpec(part="Word vectors", corpus="pasted", corpus_text=text + "!").config()
