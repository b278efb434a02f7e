"""Class rooms through the app (AppTest: each AppTest is its own session; all share this process's rooms): a
teacher starts a class and pushes a page, a student joins by the link and opens it at once, trains, and the
class view shows the run; a student holds no token and cannot push; clear and close."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from engine.rooms import NotTeacher, RoomClosed, room_store
from tests.conftest import ROOT, metric
from ui.rooms import STUDENT, TEACHER


def session(page: str = "home", **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    if page != "home":
        at.switch_page(f"app_pages/{page}.py")
    at.query_params.update(query)
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


def test_a_pushed_page_opens_for_the_student_who_trains_and_the_class_view_shows_the_run(teacher):
    code = code_of(teacher)
    assert any(code in element.proto.body for element in teacher.sidebar.get("html"))  # the code, large
    assert teacher.sidebar.get("image")  # the QR code
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
    assert row["changed from the push"] == "pg_act=ReLU"
    assert 0 < row["final loss"] < 1.0
    assert len(teacher.get("plotly_chart")) >= 2


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
    assert not student.get("plotly_chart") and "belongs to the teacher" in student.info[0].value


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
