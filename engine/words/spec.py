"""The Words and sequences page's experiments as data: its control table and the spec it defines
(engine.common.spec). The open tab is the spec's `part`: byte-pair encoding (computed in the page, no job), word
vectors trained live beside their PPMI-SVD baseline, or a character language model trained live. Only the open
part's job runs.

A pasted text (up to 200 KB) is too long for an address: its control is not linked (a link opens the bundled
text's experiment), and a settings file carries it."""

from __future__ import annotations

from typing import Any

from engine.common.clipping import CLIP_MODES
from engine.common.limits import ConfigError
from engine.common.spec import Control, Spec, spec_class
from engine.words.charlm import CharModelConfig
from engine.words.charlm import DEFAULT_HYPERPARAMETERS as CHAR_DEFAULTS
from engine.words.charlm_model import CELLS
from engine.words.texts import BUNDLED_LABELS
from engine.words.vectors import DEFAULT_HYPERPARAMETERS as VECTOR_DEFAULTS
from engine.words.vectors import MAPPED_RELATIONS, WordVectorsConfig

PARTS = ("Tokens", "Word vectors", "Character model")  # the tabs' labels, which the address holds
TOKENS, VECTORS, CHARACTERS = PARTS
BPE_SOURCES = ("shakespeare", "typed")
BPE_SOURCE_LABELS = {"shakespeare": "Tiny Shakespeare", "typed": "The text below"}
SAMPLE_TEXT = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings "
               "and arrows of outrageous fortune. Tokenizers cut unfamiliar words into familiar pieces.")
MERGES = (10, 20, 50, 100, 200, 500, 1000, 2000)
CORPORA = ("templates", "pasted")
CORPUS_LABELS = {"templates": "Planted relations + tiny Shakespeare", "pasted": "A text you paste"}
CHAR_TEXTS = ("shakespeare", "pasted")
CHAR_TEXT_LABELS = {"shakespeare": BUNDLED_LABELS["shakespeare"], "pasted": "A text you paste"}
DIMENSIONS = (2, 5, 10, 20, 30, 50, 100, 200, 300)
SUBSAMPLING = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
VECTOR_LEARNING_RATES = (0.001, 0.003, 0.01, 0.025, 0.05, 0.1, 0.3)
HIDDEN = (16, 32, 64, 128, 256, 512)
BPTT = (2, 4, 8, 16, 32, 64, 128, 256)
CLIP_AT = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
CHAR_LEARNING_RATES = (0.0003, 0.001, 0.003, 0.01, 0.03)
CHAR_BATCHES = (1, 4, 8, 16, 32, 64, 128)
TEMPERATURES = (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0)
COMPARED_TEMPERATURES = (0.5, 1.0, 1.5)  # sampled beside the slider's, from the same prefix and random stream
SPEEDS = ("max", 100, 20, 5, 1)  # steps per second
SAMPLE_CHARS = 200  # per sample: four samples of 200 characters are redrawn in ~0.15 s when the prefix changes
PASTED_CHARS = 200_000
VECTORS_DEFAULT, CHARS_DEFAULT = WordVectorsConfig(), CharModelConfig()
DEFAULT_ANALOGY = VECTOR_DEFAULTS["analogy"]

