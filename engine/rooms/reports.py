"""What a student's run reports to its room, and the checks every report passes (it comes from a browser
session: untrusted, so bounded in size, typed, and its numbers finite).

A report, as the UI sends it (a plain dict; `validate_report` builds the frozen `RunReport` or raises
ReportRefused saying what is wrong):

    {"page": "playground",                 # url_path of the page the run is on
     "push_version": 3,                    # the push the run started from (0: none)
     "params": {"pg_lr": ["0.3"], ...},    # the run's whole query string (the teacher opens it big from this)
     "differences": {"pg_lr": ["0.3"]},    # where it differs from the push (a key the push had and the run
                                           #  does not: an empty list)
     "learning_rate": 0.3,                 # the run's learning rate, if its page has one (else None)
     "step": 1200, "status": "running",    # status: one of STATUSES
     "metrics": {"test_loss": [[0, 0.69], [25, 0.61], ...], ...}}   # [step, value] pairs, steps increasing

Limits: MAX_REPORT_BYTES of JSON in all, MAX_PARAMS keys of at most MAX_KEY_CHARS and MAX_VALUES values of at
most MAX_VALUE_CHARS each, MAX_METRICS metrics of at most MAX_POINTS points (the UI thins a long history to that).
A metric value may be a non-finite number only as the last point of a diverged run (status "diverged").
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from engine.rooms.errors import ReportRefused

STATUSES = ("ready", "running", "paused", "done", "diverged", "failed")
MAX_REPORT_BYTES = 64 * 1024
MAX_PARAMS = 80
MAX_KEY_CHARS = 64
MAX_VALUES = 16
MAX_VALUE_CHARS = 2000
MAX_METRICS = 8
MAX_POINTS = 120


@dataclass(frozen=True)
class RunReport:
    page: str
    push_version: int
    params: Mapping[str, tuple[str, ...]]
    differences: Mapping[str, tuple[str, ...]]
    learning_rate: float | None
    step: int
    status: str
    metrics: Mapping[str, tuple[tuple[int, float], ...]]

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    def last(self, metric: str) -> float | None:
        points = self.metrics.get(metric, ())
        return points[-1][1] if points else None


_KEYS = ("page", "push_version", "params", "differences", "learning_rate", "step", "status", "metrics")
_PAGE = re.compile(r"^[a-z0-9_-]{1,40}$")
_METRIC = re.compile(r"^[A-Za-z0-9_]{1,40}$")


def validate_report(raw: Any) -> RunReport:
    if not isinstance(raw, dict):
        raise ReportRefused(f"a report is a dict, not {type(raw).__name__}")
    unknown = sorted(str(key) for key in raw if key not in _KEYS)
    missing = [key for key in _KEYS if key not in raw]
    if unknown or missing:
        raise ReportRefused(f"a report has exactly the keys {', '.join(_KEYS)}: "
                            + "; ".join(part for part in (f"unknown {unknown}" if unknown else "",
                                                          f"missing {missing}" if missing else "") if part))
    checked_size("a report", raw)
    status = raw["status"]
    if status not in STATUSES:
        raise ReportRefused(f"status is one of {', '.join(STATUSES)}, not {status!r}")
    learning_rate = raw["learning_rate"]
    if learning_rate is not None and not (_number(learning_rate) and math.isfinite(learning_rate)
                                          and learning_rate > 0):
        raise ReportRefused(f"learning_rate is None or a finite number above 0, not {learning_rate!r}")
    return RunReport(page=checked_page(raw["page"]), push_version=_count("push_version", raw["push_version"]),
                     params=checked_params("params", raw["params"]),
                     differences=checked_params("differences", raw["differences"]),
                     learning_rate=None if learning_rate is None else float(learning_rate),
                     step=_count("step", raw["step"]), status=status,
                     metrics=_metrics(raw["metrics"], diverged=status == "diverged"))


def checked_page(page: Any) -> str:
    if not isinstance(page, str) or not _PAGE.match(page):
        raise ReportRefused(f"page is a page's address name (a-z, 0-9, _ and -, at most 40), not {page!r:.60}")
    return page


def checked_size(field: str, data: Any) -> None:
    """Refuse `data` unless it is plain JSON of at most MAX_REPORT_BYTES (measured before anything else is
    checked, so nothing larger is walked; a push's params are held to it too)."""
    try:
        size = len(json.dumps(data, allow_nan=True).encode())
    except (TypeError, ValueError, RecursionError) as error:  # RecursionError: nested past Python's stack
        raise ReportRefused(f"{field} is plain JSON data: {str(error)[:80]}") from None
    if size > MAX_REPORT_BYTES:
        raise ReportRefused(f"{field} is at most {MAX_REPORT_BYTES:,} bytes of JSON, not {size:,}")


def checked_params(field: str, params: Any) -> dict[str, tuple[str, ...]]:
    """A query string as key -> values (the teacher's push is checked by the same rules)."""
    if not isinstance(params, dict) or len(params) > MAX_PARAMS:
        raise ReportRefused(f"{field} is a dict of at most {MAX_PARAMS} parameters")
    checked = {}
    for key, values in params.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
            raise ReportRefused(f"{field}: a parameter's name is text of 1 to {MAX_KEY_CHARS} characters")
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, (list, tuple)) or len(values) > MAX_VALUES or not all(
                isinstance(v, str) and len(v) <= MAX_VALUE_CHARS for v in values):
            raise ReportRefused(f"{field}: {key} holds at most {MAX_VALUES} texts of at most {MAX_VALUE_CHARS:,} "
                                "characters")
        checked[key] = tuple(values)
    return checked


def _number(value: Any) -> bool:
    """An int or a float (a bool is neither here), and one a float can hold: 10**400 is refused, not an
    OverflowError later."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _count(field: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise ReportRefused(f"{field} is a whole number, 0 or more, not {value!r:.40}")
    return value


def _metrics(metrics: Any, diverged: bool) -> dict[str, tuple[tuple[int, float], ...]]:
    if not isinstance(metrics, dict) or len(metrics) > MAX_METRICS:
        raise ReportRefused(f"metrics is a dict of at most {MAX_METRICS} metrics")
    checked = {}
    for name, points in metrics.items():
        if not isinstance(name, str) or not _METRIC.match(name):
            raise ReportRefused(f"metrics: {name!r:.50} is not a metric's name (letters, digits, _; at most 40)")
        if not isinstance(points, (list, tuple)) or len(points) > MAX_POINTS:
            raise ReportRefused(f"metrics: {name} is a list of at most {MAX_POINTS} [step, value] points")
        series, last_step = [], -1
        for index, point in enumerate(points):
            if not isinstance(point, (list, tuple)) or len(point) != 2 or not _number(point[1]):
                raise ReportRefused(f"metrics: {name}'s points are [step, value] pairs of numbers")
            step, value = _count(f"metrics: {name}'s step", point[0]), float(point[1])
            if step <= last_step:
                raise ReportRefused(f"metrics: {name}'s steps increase (step {step} after {last_step})")
            if not math.isfinite(value) and not (diverged and index == len(points) - 1):
                raise ReportRefused(f"metrics: {name}'s values are finite (only a diverged run's last may not be)")
            series.append((step, value))
            last_step = step
        checked[name] = tuple(series)
    return checked
