"""A few rows of text a reader takes in whole, as a Markdown table: its text wraps, so every column fits a laptop's
page, and it costs a new browser no element code of its own. `st.table` and `st.dataframe` each load the Arrow
format's code (~0.75 MB, and ~0.6 MB more for the data frame's grid) before any element of the page shows: with
its summary a Markdown table, the Optimizers page's first chart took 2.03 s where it took 2.15 s (medians of 10,
interleaved), and a class on a school's Wi-Fi loads 0.75 MB less (and no Arrow table is built at each run).
`st.dataframe` stays for long tables a reader scrolls or sorts (a class's runs)."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import streamlit as st

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|$~])")


def _cell(value: Any) -> str:
    """A cell's text, shown as it is: Markdown's and LaTeX's signs escaped, lines joined."""
    text = value if isinstance(value, str) else f"{value:,}" if isinstance(value, int) else str(value)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows (dicts with the same keys, in the columns' order) as a GitHub-flavoured Markdown table; a column of
    numbers only is aligned right."""
    columns = list(rows[0])
    numbers = [all(isinstance(row[c], (int, float)) and not isinstance(row[c], bool) for row in rows) for c in columns]
    lines = ["| " + " | ".join(map(_cell, columns)) + " |", "|" + "".join("--:|" if n else "---|" for n in numbers)]
    lines += ["| " + " | ".join(_cell(row[column]) for column in columns) + " |" for row in rows]
    return "\n".join(lines)


def static_table(rows: Sequence[Mapping[str, Any]], where: Any = None) -> None:
    """Draws the rows as a table (nothing for no rows)."""
    if rows:
        (where if where is not None else st).markdown(markdown_table(rows))
