"""The texts the Words and sequences page learns from: one bundled public-domain text, or text a user pastes.

`shakespeare.txt` is "tiny Shakespeare" (1,115,394 characters): lines from Shakespeare's plays, public domain,
as Andrej Karpathy compiled them for char-rnn (github.com/karpathy/char-rnn, data/tinyshakespeare/input.txt).
It ships with the project; nothing is downloaded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from engine.common.limits import ConfigError, check

TEXTS_FOLDER = Path(__file__).resolve().parent / "texts"
BUNDLED = {"shakespeare": "shakespeare.txt"}
BUNDLED_LABELS = {"shakespeare": "Tiny Shakespeare (1.1 MB, public domain)"}


@lru_cache(maxsize=None)
def bundled_text(name: str) -> str:
    """The whole bundled text called `name` (read once per process)."""
    if name not in BUNDLED:
        raise ConfigError(f"unknown text {name!r}; choose one of {', '.join(BUNDLED)}")
    return (TEXTS_FOLDER / BUNDLED[name]).read_text(encoding="utf-8")


def check_pasted(text: str, limit: str = "words.text_chars") -> str:
    """`text` as pasted, refused (ConfigError naming the limit) when it is not a string, or empty or longer than
    the limit `limit` allows."""
    if not isinstance(text, str):
        raise ConfigError(f"a pasted text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise ConfigError("the pasted text is empty: paste some text, or choose the bundled one")
    check(limit, len(text))
    return text
