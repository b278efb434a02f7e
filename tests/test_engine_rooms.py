"""Class rooms in memory (engine.rooms): codes and names, caps, the rate limit and expiry on a clock the test
moves, who may do what, and every rule a report from a browser must pass."""

from __future__ import annotations

import copy
import math
import random
import threading

import pytest

from engine.rooms import (NoSuchRoom, NotTeacher, ReportRefused, RoomClosed, RoomFull, RoomLimits, Rooms, TooFast,
                          TooManyRooms, validate_report)
from engine.rooms.names import ANIMALS, CODE_ALPHABET, CODE_LENGTH, COLOURS, anonymous_name, normalized_code
from engine.rooms.reports import MAX_POINTS, MAX_REPORT_BYTES


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def report(version: int = 1, step: int = 25, status: str = "paused", **changes) -> dict:
    raw = {"page": "playground", "push_version": version, "params": {"pg_lr": ["0.3"], "pg_data": ["xor"]},
           "differences": {"pg_lr": ["0.3"]}, "learning_rate": 0.3, "step": step, "status": status,
           "metrics": {"test_loss": [[0, 0.69], [step, 0.41]], "test_accuracy": [[0, 0.5], [step, 0.9]]}}
    raw.update(changes)
    return raw


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def room(clock):
    rooms = Rooms(RoomLimits(), clock=clock)
    code, token = rooms.open()
    rooms.push(code, token, "playground", {"pg_lr": ["0.03"], "pg_data": ["xor"]})
    return rooms, code, token


