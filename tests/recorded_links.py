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


# Fields added after the links were recorded, at the values that run what those links ran: a record lacking one
# gets it here, so an old link must open at that value. A config's (or hyperparameters') field goes to every one
# holding the marker fields; a setting only where the page shows its control.
ADDED_CONFIG = {("depth", "residual"): {"layer_norm_affine": True, "residual_order": "post"}}  # Gradient Flow, deep
ADDED_HYPERPARAMETERS = {("schedule", "schedule_period"): {"schedule_power": 0.5}}  # the Playground's power schedule
ADDED_SETTINGS = {"gf_ln_affine": (True, lambda settings: settings.get("gf_norm") == "layer"),
                  "gf_res_order": ("post", lambda settings: settings.get("gf_res") is True),
                  "pg_power_c": (0.5, lambda settings: settings.get("pg_schedule") == "power")}


def with_fields_added_since(record: dict) -> dict:
    settings = dict(record["settings"])
    for key, (value, shown) in ADDED_SETTINGS.items():
        if shown(settings):
            settings.setdefault(key, value)
    jobs = {}
    for name, job in record["jobs"].items():
        config = dict(job["config"])
        for marker, added in ADDED_CONFIG.items():
            if set(marker) <= set(config):
                config = {**added, **config}
        hp = dict(job["hp"])
        for marker, added in ADDED_HYPERPARAMETERS.items():
            if set(marker) <= set(hp):
                hp = {**added, **hp}
        jobs[name] = {**job, "config": config, "hp": hp}
    return {**record, "settings": settings, "jobs": jobs}


def recorded() -> dict[str, dict]:
    """The recorded links, each with what it opened (and the fields added since, at their old-behaviour values)."""
    if not DATA.exists():  # missing: the coverage test fails
        return {}
    return {link: with_fields_added_since(record) for link, record in json.loads(DATA.read_text()).items()}
