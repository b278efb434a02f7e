"""Class rooms through the app (AppTest: each AppTest is its own session; all share this process's rooms): a
teacher starts a class and pushes a page, a student joins by the link and opens it at once, trains, and the
class view shows the run; a student holds no token and cannot push; clear and close."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.common.history import Series
from engine.rooms import NotTeacher, RoomClosed, RoomLimits, room_store, validate_report
from engine.rooms.reports import MAX_POINTS
from engine.runtime import JobStatus, Snapshot
from tests import conftest
from tests.conftest import ROOT, metric
from ui.rooms import STUDENT, TEACHER, thinned_history


def session(page: str = "home", **query) -> AppTest:
    """A session on `page`, its sidebar's Class panel open (closed, it draws nothing inside)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    if page != "home":
        at.switch_page(f"app_pages/{page}.py")
    at.query_params.update(query)
    at.session_state["room_panel"] = True
    return at.run()


@pytest.fixture
def teacher() -> AppTest:
    at = session("playground", pg_lr="0.3", pg_data="XOR")
    at.button(key="room_start").click().run()
    assert not at.exception and TEACHER in at.session_state
    yield at
    if TEACHER in at.session_state:
        room_store().close(at.session_state[TEACHER]["code"], at.session_state[TEACHER]["token"])


def code_of(teacher: AppTest) -> str:
    return teacher.session_state[TEACHER]["code"]


def test_the_class_panel_draws_its_controls_only_while_open():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    assert [e.label for e in at.sidebar.expander].count("Class") == 1
    assert not [b for b in at.sidebar.button if b.key == "room_start"] and not at.sidebar.text_input
    at.session_state["room_panel"] = True  # (the browser's click on its header)
    at.run()
    assert at.button(key="room_start") and at.text_input(key="room_code")


def test_a_pushed_page_opens_for_the_student_who_trains_and_the_class_view_shows_the_run(teacher):
    code = code_of(teacher)
    assert any(code in element.proto.body for element in teacher.sidebar.get("html"))  # the code, large
    assert any("alt='QR code of " in e.proto.body and f"?room={code}'" in e.proto.body
               for e in teacher.sidebar.get("html"))  # the QR code (tests/browser/test_rooms.py reads it)
    student = session(room=code.lower())  # the join link, typed in lower case
    joined = student.session_state[STUDENT]
    assert joined["code"] == code and len(joined["name"].split()) == 2 and "room" not in student.query_params
    assert any(joined["name"] in m.value for m in student.sidebar.markdown)

    teacher.button(key="room_push").click().run()
    assert [s.value for s in teacher.sidebar.success] == [f"Pushed Network Playground to class {code} (push 1)."]
    student.run()  # the session's next run: its follow fragment finds the push
    assert student.title[0].value == "Network Playground"
    assert student.session_state["pg_lr"] == 0.3 and student.session_state["pg_data"] == "xor"

    # The student changes something (in a browser the URL-bound widget writes the address too), then trains.
    student.query_params["pg_act"] = "ReLU"
    student.selectbox(key="pg_act").set_value("relu").run()
    student.button(key="pg_epoch").click().run()
    assert metric(student, "Step") == "25"

    teacher.switch_page("app_pages/classroom.py").run()
    assert not teacher.exception
    assert metric(teacher, "Students") == "1" and metric(teacher, "Reported") == "1"
    table = teacher.dataframe[0].value
    row = table.iloc[0]
    assert row["student"] == joined["name"] and row["step"] == 25 and row["η"] == pytest.approx(0.3)
    assert row["changed from the push"] == "pg_act=ReLU" and row["page"] == "Network Playground"
    assert 0 < row["final loss"] < 1.0
    assert len(conftest.chart_figures(teacher)) >= 2

    # On the projector, the teacher opens the run big: the student's settings, still in presentation mode.
    teacher.toggle(key="present").set_value(True).run()
    teacher.button(key="class_open_run").click().run()
    assert not teacher.exception and teacher.title[0].value == "Network Playground"
    assert teacher.session_state["pg_act"] == "relu" and teacher.session_state["pg_lr"] == 0.3
    assert teacher.session_state["present"] and "exact" not in teacher.query_params


def test_the_class_view_shows_how_to_join_large_until_a_run_reports(teacher):
    """On the projector the sidebar is folded: the class view itself shows the code, the link and the QR code."""
    code = code_of(teacher)
    teacher.switch_page("app_pages/classroom.py").run()
    assert not teacher.exception and metric(teacher, "Students") == "0"
    assert any(f"?room={code}'" in e.proto.body and "join-qr" in e.proto.body for e in teacher.main.get("html"))
    assert any(code in element.proto.body for element in teacher.main.get("html"))
    assert any(f"/?room={code}**" in m.value for m in teacher.main.markdown)


def test_a_student_holds_no_token_and_its_forged_push_is_refused(teacher):
    code = code_of(teacher)
    student = session(room=code)
    assert TEACHER not in student.session_state
    assert not [b for b in student.sidebar.button if b.key in ("room_push", "room_clear", "room_close")]
    token = teacher.session_state[TEACHER]["token"]
    assert all(token not in str(student.session_state[key]) for key in student.session_state)
    with pytest.raises(NotTeacher):
        room_store().push(code, student.session_state[STUDENT]["id"], "cnn", {})
    student.switch_page("app_pages/classroom.py").run()  # the class view is the teacher's
    assert not conftest.chart_figures(student) and "belongs to the teacher" in student.info[0].value


