"""Where the rooms live.

`room_store()` is the server's one `Rooms` (engine.rooms.room), or a handle with the same methods that reaches
a named Ray actor ("gradscape-rooms" in namespace "gradscape", made by the first replica that asks, found by the
others) when jobs train on Ray (engine.runtime.hosts.host_kind() == "ray"), so every web server behind a load
balancer sees the same rooms. The handle raises the same RoomError subclasses as `Rooms`.

Several replicas without Ray: each has its own rooms. A join link works only on the replica that made the room:
a student whose session lands on another replica is told the room does not exist. Sticky sessions do not help
(the teacher's session and a student's are different sessions); use Ray, or one replica.
"""

from __future__ import annotations

import threading
from typing import Any

from engine.rooms.errors import RoomsUnavailable
from engine.rooms.room import Rooms

ACTOR_NAME, NAMESPACE = "gradscape-rooms", "gradscape"
CALL_TIMEOUT_S = 10.0
_METHODS = ("open", "join", "push", "current_push", "report", "view", "clear", "close", "sweep")
_store: Any = None
_store_lock = threading.Lock()


def room_store() -> Rooms:
    """This server's rooms (see the module docstring); made on first use."""
    global _store
    with _store_lock:
        if _store is None:
            from engine.runtime.hosts import current_host, host_kind

            if host_kind() == "ray":
                current_host()  # connects this process to the cluster
                _store = RayRooms()
            else:
                _store = Rooms()
        return _store


class RayRooms:
    """The rooms in the cluster's named actor, with `Rooms`' methods. The actor runs its calls one at a time
    (each is a dict lookup under a lock), lives on when the replica that made it goes (detached) and asks for
    no CPU of its own, so it never waits for a slot the training jobs hold. If it dies, the call raises
    RoomsUnavailable and the next one finds (or makes) the actor anew: its rooms are lost, new ones can start."""

    def __init__(self) -> None:
        import ray

        self._ray = ray
        self._lock = threading.Lock()
        self._actor: Any = None
        self._reached()

    def _reached(self) -> Any:
        with self._lock:
            if self._actor is None:
                self._actor = self._ray.remote(Rooms).options(
                    name=ACTOR_NAME, namespace=NAMESPACE, get_if_exists=True, lifetime="detached",
                    num_cpus=0).remote()
            return self._actor

    def __getattr__(self, method: str) -> Any:
        if method not in _METHODS:
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            actor, exceptions = self._reached(), self._ray.exceptions
            try:
                return self._ray.get(getattr(actor, method).remote(*args, **kwargs), timeout=CALL_TIMEOUT_S)
            except exceptions.RayTaskError as error:
                cause = error.cause if isinstance(getattr(error, "cause", None), Exception) else None
                if cause is not None:
                    raise cause from None  # a RoomError (or a bug) raised in the actor, as Rooms raises it
                raise
            except exceptions.GetTimeoutError:
                raise RoomsUnavailable(f"The class rooms did not answer within {CALL_TIMEOUT_S:.0f} s: try again "
                                       "in a moment.") from None
            except exceptions.RayActorError:
                with self._lock:
                    if self._actor is actor:
                        self._actor = None  # the next call finds or makes it anew
                raise RoomsUnavailable("The class rooms stopped on the cluster and their classes ended: start or "
                                       "join a class again.") from None

        return call
