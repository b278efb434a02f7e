"""Class rooms (issue 22, section 1): a teacher leads a room, every student's run reports to it.

- `engine.rooms.names`: room codes (6 characters of an alphabet without look-alikes), teacher tokens, the
  anonymous names students get ("Blue Heron").
- `engine.rooms.reports`: what a student's run reports (`RunReport`), validated from untrusted input.
- `engine.rooms.room`: `Rooms`, the rooms of a server in memory: caps, expiry, rate limits, who may do what.
- `engine.rooms.store`: where the rooms live: this process, or a named Ray actor shared by every replica.

Who may do what: whoever holds the teacher token of a room may push to it, read its class view, clear and close
it; a student (a joined session, known by its student id) may read the current push and report its own run,
nothing else. Room codes are public (they are in the join link); tokens and student ids never leave the session
that got them. Nothing here imports streamlit: the pages reach rooms through ui.rooms.
"""

from engine.rooms.errors import (NoSuchRoom, NotTeacher, ReportRefused, RoomClosed, RoomError, RoomFull,
                                 RoomsUnavailable, TooFast, TooManyRooms)
from engine.rooms.reports import RunReport, validate_report
from engine.rooms.room import Push, RoomLimits, Rooms, RoomView, StudentRun
from engine.rooms.store import room_store

__all__ = ["NoSuchRoom", "NotTeacher", "Push", "ReportRefused", "RoomClosed", "RoomError", "RoomFull", "RoomLimits",
           "RoomView", "Rooms", "RoomsUnavailable", "RunReport", "StudentRun", "TooFast", "TooManyRooms", "room_store",
           "validate_report"]