def test_clear_keeps_the_students_and_close_ends_the_class_for_them(teacher):
    code = code_of(teacher)
    student = session(room=code)
    teacher.button(key="room_push").click().run()
    student.run()
    student.button(key="pg_step").click().run()
    teacher.button(key="room_clear").click().run()
    view = room_store().view(code, teacher.session_state[TEACHER]["token"])
    assert len(view.runs) == 1 and view.runs[0].report is None
    teacher.button(key="room_close").click().run()
    assert TEACHER not in teacher.session_state
    with pytest.raises(RoomClosed):
        room_store().join(code)
    student.run()
    assert STUDENT not in student.session_state
    assert any("closed" in w.value for w in student.sidebar.warning)


def test_a_teacher_takes_the_class_back_with_its_key_after_a_reload(teacher):
    code, token = code_of(teacher), teacher.session_state[TEACHER]["token"]
    reloaded = session()
    reloaded.text_input(key="room_back_code").input(code.lower())
    reloaded.text_input(key="room_back_key").input("not the key")
    reloaded.button(key="room_back").click().run()
    assert TEACHER not in reloaded.session_state and reloaded.sidebar.warning
    reloaded.text_input(key="room_back_key").input(token)
    reloaded.button(key="room_back").click().run()
    assert reloaded.session_state[TEACHER] == {"code": code, "token": token}


def test_a_long_history_is_thinned_to_the_first_the_last_and_evenly_spaced_points_the_room_takes():
    steps = np.arange(1000)
    losses = 1.0 / (1.0 + steps)
    noisy = losses.copy()
    noisy[300] = np.nan
    noisy[-1] = np.inf  # the diverged run's last value
    evaluated = np.array([0, 250, 500, 500, 750])  # an evaluation recorded twice at one step
    snap = Snapshot(0, 999, 0.0, JobStatus.DIVERGED, "", {"train_loss": Series(steps, noisy),
                                                          "test_accuracy": Series(evaluated, evaluated / 1000),
                                                          "test_loss": Series(steps, losses)},
                    None, {"lr": 3.0}, None, 0, 0.0, "CPU")
    metrics = thinned_history(snap, diverged=True)
    assert list(metrics) == ["test_loss", "train_loss", "test_accuracy"]  # the held-out loss first
    assert metrics.pop("test_accuracy") == [[0, 0.0], [250, 0.25], [500, 0.5], [750, 0.75]]
    for points in metrics.values():
        kept = np.array([p[0] for p in points])
        assert len(kept) <= MAX_POINTS and kept[0] == 0 and kept[-1] == 999 and (np.diff(kept) > 0).all()
        assert np.diff(kept).max() <= 2 * np.diff(kept).min() + 2  # evenly spaced, not bunched
    assert all(p[1] == pytest.approx(1.0 / (1 + p[0])) for p in metrics["test_loss"])
    assert math.isinf(metrics["train_loss"][-1][1]) and 300 not in [p[0] for p in metrics["train_loss"]]
    report = validate_report({"page": "playground", "push_version": 0, "params": {}, "differences": {},
                              "learning_rate": 3.0, "step": 999, "status": "diverged", "metrics": metrics})
    assert report.diverged and report.metrics["test_loss"][-1] == (999, pytest.approx(0.001))


def _student_script():
    """A student's session that reports once (what a live area does) and runs the follow fragment."""
    import streamlit as st

    from ui import rooms

    student = st.session_state[rooms.STUDENT]
    if st.session_state.get("send"):
        rooms._send(student, st.session_state.send, ("playground", st.session_state.send["step"], "paused"))
        st.session_state.send = None
    rooms._follow()


def test_a_final_report_the_room_refuses_as_too_fast_is_sent_by_the_follow_fragment(monkeypatch):
    """A stopped run draws no more: its last report, refused as too fast, must still reach the room."""
    rooms = room_store()
    code, token = rooms.open()
    try:
        monkeypatch.setattr(rooms, "limits", RoomLimits(reports_per_s=1e-6, report_burst=1))  # refills in days
        student, name = rooms.join(code)
        report = {"page": "playground", "push_version": 0, "params": {}, "differences": {}, "learning_rate": 0.1,
                  "step": 1, "status": "paused", "metrics": {}}
        rooms.report(code, student, report)  # the one report of the burst
        at = AppTest.from_function(_student_script)
        at.session_state[STUDENT] = {"code": code, "id": student, "name": name, "followed": 0, "push": None,
                                     "reported_at": 0.0, "last": None, "pending": None}
        at.session_state["send"] = {**report, "step": 500}
        at.run()
        assert not at.exception and at.session_state[STUDENT]["pending"] is not None
        assert rooms.view(code, token).runs[0].report.step == 1
        monkeypatch.undo()  # 2 reports a second again
        time.sleep(1.0)
        at.run()  # the follow fragment's next run (run_every does not fire in AppTest)
        assert rooms.view(code, token).runs[0].report.step == 500
        assert at.session_state[STUDENT]["pending"] is None and at.session_state[STUDENT]["last"][1] == 500
    finally:
        rooms.close(code, token)
