"""Class rooms in the app (engine.rooms holds the rooms and their rules): the sidebar's Class panel, students
following the teacher's pushes, and each student's run reporting to the room.

A session is a teacher (it holds a room's code and teacher token), a student (a room's code, its student id and
name) or neither. The token and the id live only in this session's state: never in the address, a share link or
what another session sees. A reload is a new session: the teacher takes the class back with its key (shown in
the panel); a student opens the join link again."""

from __future__ import annotations

import html
import math
import time
from typing import Any

import numpy as np
import segno
import streamlit as st

from engine.rooms import (NoSuchRoom, ReportRefused, RoomClosed, RoomError, RoomsUnavailable, TooFast,
                          room_store)
from engine.rooms.names import normalized_code
from engine.rooms.reports import MAX_METRICS, MAX_POINTS
from engine.runtime import JobStatus, Snapshot
from ui.catalog import HOME, PAGES, PageInfo
from ui.delivery import fragment
from ui.sharing import EXACT_PARAM, GLOBAL_PARAMS, ROOM_PARAM

TEACHER, STUDENT, NOTICE, PAGE = "_room_teacher", "_room_student", "_room_notice", "_room_page"
REPORT_EVERY_S = 0.6  # a student's run reports at most this often (the room takes 2 a second)
FOLLOW_EVERY_S = 2.0  # how often a student's session asks for a new push (each ask is a fragment run on the
# server: a class of 30 asking every second is 30 runs a second)
# The metrics a report carries, most telling first (a page's history may hold more than MAX_METRICS).
PREFERRED_METRICS = ("test_loss", "train_loss", "test_accuracy", "held_out_bpc", "loss", "val_loss",
                     "analogy_top1", "accuracy")
_STATUS = {JobStatus.READY: "ready", JobStatus.RUNNING: "running", JobStatus.PAUSED: "paused",
           JobStatus.DONE: "done", JobStatus.DIVERGED: "diverged", JobStatus.FAILED: "failed",
           JobStatus.STOPPED: "paused"}
STATE = st.session_state
_BY_URL_PATH = {info.url_path: info for info in [HOME, *PAGES]}


def experiment_params() -> dict[str, list[str]]:
    """The page's experiment as its address holds it (what a push sends and a report compares)."""
    return {key: st.query_params.get_all(key) for key in st.query_params if key not in GLOBAL_PARAMS}


def open_experiment(page: str, params: dict[str, Any]) -> None:
    """Open `page` with exactly `params`, as a lesson's exact link does (settings it does not name at their
    defaults, whatever this session set before)."""
    info = _BY_URL_PATH.get(page)
    if info is None:
        raise NoSuchRoom(f"This server has no page {page!r}.")
    # How this session shows pages (?present=, bound to a widget: Streamlit refuses to set it) is its own.
    query = {key: list(values) for key, values in params.items() if key not in GLOBAL_PARAMS}
    st.switch_page(info.file, query_params={**query, EXACT_PARAM: "1"})


# ----------------------------------------------------------------------------------------------- the panel
def class_panel(page: PageInfo) -> None:
    """The sidebar's Class panel for whoever this session is; a join link arriving joins first."""
    STATE[PAGE] = page.url_path
    code = st.query_params.get(ROOM_PARAM)
    if code is not None:
        del st.query_params[ROOM_PARAM]
        if STATE.get(STUDENT, {}).get("code") != normalized_code(code):
            _join(code)
    if TEACHER in STATE:
        _teacher_panel(page)
    elif STUDENT in STATE:
        _student_panel()
    else:
        _nobody_panel()
    _notice()  # (the teacher's is drawn in the panel, under Push)


def _notice() -> None:
    """What the last click did ("Pushed ... (push 2)", a refusal), under the buttons: drawn above them, it moved
    them down as it came and back up at the next run."""
    if STATE.get(NOTICE):
        kind, text = STATE.pop(NOTICE)
        (st.success if kind == "done" else st.warning)(text, icon=":material/groups:")


def _nobody_panel() -> None:
    # (drawn only while open: most sessions never open it, and its widgets cost every page run ~4 ms)
    with st.expander("Class", icon=":material/groups:", key="room_panel", on_change="rerun") as panel:
        if not panel.open:
            return
        st.button("Start a class", key="room_start", on_click=_start, icon=":material/co_present:",
                  help="A room for your class: students join with its code, you push an experiment to all of "
                       "them and watch every run in the class view.", width="stretch")
        with st.form("room_join_form", border=False):
            typed = st.text_input("Join a class", placeholder="code, e.g. ACD479", max_chars=12, key="room_code")
            if st.form_submit_button("Join", icon=":material/login:", width="stretch"):
                _join(typed)
                st.rerun()
        with st.popover("Take back a class", icon=":material/key:", width="stretch"):
            st.caption("After a reload: the class's code and the teacher key its panel showed.")
            code = st.text_input("Code", key="room_back_code", max_chars=12)
            key = st.text_input("Teacher key", key="room_back_key", type="password")
            if st.button("Take it back", key="room_back"):
                _take_back(code, key)
                st.rerun()


