"""What rooms refuse. Every refusal is a RoomError whose message is for the user as it stands, so a page that
shows what a room says catches one type (a refused report or push too)."""


class RoomError(Exception):
    """Base of what a room refuses."""


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


class ReportRefused(RoomError, ValueError):
    """A report (or push) that breaks a rule; the message names the field and the rule."""


class RoomsUnavailable(RoomError):
    """The rooms' Ray actor did not answer (it timed out, or it died and took its rooms with it)."""
