"""What crosses the process boundary when a reader asks for a job's snapshot: only what changed since the
reader's last version (engine.runtime.remote serves and reads them).

A history is append-only between resets, so a delta carries each series' new points (the reader keeps the rest),
and the visuals only when they were observed anew; the reader keeps the objects of every part of the visuals that
did not change. Arrays travel as raw buffers (pickle protocol 5), never element by element.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import torch

from engine.common.history import Series
from engine.runtime.snapshot import Snapshot, freeze_visuals


@dataclass(frozen=True)
class Known:
    """What a reader already has: the version, build and visuals of its snapshot, and each series' length."""

    version: int = 0
    build: int = -1
    visuals_id: int = -1
    series: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # name -> (points, the last step)

    @classmethod
    def of(cls, snap: Snapshot | None) -> "Known":
        if snap is None:
            return cls()
        return cls(snap.version, snap.build, snap.visuals_id,
                   {name: (len(s), int(s.steps[-1])) for name, s in snap.history.items() if len(s)})


@dataclass(frozen=True)
class SnapshotDelta:
    """A snapshot as a reader that knows `Known` needs it."""

    fields: dict[str, Any]  # every Snapshot field but history and visuals
    series: dict[str, tuple[int, np.ndarray, np.ndarray]]  # name -> (points the reader keeps, new steps, values)
    visuals: Any = None
    visuals_changed: bool = False

    @property
    def version(self) -> int:
        return self.fields["version"]


_PLAIN_FIELDS = tuple(f.name for f in dataclasses.fields(Snapshot) if f.name not in ("history", "visuals"))


def _plain(value: Any) -> Any:
    """A read-only mapping as a dict (mappingproxy does not pickle)."""
    return dict(value) if isinstance(value, MappingProxyType) else value


def make_delta(snap: Snapshot, known: Known) -> SnapshotDelta | None:
    """What a reader that knows `known` lacks of `snap`; None when it has this version already."""
    if snap.version == known.version:
        return None
    same_build = snap.build == known.build
    series = {}
    for name, s in snap.history.items():
        points, last_step = known.series.get(name, (0, None))
        # Compaction merges old points, and a reset starts over: then the last known step no longer sits at
        # the same place, and the whole series is sent.
        kept = points if same_build and 0 < points <= len(s) and s.steps[points - 1] == last_step else 0
        series[name] = (kept, s.steps[kept:], s.values[kept:])
    changed = snap.visuals_id != known.visuals_id
    # The config changes only with a rebuild: within one build the reader keeps its own (and its identity,
    # which the pages' memo of figures goes by).
    fields = {name: _plain(getattr(snap, name)) for name in _PLAIN_FIELDS if not (same_build and name == "config")}
    return SnapshotDelta(fields, series, _plain(snap.visuals) if changed else None, changed)


def reuse_unchanged(new: Any, old: Any) -> Any:
    """`new` (just unpickled, so nobody else holds it) with every part equal to the same part of `old` replaced
    by old's object, and `old` itself when nothing differs. Pages memoize figures by the identity of what they
    draw (ui.live.remembered): visuals observed anew share what did not change, as they do in one process."""
    if type(new) is not type(old):
        return new
    if isinstance(new, np.ndarray):
        same = new.shape == old.shape and new.dtype == old.dtype and np.array_equal(
            new, old, equal_nan=new.dtype.kind in "fc")
        return old if same else new
    if isinstance(new, torch.Tensor):
        same = new.shape == old.shape and new.dtype == old.dtype and torch.equal(new, old)
        return old if same else new
    if dataclasses.is_dataclass(new):
        parts = {f.name: reuse_unchanged(getattr(new, f.name), getattr(old, f.name)) for f in dataclasses.fields(new)}
        if all(value is getattr(old, name) for name, value in parts.items()):
            return old
        for name, value in parts.items():
            object.__setattr__(new, name, value)  # a frozen dataclass, but ours alone until returned
        return new
    if isinstance(new, (tuple, list)):
        parts = [reuse_unchanged(a, b) for a, b in zip(new, old)] if len(new) == len(old) else None
        if parts is not None and all(a is b for a, b in zip(parts, old)):
            return old
        return type(new)(parts) if parts is not None and type(new) in (tuple, list) else new
    if isinstance(new, dict):
        parts = {key: reuse_unchanged(value, old[key]) if key in old else value for key, value in new.items()}
        return old if parts.keys() == old.keys() and all(parts[k] is old[k] for k in parts) else parts
    try:
        return old if bool(new == old) else new
    except Exception:  # a value without a plain equality
        return new


def apply_delta(base: Snapshot | None, delta: SnapshotDelta) -> Snapshot:
    """The snapshot `delta` describes, given the snapshot it was made against."""
    history = {}
    for name, (kept, steps, values) in delta.series.items():
        if kept and not len(steps) and kept == len(base.history[name]):
            history[name] = base.history[name]  # unchanged: the same object
            continue
        if kept:
            old = base.history[name]
            steps, values = np.concatenate([old.steps[:kept], steps]), np.concatenate([old.values[:kept], values])
        steps.setflags(write=False)
        values.setflags(write=False)
        history[name] = Series(steps, values)
    visuals = base.visuals if base is not None else None
    if delta.visuals_changed:
        previous = dict(visuals) if isinstance(visuals, MappingProxyType) else visuals
        visuals = freeze_visuals(reuse_unchanged(delta.visuals, previous))
    fields = dict(delta.fields)
    fields.setdefault("config", base.config if base is not None else None)
    hyperparameters = fields["hyperparameters"]
    fields["hyperparameters"] = (base.hyperparameters if base is not None and dict(base.hyperparameters) ==
                                 hyperparameters else MappingProxyType(dict(hyperparameters)))
    return Snapshot(history=MappingProxyType(history), visuals=visuals, **fields)
