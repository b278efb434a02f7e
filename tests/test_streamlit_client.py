"""The light Streamlit client (scripts/streamlit_client.py) against hand-built protocol messages.

No server: ForwardMsgs are fed to the session as the websocket would deliver
them, and the BackMsgs it would send are captured, so each rule the client
copies from Streamlit's frontend is checked on its own.
"""

from __future__ import annotations

import asyncio

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from scripts.streamlit_client import StreamlitSession

PAGES = {"home": "hash-home", "playground": "hash-playground", "attention": "hash-attention"}


def capture(session: StreamlitSession) -> list[BackMsg]:
    sent: list[BackMsg] = []

    async def send(message: BackMsg) -> None:
        sent.append(message)

    session._send = send
    return sent


def new_session(run_id: str, fragments: tuple[str, ...] = ()) -> ForwardMsg:
    message = ForwardMsg()
    message.metadata.run.script_run_id = run_id
    message.metadata.run.fragment_ids.extend(fragments)
    message.new_session.page_script_hash = "provisional"
    return message


def navigation(page: str) -> ForwardMsg:
    message = ForwardMsg()
    for path, page_hash in PAGES.items():
        app_page = message.navigation.app_pages.add()
        app_page.url_pathname, app_page.page_script_hash = path, page_hash
    message.navigation.page_script_hash = PAGES[page]
    return message


def element(path: tuple[int, ...], kind: str, fragment: str = "", **fields) -> ForwardMsg:
    message = ForwardMsg()
    message.metadata.delta_path.extend(path)
    message.delta.fragment_id = fragment
    proto = getattr(message.delta.new_element, kind)
    for name, value in fields.items():
        setattr(proto, name, value)
    return message


def finished(status: int) -> ForwardMsg:
    message = ForwardMsg()
    message.script_finished = status
    return message


def feed(session: StreamlitSession, *messages: ForwardMsg) -> None:
    for message in messages:
        session._handle(message, 0.0)


def test_a_full_run_shows_its_page_and_drops_what_it_did_not_redraw():
    session = StreamlitSession("http://127.0.0.1:1", "t")
    feed(session, new_session("run-1"), navigation("playground"),
         element((0, 0), "button", id="id-train", label="Train"),
         element((0, 1), "metric", label="Step", body="0"),
         element((0, 2), "markdown", body="Status: **ready** · CPU (1 torch thread(s) per job) · seed 107"),
         finished(ForwardMsg.FINISHED_SUCCESSFULLY))
    assert session.shown_page == "playground"
    assert session.pages == PAGES
    assert session.button("Train").id == "id-train"
    assert session.metric("Step") == "0"
    line = session.status_line()
    assert (line.status, line.seed) == ("ready", 107)

    feed(session, new_session("run-2"), navigation("playground"),
         element((0, 0), "button", id="id-pause", label="Pause"),
         element((0, 1), "metric", label="Step", body="1,234"),
         finished(ForwardMsg.FINISHED_SUCCESSFULLY))
    assert session.button("Train") is None and session.button("Pause").id == "id-pause"
    assert session.metric("Step") == "1,234"
    assert session.status_line() is None  # not redrawn by run-2: gone, as in the browser


def test_a_fragment_run_replaces_only_its_own_elements():
    session = StreamlitSession("http://127.0.0.1:1", "t")
    feed(session, new_session("run-1"), navigation("playground"),
         element((0, 0), "button", id="id-pause", label="Pause"),
         element((0, 4, 0), "metric", "frag", label="Step", body="10"),
         element((0, 4, 1), "metric", "frag", label="Epoch", body="0.1"),
         finished(ForwardMsg.FINISHED_SUCCESSFULLY),
         new_session("run-f", ("frag",)),
         element((0, 4, 0), "metric", "frag", label="Step", body="20"),
         finished(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY))
    assert session.metric("Step") == "20"
    assert session.metric("Epoch") is None  # the fragment did not redraw it
    assert session.button("Pause") is not None  # outside the fragment: kept
    assert session.shown_page == "playground"  # a fragment run does not change the page


def test_exceptions_and_page_not_found_are_recorded():
    session = StreamlitSession("http://127.0.0.1:1", "t")
    feed(session, new_session("run-1"), navigation("attention"),
         element((0, 0), "exception", type="ValueError", message="boom"))
    missing = ForwardMsg()
    missing.page_not_found.page_name = "nowhere"
    feed(session, missing)
    assert session.exceptions == [("attention", "ValueError: boom")]
    assert session.page_not_found == ["nowhere"]


def test_requests_name_the_page_first_by_path_then_by_hash_and_a_click_sends_a_trigger():
    async def scenario() -> list[BackMsg]:
        session = StreamlitSession("http://127.0.0.1:1", "t")
        sent = capture(session)
        session.page, session.query_string = "playground", "pg_seed=7"
        await session.rerun(page="playground")  # first visit: nothing known yet
        feed(session, new_session("run-1"), navigation("playground"),
             element((0, 0), "button", id="id-train", label="Train"))
        await session.click("Train")
        await session.rerun(page="attention")
        return sent

    first, click, navigate = asyncio.run(scenario())
    assert first.rerun_script.page_name == "playground" and first.rerun_script.page_script_hash == ""
    assert first.rerun_script.query_string == "pg_seed=7"
    assert first.rerun_script.context_info.url == "http://127.0.0.1:1/playground?pg_seed=7"
    assert click.rerun_script.page_script_hash == PAGES["playground"]
    (state,) = click.rerun_script.widget_states.widgets
    assert state.id == "id-train" and state.WhichOneof("value") == "trigger_value" and state.trigger_value
    assert navigate.rerun_script.page_script_hash == PAGES["attention"] and navigate.rerun_script.page_name == ""


def test_auto_rerun_timers_tick_per_fragment_and_a_full_run_disarms_them():
    async def scenario() -> tuple[list[BackMsg], int, int]:
        session = StreamlitSession("http://127.0.0.1:1", "t")
        sent = capture(session)
        feed(session, new_session("run-1"), navigation("playground"))
        tick = ForwardMsg()
        tick.auto_rerun.interval, tick.auto_rerun.fragment_id = 0.05, "frag"
        feed(session, tick, tick)  # registered twice with the same interval: one timer
        await asyncio.sleep(0.18)
        ticks = len(sent)
        feed(session, new_session("run-2"))  # a full run: the frontend clears its timers
        await asyncio.sleep(0.15)
        return sent, ticks, len(sent)

    sent, ticks, after = asyncio.run(scenario())
    assert 2 <= ticks <= 4  # one timer at 20 Hz for 0.18 s, not two
    assert after == ticks
    for message in sent:
        request = message.rerun_script
        assert request.fragment_id == "frag" and request.is_auto_rerun
        assert request.page_script_hash == PAGES["playground"]