CONTROLS: tuple[Control, ...] = (
    Control("part", "tabs", "Part", TOKENS, options=PARTS),
    Control("seed", "number", "Seed", 0, low=0, high=99_999,
            help="Fixes the template corpus, the initial weights, the batches, the negatives and the samples."),
    # Tokens
    Control("bpe_from", "segmented", "Learn the merges from", "shakespeare", options=BPE_SOURCES,
            labels=BPE_SOURCE_LABELS,
            help="Tiny Shakespeare (1.1 MB): merges a large text finds, applied to yours. The text below: merges "
                 "learned from it alone."),
    Control("bpe_text", "text_area", "Text to tokenize", SAMPLE_TEXT, max_chars=2000),
    Control("merges", "select_slider", "Merges to learn", 500, options=MERGES, limit="words.merges",
            help="Each merge adds one token to the vocabulary; learning stops sooner when no pair occurs twice."),
    # Word vectors
    Control("corpus", "select", "Corpus", VECTORS_DEFAULT.corpus, options=CORPORA, labels=CORPUS_LABELS,
            help="The planted relations: sentences from templates about 40 word pairs (country–capital, male–"
                 "female, singular–plural, animal–sound), mixed into tiny Shakespeare, with 360 analogies to score."),
    Control("corpus_text", "text_area", "Your text (links do not carry it)", "", max_chars=PASTED_CHARS,
            linked=False, shown=lambda before: before["corpus"] == "pasted",
            help="Up to 200,000 characters; the 5,000 most frequent words are kept."),
    Control("dimensions", "select_slider", "Dimensions", VECTORS_DEFAULT.dimensions, options=DIMENSIONS,
            help="Of each word vector, and of the SVD of the PPMI matrix."),
    Control("window", "slider", "Window (words on each side)", VECTORS_DEFAULT.window, low=1, high=10,
            limit="words.window", help="The same window counts the PPMI matrix's co-occurrences."),
    Control("negatives", "slider", "Negative samples k", VECTOR_DEFAULTS["negatives"], low=1, high=20,
            limit="words.negatives", help="Noise words per true pair, drawn ∝ count^0.75. Changes live."),
    Control("subsample", "select_slider", "Subsampling threshold t", VECTOR_DEFAULTS["subsample"],
            options=SUBSAMPLING, labels={0.0: "off"},
            help="Each occurrence of a word of frequency f is dropped with probability 1 − √(t/f): frequent words "
                 "thin out, rare ones stay. Changes live."),
    Control("vectors_lr", "select_slider", "Learning rate", VECTOR_DEFAULTS["lr"], options=VECTOR_LEARNING_RATES,
            help="Plain SGD on the rows a batch touches; changes live."),
    Control("vectors_speed", "select_slider", "Speed limit (steps/s)", "max", options=SPEEDS),
    Control("word", "text", "Nearest neighbours of", VECTOR_DEFAULTS["word"], max_chars=40),
    Control("a", "text", "a", DEFAULT_ANALOGY[0], max_chars=40),
    Control("b", "text", "− b", DEFAULT_ANALOGY[1], max_chars=40),
    Control("c", "text", "+ c", DEFAULT_ANALOGY[2], max_chars=40),
    Control("relation", "select", "Map", "all", options=MAPPED_RELATIONS,
            labels={"all": "every planted word", **{name: name.replace("-", " – ") for name in MAPPED_RELATIONS[1:]}},
            shown=lambda before: before["corpus"] == "templates",
            help="The maps' words: one relation's 20 words show its parallel offsets best."),
    # The character model
    Control("char_from", "select", "Text", CHARS_DEFAULT.text, options=CHAR_TEXTS, labels=CHAR_TEXT_LABELS,
            help="The last 10% is held out: the bits per character are measured there."),
    Control("char_text", "text_area", "Your text (links do not carry it)", "", max_chars=PASTED_CHARS,
            linked=False, shown=lambda before: before["char_from"] == "pasted",
            help="1,000 to 200,000 characters."),
    Control("cell", "segmented", "Recurrent cell", CHARS_DEFAULT.cell, options=tuple(CELLS), labels=CELLS),
    Control("hidden", "select_slider", "Hidden size", CHARS_DEFAULT.hidden, options=HIDDEN),
    Control("layers", "slider", "Layers", CHARS_DEFAULT.layers, low=1, high=3, limit="charlm.layers"),
    Control("bptt", "select_slider", "Truncated-BPTT length", CHAR_DEFAULTS["bptt"], options=BPTT,
            help="Characters per chunk: gradients reach this far back, while the state flows on from chunk to "
                 "chunk. Changes live."),
    Control("clip", "segmented", "Gradient clipping", CHAR_DEFAULTS["clip"], options=tuple(CLIP_MODES),
            labels=CLIP_MODES, help="Changes live."),
    Control("clip_at", "select_slider", "Clip at", CHAR_DEFAULTS["clip_at"], options=CLIP_AT,
            shown=lambda before: before["clip"] != "off", help="Changes live."),
    Control("char_lr", "select_slider", "Learning rate", CHAR_DEFAULTS["lr"], options=CHAR_LEARNING_RATES,
            help="Adam; changes live."),
    Control("char_batch", "select_slider", "Streams per batch", CHAR_DEFAULTS["batch_size"], options=CHAR_BATCHES,
            help="The training text read as this many contiguous streams side by side. Changes live."),
    Control("char_speed", "select_slider", "Speed limit (steps/s)", "max", options=SPEEDS),
    Control("temperature", "select_slider", "Temperature T", 0.8, options=TEMPERATURES,
            help="Samples draw from softmax(logits / T): below 1 sharper and repetitive, above 1 flatter and "
                 "wilder. Drawn beside T = 0.5, 1 and 1.5."),
    Control("prefix", "text", "Prefix", "ROMEO:", max_chars=200,
            help="What the samples continue, and whose next character is charted."),
)
TOKEN_FIELDS = ("bpe_from", "bpe_text", "merges")
VECTOR_FIELDS = ("corpus", "corpus_text", "dimensions", "window", "negatives", "subsample", "vectors_lr",
                 "vectors_speed")