def _start() -> None:
    try:
        code, token = room_store().open()
    except RoomError as error:
        STATE[NOTICE] = ("refused", str(error))
        return
    STATE[TEACHER] = {"code": code, "token": token}


def _take_back(code: str, key: str) -> None:
    canonical = normalized_code(code) or code
    try:
        room_store().view(canonical, key)
    except RoomError as error:
        STATE[NOTICE] = ("refused", f"{error} Check the code." if isinstance(error, NoSuchRoom) else str(error))
        return
    STATE[TEACHER] = {"code": canonical, "token": key}


def _join(code: str) -> None:
    try:
        student, name = room_store().join(code)
    except RoomError as error:
        STATE[NOTICE] = ("refused", _explained(error))
        return
    STATE[STUDENT] = {"code": normalized_code(code), "id": student, "name": name, "followed": 0,
                      "push": None, "reported_at": 0.0, "last": None, "pending": None}


def _explained(error: RoomError) -> str:
    if isinstance(error, NoSuchRoom):
        return (f"{error} Check the code. (A class lives on the server that started it: with several servers and "
                "no Ray cluster, open the join link on that one.)")
    return str(error)


def join_link(code: str) -> str:
    """The app's root address (this page's own path taken off: the app may be served under a path of its own,
    server.baseUrlPath, and the home page's address has no page path) with ?room=CODE."""
    base = (st.context.url or "").split("?")[0].rstrip("/")
    page = f"/{STATE.get(PAGE, HOME.url_path)}"
    root = base[:-len(page)] if base.endswith(page) else base
    return f"{root}/?{ROOM_PARAM}={code}"


@st.cache_data(max_entries=32, show_spinner=False)
def _qr_svg_uri(link: str) -> str:
    return segno.make(link, error="m").svg_data_uri(border=2, omitsize=True, dark="#000", light="#fff")


def show_qr(link: str, width: str, where: Any = st) -> None:
    """The join link's QR code, `width` wide (CSS), in a box as tall as it is wide before the picture is drawn:
    an st.image, of no height until its PNG had loaded, pushed the buttons below it ~250 px down half a second
    after they appeared, under the teacher's pointer. Vector (SVG), so sharp on a projector; made once per link.
    (st.html keeps no inline <svg>: it is a picture's data address.)"""
    where.html(f"<div class='join-qr' style='width:{width};max-width:100%;aspect-ratio:1'><img "
               f"src='{_qr_svg_uri(link)}' alt='QR code of {html.escape(link)}' "
               "style='display:block;width:100%;height:100%'></div>")


def _teacher_panel(page: PageInfo) -> None:
    code = STATE[TEACHER]["code"]
    with st.expander(f"Class {code}", icon=":material/co_present:", expanded=True):
        st.html(f"<div style='font:700 2.4rem/1.1 monospace;letter-spacing:.12em;text-align:center'>{code}</div>")
        # The buttons first, where Start a class was: what is drawn after them (the QR code, the link's code block,
        # whose component a browser loads on first use) cannot move them from under the teacher's pointer.
        pushable = page.spec is not None
        st.button("Push this page to the class", key="room_push", on_click=_push, args=(page,), type="primary",
                  icon=":material/cast_for_education:", disabled=not pushable, width="stretch",
                  help="Every student's page opens this experiment, as it is set now." if pushable
                  else "Open an experiment's page to push it.")
        st.page_link("app_pages/classroom.py", label="Class view", icon=":material/groups:")
        _notice()
        link = join_link(code)
        show_qr(link, "100%")
        st.caption("Students scan this, or open the link below")
        st.code(link, language=None, wrap_lines=True)
        clear, close = st.columns(2)
        clear.button("Clear", key="room_clear", icon=":material/delete_sweep:", on_click=_teacher_call,
                     args=("clear",), width="stretch",
                     help="Forget every run's results; students stay in the class.")
        with close.popover("Close", icon=":material/logout:", width="stretch"):
            st.caption("Every student leaves the class, and its results go.")
            st.button("Close the class", key="room_close", on_click=_teacher_call, args=("close",), type="primary")
        with st.expander("Teacher key"):
            st.caption("Keep it to take this class back after a reload (Take back a class). Never show it to "
                       "students: whoever holds it leads the class.")
            st.code(STATE[TEACHER]["token"], language=None)


def _push(page: PageInfo) -> None:
    teacher = STATE[TEACHER]
    try:
        version = room_store().push(teacher["code"], teacher["token"], page.url_path, experiment_params())
        STATE[NOTICE] = ("done", f"Pushed {page.title} to class {teacher['code']} (push {version}).")
    except RoomError as error:
        _teacher_error(error)


def _teacher_call(action: str) -> None:
    teacher = STATE[TEACHER]
    try:
        getattr(room_store(), action)(teacher["code"], teacher["token"])
    except RoomError as error:
        _teacher_error(error)
        return
    if action == "close":
        del STATE[TEACHER]


def _teacher_error(error: RoomError) -> None:
    STATE[NOTICE] = ("refused", str(error))
    if isinstance(error, (NoSuchRoom, RoomClosed)):
        STATE.pop(TEACHER, None)


