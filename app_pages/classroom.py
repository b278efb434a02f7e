"""Class view: every student's run in the teacher's class room, live, for the projector. Final loss against the
learning rate each student chose, every loss curve overlaid, which runs diverged and at which η, the spread of
accuracy; click a run (or pick it) to highlight it, and open it big in this session."""

import pandas as pd
import streamlit as st

from engine.rooms import RoomError, room_store
from ui.catalog import HOME, PAGES
from ui.chart_component import clicked_points
from ui.delivery import fragment
from ui.exports import Charts
from ui.rooms import TEACHER, join_link, open_experiment, show_qr
from viz import rooms as figures

STATE = st.session_state
HIGHLIGHT = "class_open"  # the student_no of the run highlighted and offered to open (a selectbox's key)
REFRESH_S = 1.0
MAIN_BELOW = 17.0  # rem above the main chart in presentation mode
TITLES = {info.url_path: info.title for info in [HOME, *PAGES]}

st.title("Class view")
teacher = STATE.get(TEACHER)
if teacher is None:
    st.info("The class view belongs to the teacher of a class. Start one in the sidebar (**Class** → **Start a "
            "class**), or take yours back there with its teacher key.", icon=":material/co_present:")
    st.stop()


def clicked(event) -> None:
    """A click on a run's point or curve highlights it (its customdata is the run's number)."""
    numbers = [point.get("customdata") for point in clicked_points(event)]
    numbers = [n[0] if isinstance(n, (list, tuple)) else n for n in numbers]
    numbers = [int(n) for n in numbers if isinstance(n, (int, float))]
    if numbers:
        STATE[HIGHLIGHT] = numbers[0]


@fragment(run_every=REFRESH_S)
def live() -> None:
    try:
        view = room_store().view(teacher["code"], teacher["token"])
    except RoomError as error:
        st.warning(f"{error} The class view shows nothing more.", icon=":material/groups:")
        STATE.pop(TEACHER, None)
        return
    runs = figures.class_runs(view)
    cells = {"Class code": view.code, "Students": f"{len(view.runs)}", "Reported": f"{len(runs)}",
             "Diverged": f"{sum(r.diverged for r in runs)}",
             f"Pushed (push {view.push.version})" if view.push else "Pushed":
                 TITLES.get(view.push.page, view.push.page) if view.push else "nothing yet"}
    for column, (label, value) in zip(st.columns([1.1, 0.8, 0.8, 0.8, 2.5]), cells.items()):
        column.metric(label, value)
    if not runs:
        st.info("No run has reported yet. Push an experiment (sidebar, **Class**); each student's run appears "
                "here as it trains.", icon=":material/hourglass_top:")
        join_card(view.code)
        return
    numbers = [r.no for r in runs]
    if STATE.get(HIGHLIGHT) not in numbers:
        STATE[HIGHLIGHT] = numbers[0]
    highlight = STATE[HIGHLIGHT]
    charts = Charts()
    left, right = st.columns([1, 1], gap="medium")
    clicked(charts.show(figures.loss_against_learning_rate(runs, highlight), f"class-{view.code}-by-lr",
                        key="class_by_lr", where=left, main_below=MAIN_BELOW, on_select="rerun"))
    clicked(charts.show(figures.loss_curves(runs, highlight), f"class-{view.code}-curves", key="class_curves",
                        where=right, main_below=MAIN_BELOW, on_select="rerun"))
    spread, pick = st.columns([1, 1], gap="medium")
    if any(r.accuracy is not None for r in runs):
        clicked(charts.show(figures.accuracy_spread(runs, highlight), f"class-{view.code}-accuracy",
                            key="class_accuracy", where=spread, on_select="rerun"))
    with pick:
        names = {r.no: r.name for r in runs}
        chosen = st.selectbox("Open a run big", numbers, format_func=names.get, key=HIGHLIGHT,
                              help="Or click a run in a chart.")
        report = next(run.report for run in view.runs if run.student_no == chosen)
        if st.button(f"Open {names[chosen]}'s run here", key="class_open_run", icon=":material/open_in_full:",
                     help="This session opens the student's page with the student's settings (and trains its own "
                          "copy: the student's run goes on untouched)."):
            try:
                open_experiment(report.page, report.params)
            except RoomError as error:  # a page this server lacks
                st.warning(str(error))
        diverged = [r for r in runs if r.diverged]
        if diverged:
            st.caption("Diverged: " + ", ".join(f"{r.name} (η = {r.learning_rate:g})" if r.learning_rate
                                                else r.name for r in diverged))
    table = figures.run_table(runs)
    table["page"] = [TITLES.get(page, page) for page in table["page"]]
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch",
                 column_config={"η": st.column_config.NumberColumn(format="%.3g"),
                                "final loss": st.column_config.NumberColumn(format="%.4g"),
                                "accuracy": st.column_config.NumberColumn(format="percent")})
    with st.expander("Join this class: its code, link and QR code", icon=":material/qr_code_2:"):
        join_card(view.code)


def join_card(code: str) -> None:
    """The code, the join link and its QR code, large: for the projector, where the sidebar is folded."""
    link = join_link(code)
    qr, words = st.columns([1, 2], gap="large", vertical_alignment="center")
    show_qr(link, "320px", where=qr)
    words.html(f"<div style='font:700 5rem/1.1 monospace;letter-spacing:.12em'>{code}</div>")
    words.markdown(f"Scan it, or open **{link}**; or, in Gradscape, type the code under **Class** → **Join a "
                   "class**.")

live()
