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

import hmac
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from engine.rooms import names
from engine.rooms.errors import (NoSuchRoom, NotTeacher, ReportRefused, RoomClosed, RoomError, RoomFull,  # noqa: F401
                                 TooFast, TooManyRooms)
from engine.rooms.reports import RunReport, checked_page, checked_params, checked_size, validate_report


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


@dataclass
class _Student:
    no: int
    name: str
    joined_at: float
    tokens: float  # the rate limit's bucket
    refilled_at: float
    reported_at: float | None = None
    report: RunReport | None = None


@dataclass
class _Room:
    code: str
    token: str
    created_at: float
    active_at: float
    students: dict[str, _Student] = field(default_factory=dict)  # by student id
    push: Push | None = None
    version: int = 0


class Rooms:
    """The rooms of one server (or one Ray actor). See the module docstring."""

    CLOSED_REMEMBERED = 100  # codes of closed rooms kept, so their students are told, not puzzled

    def __init__(self, limits: RoomLimits = RoomLimits(), clock: Callable[[], float] = time.monotonic):
        self.limits, self._clock = limits, clock
        self._lock = threading.Lock()
        self._rooms: dict[str, _Room] = {}
        self._closed: OrderedDict[str, str] = OrderedDict()  # code -> why
        self._rng = random.Random()  # noqa: S311 - names only: nothing secret comes from it

    # ------------------------------------------------------------------ the teacher
    def open(self) -> tuple[str, str]:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            if len(self._rooms) >= self.limits.rooms:
                raise TooManyRooms(f"This server already holds {self.limits.rooms} classes, its most: one must "
                                   "close (or stay idle for "
                                   f"{self.limits.idle_s / 3600:g} h) before another starts.")
            code = names.new_code(set(self._rooms) | set(self._closed))
            self._rooms[code] = _Room(code, names.new_token(), now, now)
            return code, self._rooms[code].token

    def push(self, code: str, token: str, page: str, params: Mapping[str, Any]) -> int:
        checked_size("params", params)  # it goes to every student on every follow: bounded like a report
        page, params = checked_page(page), checked_params("params", params)
        with self._lock:
            room = self._teachers(code, token)
            room.push = Push(room.push.version + 1 if room.push else 1, page, params, self._clock())
            self._changed(room)
            return room.push.version

    def view(self, code: str, token: str) -> RoomView:
        with self._lock:
            room = self._teachers(code, token)
            room.active_at = self._clock()
            runs = tuple(StudentRun(s.no, s.name, s.joined_at, s.reported_at, s.report)
                         for s in room.students.values())
            return RoomView(room.code, room.push, runs, room.version, room.created_at)

    def clear(self, code: str, token: str) -> None:
        with self._lock:
            room = self._teachers(code, token)
            for student in room.students.values():
                student.report, student.reported_at = None, None
            self._changed(room)

    def close(self, code: str, token: str) -> None:
        with self._lock:
            self._teachers(code, token)
            self._forget(code, "The teacher closed this class.")

    # ------------------------------------------------------------------ the students
    def join(self, code: str) -> tuple[str, str]:
        with self._lock:
            now = self._clock()
            room = self._room(code)  # sweeps first
            if len(room.students) >= self.limits.students:
                raise RoomFull(f"Class {room.code} is full ({self.limits.students} students).")
            student = names.new_student_id()
            name = names.anonymous_name({s.name for s in room.students.values()}, self._rng)
            room.students[student] = _Student(len(room.students) + 1, name, now, float(self.limits.report_burst), now)
            self._changed(room)
            return student, name

    def current_push(self, code: str, student: str) -> Push | None:
        with self._lock:
            room = self._room(code)
            self._student(room, student)
            return room.push

    def report(self, code: str, student: str, raw: Any) -> None:
        report = validate_report(raw)
        with self._lock:
            room = self._room(code)
            joined = self._student(room, student)
            latest = room.push.version if room.push else 0
            if report.push_version > latest:
                raise ReportRefused(f"push_version {report.push_version} was never pushed (the last is {latest})")
            now = self._clock()
            joined.tokens = min(float(self.limits.report_burst),
                                joined.tokens + (now - joined.refilled_at) * self.limits.reports_per_s)
            joined.refilled_at = now
            if joined.tokens < 1.0:
                raise TooFast(f"At most {self.limits.reports_per_s:g} reports a second.")
            joined.tokens -= 1.0
            joined.report, joined.reported_at = report, now
            self._changed(room)

    # ------------------------------------------------------------------ upkeep
    def sweep(self) -> int:
        with self._lock:
            return self._sweep(self._clock())

    def _sweep(self, now: float) -> int:
        idle = [code for code, room in self._rooms.items() if now - room.active_at >= self.limits.idle_s]
        for code in idle:
            self._forget(code, f"This class ended: nothing happened in it for {self.limits.idle_s / 3600:g} h.")
        return len(idle)

    def _forget(self, code: str, why: str) -> None:
        del self._rooms[code]
        self._closed[code] = why
        while len(self._closed) > self.CLOSED_REMEMBERED:
            self._closed.popitem(last=False)

    def _changed(self, room: _Room) -> None:
        room.version += 1
        room.active_at = self._clock()

    def _room(self, code: Any) -> _Room:
        """The open room of `code`. Idle rooms go first, so one past limits.idle_s is gone whether or not anyone
        swept since (a teacher coming back after the limit finds it ended, as its students do)."""
        self._sweep(self._clock())
        canonical = names.normalized_code(code)
        if canonical in self._closed:
            raise RoomClosed(self._closed[canonical])
        if canonical is None or canonical not in self._rooms:
            raise NoSuchRoom(f"There is no class {str(code).strip()[:20]!r} on this server.")
        return self._rooms[canonical]

    def _teachers(self, code: Any, token: Any) -> _Room:
        room = self._room(code)
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), room.token.encode()):
            raise NotTeacher("Only the teacher of this class may do that.")
        return room

    @staticmethod
    def _student(room: _Room, student: Any) -> _Student:
        joined = room.students.get(student) if isinstance(student, str) else None
        if joined is None:
            raise NoSuchRoom(f"This session is not a student of class {room.code}: join it again.")
        return joined
