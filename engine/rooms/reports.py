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

from dataclasses import dataclass
from typing import Any, Mapping

STATUSES = ("ready", "running", "paused", "diverged", "failed")
MAX_REPORT_BYTES = 64 * 1024
MAX_PARAMS = 80
MAX_KEY_CHARS = 64
MAX_VALUES = 16
MAX_VALUE_CHARS = 2000
MAX_METRICS = 8
MAX_POINTS = 120


class ReportRefused(ValueError):
    """A report that breaks a rule; the message names the field and the rule."""


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


def validate_report(raw: Any) -> RunReport:
    raise NotImplementedError
