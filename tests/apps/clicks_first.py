"""Two kinds of session on one server (tests/test_ui_delivery.py): `?role=slow` is a click whose whole-page run
takes SLOW_S; `?role=watch` is a live area refreshing every REFRESH_S, with a button of its own ("Mine"). Each
run writes when it started and ended to the file LOG names, and the watcher's run when it takes its click.
FRAGMENT: "delivery" (ui.delivery.fragment, the app's) or "plain" (st.fragment)."""

import os
import time

import streamlit as st

from ui.delivery import FOREGROUND, fragment

REFRESH_S = 0.1
SLOW_S = 0.6


def log(event: str) -> None:
    with open(os.environ["LOG"], "a") as file:
        file.write(f"{event} {time.monotonic():.4f}\n")


refresh = fragment(run_every=REFRESH_S) if os.environ["FRAGMENT"] == "delivery" else st.fragment(run_every=REFRESH_S)


@refresh
def live() -> None:
    log("refresh")
    st.metric("Refreshed at", f"{time.monotonic():.2f}")


with FOREGROUND.run():  # as app.py's whole run
    if st.query_params.get("role") == "slow":
        log("click-start")
        time.sleep(SLOW_S)  # (sleeping, it leaves the interpreter to the refreshes: only the wait holds them)
        log("click-end")
    else:
        if st.button("Mine"):  # the watching session's own click
            log("mine")
        live()
