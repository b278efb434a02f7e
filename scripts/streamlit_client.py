"""A light Streamlit client: one browser tab's traffic, without the browser.

It speaks the protocol of Streamlit's own frontend over `/_stcore/stream`
(protobufs from `streamlit.proto`), so a load test can open dozens of sessions
from one asyncio thread instead of dozens of Chromium renderers that would eat
the cores the server is being measured on. What it does, as the frontend does:

- connect with the subprotocol "streamlit" and no Origin header;
- ask for a page: `BackMsg.rerun_script` with `page_name` (first visit, from the
  URL path) or the page's `page_script_hash` (navigation, from the
  `NewSession.app_pages` the server sent), plus the query string;
- press a button: a rerun with a `WidgetState` carrying `trigger_value=True` for
  the button's id (widgets not sent keep their values on the server);
- keep `st.fragment(run_every=...)` alive: each `ForwardMsg.auto_rerun` arms a
  timer per fragment that sends a fragment rerun (`fragment_id`,
  `is_auto_rerun`) every interval; a full run's `NewSession`, a page change and
  `stop_auto_rerun` disarm them;
- keep the elements by delta path and drop the ones a finished run did not
  redraw, so `metric("Step")`, `buttons()` and friends read what a page shows.

Every exception element (`st.exception` / a script error) is kept in
`exceptions`. Nothing is rendered; the bench times messages as they arrive.
"""

from __future__ import annotations

import asyncio
import collections
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from ui.chart_component import COMPONENT_NAME

FULL_RUN_DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}
_STATUS = re.compile(r"Status: \*\*(\w+)\*\*")
_SEED = re.compile(r"· seed (\d+)\s*$")
RECENT_MESSAGES = 200


@dataclass
class Shown:
    """One element on the page: its proto, the run that drew it, and when it arrived."""

    element: object  # streamlit.proto.Element_pb2.Element
    run_id: str
    fragment_id: str
    at: float


@dataclass
class StatusLine:
    """The 'Status: **training** · CPU · seed 3' caption that ui.live.status_bar draws."""

    status: str
    seed: int | None


@dataclass
class PageLoad:
    page: str
    seconds: float  # to the end of the page's script run
    ok: bool
    problem: str = ""
    first_chart_s: float | None = None  # to the first chart of that run (None: the page drew none)


