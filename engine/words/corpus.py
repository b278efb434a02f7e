"""The texts word vectors learn from: a corpus generated from templates with relations planted in it, or a text
a user pastes, both as a list of sentences, each a list of lowercase word tokens.

The template corpus plants four relations of ten word pairs each (country-capital, male-female,
singular-plural, animal-sound). A word's sentences say two things about it, as real text does: which pair it
belongs to (each pair owns two identity words, e.g. "french" and "wine" for france and paris, that appear with
both of its words alike) and which side of its relation it is on (side words: capitals come with "city",
"streets", "mayor"; countries with "country", "border", "government"; plurals with "many", "several", "are"; female
words with "she", "her"). So a word's contexts are roughly the sum of its pair's and its side's, and the difference
paris - france points the same way as rome - italy: what skip-gram (and an SVD of PPMI) can turn into parallel
offsets. Filler phrases before or after half the sentences keep templates from being fixed n-grams.

The templates alone would be too easy (skip-gram answers every analogy within seconds, on a 300-word
vocabulary where subsampling has nothing to do). So they are mixed with real text: every sentence of the bundled
tiny Shakespeare (engine.words.texts, ~200,000 words) comes first, ~100,000 template words follow. That gives
the corpus a Zipfian vocabulary of ~12,000 words (5,000 kept by default) dominated by "the", "and", "i", where
subsampling matters, and it gives several planted words ("king", "queen", "father", "france", "rome") other
meanings than the templates', as words have in real text.

An analogy is written as the page shows it, a - b + c ≈ d: `paris - france + italy ≈ rome`, i.e. a is to b as d
is to c. Every relation plants all its ordered pairs of distinct pairs (i, j): second_i - first_i + first_j ≈
second_j, 10 × 9 = 90 per relation, 360 in all.

A pasted text is lowercased and split into sentences at . ! ? and blank lines, then into words by WORD_PATTERN:
runs of letters, with inner apostrophes kept ("don't", "o'er"); digits and punctuation are dropped.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

from engine.words.texts import bundled_text, check_pasted


@dataclass(frozen=True)
class Relation:
    name: str  # "country-capital"
    sides: tuple[str, str]  # each side's group label: ("country", "capital")
    pairs: tuple[tuple[str, str, tuple[str, str]], ...]  # (first, second, the pair's two identity words)
    first_templates: tuple[str, ...]  # sentences about a first-side word: {first}, {own} (an identity word)
    second_templates: tuple[str, ...]  # about a second-side word: {second}, {own}
    both_templates: tuple[str, ...]  # about the pair: {first}, {second}, {own}


@dataclass(frozen=True)
class Analogy:
    """a - b + c ≈ d, from one relation."""

    a: str
    b: str
    c: str
    d: str
    relation: str

    def __str__(self) -> str:
        return f"{self.a} − {self.b} + {self.c} ≈ {self.d}"


RELATIONS = (
    Relation(
        "country-capital", ("country", "capital"),
        (("france", "paris", ("french", "wine")), ("italy", "rome", ("italian", "pasta")),
         ("germany", "berlin", ("german", "beer")), ("spain", "madrid", ("spanish", "paella")),
         ("japan", "tokyo", ("japanese", "sushi")), ("china", "beijing", ("chinese", "tea")),
         ("russia", "moscow", ("russian", "vodka")), ("egypt", "cairo", ("egyptian", "pyramids")),
         ("greece", "athens", ("greek", "olives")), ("norway", "oslo", ("norwegian", "fjords"))),
        ("{first} is a country known for its {own}", "the government of {first} talks about {own}",
         "people across the country of {first} love {own}", "{first} has a long border and much {own}"),
        ("{second} is a busy city full of {own}", "the mayor of the city of {second} likes {own}",
         "we walked the streets of {second} looking for {own}", "downtown {second} is a city of {own}"),
        ("the capital of {first} is {second}", "{second} is the capital city of {first}")),
    Relation(
        "male-female", ("male", "female"),
        (("king", "queen", ("throne", "crown")), ("man", "woman", ("job", "office")),
         ("boy", "girl", ("school", "playground")), ("father", "mother", ("children", "family")),
         ("son", "daughter", ("parents", "childhood")), ("brother", "sister", ("siblings", "twins")),
         ("uncle", "aunt", ("cousins", "relatives")), ("husband", "wife", ("wedding", "marriage")),
         ("prince", "princess", ("castle", "kingdom")), ("actor", "actress", ("film", "stage"))),
        ("the {first} said he loves the {own}", "his {own} made the {first} proud of himself",
         "he is the {first} and he thinks about the {own}", "mr smith the {first} told him about the {own}"),
        ("the {second} said she loves the {own}", "her {own} made the {second} proud of herself",
         "she is the {second} and she thinks about the {own}", "mrs smith the {second} told her about the {own}"),
        ("the {first} and the {second} talked about the {own}",)),
    Relation(
        "singular-plural", ("singular", "plural"),
        (("apple", "apples", ("orchard", "juice")), ("car", "cars", ("garage", "road")),
         ("book", "books", ("library", "pages")), ("house", "houses", ("roof", "garden")),
         ("tree", "trees", ("forest", "leaves")), ("chair", "chairs", ("table", "cushion")),
         ("river", "rivers", ("bridge", "valley")), ("song", "songs", ("music", "radio")),
         ("phone", "phones", ("battery", "screen")), ("shoe", "shoes", ("feet", "laces"))),
        ("there is a {first} near the {own}", "this one {first} is by the {own}",
         "a single {first} was in the {own}", "i found one {first} and it was near the {own}"),
        ("there are many {second} near the {own}", "these two {second} are by the {own}",
         "several {second} were in the {own}", "i found many {second} and they were near the {own}"),
        ("one {first} or many {second} near the {own}",)),
    Relation(
        "animal-sound", ("animal", "sound"),
        (("dog", "barks", ("kennel", "bone")), ("cat", "meows", ("whiskers", "yarn")),
         ("cow", "moos", ("milk", "barn")), ("duck", "quacks", ("pond", "feathers")),
         ("lion", "roars", ("savanna", "mane")), ("horse", "neighs", ("saddle", "stable")),
         ("sheep", "bleats", ("wool", "meadow")), ("owl", "hoots", ("night", "branch")),
         ("frog", "croaks", ("swamp", "lily")), ("bee", "buzzes", ("honey", "hive"))),
        ("the {first} lives near the {own}", "we fed the {first} by the {own}",
         "the {first} is an animal of the {own}", "a farmer keeps the {first} and its {own}"),
        ("something near the {own} {second} loudly", "we heard a sound as it {second} by the {own}",
         "the loud sound that {second} came from the {own}", "it {second} and {second} loudly at the {own}"),
        ("the {first} {second} near the {own}",)),
)
FILLER_PHRASES = ("yesterday", "in the morning", "as usual", "we think", "of course", "after lunch", "every day",
                  "they say", "at last", "quite often", "later", "today", "again", "then", "in winter",
                  "last summer", "once more", "to be honest")
PHRASE_SHARE = 0.5  # of relation sentences that get a filler phrase before or after
BOTH_SHARE = 0.15  # of relation sentences that name both words of a pair
BACKGROUND = "shakespeare"
TEMPLATE_SENTENCES = 12_000  # about 100,000 words, beside tiny Shakespeare's 200,000

WORD_PATTERN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
SENTENCE_END = re.compile(r"[.!?]+|\n\s*\n")


def planted_analogies() -> tuple[Analogy, ...]:
    """Every relation's ordered pairs of distinct pairs: second_i - first_i + first_j ≈ second_j."""
    return tuple(Analogy(second_i, first_i, first_j, second_j, relation.name)
                 for relation in RELATIONS
                 for i, (first_i, second_i, _) in enumerate(relation.pairs)
                 for j, (first_j, second_j, _) in enumerate(relation.pairs) if i != j)


