"""Toy data sets of the network playground, generated from a seed (nothing is downloaded)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace

import numpy as np

from engine.common.limits import LIMITS, check

EXTENT = 6.0  # points live in [-6, 6]^2, as in TensorFlow Playground
MAX_POINTS = int(LIMITS["playground.points"].high)
MAX_UPLOAD_ROWS = MAX_POINTS
MAX_CLASSES = int(LIMITS["playground.classes"].high)

CLASSIFICATION = ("circle", "xor", "gauss", "spiral", "moons", "checkerboard", "multiclass")
REGRESSION_2D = ("plane", "bumps")
FUNCTIONS_1D = ("sine", "step", "abs")
DATASETS = CLASSIFICATION + REGRESSION_2D + FUNCTIONS_1D
DATASET_LABELS = {
    "circle": "Circle", "xor": "XOR", "gauss": "Two Gaussians", "spiral": "Spiral", "moons": "Moons",
    "checkerboard": "Checkerboard", "multiclass": "Multiclass blobs", "plane": "Regression: plane",
    "bumps": "Regression: Gaussian bumps", "sine": "1-D: sin x", "step": "1-D: step", "abs": "1-D: |x|",
    "csv": "Uploaded CSV",
}


@dataclass(frozen=True)
class DataSpec:
    """Everything that defines a data set; plain data, so it fits in a URL."""

    kind: str = "circle"
    n_points: int = 500
    noise: float = 0.0  # 0..1, a fraction of each data set's natural scale
    train_fraction: float = 0.5
    n_classes: int = 3  # multiclass only
    seed: int = 0
    uploaded: tuple[tuple[float, float, float], ...] | None = None  # kind == "csv"


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray  # (n, 1) or (n, 2) float32
    y_train: np.ndarray  # int64 class labels, or float32 targets for regression
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray  # validation points: early stopping watches these, so the test points stay unseen
    y_val: np.ndarray
    task: str  # "binary", "multiclass" or "regression"
    n_classes: int  # 0 for regression
    input_dim: int
    extent: tuple[float, float, float, float]  # x1_min, x1_max, x2_min, x2_max

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"


def make_dataset(spec: DataSpec) -> Dataset:
    if spec.kind == "csv":
        if not spec.uploaded:
            raise ValueError("no uploaded data: upload a CSV of x1, x2, label first")
        table = np.asarray(spec.uploaded, dtype=np.float64)
        x, y = table[:, :2], table[:, 2]
        task, n_classes = _label_kind(y)
    else:
        if spec.kind not in DATASETS:
            raise ValueError(f"unknown data set {spec.kind!r}; choose one of {', '.join(DATASETS)}")
        check("playground.points", spec.n_points)
        if not 0.0 <= spec.noise <= 1.0:
            raise ValueError(f"noise must be between 0 and 1, not {spec.noise}")
        rng = np.random.default_rng(spec.seed)
        x, y, task, n_classes = _GENERATORS[spec.kind](rng, spec)
    if not 0.1 <= spec.train_fraction <= 0.9:
        raise ValueError(f"the training share must be between 10% and 90%, not {spec.train_fraction:.0%}")
    rng = np.random.default_rng(spec.seed + 1)
    order = rng.permutation(len(x))
    n_train = max(1, min(len(x) - 1, round(spec.train_fraction * len(x))))
    train, test = order[:n_train], order[n_train:]
    labels = np.float32 if task == "regression" else np.int64
    x, y = x.astype(np.float32), y.astype(labels)
    if spec.kind == "csv":
        # An upload has no generator to draw more points from: a fifth of its training share (at least one
        # point, and one left to train on) becomes the validation set.
        n_train = max(2, n_train)
        n_val = max(1, n_train // 5)
        train, val, test = order[:n_train - n_val], order[n_train - n_val:n_train], order[n_train:]
        x_val, y_val = x[val], y[val]
    else:
        x_val, y_val = _validation_points(spec, len(test))
        x_val, y_val = x_val.astype(np.float32), y_val.astype(labels)
    # The output grid spans the training and test points only, as before there were validation points: an old
    # link draws the same surface.
    return Dataset(x[train], y[train], x[test], y[test], x_val, y_val, task, n_classes, x.shape[1], _extent(x))

VALIDATION_STREAM = 0x56414C  # "VAL": the validation draw's own random stream, apart from every data seed


def _validation_points(spec: DataSpec, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` more points from the same distribution, from a generator of their own: the training and test points
    of a seed stay the ones they were before validation points existed, so old links train on the same data.
    As many as the test points, so that validation and test losses are equally noisy."""
    rng = np.random.default_rng([spec.seed, VALIDATION_STREAM])
    x, y, _, _ = _GENERATORS[spec.kind](rng, replace(spec, n_points=n))
    return x, y