@dataclass
class StreamlitSession:
    base_url: str  # http://127.0.0.1:PORT
    name: str = "session"
    on_element: Callable[["StreamlitSession", tuple, object, float], None] | None = None
    elements: dict[tuple, Shown] = field(default_factory=dict)
    exceptions: list[tuple[str, str]] = field(default_factory=list)  # (page, message)
    pages: dict[str, str] = field(default_factory=dict)  # url path -> page script hash
    page: str = ""  # url path of the page asked for last
    shown_page: str = ""  # url path of the page whose run draws the elements arriving now
    page_hash: str = ""
    query_string: str = ""
    messages: int = 0
    bytes_received: int = 0
    page_not_found: list[str] = field(default_factory=list)
    expanders: dict[str, str] = field(default_factory=dict)  # label -> widget id, of the expanders that keep state

    def __post_init__(self) -> None:
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}
        self._changed = asyncio.Condition()
        self._run_id = ""
        self._run_fragments: tuple[str, ...] = ()
        self._full_runs_started = 0
        self._last_full_run = ""  # the run id of the last whole-page run that started, and of the last that finished
        self._finished_full_run = ""
        self.closed = False
        # The last messages in brief, for a bench to print when a page did not show what it waited for.
        self.recent: collections.deque[str] = collections.deque(maxlen=RECENT_MESSAGES)

    # ------------------------------------------------------------ connection
    async def connect(self) -> None:
        url = self.base_url.replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"
        self._ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                            ping_interval=None)
        self._reader = asyncio.create_task(self._read(), name=f"{self.name}-reader")

    async def close(self) -> None:
        self.closed = True
        self._disarm_all()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, websockets.ConnectionClosed):
                pass

    async def _send(self, message: BackMsg) -> None:
        await self._ws.send(message.SerializeToString())

    async def rerun(self, *, widget_states: list[WidgetState] = (), fragment_id: str = "",
                    is_auto_rerun: bool = False, page: str | None = None) -> None:
        message = BackMsg()
        request = message.rerun_script
        request.query_string = self.query_string
        request.widget_states.widgets.extend(widget_states)
        if page is not None and page not in self.pages:
            request.page_name = page  # first visit: the server resolves the URL path
        else:
            request.page_script_hash = self.pages.get(page, self.page_hash) if page is not None else self.page_hash
        if fragment_id:
            request.fragment_id = fragment_id
        request.is_auto_rerun = is_auto_rerun
        context = request.context_info  # what the browser tells the server about itself (st.context)
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url = f"{self.base_url}/{self.page}" + (f"?{self.query_string}" if self.query_string else "")
        context.is_embedded, context.color_scheme = False, "light"
        self.recent.append(f"{time.monotonic():.3f} > rerun" + (f" fragment={fragment_id[:8]}" if fragment_id else "")
                           + "".join(f" trigger={state.id[-24:]}" for state in widget_states)
                           + (f" page={page}" if page is not None else ""))
        await self._send(message)

    # -------------------------------------------------------------- actions
    async def open(self, page: str, query_string: str = "", timeout: float = 120.0) -> PageLoad:
        """Show page `page` (its URL path) and wait until its script run finished."""
        self._disarm_all()  # as the frontend does on a page change
        self.expanders.clear()  # (the new page's arrive with its run)
        started = time.monotonic()
        self.page = page
        self.query_string = query_string
        # Wait for a whole run that started after this request, not one still finishing from an earlier
        # click: the elements of the page left behind would otherwise be taken for the new page's.
        started_before = self._full_runs_started
        await self.rerun(page=page)
        try:
            await self.until(lambda s: s._full_runs_started > started_before
                             and s._finished_full_run == s._last_full_run
                             and (s.shown_page == page or page in s.page_not_found), timeout)
        except TimeoutError:
            return PageLoad(page, time.monotonic() - started, False, f"no finished run within {timeout:.0f} s")
        if page in self.page_not_found:
            return PageLoad(page, time.monotonic() - started, False, "page not found")
        charts = [shown.at for shown in self.elements.values()
                  if shown.element.WhichOneof("type") == "bidi_component"
                  and shown.element.bidi_component.component_name == COMPONENT_NAME and shown.at >= started]
        return PageLoad(page, time.monotonic() - started, True,
                        first_chart_s=min(charts) - started if charts else None)

    async def click(self, label: str) -> float:
        """Press the button labelled `label` on the page shown; returns the monotonic time it was sent."""
        button = self.button(label)
        if button is None:
            raise LookupError(f"{self.name}: no button {label!r} on {self.page}")
        state = WidgetState(id=button.id, trigger_value=True)
        sent = time.monotonic()
        await self.rerun(widget_states=[state])
        return sent

    async def open_expander(self, label: str) -> float:
        """Open the expander labelled `label` (one that draws its content only while open: it has a widget id),
        as a click on its header does; returns the monotonic time it was sent."""
        if label not in self.expanders:
            raise LookupError(f"{self.name}: no expander {label!r} with state on {self.page}")
        sent = time.monotonic()
        await self.rerun(widget_states=[WidgetState(id=self.expanders[label], bool_value=True)])
        return sent

    async def until(self, predicate: Callable[["StreamlitSession"], bool], timeout: float) -> float:
        """Wait until `predicate(self)` holds after some message; returns the monotonic time it did."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    raise TimeoutError(f"{self.name}: condition not met within {timeout:.0f} s on {self.page}")
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
        return time.monotonic()

    # ------------------------------------------------------------- reading
    def of_type(self, kind: str) -> list[object]:
        """Elements of one proto type ('metric', 'button', 'markdown', 'alert', ...) in page order."""
        return [getattr(shown.element, kind) for _, shown in sorted(self.elements.items())
                if shown.element.WhichOneof("type") == kind]

    def metric(self, label: str) -> str | None:
        values = [m.body for m in self.of_type("metric") if m.label == label]
        return values[0] if values else None

    def button(self, label: str):
        found = [b for b in self.of_type("button") if b.label == label]
        return found[0] if found else None

    def status_line(self) -> StatusLine | None:
        for markdown in self.of_type("markdown"):
            match = _STATUS.search(markdown.body)
            if match:
                seed = _SEED.search(markdown.body)
                return StatusLine(match.group(1), int(seed.group(1)) if seed else None)
        return None

    def alerts(self) -> list[str]:
        return [alert.body for alert in self.of_type("alert")]

    # ------------------------------------------------------------ receiving
    async def _read(self) -> None:
        try:
            async for data in self._ws:
                now = time.monotonic()
                message = ForwardMsg()
                message.ParseFromString(data)
                self.messages += 1
                self.bytes_received += len(data)
                self._handle(message, now)
                async with self._changed:
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._disarm_all()
            async with self._changed:
                self._changed.notify_all()

    def _handle(self, message: ForwardMsg, now: float) -> None:
        kind = message.WhichOneof("type")
        self.recent.append(f"{now:.3f} {_brief(message, kind)}")
        if kind == "new_session":
            self._run_id = message.metadata.run.script_run_id
            self._run_fragments = tuple(message.metadata.run.fragment_ids)
            session = message.new_session
            self.pages.update({page.url_pathname: page.page_script_hash for page in session.app_pages})
            if not self._run_fragments:  # a full run: the frontend drops its auto-rerun timers
                self._full_runs_started += 1
                self._last_full_run = self._run_id
                self._disarm_all()
                self.page_hash = session.page_script_hash
                self.shown_page = ""  # known once st.navigation has run (the navigation message)
        elif kind == "navigation":
            self.pages.update({page.url_pathname: page.page_script_hash
                               for page in message.navigation.app_pages})
            self.page_hash = message.navigation.page_script_hash or self.page_hash
            self.shown_page = next((path for path, page_hash in self.pages.items() if page_hash == self.page_hash),
                                   "")
        elif kind == "delta":
            self._delta(message, now)
        elif kind == "script_finished":
            self._finished(message.script_finished)
        elif kind == "auto_rerun":
            self._arm(message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in message.stop_auto_rerun.fragment_ids:
                self._disarm(fragment_id)
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "page_not_found":
            self.page_not_found.append(message.page_not_found.page_name or self.page)

    def _delta(self, message: ForwardMsg, now: float) -> None:
        delta = message.delta
        path = tuple(message.metadata.delta_path)
        if delta.WhichOneof("type") == "add_block" and delta.add_block.WhichOneof("type") == "expandable":
            if delta.add_block.expandable.id:
                self.expanders[delta.add_block.expandable.label] = delta.add_block.expandable.id
            return
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        self.elements[path] = Shown(element, self._run_id, delta.fragment_id, now)
        if element.WhichOneof("type") == "exception":
            self.exceptions.append((self.shown_page, f"{element.exception.type}: {element.exception.message}"))
        if self.on_element is not None:
            self.on_element(self, path, element, now)

    def _finished(self, status: int) -> None:
        if status in FULL_RUN_DONE:
            self._finished_full_run = self._run_id
            self.elements = {p: s for p, s in self.elements.items() if s.run_id == self._run_id}
        elif status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            self.elements = {p: s for p, s in self.elements.items()
                             if s.fragment_id not in self._run_fragments or s.run_id == self._run_id}

    # ---------------------------------------------------------- auto reruns
    def _arm(self, fragment_id: str, interval: float) -> None:
        if not fragment_id:
            return
        current = self._timers.get(fragment_id)
        if current is not None and current[0] == interval:
            return  # re-registering the same interval leaves the countdown alone
        self._disarm(fragment_id)
        self._timers[fragment_id] = (interval, asyncio.create_task(self._tick(fragment_id, interval)))

    async def _tick(self, fragment_id: str, interval: float) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                await self.rerun(fragment_id=fragment_id, is_auto_rerun=True)
            except websockets.ConnectionClosed:
                return

    def _disarm(self, fragment_id: str) -> None:
        timer = self._timers.pop(fragment_id, None)
        if timer is not None:
            timer[1].cancel()

    def _disarm_all(self) -> None:
        for fragment_id in list(self._timers):
            self._disarm(fragment_id)


def _brief(message: ForwardMsg, kind: str) -> str:
    """One line per message: what it is, its run or delta path, and for buttons and text what they say."""
    if kind == "new_session":
        run = message.metadata.run
        return f"new_session run={run.script_run_id[:8]} fragments={list(run.fragment_ids)}"
    if kind == "script_finished":
        return f"script_finished {ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)}"
    if kind == "auto_rerun":
        return f"auto_rerun {message.auto_rerun.fragment_id[:8]} every {message.auto_rerun.interval:g} s"
    if kind == "stop_auto_rerun":
        return f"stop_auto_rerun {[f[:8] for f in message.stop_auto_rerun.fragment_ids]}"
    if kind != "delta":
        return kind
    delta = message.delta
    path = ".".join(map(str, message.metadata.delta_path))
    what = delta.WhichOneof("type")
    if what == "new_element":
        element = delta.new_element
        what = element.WhichOneof("type")
        inner = getattr(element, what)
        texts = (getattr(inner, "label", ""), getattr(inner, "body", ""))
        text = " = ".join(t for t in texts if isinstance(t, str) and t)
        if text:
            what += f" {text[:48]!r}"
    return f"delta {path} {what}" + (f" fragment={delta.fragment_id[:8]}" if delta.fragment_id else "")
