"""A page whose live area refreshes while the web server's event loop lags, as under a class's load
(tests/test_ui_delivery.py). LOOP_TURN_S: how long one turn of the loop takes (callbacks that each hold it a few
ms are kept queued); FRAGMENT: "delivery" (ui.delivery.fragment, the app's) or "plain" (st.fragment); MOVED=1:
as if a Streamlit upgrade had moved the private parts ui.delivery reads (each read raises AttributeError)."""

import os
import threading
import time

import streamlit as st
from streamlit.runtime import Runtime

import ui.delivery
from ui.delivery import fragment

REFRESH_S = 0.5
HOLD_S = 0.004  # one queued callback holds the loop this long


@st.cache_resource
def lag_the_loop() -> None:
    loop = Runtime.instance()._get_async_objs().eventloop
    queued = max(1, round(float(os.environ["LOOP_TURN_S"]) / HOLD_S))
    waiting = threading.Semaphore(0)

    def hold() -> None:
        time.sleep(HOLD_S)
        waiting.release()

    def keep_queued() -> None:
        for _ in range(queued):
            loop.call_soon_threadsafe(hold)
        while True:  # one new callback for each that ran: the loop always has `queued` of them to get through
            waiting.acquire()
            try:
                loop.call_soon_threadsafe(hold)
            except RuntimeError:  # the server stopped
                return

    threading.Thread(target=keep_queued, daemon=True).start()


def moved(*_: object) -> None:
    raise AttributeError("'Runtime' object has no attribute '_session_mgr'")  # (or the run's request moved)


if os.environ.get("MOVED") == "1":
    ui.delivery.streamlit_private_parts = ui.delivery.run_request = moved

refresh = fragment(run_every=REFRESH_S) if os.environ["FRAGMENT"] == "delivery" else st.fragment(run_every=REFRESH_S)


@refresh
def live() -> None:
    st.session_state.runs = st.session_state.get("runs", 0) + 1
    time.sleep(0.05)  # a refresh's drawing
    st.metric("Refreshes", st.session_state.runs)
    st.metric("Warnings", len(ui.delivery._warned))  # ui.delivery's log lines about moved private parts


lag_the_loop()
live()
