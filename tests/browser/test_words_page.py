"""The Words and sequences page in Chromium: tokens merge by merge (◀ undoes merges, a typed text is tokenized),
word vectors trained live (analogies answered, the planted words mapped, a word outside the vocabulary named),
and the character model trained live (bits per character against its baselines, samples at four temperatures,
the next character after a typed prefix)."""

from __future__ import annotations

import re

import pytest

from engine.words import bpe
from engine.words.corpus import planted_groups
from engine.words.spec import SAMPLE_TEXT
from engine.words.texts import bundled_text
from scripts.browser import (chart_text, chromium, chromium_available, record_positions, recorded_positions,
                             step_counter, wait_until_rendered)
from tests.conftest import ROOT

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

SHOTS = ROOT / "artifacts" / "screenshots"
METRIC = """(label) => {
    const box = [...document.querySelectorAll('[data-testid=stMetric]')]
        .find(m => m.querySelector('[data-testid=stMetricLabel]').innerText.trim() === label);
    return box ? box.querySelector('[data-testid=stMetricValue]').innerText : null;
}"""
# A chart's traces as Plotly drew them (name, x, y, text), and its layout's lines' heights.
TRACES = """(key) => document.querySelector(`.st-key-${key} .js-plotly-plot`)._fullData.map(
    t => ({name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || []), text: [].concat(t.text || [])}))"""
LINES = """(key) => { const l = document.querySelector(`.st-key-${key} .js-plotly-plot`)._fullLayout;
    return (l.shapes || []).map(s => s.y0); }"""


def metric(page, label: str) -> str | None:
    return page.evaluate(METRIC, label)


def traces(page, key: str) -> dict[str, dict]:
    page.locator(f".st-key-{key} .js-plotly-plot").wait_for(timeout=30_000)
    return {trace["name"]: trace for trace in page.evaluate(TRACES, key)}


def ring(page) -> tuple[float, float]:
    drawn = traces(page, "wd_fig_granularity")
    (ringed,) = (t for name, t in drawn.items() if name.startswith("after "))
    return ringed["x"][0], ringed["y"][0]


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"words-{name}.png"), full_page=True)


def paused(page, key: str) -> None:
    """Press Pause and wait until the page says so (its Train button back) and has drawn the last snapshot."""
    page.locator(f".st-key-{key}_pause button").first.click()
    page.locator(f".st-key-{key}_play button").first.wait_for(timeout=30_000)
    wait_until_rendered(page)


def wait_for_metric(page, label: str, pattern: str, timeout_ms: int = 30_000) -> None:
    page.wait_for_function(f"() => /{pattern}/.test(({METRIC})({label!r}) || '')", timeout=timeout_ms)


def test_tokens_undo_merges_and_tokenize_a_typed_text(app_url):
    merges = bpe.learn(bundled_text("shakespeare"), 10)  # the page learns the same 10 merges
    with chromium(height=1400) as browser:
        page = browser.new_page()
        page.goto(f"{app_url}/words?wd_merges=10")
        wait_until_rendered(page)
        tokens = page.locator(".gs-tokens .gs-token")
        expected = bpe.encode(SAMPLE_TEXT, merges)
        assert tokens.count() == len(expected.tokens) == int(metric(page, "Tokens"))
        assert metric(page, "Merges applied (of 10)") == "10"
        drawn = traces(page, "wd_fig_granularity")
        assert {"BPE", "characters", "whole words", "after 10 merges"} <= set(drawn)
        assert len(drawn["BPE"]["x"]) == 11  # after 0, 1, ..., 10 merges
        assert ring(page) == (drawn["BPE"]["x"][10], drawn["BPE"]["y"][10])
        shot(page, "tokens")

        for step in range(9, 5, -1):
            page.locator(".st-key-wd_back button").first.click()
            wait_for_metric(page, "Merges applied (of 10)", f"^{step}$")
        wait_until_rendered(page)
        fewer = bpe.encode(SAMPLE_TEXT, merges, upto=6)
        assert int(metric(page, "Tokens")) == len(fewer.tokens) > len(expected.tokens)
        assert tokens.count() == len(fewer.tokens)
        assert ring(page) == (drawn["BPE"]["x"][6], drawn["BPE"]["y"][6])  # the ring moved back along the path
        assert "wd_step=6" in page.url  # a link shows the same step

        typed = "low low low lower lowest <b>bold</b>"
        page.locator(".st-key-wd_bpe_from button").filter(has_text="The text below").click()
        page.locator(".st-key-wd_fig_granularity .gtitle").filter(has_text="Your text").wait_for(timeout=30_000)
        wait_until_rendered(page)
        box = page.locator(".st-key-wd_bpe_text textarea")
        box.fill(typed)
        box.press("Control+Enter")
        wait_for_metric(page, "Characters", f"^{len(typed)}$")
        wait_until_rendered(page)
        own = bpe.encode(typed, bpe.learn(typed, 500))
        shown = tokens.all_inner_texts()
        assert shown == list(own.tokens) and "".join(shown) == "".join(bpe.split_words(typed))
        assert "▁low" in shown and len(shown) < len(typed)  # merges learned from the typed text itself
        assert page.locator(".gs-tokens b").count() == 0  # the typed tag is text
        # Fewer merges than the step shown: the step follows, and no notice blames a link that was never opened.
        assert page.get_by_text("Some settings in the link").count() == 0
        shot(page, "tokens-typed")
        assert not page.locator("[data-testid=stException]").count()