def _extent(x: np.ndarray) -> tuple[float, float, float, float]:
    if x.shape[1] == 1:
        lo, hi = float(x[:, 0].min()), float(x[:, 0].max())
        return (min(lo, -EXTENT), max(hi, EXTENT), -1.5, 1.5)
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-6)
    lo, hi = np.minimum(lo - pad, -EXTENT), np.maximum(hi + pad, EXTENT)
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def _label_kind(y: np.ndarray) -> tuple[str, int]:
    if np.all(y == np.round(y)) and y.min() >= 0 and y.max() < MAX_CLASSES:
        k = int(y.max()) + 1
        if k >= 2:
            return ("binary" if k == 2 else "multiclass"), k
    return "regression", 0


# Each generator returns (x, y, task, n_classes) with n = spec.n_points.
def _circle(rng, spec):
    n = spec.n_points
    radius = 5.0
    inner = np.r_[rng.uniform(0, 0.5 * radius, n // 2), rng.uniform(0.7 * radius, radius, n - n // 2)]
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.c_[inner * np.cos(angle), inner * np.sin(angle)]
    x += rng.normal(0, spec.noise * radius * 0.3, x.shape)
    y = (np.linalg.norm(x, axis=1) > 0.6 * radius).astype(int)
    return x, y, "binary", 2


def _xor(rng, spec):
    x = rng.uniform(-5, 5, (spec.n_points, 2))
    x += np.sign(x) * 0.3  # keep a small margin off the axes, as Playground does
    label_x = x + rng.normal(0, spec.noise * 2.0, x.shape)
    y = (label_x[:, 0] * label_x[:, 1] > 0).astype(int)
    return x, y, "binary", 2


def _gauss(rng, spec):
    n = spec.n_points
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    centers = np.where(y[:, None] == 1, 2.0, -2.0)
    x = centers + rng.normal(0, 1.0 + 2.5 * spec.noise, (n, 2))
    return x, y, "binary", 2


def _spiral(rng, spec):
    n = spec.n_points
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    t = np.r_[np.linspace(0, 1, n // 2), np.linspace(0, 1, n - n // 2)]
    r = 5.0 * t
    angle = 1.75 * 2 * np.pi * t + np.pi * y
    x = np.c_[r * np.sin(angle), r * np.cos(angle)] + rng.normal(0, spec.noise * 1.0, (n, 2))
    return x, y, "binary", 2


def _moons(rng, spec):
    n = spec.n_points
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    angle = rng.uniform(0, np.pi, n)
    x = np.where(y[:, None] == 0, np.c_[np.cos(angle), np.sin(angle)],
                 np.c_[1 - np.cos(angle), 0.5 - np.sin(angle)])
    x = (x - [0.5, 0.25]) * 3.0 + rng.normal(0, spec.noise * 1.2, (n, 2))
    return x, y, "binary", 2


def _checkerboard(rng, spec):
    x = rng.uniform(-5.5, 5.5, (spec.n_points, 2))
    cells = np.floor((x + rng.normal(0, spec.noise * 1.0, x.shape)) / 2.75).astype(int)
    y = (cells.sum(axis=1) % 2).astype(int)
    return x, y, "binary", 2


def _multiclass(rng, spec):
    k = spec.n_classes
    check("playground.classes", k)
    y = np.arange(spec.n_points) % k
    angle = 2 * np.pi * y / k + np.pi / 2
    centers = 3.5 * np.c_[np.cos(angle), np.sin(angle)]
    x = centers + rng.normal(0, 0.8 + 2.0 * spec.noise, (spec.n_points, 2))
    return x, y, "multiclass", k


def _plane(rng, spec):
    x = rng.uniform(-5, 5, (spec.n_points, 2))
    y = (x[:, 0] + x[:, 1]) / 10.0 + rng.normal(0, spec.noise * 0.5, spec.n_points)
    return x, np.clip(y, -1, 1), "regression", 0


def _bumps(rng, spec):
    x = rng.uniform(-5, 5, (spec.n_points, 2))
    centers = np.array([[-2.5, -2.5], [2.5, 2.5], [-2.5, 2.5], [2.5, -2.5]])
    signs = np.array([1.0, 1.0, -1.0, -1.0])
    d2 = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
    y = (signs * np.exp(-d2 / 4.0)).sum(axis=1) + rng.normal(0, spec.noise * 0.5, spec.n_points)
    return x, np.clip(y, -1, 1), "regression", 0


def _function(name):
    def generate(rng, spec):
        x = np.sort(rng.uniform(-EXTENT, EXTENT, spec.n_points))
        y = {"sine": np.sin(x), "step": np.where(x > 0, 1.0, -1.0), "abs": np.abs(x) / 3.0 - 1.0}[name]
        y = y + rng.normal(0, spec.noise * 0.5, len(x))
        return x[:, None], y, "regression", 0
    return generate


_GENERATORS = {
    "circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral, "moons": _moons,
    "checkerboard": _checkerboard, "multiclass": _multiclass, "plane": _plane, "bumps": _bumps,
    **{name: _function(name) for name in FUNCTIONS_1D},
}


class BadUpload(ValueError):
    """An uploaded file that cannot be used; the message says why, for the person who sent it."""


def parse_points_csv(raw: bytes, max_bytes: int = 2_000_000) -> tuple[tuple[float, float, float], ...]:
    """Read (x1, x2, label) rows from an uploaded CSV, with or without a header row.

    Rejects, with a message naming the problem: empty or oversized files,
    non-text bytes, rows that are not three numbers, NaN/inf, fewer than 10 or
    more than MAX_UPLOAD_ROWS rows, a single class.
    """
    if not raw:
        raise BadUpload("The file is empty.")
    if len(raw) > max_bytes:
        raise BadUpload(f"The file is {len(raw) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.")
    if b"\x00" in raw:
        raise BadUpload("This is not a text CSV file (it contains binary data).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadUpload("This is not a UTF-8 text CSV file.") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise BadUpload("The file has no rows.")
    if not _is_number_row(rows[0]):
        rows = rows[1:]  # a header
    if len(rows) < 10:
        raise BadUpload(f"The file has {len(rows)} data rows; at least 10 are needed.")
    if len(rows) > MAX_UPLOAD_ROWS:
        raise BadUpload(f"The file has {len(rows)} rows; the limit is {MAX_UPLOAD_ROWS}.")
    points = []
    for number, row in enumerate(rows, start=1):
        if len(row) != 3:
            raise BadUpload(f"Row {number} has {len(row)} columns; each row must be x1, x2, label.")
        try:
            values = tuple(float(cell) for cell in row)
        except ValueError:
            raise BadUpload(f"Row {number} is not three numbers: {', '.join(row)[:60]!r}.") from None
        if not all(math.isfinite(v) for v in values):
            raise BadUpload(f"Row {number} holds NaN or infinity.")
        if max(abs(values[0]), abs(values[1])) > 1e6:
            raise BadUpload(f"Row {number} has a coordinate beyond ±1,000,000.")
        points.append(values)
    if len({p[2] for p in points}) < 2:
        raise BadUpload("All rows have the same label: there is nothing to learn.")
    return tuple(points)


def _is_number_row(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
        return True
    except ValueError:
        return False
