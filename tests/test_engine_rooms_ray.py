"""Class rooms in a named Ray actor (engine.rooms.store), on a real Ray: every replica's handle reaches the same
rooms, and what the actor refuses arrives as the same RoomError, message and all."""

from __future__ import annotations

import time

import pytest

from engine.rooms import NoSuchRoom, NotTeacher, ReportRefused, RoomClosed, store


REPORT = {"page": "playground", "push_version": 1, "params": {"pg_lr": ["0.3"]}, "differences": {},
          "learning_rate": 0.3, "step": 7, "status": "running", "metrics": {"loss": [[0, 0.7], [7, 0.5]]}}


@pytest.fixture
def ray_rooms(ray_host, monkeypatch):
    import ray

    monkeypatch.setenv("GRADSCAPE_JOBS", "ray")
    monkeypatch.setattr(store, "_store", None)
    yield store.room_store()
    ray.kill(ray.get_actor(store.ACTOR_NAME, namespace=store.NAMESPACE))


def test_two_replicas_share_the_rooms_of_the_named_actor(ray_rooms):
    assert isinstance(ray_rooms, store.RayRooms)
    code, token = ray_rooms.open()
    other_replica = store.RayRooms()  # another web server finds the actor by its name
    student, name = other_replica.join(code)
    ray_rooms.push(code, token, "playground", {"pg_lr": ["0.3"]})
    assert other_replica.current_push(code, student).params == {"pg_lr": ("0.3",)}
    other_replica.report(code, student, REPORT)
    view = ray_rooms.view(code, token)
    assert [(run.name, run.report.step) for run in view.runs] == [(name, 7)]
    with pytest.raises(NotTeacher) as refused:
        other_replica.push(code, student, "cnn", {})
    assert refused.type is NotTeacher and str(refused.value) == "Only the teacher of this class may do that."
    with pytest.raises(ReportRefused, match="learning_rate") as refused:  # checked in the actor
        other_replica.report(code, student, {**REPORT, "learning_rate": -1})
    assert refused.type is ReportRefused
    ray_rooms.close(code, token)
    with pytest.raises(RoomClosed, match="closed"):
        other_replica.current_push(code, student)


def test_a_dead_actor_is_a_room_error_and_the_next_call_makes_a_new_one(ray_rooms):
    import ray

    code, _ = ray_rooms.open()
    ray.kill(ray.get_actor(store.ACTOR_NAME, namespace=store.NAMESPACE))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # ray.kill returns at once: wait until the name is free (the actor died)
        try:
            ray.get_actor(store.ACTOR_NAME, namespace=store.NAMESPACE)
        except ValueError:
            break
        time.sleep(0.05)
    with pytest.raises(store.RoomsUnavailable, match="stopped"):
        ray_rooms.join(code)
    with pytest.raises(NoSuchRoom):  # a fresh actor: the class went with the old one
        ray_rooms.join(code)
    assert len(ray_rooms.open()) == 2
