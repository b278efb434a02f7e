"""The links recorded before experiments became specs (tests/data/links.json, written by tests/test_links_kept.py),
and how what a link opened is written down there."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "links.json"


def plain(value):
    """A JSON value for what a link opened: dataclasses as their fields, arrays and tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else round(float(value), 12)
    if isinstance(value, (np.integer, int, bool, str)) or value is None:
        return value.item() if isinstance(value, np.generic) else value
    return repr(value)


def recorded() -> dict[str, dict]:
    return json.loads(DATA.read_text()) if DATA.exists() else {}  # missing: the coverage test below fails
