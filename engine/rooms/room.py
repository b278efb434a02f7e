"""The rooms of a server, in memory (the API; see engine.rooms for who may do what).

API (the UI, the bench and the Ray actor use exactly this; every method is thread-safe and every argument and
result is plain, picklable data):

    rooms = Rooms(RoomLimits(), clock=time.monotonic)
    code, token = rooms.open()                        # TooManyRooms beyond limits.rooms
    student, name = rooms.join(code)                  # NoSuchRoom, RoomClosed, RoomFull beyond limits.students
    version = rooms.push(code, token, page, params)   # NotTeacher; page: a url_path; params: the query string
    push = rooms.current_push(code, student)          # Push | None; NoSuchRoom (also for an unknown student)
    rooms.report(code, student, raw)                  # ReportRefused (validate_report), TooFast (rate limit)
    view = rooms.view(code, token)                    # RoomView: every run, for the class view; NotTeacher
    rooms.clear(code, token)                          # forget every run's report (students stay joined)
    rooms.close(code, token)                          # the room goes; its students are told (RoomClosed)
    rooms.sweep()                                     # rooms idle for limits.idle_s go (also done by open/join)

A student whose tab closes is never removed: its last report stays in the view until the room is cleared or
closed. Activity (what keeps a room from expiring): a push, a join, a report, a view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from engine.rooms.reports import RunReport


class RoomError(Exception):
    """Base of what a room refuses; the message is for the user, as it stands."""


class NoSuchRoom(RoomError):
    pass


class RoomClosed(RoomError):
    pass


class RoomFull(RoomError):
    pass


class TooManyRooms(RoomError):
    pass


class NotTeacher(RoomError):
    pass


class TooFast(RoomError):
    pass


@dataclass(frozen=True)
class RoomLimits:
    rooms: int = 10  # per server (per store: with Ray, per cluster)
    students: int = 60  # per room
    reports_per_s: float = 2.0  # per student, sustained (a burst of `report_burst` allowed)
    report_burst: int = 4
    idle_s: float = 2 * 3600.0  # a room without activity for this long expires


@dataclass(frozen=True)
class Push:
    """An experiment the teacher pushed: a page (its url_path) and its link's query string."""

    version: int  # 1, 2, ... within the room
    page: str
    params: Mapping[str, tuple[str, ...]]  # key -> values, as st.query_params.get_all gives them
    pushed_at: float


@dataclass(frozen=True)
class StudentRun:
    """One student of a room and the last report of its run (None before the first, or after a clear)."""

    student_no: int  # 1, 2, ... in joining order: what the class view and its clicks use (never the id)
    name: str
    joined_at: float
    reported_at: float | None
    report: RunReport | None


@dataclass(frozen=True)
class RoomView:
    """What the teacher's class view shows of a room at one moment."""

    code: str
    push: Push | None
    runs: tuple[StudentRun, ...]
    version: int  # changes whenever a push, join, report or clear changes what the view shows
    created_at: float


class Rooms:
    """The rooms of one server (or one Ray actor). See the module docstring."""

    def __init__(self, limits: RoomLimits = RoomLimits(), clock: Callable[[], float] = time.monotonic):
        raise NotImplementedError

    def open(self) -> tuple[str, str]:
        raise NotImplementedError

    def join(self, code: str) -> tuple[str, str]:
        raise NotImplementedError

    def push(self, code: str, token: str, page: str, params: Mapping[str, Any]) -> int:
        raise NotImplementedError

    def current_push(self, code: str, student: str) -> Push | None:
        raise NotImplementedError

    def report(self, code: str, student: str, raw: Any) -> None:
        raise NotImplementedError

    def view(self, code: str, token: str) -> RoomView:
        raise NotImplementedError

    def clear(self, code: str, token: str) -> None:
        raise NotImplementedError

    def close(self, code: str, token: str) -> None:
        raise NotImplementedError

    def sweep(self) -> int:
        raise NotImplementedError