def test_codes_are_six_unambiguous_characters_and_read_as_typed():
    rooms = Rooms(RoomLimits(rooms=200))
    codes = {rooms.open()[0] for _ in range(200)}
    assert len(codes) == 200
    assert all(len(code) == CODE_LENGTH == 6 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert not set(CODE_ALPHABET) & set("0O1IL2Z5S8B")
    code = next(iter(codes))
    assert normalized_code(f" {code[:3].lower()} {code[3:]} ") == code
    assert normalized_code(code.replace(code[0], "0")) is None


def test_names_are_two_words_and_unique_in_a_room():
    rooms = Rooms()
    code, _ = rooms.open()
    names = [rooms.join(code)[1] for _ in range(60)]
    assert len(set(names)) == 60
    assert all(name.split()[0] in COLOURS and name.split()[1] in ANIMALS for name in names)
    every_pair = {f"{c} {a}" for c in COLOURS for a in ANIMALS}
    names_rng = random.Random(0)  # noqa: S311 - names, not secrets
    assert anonymous_name(every_pair, names_rng).split()[-1].isdigit()  # all 1,600 taken: a number


def test_the_caps_hold_rooms_per_server_and_students_per_room():
    rooms = Rooms(RoomLimits())
    codes = [rooms.open()[0] for _ in range(10)]
    with pytest.raises(TooManyRooms):
        rooms.open()
    for _ in range(60):
        rooms.join(codes[0])
    with pytest.raises(RoomFull):
        rooms.join(codes[0])
    rooms.join(codes[1])  # another room has room


def test_reports_are_limited_to_two_a_second_after_a_burst(room, clock):
    rooms, code, token = room
    student, _ = rooms.join(code)
    for step in range(1, 5):  # the burst
        rooms.report(code, student, report(step=step))
    with pytest.raises(TooFast):
        rooms.report(code, student, report(step=5))
    assert rooms.view(code, token).runs[0].report.step == 4  # the refused one changed nothing
    clock.now += 0.5  # one more token at 2 a second
    rooms.report(code, student, report(step=6))
    with pytest.raises(TooFast):
        rooms.report(code, student, report(step=7))
    clock.now += 10  # refilled to the burst, not beyond
    for step in range(8, 12):
        rooms.report(code, student, report(step=step))
    with pytest.raises(TooFast):
        rooms.report(code, student, report(step=12))


def test_an_idle_room_expires_after_two_hours_and_activity_keeps_it(room, clock):
    rooms, code, token = room
    student, _ = rooms.join(code)
    clock.now += 2 * 3600 - 1
    rooms.report(code, student, report())  # activity
    clock.now += 2 * 3600 - 1
    assert rooms.sweep() == 0 and rooms.view(code, token).code == code
    clock.now += 2 * 3600
    assert rooms.sweep() == 1
    with pytest.raises(RoomClosed, match="2 h"):
        rooms.current_push(code, student)
    rooms.open()  # its place is free


def test_a_room_idle_past_the_limit_is_gone_though_nobody_swept(room, clock):
    rooms, code, token = room
    clock.now += 2 * 3600
    with pytest.raises(RoomClosed, match="2 h"):
        rooms.push(code, token, "playground", {})  # the teacher coming back does not revive it
    assert rooms.sweep() == 0


def test_only_the_teachers_token_pushes_views_clears_and_closes(room):
    rooms, code, token = room
    student, _ = rooms.join(code)
    other_code, other_token = rooms.open()
    for forged in (student, other_token, token[:-1], "", None):
        for call in (lambda t: rooms.push(code, t, "cnn", {}), lambda t: rooms.view(code, t),
                     lambda t: rooms.clear(code, t), lambda t: rooms.close(code, t)):
            with pytest.raises(NotTeacher):
                call(forged)
    with pytest.raises(NoSuchRoom):  # a token is not a student id
        rooms.report(code, token, report())
    with pytest.raises(NoSuchRoom):  # a student of one room is nobody in another
        rooms.current_push(other_code, student)
    assert rooms.current_push(code, student).params == {"pg_lr": ("0.03",), "pg_data": ("xor",)}


def test_a_view_lists_runs_in_joining_order_and_clear_keeps_the_students(room):
    rooms, code, token = room
    students = [rooms.join(code) for _ in range(3)]
    rooms.report(code, students[1][0], report(step=50))
    view = rooms.view(code, token)
    assert [(run.student_no, run.name) for run in view.runs] == [(i + 1, name) for i, (_, name) in enumerate(students)]
    assert [run.report.step if run.report else None for run in view.runs] == [None, 50, None]
    assert view.runs[1].report.last("test_loss") == 0.41 and view.runs[1].report.learning_rate == 0.3
    rooms.clear(code, token)
    cleared = rooms.view(code, token)
    assert cleared.version > view.version and all(run.report is None for run in cleared.runs)
    assert len(cleared.runs) == 3


def test_a_closed_room_tells_its_students(room):
    rooms, code, token = room
    student, _ = rooms.join(code)
    rooms.close(code, token)
    for call in (lambda: rooms.join(code), lambda: rooms.current_push(code, student),
                 lambda: rooms.report(code, student, report())):
        with pytest.raises(RoomClosed, match="closed"):
            call()
    with pytest.raises(NoSuchRoom):
        rooms.join("ACDEFG" if code != "ACDEFG" else "ACDEFH")


def test_a_report_from_a_push_not_made_yet_is_refused(room):
    rooms, code, _ = room
    student, _ = rooms.join(code)
    with pytest.raises(ReportRefused, match="push_version 2"):
        rooms.report(code, student, report(version=2))


def test_a_valid_report_round_trips_and_a_diverged_run_may_end_on_nan():
    raw = report()
    checked = validate_report(copy.deepcopy(raw))
    assert checked.params == {"pg_lr": ("0.3",), "pg_data": ("xor",)}
    assert checked.metrics["test_loss"] == ((0, 0.69), (25, 0.41))
    diverged = validate_report(report(status="diverged", metrics={"loss": [[0, 0.7], [9, math.inf]]}))
    assert diverged.diverged and math.isinf(diverged.last("loss"))


def nested(depth: int) -> list:
    inner: list = []
    for _ in range(depth):
        inner = [inner]
    return inner


BAD_REPORTS = {
    "not a dict": ([], "a dict"),
    "an unknown key": ({**report(), "name": "Ada"}, "unknown"),
    "a missing key": ({k: v for k, v in report().items() if k != "step"}, "missing"),
    "a bool step": (report(step=True), "step"),
    "a negative step": (report(step=-1), "step"),
    "a page with a slash": (report(page="../etc"), "page"),
    "an unknown status": (report(status="winning"), "status"),
    "an infinite learning rate": (report(learning_rate=math.inf), "learning_rate"),
    "a zero learning rate": (report(learning_rate=0), "learning_rate"),
    "a number as a parameter": (report(params={"pg_lr": [0.3]}), "params"),
    "too many parameters": (report(differences={f"k{i}": ["1"] for i in range(81)}), "differences"),
    "NaN in a run that did not diverge": (report(metrics={"loss": [[0, math.nan]]}), "finite"),
    "NaN before the last point": (report(status="diverged", metrics={"loss": [[0, math.nan], [1, 1.0]]}),
                                  "finite"),
    "decreasing steps": (report(metrics={"loss": [[5, 1.0], [3, 0.9]]}), "increase"),
    "a point of three numbers": (report(metrics={"loss": [[0, 1.0, 2.0]]}), "pairs"),
    "a string value": (report(metrics={"loss": [[0, "0.5"]]}), "pairs"),
    "too many points": (report(metrics={"loss": [[i, 0.5] for i in range(MAX_POINTS + 1)]}), "at most"),
    "a metric name with markup": (report(metrics={"<b>loss</b>": [[0, 0.5]]}), "metric"),
    "too many bytes": (report(params={f"k{i}": ["x" * 1900] for i in range(40)}), f"{MAX_REPORT_BYTES:,}"),
    "a value that is not JSON": (report(params={"pg_lr": [b"0.3"]}), "JSON"),
    "a learning rate no float holds": (report(learning_rate=10**400), "learning_rate"),
    "a value no float holds": (report(metrics={"loss": [[0, 10**400]]}), "pairs"),
    "nesting deeper than Python's stack": (report(params={"pg_lr": nested(100_000)}), "JSON"),
}


@pytest.mark.parametrize("name", BAD_REPORTS)
def test_every_bad_report_is_refused_saying_why(name):
    raw, why = BAD_REPORTS[name]
    with pytest.raises(ReportRefused, match=why):
        validate_report(raw)


def test_a_bad_push_is_refused_and_changes_nothing(room):
    rooms, code, token = room
    student, _ = rooms.join(code)
    with pytest.raises(ReportRefused):
        rooms.push(code, token, "playground", {"pg_lr": [1]})
    with pytest.raises(ReportRefused):
        rooms.push(code, token, "<script>", {})
    with pytest.raises(ReportRefused, match=f"params is at most {MAX_REPORT_BYTES:,} bytes"):  # each value fits
        rooms.push(code, token, "playground", {f"k{i}": ["x" * 2000] * 16 for i in range(80)})
    assert rooms.current_push(code, student).version == 1


def test_students_joining_and_reporting_from_many_threads_lose_nothing():
    rooms = Rooms(RoomLimits(students=40, report_burst=100))
    code, token = rooms.open()
    rooms.push(code, token, "playground", {})
    errors = []

    def student(i: int) -> None:
        try:
            me, _ = rooms.join(code)
            for step in range(1, 21):
                rooms.report(code, me, report(step=step * 10 + i % 10))
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(48)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 8 and all(isinstance(error, RoomFull) for error in errors)
    view = rooms.view(code, token)
    assert len(view.runs) == 40 and sorted(run.student_no for run in view.runs) == list(range(1, 41))
    assert all(run.report is not None and run.report.step >= 200 for run in view.runs)