def test_word_vectors_train_map_the_planted_words_and_answer_analogies(app_url):
    planted = set(planted_groups())
    with chromium(height=1500) as browser:
        page = browser.new_page()
        page.goto(f"{app_url}/words?wd_part=Word+vectors")
        wait_until_rendered(page)
        page.locator(".st-key-wd_vectors_play button").first.click()
        wait_for_metric(page, "Analogies top-1", "^([1-9]\\d*)%$", timeout_ms=90_000)
        paused(page, "wd_vectors")
        assert step_counter(page) > 0
        for key in ("wd_fig_map", "wd_fig_map_ppmi"):
            drawn = traces(page, key)
            words = {word for name, trace in drawn.items() if name != "planted pairs" for word in trace["text"]}
            assert words == planted, key  # every planted word, once, the query's among them
            assert drawn["your query"]["text"] == ["paris", "king", "man", "woman"]
            assert drawn["capital"]["text"][:3] == ["rome", "berlin", "madrid"]  # paris, the query, drawn apart
        shot(page, "vectors")

        page.get_by_role("tab", name="Neighbours and analogies").click()
        answers = traces(page, "wd_fig_analogy")
        assert set(answers) == {"skip-gram (SGNS)", "PPMI + SVD (LSA)"}
        for trace in answers.values():
            listed = [label.strip() for label in trace["y"]]
            assert len(listed) >= 5 and not {"king", "man", "woman"} & set(listed)  # the query words left out
        assert "king − man + woman ≈ ?" in chart_text(page, "wd_fig_analogy")
        assert "Expected: queen" in page.locator("[data-testid=stMain]").inner_text()

        word = page.locator(".st-key-wd_word input")
        word.fill("zyzzyva")
        word.press("Enter")
        warning = page.locator("[data-testid=stAlert]").filter(has_text="'zyzzyva' is not in the vocabulary")
        warning.wait_for(timeout=30_000)
        wait_until_rendered(page)
        shot(page, "vectors-analogies")
        assert not page.locator("[data-testid=stException]").count()


# After Train, the browser keeps the Train button (its key) after the new Pause until the run ends; ui.live hides
# the later of the two. Which one was shown whenever both stood there ("pause", or "play" were the order to turn).
WATCH_TRAIN_AND_PAUSE_JS = """() => { window.shownWhileBoth = [];
    new MutationObserver(() => {
      const play = document.querySelector('.st-key-wd_chars_play');
      const pause = document.querySelector('.st-key-wd_chars_pause');
      if (play && pause) window.shownWhileBoth.push(getComputedStyle(pause).display !== 'none' ? 'pause' : 'play');
    }).observe(document.body, {childList: true, subtree: true}); }"""


def test_the_character_model_trains_samples_and_predicts_after_a_prefix(app_url):
    with chromium(height=1500) as browser:
        page = browser.new_page()
        page.goto(f"{app_url}/words?wd_part=Character+model")
        wait_until_rendered(page)
        page.evaluate(WATCH_TRAIN_AND_PAUSE_JS)
        page.locator(".st-key-wd_chars_play button").first.click()
        wait_for_metric(page, "Held-out bits/char", "^\\d", timeout_ms=60_000)
        # While the run after Train kept the old button beside the new one, the one shown was Pause
        assert set(page.evaluate("window.shownWhileBoth")) <= {"pause"}
        record_positions(page, "[data-testid=stMain]", 3)  # new samples each refresh: nothing under them moves
        moved = {key: ys for key, ys in recorded_positions(page).items() if len(ys) > 1}
        assert moved == {}
        paused(page, "wd_chars")
        assert step_counter(page) > 0
        drawn = traces(page, "wd_fig_bpc")
        assert len(drawn["held out"]["y"]) >= 2 and "training batches" in drawn
        held_out = float(metric(page, "Held-out bits/char"))
        assert drawn["held out"]["y"][-1] == pytest.approx(held_out, abs=1e-3)
        unigram, bigram = float(metric(page, "Unigram")), float(metric(page, "Bigram"))
        assert 0 < bigram < unigram < 8
        lines = sorted(page.evaluate(LINES, "wd_fig_bpc"))
        assert lines == pytest.approx([bigram, unigram], abs=1e-3)
        main = page.locator("[data-testid=stMain]").inner_text()
        assert re.findall(r"T = [\d.]+(?: \(your slider\))?", main) == [
            "T = 0.5", "T = 0.8 (your slider)", "T = 1", "T = 1.5"]
        samples = page.locator("[data-testid=stMain] div[style*='pre-wrap']")
        assert samples.count() == 4 and all(text.startswith("ROMEO:") for text in samples.all_inner_texts())
        assert chart_text(page, "wd_fig_next") == "The next character after 'ROMEO:'"
        shot(page, "characters")

        prefix = page.locator(".st-key-wd_prefix input")
        prefix.fill("JULIET")
        prefix.press("Enter")
        page.locator(".st-key-wd_fig_next .gtitle").filter(has_text="The next character after 'JULIET'").wait_for(
            timeout=30_000)
        wait_until_rendered(page)
        assert chart_text(page, "wd_fig_next") == "The next character after 'JULIET'"
        next_chars = traces(page, "wd_fig_next")
        assert set(next_chars) == {"the network", "bigram"} and len(next_chars["the network"]["x"]) >= 3
        assert all(text.startswith("JULIET") for text in samples.all_inner_texts())
        shot(page, "characters-prefix")
        assert not page.locator("[data-testid=stException]").count()
