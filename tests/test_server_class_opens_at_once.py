"""A class opening the same page at the same moment, right after the server started: ten sessions
(Streamlit's own protocol, scripts/streamlit_client.py) open every page together. No session may
show an exception and the server's log must hold no traceback: whatever a page imports lazily
(Plotly reads pandas from sys.modules while another session's thread may still be importing it)
is loaded before any page draws."""

from __future__ import annotations

import asyncio

import pytest

from scripts.browser import running_app
from scripts.streamlit_client import StreamlitSession
from tests.conftest import ROOT
from ui.catalog import PAGES

SESSIONS = 10
PAGE_PATHS = [info.url_path for info in PAGES]


async def open_together(url: str) -> list[str]:
    sessions = [StreamlitSession(url, f"student-{i}") for i in range(SESSIONS)]
    await asyncio.gather(*(session.connect() for session in sessions))
    problems = []
    try:
        # First as the class followed different lesson links at once (one page importing pandas for a
        # table while another builds its first chart), then every page in all sessions together.
        rounds = [[PAGE_PATHS[i % len(PAGE_PATHS)] for i in range(SESSIONS)]] + [[p] * SESSIONS for p in PAGE_PATHS]
        for pages in rounds:
            loads = await asyncio.gather(*(session.open(page) for session, page in zip(sessions, pages)))
            problems += [f"{load.page}: {load.problem}" for load in loads if not load.ok]
    finally:
        await asyncio.gather(*(session.close() for session in sessions))
    problems += [f"{page}: {message}" for session in sessions for page, message in session.exceptions]
    return problems


@pytest.mark.alone  # ten sessions at once
def test_ten_sessions_open_every_page_at_once_on_a_fresh_server():
    (ROOT / "artifacts").mkdir(exist_ok=True)
    with running_app() as (url, process):
        problems = asyncio.run(open_together(url))
        log = ROOT / "artifacts" / f"streamlit-{url.rsplit(':', 1)[1]}.log"
    assert not problems, problems[:5]
    text = log.read_text()
    assert "Traceback" not in text, text[text.index("Traceback"):][:3000]
