"""A script run ends only once what it drew has left its session's queue for the browser.

Streamlit hands a run's messages to the web server's one event loop, which puts them in the session's queue;
a loop coroutine sends the queued messages out (one message per turn of the loop, for all sessions in turn).
Two things throw a run's messages away before they are sent, and both do it more the busier the loop is:

- a new run of the same session clears what is still queued (the newer run draws it again), and
- a refresh that reaches the loop after a run ended, but before the loop handled that run's messages, starts a
  new script runner, and Streamlit ignores the old runner's messages from then on.

A refresh timer fires whether or not the last run arrived, so under a class's load a page could start runs
faster than the loop sent them and lose nearly all of them: in a room bench run that left the teacher's page
dead, 89,000 queued messages were cleared before they were sent (of ~111,000 the runners made), the loop took
1-2 s a turn, and from then on the server sent nearly nothing to any session. A run that waits here instead
holds its session's next run back until its messages were sent (a refresh or click that comes meanwhile becomes
a rerun of the same runner, which loses nothing), so a session never runs faster than its page can be sent, and
waiting threads leave the interpreter to the loop and the runs whose output it is sending.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from typing import Any, Callable, Iterator

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0  # past this, a run ends without its messages sent (a stuck loop must not hold runs for good)
# The loop looks at the session's queue again after 5 ms, then twice as long each time up to 50 ms: the send loop
# usually empties it within a few ms, and a class's waiting sessions must not flood the loop with checks.
_FIRST_POLL_S, _LAST_POLL_S = 0.005, 0.05


_warned: list[Exception] = []


def _warn_once(error: Exception) -> None:
    if _warned:
        return
    _warned.append(error)
    log.error("ui.delivery cannot see the Streamlit internals it uses (%s): runs no longer wait until they are "
              "sent, nor refreshes for clicks, and a class's pages can stop updating under load. Pin streamlit as "
              "requirements.txt does.", error)


def streamlit_private_parts(runtime: Runtime, session_id: str) -> tuple[Any, Any]:
    """The server's event loop and the session's queue of messages for its browser (None once the session
    closed): with `run_request`, the only Streamlit private parts the app uses (its version is pinned in
    requirements.txt)."""
    active = runtime._session_mgr.get_active_session_info(session_id)
    return runtime._get_async_objs().eventloop, None if active is None else active.session._browser_queue


def run_request(ctx: Any) -> Any:
    """The request the script run of `ctx` answers (Streamlit keeps it while the run goes on): private, as above."""
    return ctx.script_requests._rerun_data


def wait_until_sent(timeout_s: float = SEND_TIMEOUT_S) -> bool:
    """Block this script run until every message it has drawn so far has left its session's queue (or the
    session closed): True, or False after `timeout_s`. Outside a server (AppTest) it returns True at once."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return True
    runtime = Runtime.instance()
    if type(runtime) is not Runtime:  # AppTest's runtime is a mock: no loop, nothing to send
        return True
    # If an upgrade moved Streamlit's private parts, say so in the server's log, once, and end runs as Streamlit
    # does (tests/test_ui_delivery.py fails too, and checks that a page still works then).
    try:
        loop, _ = streamlit_private_parts(runtime, ctx.session_id)
    except AttributeError as error:
        _warn_once(error)
        return False
    sent = threading.Event()
    deadline = time.monotonic() + timeout_s

    def check(poll_s: float) -> None:  # on the loop: after the run's messages so far (it takes callbacks in order)
        try:
            _, queue = streamlit_private_parts(runtime, ctx.session_id)
        except AttributeError as error:
            _warn_once(error)
            sent.set()
            return
        if queue is None or queue.is_empty():
            sent.set()
        elif time.monotonic() < deadline:
            loop.call_later(poll_s, check, min(2 * poll_s, _LAST_POLL_S))

    try:
        loop.call_soon_threadsafe(check, _FIRST_POLL_S)
    except RuntimeError:  # the loop is closed: the server is stopping, and nothing more will be sent
        return True
    return sent.wait(timeout_s)


def timed_refresh(ctx: Any) -> bool:
    """Whether this run is a fragment's timer firing (`run_every`), not a user's action."""
    try:
        return bool(run_request(ctx).is_auto_rerun)
    except AttributeError as error:
        _warn_once(error)
        return False


class Foreground:
    """The whole-page runs in progress in this server (a click, a page opened: someone waits for them), so that
    timed refreshes (live areas, class views) start after them rather than beside them.

    Python runs one thread at a time: under a class's load a click's run shared the interpreter with a dozen
    refreshes a second and waited its turn behind them, where a refresh that starts a fraction of a second
    later is not seen. A refresh waits at most `REFRESH_WAITS_AT_MOST_S`, so a server busy with clicks
    still refreshes its live areas, only less often."""

    REFRESH_WAITS_AT_MOST_S = 1.0

    def __init__(self) -> None:
        self._running = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def run(self) -> Iterator[None]:
        """Around a whole-page run (app.py's body; it ends however the run ends: st.rerun, st.stop, an error)."""
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                if not self._running:
                    self._idle.notify_all()

    def wait_idle(self, timeout_s: float | None = None, between: Callable[[], None] = lambda: None) -> bool:
        """Block until no whole-page run is in progress (True), or `timeout_s` passed (False); `between` is
        called every 50 ms meanwhile (a script run's check for a newer request of its own session, which
        ends the wait by raising: a click of the waiting session is not held back)."""
        deadline = time.monotonic() + (self.REFRESH_WAITS_AT_MOST_S if timeout_s is None else timeout_s)
        while True:
            with self._idle:
                left = deadline - time.monotonic()
                if self._idle.wait_for(lambda: not self._running, max(0.0, min(left, 0.05))):
                    return True
            if left <= 0.05:
                return False
            between()


FOREGROUND = Foreground()


def fragment(run_every: float | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`st.fragment(run_every=...)` whose reruns wait until they were sent (a whole-page run waits at its end,
    in app.py; the fragment's part of it does not wait on its own), and whose timed reruns start once the
    server's whole-page runs have ended (`Foreground`). Every fragment of the app is made here."""
    def decorate(body: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(body)
        def run_then_send(*args: Any, **kwargs: Any) -> None:
            ctx = get_script_run_ctx()
            alone = ctx is not None and bool(ctx.fragment_ids_this_run)  # a rerun of fragments alone
            if alone and timed_refresh(ctx):  # (not a click in the fragment): the server's clicks go first
                FOREGROUND.wait_idle(between=getattr(ctx, "yield_check", lambda: None))  # (its own click ends it)
            body(*args, **kwargs)
            if alone:
                wait_until_sent()
        return st.fragment(run_every=run_every)(run_then_send)
    return decorate
