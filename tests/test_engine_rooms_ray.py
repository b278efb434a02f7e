"""Class rooms in a named Ray actor (engine.rooms.store), on a real Ray: every replica's handle reaches the same
rooms, and what the actor refuses arrives as the same RoomError, message and all."""

from __future__ import annotations

import pytest

from engine.rooms import NotTeacher, RoomClosed, store


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
    other_replica.report(code, student, {"page": "playground", "push_version": 1, "params": {"pg_lr": ["0.3"]},
                                         "differences": {}, "learning_rate": 0.3, "step": 7, "status": "running",
                                         "metrics": {"loss": [[0, 0.7], [7, 0.5]]}})
    view = ray_rooms.view(code, token)
    assert [(run.name, run.report.step) for run in view.runs] == [(name, 7)]
    with pytest.raises(NotTeacher, match="Only the teacher"):
        other_replica.push(code, student, "cnn", {})
    ray_rooms.close(code, token)
    with pytest.raises(RoomClosed, match="closed"):
        other_replica.current_push(code, student)
