"""Exports that need neither a browser nor Streamlit: the metric history as CSV, the weights,
the experiment's settings as an importable JSON document, and a zip of many files.

Everything read back from a user's file goes through here, so it is checked in one place:
a settings file is plain JSON of bounded size, depth and content, and weights are read with
`torch.load(weights_only=True)`, which refuses any pickle that would run code.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import zipfile
from typing import Any, Mapping

import numpy as np
import torch

from engine.common.history import Series
from engine.common.limits import LIMITS, ConfigError  # also what a settings file that cannot be imported raises

CONFIG_FORMAT = "gradscape-experiment"
CONFIG_VERSION = 1
# The longest text a control takes: a text pasted on the Words and sequences page (links cannot carry it).
MAX_TEXT = int(LIMITS["words.text_chars"].high)
# A page's settings are a few hundred bytes, but may hold such a text: up to 4 bytes a character in UTF-8, or 6
# for a control character JSON escapes (\uXXXX).
MAX_CONFIG_BYTES = 1_300_000
MAX_CONTROLS = 200
MAX_LIST = 64  # items in one list value (a multiselect)
MAX_REPORTED = 6  # problems named in one message
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class WeightsError(ValueError):
    """A weights file that is not a plain state_dict of tensors."""


# --------------------------------------------------------------------------- metric history
def history_csv(history: Mapping[str, Series]) -> str:
    """The metric history as one table: a row per step any metric was recorded at, a column per
    metric, an empty cell where that metric was not recorded. Values keep every digit (repr)."""
    names = sorted(history)
    steps = np.unique(np.concatenate([history[n].steps for n in names])) if names else np.empty(0, np.int64)
    columns = []
    for name in names:
        series = history[name]
        cells = np.full(len(steps), "", dtype=object)
        cells[np.searchsorted(steps, series.steps)] = [repr(float(v)) for v in series.values]
        columns.append(cells)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", *names])
    for row, step in enumerate(steps):
        writer.writerow([int(step), *(column[row] for column in columns)])
    return out.getvalue()


# --------------------------------------------------------------------------- weights
def weights_bytes(state: Mapping[str, torch.Tensor]) -> bytes:
    """A state_dict as torch.save writes it, every tensor on the CPU."""
    buffer = io.BytesIO()
    torch.save({name: tensor.detach().cpu() for name, tensor in state.items()}, buffer)
    return buffer.getvalue()


def load_weights(data: bytes) -> dict[str, torch.Tensor]:
    """Read a state_dict back without unpickling arbitrary objects (weights_only=True)."""
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle with code, a truncated or foreign file: all refused the same way
        raise WeightsError(f"not a weights file this app can read safely ({type(error).__name__})") from error
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                 for k, v in state.items()):
        raise WeightsError("the file holds something other than a state_dict of named tensors")
    return dict(state)


# --------------------------------------------------------------------------- many files in one
def zip_bytes(files: Mapping[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --------------------------------------------------------------------------- experiment settings
def plain_value(value: Any) -> Any:
    """A control's value as JSON data (tuples become lists, NumPy scalars Python ones); TypeError if it has none."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("not a finite number")
        return value
    if isinstance(value, (list, tuple)):
        return [plain_value(item) for item in value]
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def config_document(page: str, prefix: str, controls: Mapping[str, Any]) -> str:
    """The settings of a page's controls as a JSON document that `parse_config_document` reads back."""
    return json.dumps({"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "page": page, "prefix": prefix,
                       "controls": {key: plain_value(value) for key, value in sorted(controls.items())}},
                      indent=2, ensure_ascii=False) + "\n"


def shown(text: Any, limit: int = 40) -> str:
    """Untrusted text, short and as inline code, so a message never renders Markdown or HTML from a file."""
    text = _CONTROL_CHARS.sub("?", str(text))
    text = text if len(text) <= limit else text[:limit] + "…"
    return "`" + text.replace("`", "'") + "`"


def _refuse_constant(name: str) -> None:
    raise ConfigError(f"the file contains {name}, which is not a setting any control accepts")


def _value_problem(value: Any, in_list: bool = False) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if math.isfinite(value) else "is not a finite number"
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"is a text of {len(value):,} characters (at most {MAX_TEXT})"
        return "contains control characters" if _CONTROL_CHARS.search(value) else None
    if isinstance(value, list) and not in_list:
        if len(value) > MAX_LIST:
            return f"is a list of {len(value):,} items (at most {MAX_LIST})"
        problems = [_value_problem(item, in_list=True) for item in value]
        return next((f"has an item that {p}" for p in problems if p), None)
    return "is a nested list" if isinstance(value, list) else f"is a {type(value).__name__}, not a setting"


def parse_config_document(data: bytes, prefix: str) -> dict[str, Any]:
    """The control values in a settings file for the page whose keys start with `prefix`.

    Checks everything that does not depend on the page's widgets: size, encoding, JSON, the
    document's shape, that it belongs to this page, key names, and value types and sizes.
    Raises ConfigError with a message for the user on the first kind of problem found.
    """
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"the file is {len(data):,} bytes; a settings file is at most {MAX_CONFIG_BYTES:,}")
    try:
        text = data.decode("utf-8-sig")
        document = json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ConfigError("the file is not text (UTF-8); export the settings again from the page") from None
    except RecursionError:
        raise ConfigError("the file nests too deeply to be a settings file") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"the file is not valid JSON (line {error.lineno}, column {error.colno}: "
                          f"{error.msg})") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise ConfigError(f"the file is not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != CONFIG_FORMAT:
        raise ConfigError("this is not a Gradscape settings file (it has no \"format\": \"gradscape-experiment\")")
    if document.get("version") != CONFIG_VERSION:
        raise ConfigError(f"the file is version {shown(document.get('version'))}; this app reads version "
                          f"{CONFIG_VERSION}")
    if document.get("prefix") != prefix:
        raise ConfigError(f"the file holds the settings of another page ({shown(document.get('page'))}, controls "
                          f"{shown(document.get('prefix'))}); open that page and import it there")
    controls = document.get("controls")
    if not isinstance(controls, dict) or not controls:
        raise ConfigError("the file has no settings (\"controls\" is missing or empty)")
    if len(controls) > MAX_CONTROLS:
        raise ConfigError(f"the file has {len(controls):,} settings; a page has at most {MAX_CONTROLS}")
    key_pattern = re.compile(re.escape(prefix) + r"[a-z0-9_]{1,48}")
    bad_keys = [key for key in controls if not key_pattern.fullmatch(key)]
    if bad_keys:
        raise ConfigError(_listed(bad_keys, "not the name of a control on this page"))
    bad_values = [f"{shown(key)} {problem}" for key, value in controls.items()
                  if (problem := _value_problem(value))]
    if bad_values:
        raise ConfigError("; ".join(bad_values[:MAX_REPORTED]) + _more(bad_values))
    return controls


def _more(items: list) -> str:
    return f" (and {len(items) - MAX_REPORTED} more)" if len(items) > MAX_REPORTED else ""


def _listed(keys: list[str], what: str) -> str:
    return f"{', '.join(shown(k) for k in keys[:MAX_REPORTED])}{_more(keys)}: {what}"
