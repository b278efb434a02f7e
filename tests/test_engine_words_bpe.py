"""Byte-pair encoding against a brute-force reference: learning that recounts every adjacent pair of every word
occurrence after each merge, and encoding that applies the merges one at a time to every word."""

import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.common.limits import ConfigError
from engine.words.bpe import BpeModel, Merge, encode, granularity, learn, learned_on_bundled, split_words
from engine.words.texts import bundled_text

SMALL_TEXTS = [
    "low " * 5 + "lower " * 2 + "newest " * 6 + "widest " * 3,  # Sennrich et al.'s example
    "aaaa aaa aa a aaaaaaa",  # runs of one letter: overlapping pairs
    "abab ababab baba abba",
    "The cat sat on the mat. The cat, the hat!\nThe mat?  -- the cat's.",
    "ünïcödé ünïcödé café café 日本語 日本語 ✓✓ ✓✓✓",
]


def naive_merge(symbols, left, right):
    """Replace each (left, right) by left + right, scanning from the left; a merged pair is not looked at again."""
    out, skip = [], False
    for position, symbol in enumerate(symbols):
        if skip:
            skip = False
        elif position + 1 < len(symbols) and symbol == left and symbols[position + 1] == right:
            out.append(left + right)
            skip = True
        else:
            out.append(symbol)
    return out


def naive_learn(text, merges):
    """The merges as (left, right, count), by recounting every pair of every word occurrence after each merge; the
    most frequent pair wins, ties to the smallest (left, right); stop when no pair occurs twice. Also the
    segmentation of each word occurrence at the end, and the token total after each merge."""
    words = [list(word) for word in split_words(text)]
    learned, totals = [], [sum(map(len, words))]
    for _ in range(merges):
        counts = Counter(pair for word in words for pair in zip(word, word[1:]))
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        if counts[pair] < 2:
            break
        learned.append((pair[0], pair[1], counts[pair]))
        words = [naive_merge(word, *pair) for word in words]
        totals.append(sum(map(len, words)))
    return learned, words, totals


def naive_encode(text, model, upto=None):
    """Each merge in turn applied to every word of `text`: tokens, and the index of the word each came from."""
    words = [list(word) for word in split_words(text)]
    for merge in model.merges[:upto]:
        words = [naive_merge(word, merge.left, merge.right) for word in words]
    return [token for word in words for token in word], [index for index, word in enumerate(words) for _ in word]


def as_triples(model):
    return [(merge.left, merge.right, merge.count) for merge in model.merges]


@pytest.fixture(scope="module")
def shakespeare():
    return bundled_text("shakespeare")


def test_words_split_at_whitespace_and_punctuation_with_a_boundary_mark_after_whitespace():
    assert split_words("Hello, world!\n  I'll go--now") == ["▁Hello", ",", "▁world", "!", "▁I'll", "▁go", "--", "now"]
    assert split_words("  (the) 'tis") == ["▁(", "the", ")", "▁'", "tis"]
    assert split_words("") == [] and split_words(" \n\t ") == []