CHAR_FIELDS = ("char_from", "char_text", "cell", "hidden", "layers", "bptt", "clip", "clip_at", "char_lr",
               "char_batch", "char_speed")


def _speed(value: Any) -> int | None:
    return None if value == "max" else int(value)


@spec_class
class WordsSpec(Spec):
    """One Words and sequences page: a field per control (see CONTROLS); `part` is the open tab."""

    PREFIX = "wd_"
    CONTROLS = CONTROLS
    VIEW_KEYS = ("wd_step", "wd_view")  # the Tokens tab's merge step; the word vectors' open view

    def config(self) -> WordVectorsConfig | CharModelConfig:
        """The open live part's experiment (the Tokens tab has none: it trains nothing)."""
        try:
            if self.part == VECTORS:
                return WordVectorsConfig(corpus=self.corpus, text=self.corpus_text, dimensions=self.dimensions,
                                         window=self.window)
            if self.part == CHARACTERS:
                return CharModelConfig(text=self.char_from, pasted=self.char_text, cell=self.cell,
                                       hidden=self.hidden, layers=self.layers)
        except ValueError as error:
            raise ConfigError(str(error)) from error
        raise ConfigError("the Tokens tab trains nothing: open Word vectors or Character model")

    def fallback_config(self) -> WordVectorsConfig | CharModelConfig:
        return type(self)(part=self.part).config()  # the open part's default experiment

    def temperatures(self) -> tuple[float, ...]:
        """The samples' temperatures, side by side: the slider's among the compared ones, in order."""
        return tuple(sorted({float(self.temperature), *COMPARED_TEMPERATURES}))

    def hyperparameters(self) -> dict[str, Any]:
        if self.part == VECTORS:
            return {"lr": float(self.vectors_lr), "negatives": int(self.negatives),
                    "subsample": float(self.subsample), "word": self.word,
                    "analogy": (self.a, self.b, self.c), "relation": self.relation,
                    "max_steps_per_second": _speed(self.vectors_speed)}
        if self.part == CHARACTERS:
            return {"lr": float(self.char_lr), "bptt": int(self.bptt), "batch_size": int(self.char_batch),
                    "clip": self.clip, "clip_at": float(self.clip_at), "prefix": self.prefix,
                    "temperatures": self.temperatures(), "sample_chars": SAMPLE_CHARS,
                    "max_steps_per_second": _speed(self.char_speed)}
        return {}