def _student_panel() -> None:
    student = STATE[STUDENT]
    with st.container(border=True):
        st.markdown(f":material/groups: In class **{student['code']}** as **{student['name']}**")
        st.button("Leave the class", key="room_leave", on_click=lambda: STATE.pop(STUDENT, None),
                  icon=":material/logout:")
        _follow()


@fragment(run_every=FOLLOW_EVERY_S)
def _follow() -> None:
    """Open the teacher's newest push as soon as it comes."""
    student = STATE.get(STUDENT)
    if student is None:
        return
    try:
        push = room_store().current_push(student["code"], student["id"])
    except RoomsUnavailable:
        return  # a passing failure of the rooms' actor: ask again next time, still in the class
    except RoomError as error:
        STATE.pop(STUDENT, None)
        STATE[NOTICE] = ("refused", _explained(error))
        st.rerun(scope="app")
    if student.get("pending"):  # a report the room refused as too fast: its run may have stopped since
        _send(student, *student["pending"])
    if push is not None and push.version > student["followed"]:
        student["followed"] = push.version
        student["push"] = {"version": push.version, "page": push.page,
                           "params": {key: list(values) for key, values in push.params.items()}}
        try:
            open_experiment(push.page, push.params)
        except NoSuchRoom as error:  # a page this server lacks (another version of the app pushed it)
            STATE[NOTICE] = ("refused", str(error))


# ----------------------------------------------------------------------------------------------- reports
def report_run(snap: Snapshot) -> None:
    """Called by every live area after it drew: a student's run reports to its room (at most every
    REPORT_EVERY_S while it trains; a run that stopped reports once more, so its final result is the room's)."""
    student = STATE.get(STUDENT)
    if student is None:
        return
    key = (STATE.get(PAGE), snap.step, snap.status)
    if key == student["last"] or (snap.busy and time.monotonic() - student["reported_at"] < REPORT_EVERY_S):
        return
    _send(student, run_report(snap, student.get("push")), key)


def _send(student: dict[str, Any], report: dict[str, Any], key: tuple) -> None:
    """Report to the room. One it refuses as too fast (or while its Ray actor is briefly away) is kept, and the
    follow fragment sends it: a stopped run draws no more, and its final result must not be lost."""
    try:
        room_store().report(student["code"], student["id"], report)
    except (TooFast, RoomsUnavailable):
        student["pending"] = (report, key)
        return
    except ReportRefused as error:  # this run's settings do not fit in a report: say so once, stay in class
        if student.get("refused") != str(error):
            student["refused"] = str(error)
            STATE[NOTICE] = ("refused", f"This run cannot report to the class: {error}")
    except RoomError as error:
        STATE.pop(STUDENT, None)
        STATE[NOTICE] = ("refused", _explained(error))
        return
    student["reported_at"], student["last"], student["pending"] = time.monotonic(), key, None


def run_report(snap: Snapshot, push: dict[str, Any] | None) -> dict[str, Any]:
    """The report (engine.rooms.reports) of this session's run: the page, its address, its differences from
    the push it followed (`push`, as _follow keeps it), its learning rate, step, status and a thinned history."""
    page, params = STATE.get(PAGE, "home"), experiment_params()
    pushed = push["params"] if push is not None and push["page"] == page else {}
    differences = {key: values for key, values in params.items() if pushed.get(key) != values}
    differences.update({key: [] for key in pushed if key not in params})
    lr = snap.hyperparameters.get("lr")
    status = _STATUS.get(snap.status, "paused")
    return {"page": page, "push_version": push["version"] if push is not None else 0, "params": params,
            "differences": differences,
            "learning_rate": float(lr) if isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0 else None,
            "step": int(snap.step), "status": status, "metrics": thinned_history(snap, status == "diverged")}


def thinned_history(snap: Snapshot, diverged: bool) -> dict[str, list[list[float]]]:
    """Up to MAX_METRICS of the run's metrics, each at most MAX_POINTS points: the first, the last and evenly
    spaced ones between (a non-finite value only as a diverged run's last point)."""
    names = [n for n in PREFERRED_METRICS if n in snap.history]
    names += [n for n in snap.history if n not in names]
    metrics = {}
    for name in names[:MAX_METRICS]:
        series = snap.history[name]
        steps, values = np.asarray(series.steps), np.asarray(series.values, dtype=float)
        finite = np.isfinite(values)
        keep = finite.copy()
        if diverged and len(values) and not finite[-1]:
            keep[-1] = True
        # A report's steps increase strictly (reports.py): a step recorded again (an evaluation repeated at a
        # pause) is left out.
        keep &= steps > np.maximum.accumulate(np.concatenate([[-1], steps[:-1]]))
        steps, values = steps[keep], values[keep]
        if len(steps) > MAX_POINTS:
            chosen = np.unique(np.linspace(0, len(steps) - 1, MAX_POINTS).round().astype(int))
            steps, values = steps[chosen], values[chosen]
        if len(steps):
            metrics[name] = [[s, v] for s, v in zip(steps.astype(np.int64).tolist(), values.tolist())]
    return metrics
