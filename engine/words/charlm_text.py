"""The character language model's text: where it is cut, and its alphabet.

The text's last 10% is held out: no model learns from it, and every bits-per-character figure is measured on
it. The last 5% of the training 90% is a validation slice whose only use is choosing the bigram baseline's
add-k (engine.words.charlm_baselines); once k is chosen, every model (the recurrent one and the count models)
learns from all of the 90%, so they compete on the same training characters.

The alphabet is the training part's characters, sorted. A held-out character that the training part lacks
cannot be predicted by anything that learnt from it, so all such characters become one extra symbol, UNKNOWN,
added to the alphabet only when the held-out text needs it (tiny Shakespeare has none). The models then give it
almost no probability (it never occurs in training): that cost is real and stays in the held-out figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HELD_OUT_SHARE = 0.1
VALIDATION_SHARE = 0.05  # of the training part
UNKNOWN = "\ufffd"  # Unicode's replacement character: how samples and tables show the unknown symbol


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def encode_with(known: tuple[str, ...], text: str, unknown_id: int | None) -> np.ndarray:
    """Ids into the sorted characters `known`; a character outside them becomes `unknown_id` (ValueError
    when that is None)."""
    codes, known_codes = _code_points(text), _code_points("".join(known))
    ids = np.searchsorted(known_codes, codes).clip(max=len(known) - 1)
    missing = known_codes[ids] != codes
    if missing.any():
        if unknown_id is None:
            unseen = "".join(dict.fromkeys(np.array(list(text))[missing]))
            raise ValueError(f"characters outside the alphabet: {unseen!r}")
        ids[missing] = unknown_id
    return ids.astype(np.int64)


@dataclass(frozen=True)
class CharCorpus:
    """A text cut into its training and held-out parts, as ids into `symbols`."""

    symbols: tuple[str, ...]  # id -> character, sorted; UNKNOWN last when the held-out text needs it
    has_unknown: bool
    train: np.ndarray  # int64 ids of the first 90%
    held_out: np.ndarray  # int64 ids of the last 10%
    validation_start: int  # train[validation_start:] is the validation slice

    @classmethod
    def split(cls, text: str) -> CharCorpus:
        cut = len(text) - round(HELD_OUT_SHARE * len(text))
        train_text, held_out_text = text[:cut], text[cut:]
        known = tuple(sorted(set(train_text)))
        has_unknown = bool(set(held_out_text) - set(known))
        unknown_id = len(known) if has_unknown else None
        return cls(known + ((UNKNOWN,) if has_unknown else ()), has_unknown,
                   encode_with(known, train_text, None), encode_with(known, held_out_text, unknown_id),
                   cut - round(VALIDATION_SHARE * cut))

    @property
    def size(self) -> int:
        return len(self.symbols)

    @property
    def known(self) -> tuple[str, ...]:
        """The characters of the training part (the alphabet without UNKNOWN)."""
        return self.symbols[:-1] if self.has_unknown else self.symbols

    @property
    def start_symbol(self) -> str:
        """What an empty prefix stands for: a newline (a text's passages start after one), else the training
        text's first character."""
        return "\n" if "\n" in self.known else self.symbols[int(self.train[0])]

    def unknown_in(self, text: str) -> tuple[str, ...]:
        """The characters of `text` that the training part lacks, in order of first appearance."""
        known = set(self.known)
        return tuple(dict.fromkeys(c for c in text if c not in known))

    def encode(self, text: str) -> np.ndarray:
        """Ids of `text`'s characters; one the training part lacks becomes UNKNOWN (ValueError without it)."""
        return encode_with(self.known, text, len(self.known) if self.has_unknown else None)

    def decode(self, ids) -> str:
        return "".join(self.symbols[int(i)] for i in ids)
