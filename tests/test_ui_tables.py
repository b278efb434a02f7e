"""ui.tables: a few rows as a Markdown table, each cell showing its text as it is (the Optimizers page's summary in
Chromium: tests/browser/test_charts.py)."""

from tests.conftest import table_cells
from ui.tables import markdown_table


def test_every_cell_reads_back_as_its_text_whatever_markdown_or_latex_signs_it_holds():
    rows = [{"a | b": "x | y", "steps": 150, "f": 6.497e-24, "signs": r"*bold* _u_ $5$ <b>hi</b> # ~x~ \ back",
             "list": "1. item", "formula": "⌊(20 + 2·0 − 1·(3−1) − 1)/1⌋ + 1 = 18", "lines": "two\nlines"},
            {"a | b": "", "steps": 12_345, "f": 0.5, "signs": "`code` [link](x) !", "list": "- item",
             "formula": "×", "lines": "  spaced  "}]
    header, *cells = table_cells(markdown_table(rows))
    assert header == list(rows[0])
    assert cells == [["x | y", "150", "6.497e-24", r"*bold* _u_ $5$ <b>hi</b> # ~x~ \ back", "1. item",
                      "⌊(20 + 2·0 − 1·(3−1) − 1)/1⌋ + 1 = 18", "two lines"],
                     ["", "12,345", "0.5", "`code` [link](x) !", "- item", "×", "spaced"]]
    lines = markdown_table(rows).split("\n")
    assert len(lines) == 4  # one line a row: a cell's new line would end the table
    assert lines[1] == "|---|--:|--:|---|---|---|---|"  # the columns of numbers aligned right