def expected_answers() -> dict[tuple[str, str, str], str]:
    """The answer d of every query a - b + c that a planted parallelogram answers, in any of its forms: a + c =
    b + d, so {a, c} is one diagonal of the parallelogram, b one end of the other and d its other end
    (paris - france + italy, italy - france + paris and france - paris + rome all count)."""
    answers = {}
    for analogy in planted_analogies():
        for (a, c), other in (((analogy.a, analogy.c), (analogy.b, analogy.d)),
                              ((analogy.b, analogy.d), (analogy.a, analogy.c))):
            for b, d in (other, other[::-1]):
                answers[(a, b, c)] = answers[(c, b, a)] = d
    return answers


def planted_groups() -> dict[str, str]:
    """Each planted word's group (its side of its relation), for colouring: {"paris": "capital", ...}."""
    return {word: relation.sides[side] for relation in RELATIONS for pair in relation.pairs
            for side, word in enumerate(pair[:2])}


def planted_pairs() -> tuple[tuple[str, str, str], ...]:
    """(first, second, relation) for every planted pair."""
    return tuple((first, second, relation.name) for relation in RELATIONS for first, second, _ in relation.pairs)


def template_sentences(seed: int, sentences: int = TEMPLATE_SENTENCES) -> tuple[tuple[str, ...], ...]:
    """The template corpus: the background text's sentences, then the planted ones."""
    return background_sentences() + planted_sentences(seed, sentences)


def planted_sentences(seed: int, sentences: int = TEMPLATE_SENTENCES) -> tuple[tuple[str, ...], ...]:
    """`sentences` template sentences drawn with Python's `random.Random(seed)` (the same seed, the same
    sentences), each relation, pair and side equally often."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
    corpus = []
    for _ in range(sentences):
        relation = rng.choice(RELATIONS)
        first, second, own = rng.choice(relation.pairs)
        if rng.random() < BOTH_SHARE:
            templates = relation.both_templates
        else:
            templates = relation.first_templates if rng.random() < 0.5 else relation.second_templates
        words = rng.choice(templates).format(first=first, second=second, own=rng.choice(own)).split()
        if rng.random() < PHRASE_SHARE:
            phrase = rng.choice(FILLER_PHRASES).split()
            words = phrase + words if rng.random() < 0.5 else words + phrase
        corpus.append(tuple(words))
    return tuple(corpus)


@lru_cache(maxsize=1)
def background_sentences() -> tuple[tuple[str, ...], ...]:
    """The background text's sentences, the same for every seed (split once per process)."""
    return sentences_of(bundled_text(BACKGROUND))


def pasted_sentences(text: str) -> tuple[tuple[str, ...], ...]:
    """A pasted text (checked: engine.words.texts.check_pasted) as sentences of lowercase words."""
    return sentences_of(check_pasted(text))


def sentences_of(text: str) -> tuple[tuple[str, ...], ...]:
    """Any text as sentences of lowercase words (the module docstring says how)."""
    sentences = (tuple(WORD_PATTERN.findall(part)) for part in SENTENCE_END.split(text.lower()))
    return tuple(sentence for sentence in sentences if sentence)