@pytest.mark.parametrize("text", SMALL_TEXTS)
def test_learned_merges_and_final_segmentation_match_brute_force(text):
    model = learn(text, 60)
    learned, words, totals = naive_learn(text, 60)
    assert as_triples(model) == learned
    assert list(model.training_tokens) == totals
    tokenization = encode(text, model)
    assert list(tokenization.tokens) == [token for word in words for token in word]
    for k in (0, 1, len(model.merges) // 2, len(model.merges)):
        assert (list(encode(text, model, upto=k).tokens), list(encode(text, model, upto=k).word_of_token)) \
            == naive_encode(text, model, upto=k)


def test_merges_on_a_slice_of_shakespeare_match_brute_force(shakespeare):
    text = shakespeare[:6000]
    model = learn(text, 120)
    learned, words, totals = naive_learn(text, 120)
    assert as_triples(model) == learned and list(model.training_tokens) == totals
    assert list(encode(text, model).tokens) == [token for word in words for token in word]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c\n\t,", max_size=40), st.integers(0, 15))
def test_learning_and_encoding_match_brute_force_on_random_texts(text, merges):
    model = learn(text, merges)
    learned, words, _ = naive_learn(text, merges)
    assert as_triples(model) == learned
    assert model.stopped_early == (len(learned) < merges)
    tokenization = encode(text, model)
    assert list(tokenization.tokens) == [token for word in words for token in word]
    assert_spans_are_the_tokens(text, tokenization)


def test_a_tie_goes_to_the_pair_first_in_string_order():
    # ("▁", "b"), ("b", "a"), ("▁", "a") and ("a", "b") all occur twice; "a" < "b" < "▁" (U+2581)
    assert learn("ba ab ba ab", 1).merges == (Merge("a", "b", 2),)


def test_learning_stops_when_no_pair_occurs_twice_and_says_so():
    model = learn("abc abd", 10)
    assert as_triples(model) == [("a", "b", 2), ("▁", "ab", 2)]  # the tie goes to ("a", "b")
    assert model.stopped_early and model.requested == 10
    assert not learn("abc abd", 2).stopped_early


def test_encoding_follows_merge_order_even_when_a_later_merge_rebuilds_a_symbol():
    """GPT-2's rule (merge the lowest-ranked pair first) would merge ("abc", "d") after ("a", "bc") rebuilt "abc";
    applied in order, ("abc", "d") had its turn before "abc" existed, so it does not apply."""
    merges = tuple(Merge(left, right, 1) for left, right in
                   [("b", "c"), ("a", "b"), ("ab", "c"), ("abc", "d"), ("a", "bc")])
    model = BpeModel(alphabet=("a", "b", "c", "d", "▁"), merges=merges, requested=5, training_tokens=(5,) * 6,
                     training_words=1)
    assert encode("abcd", model).tokens == ("▁", "abc", "d")
    assert list(encode("abcd cabcd", model).tokens) == naive_encode("abcd cabcd", model)[0]


def test_encoding_a_text_with_a_model_learned_on_another_matches_merges_applied_one_by_one(shakespeare):
    model = learn(shakespeare[:50_000], 300)
    text = shakespeare[-4000:]
    for k in (0, 7, 100, 300):
        assert (list(encode(text, model, upto=k).tokens), list(encode(text, model, upto=k).word_of_token)) \
            == naive_encode(text, model, upto=k)


def assert_spans_are_the_tokens(text, tokenization):
    """text[start:end] is each token, its "▁" read as the whitespace character before the word; the spans do not
    overlap, and together they hold every character of the text that is not whitespace."""
    covered = [False] * len(text)
    for index, (token, (start, end)) in enumerate(zip(tokenization.tokens, tokenization.spans)):
        piece = text[start:end]
        if token.startswith("▁") and piece[:1].isspace():
            assert piece[1:] == token[1:]
        elif token.startswith("▁"):  # the first word of a text that starts with it: its mark stands for nothing
            assert index == 0 and start == 0 and piece == token[1:]
        else:
            assert piece == token
        assert not any(covered[start:end])
        covered[start:end] = [True] * (end - start)
    assert all(seen or character.isspace() for seen, character in zip(covered, text))


def test_spans_are_the_tokens_in_the_text_with_the_boundary_mark_standing_for_whitespace():
    text = "Good morrow,\n  cousin!--'tis   I.\t✓"
    model = learn(text * 3, 30)
    tokenization = encode(text, model)
    assert_spans_are_the_tokens(text, tokenization)
    assert_spans_are_the_tokens(" " + text, encode(" " + text, model))
    word_of_each_token = Counter(naive_encode(text, model)[1])
    assert list(tokenization.tokens_per_word) == [word_of_each_token[index] for index in range(len(split_words(text)))]


def test_characters_the_merges_never_saw_stay_single_tokens():
    model = learn("the cat and the hat", 20)
    text = "thé ✓ zebra 日本, the"
    tokenization = encode(text, model)
    assert "".join(tokenization.tokens) == "".join(split_words(text))
    for character in "é✓z日本":
        assert character in tokenization.tokens
    assert list(tokenization.tokens) == naive_encode(text, model)[0]


def test_an_empty_text_has_no_tokens():
    model = learn("the cat and the hat", 5)
    for text in ("", "  \n\t"):
        tokenization = encode(text, model)
        assert tokenization.tokens == () and tokenization.words == () and tokenization.spans.shape == (0, 2)
        assert list(granularity(text, model).token_counts) == [0] * (len(model.merges) + 1)
    empty = learn("", 10)
    assert empty.merges == () and empty.alphabet == () and empty.stopped_early and empty.training_tokens == (0,)


@pytest.mark.parametrize("merges", [-1, 5000, 2.5, "10", True, None])
def test_a_merge_count_out_of_its_limit_is_refused_naming_it(merges):
    with pytest.raises(ConfigError, match="words.merges"):
        learn("the cat", merges)


@pytest.mark.parametrize("text", [None, 42, b"bytes", ["the", "cat"]])
def test_a_text_that_is_not_a_string_is_refused(text):
    model = learn("the cat", 2)
    for call in (lambda: learn(text, 2), lambda: encode(text, model), lambda: granularity(text, model)):
        with pytest.raises(ConfigError, match="must be a string"):
            call()


@pytest.mark.parametrize("upto", [-1, 3, 1.0])
def test_a_step_beyond_the_models_merges_is_refused(upto):
    model = learn("the cat the cat", 2)
    assert len(model.merges) == 2
    with pytest.raises(ConfigError, match="from 0 to 2"):
        encode("the cat", model, upto=upto)


def test_the_vocabulary_grows_by_the_merged_symbols_in_order():
    model = learn(SMALL_TEXTS[0], 10)
    assert model.vocabulary(0) == model.alphabet == tuple(sorted(set("".join(split_words(SMALL_TEXTS[0])))))
    assert model.vocabulary(3) == model.alphabet + tuple(merge.left + merge.right for merge in model.merges[:3])
    assert list(model.vocabulary_sizes()) == [len(model.vocabulary(k)) for k in range(11)]
    # a merged symbol made twice counts once
    twice = BpeModel(alphabet=("a", "b", "c"), merges=(Merge("a", "b", 2), Merge("ab", "c", 2), Merge("b", "c", 2),
                                                      Merge("a", "bc", 2)), requested=4, training_tokens=(9,) * 5,
                     training_words=3)
    assert twice.vocabulary() == ("a", "b", "c", "ab", "abc", "bc")
    assert list(twice.vocabulary_sizes()) == [3, 4, 5, 6, 6]


def test_granularity_matches_direct_counts():
    model = learn(SMALL_TEXTS[3] * 2, 25)
    text = "The cat sat; the zebra (日本) sat on the mat, the cat!"
    result = granularity(text, model)
    words = split_words(text)
    unseen = set("".join(words)) - set(model.alphabet)
    assert unseen == {"z", "b", "r", "日", "本", ";", "(", ")"}
    for k in range(len(model.merges) + 1):
        tokens = naive_encode(text, model, upto=k)[0]
        assert result.token_counts[k] == len(tokens)
        assert set(tokens) <= set(model.vocabulary(k)) | unseen
        assert result.vocabulary_sizes[k] == len(model.vocabulary(k)) + len(unseen)
        assert result.tokens_per_word[k] == pytest.approx(len(tokens) / len(words))
    assert result.token_counts[0] == len(text) + 1  # every character, each single space as a "▁", and the first "▁"
    assert result.word_count == 17  # The cat sat ; the zebra ( 日本 ) sat on the mat , the cat !
    assert result.word_count == len(words)
    assert result.distinct_words == len({"The", "cat", "sat", ";", "the", "zebra", "(", "日本", ")", "on", "mat", ",",
                                         "!"})


def test_the_training_token_counts_agree_with_encoding_the_training_text(shakespeare):
    text = shakespeare[:200_000]
    model = learn(text, 400)
    assert not model.stopped_early and len(model.merges) == 400
    assert model.training_words == len(split_words(text))
    assert np.array_equal(granularity(text, model).token_counts, model.training_tokens)
    for k in (0, 1, 50, 400):
        assert len(encode(text, model, upto=k).tokens) == model.training_tokens[k]
    assert all(later < earlier for earlier, later in zip(model.training_tokens, model.training_tokens[1:]))


def test_a_model_pickles():
    model = learn(SMALL_TEXTS[0], 10)
    assert pickle.loads(pickle.dumps(model)) == model  # noqa: S301 - bytes made here; the page caches the model
    tokenization = pickle.loads(pickle.dumps(encode("lowest newer", model)))  # noqa: S301 - bytes made here
    assert tokenization.tokens == encode("lowest newer", model).tokens


@pytest.mark.parametrize("merges", [0, 1, 37, 120, 400])
def test_a_model_cut_to_its_first_merges_is_the_model_learned_with_that_many(shakespeare, merges):
    longest = learn(shakespeare, 400)
    assert longest.first(merges) == learn(shakespeare, merges)
    cut = granularity(shakespeare, longest).first(merges)
    direct = granularity(shakespeare, learn(shakespeare, merges))
    assert np.array_equal(cut.vocabulary_sizes, direct.vocabulary_sizes)
    assert np.array_equal(cut.token_counts, direct.token_counts)
    assert (cut.word_count, cut.distinct_words) == (direct.word_count, direct.distinct_words)


def test_a_model_that_stopped_early_stays_stopped_early_when_cut():
    model = learn("low lower lowest", 50)
    assert model.stopped_early and model.first(20) == learn("low lower lowest", 20)
    with pytest.raises(ConfigError, match="asked for 50"):
        model.first(51)


def test_the_bundled_text_is_learned_once_and_cut_to_the_merges_asked():
    model, counts = learned_on_bundled("shakespeare", 300)
    text = bundled_text("shakespeare")
    assert model == learn(text, 300)
    assert np.array_equal(counts.token_counts, granularity(text, model).token_counts)
    assert learned_on_bundled("shakespeare", 20)[0].merges == model.merges[:20]
