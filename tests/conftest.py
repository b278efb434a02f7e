import base64
import dataclasses
import os
import pickle
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADSCAPE_TORCH_THREADS", "1")
os.environ.setdefault("GRADSCAPE_JOBS", "threads")  # the app tests in-process; the hosts have tests of their own
torch.set_num_threads(1)


@pytest.fixture
def no_leaked_threads():
    """Fails a test that leaves a Gradscape training thread running."""
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("gradscape-") and t.is_alive()]
    assert not leaked, f"training threads still alive after the test: {leaked}"


@pytest.fixture(scope="session")
def processes_host():
    """A real pool of two worker processes, shared by the tests that run jobs on each host."""
    from engine.runtime.processes import ProcessHost

    host = ProcessHost(2, accelerator=False)
    yield host
    host.shutdown()


@pytest.fixture(scope="session")
def ray_host():
    """A real Ray, started here as the issue asks: `ray.init(num_cpus=2, include_dashboard=False)`; or the
    cluster at GRADSCAPE_TEST_RAY_ADDRESS (`ray://HOST:10001` runs the same tests through Ray Client, the
    project shipped to the cluster as a web server on another machine would)."""
    import ray

    from engine.runtime.ray_host import RayHost, runtime_env

    address = os.environ.get("GRADSCAPE_TEST_RAY_ADDRESS")
    if address is None:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env(None))
    yield RayHost(address)
    ray.shutdown()


@pytest.fixture(params=["threads", "processes", "ray"])
def host(request):
    """Each host in turn: the same job tests run on all three."""
    from engine.runtime.hosts import ThreadsHost

    if request.param == "threads":
        return ThreadsHost()
    return request.getfixturevalue(f"{request.param}_host")


@pytest.fixture(autouse=True)
def release_session_jobs():
    """AppTest runs share one session id, so session-scoped jobs would carry over
    from test to test; clearing the resource cache releases (stops) them."""
    yield
    import streamlit as st

    st.cache_resource.clear()


def assert_pickles_to_equal_values(visuals) -> None:
    """A trainer's visuals survive a pickle round trip (what a worker process sends back) with every value
    equal, field by field: arrays by dtype and values (NaN equal to NaN), tensors by torch.equal."""
    assert_same_values(pickle.loads(pickle.dumps(visuals)), visuals, "visuals")  # noqa: S301 - bytes made here


def assert_same_values(copy, original, where: str) -> None:
    assert type(copy) is type(original), where
    if isinstance(original, np.ndarray):
        assert copy.dtype == original.dtype and np.array_equal(copy, original, equal_nan=True), where
    elif isinstance(original, torch.Tensor):
        assert torch.equal(copy, original), where
    elif dataclasses.is_dataclass(original):
        for field in dataclasses.fields(original):
            assert_same_values(getattr(copy, field.name), getattr(original, field.name), f"{where}.{field.name}")
    elif isinstance(original, (tuple, list)):
        assert len(copy) == len(original), where
        for index, (a, b) in enumerate(zip(copy, original)):
            assert_same_values(a, b, f"{where}[{index}]")
    elif isinstance(original, dict):
        assert list(copy) == list(original), where
        for key in original:
            assert_same_values(copy[key], original[key], f"{where}[{key!r}]")
    else:
        assert copy == original or (copy != copy and original != original), where  # NaN in a plain float


def open_page(page: str, timeout: float = 60, **query):
    """The page script app_pages/<page>.py run alone with AppTest, on a link's query string."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=timeout)
    at.query_params.update(query)
    return at.run()


def open_export_panel(at, prefix: str):
    """Open a page's Export panel (its header clicked: its content is drawn only while it is open) and rerun."""
    from ui.exports import panel_key

    at.session_state[panel_key(prefix)] = True
    return at.run()


def metric(at, label: str) -> str:
    """The value a page's metric with this label shows."""
    return next(m.value for m in at.metric if m.label == label)


def chart_figures(at) -> list[dict]:
    """The figures of the charts an AppTest run drew (ui.chart_component), in the page's order, as plotly.js got
    them."""
    import json

    from ui.chart_component import COMPONENT_NAME

    return [json.loads(chart.proto.bytes)["figure"] for chart in at.get("bidi_component")
            if chart.proto.component_name == COMPONENT_NAME]


def chart_figure(at, key: str) -> dict:
    """The figure of the chart drawn with widget key `key`."""
    import json

    from ui.chart_component import COMPONENT_NAME

    return next(json.loads(chart.proto.bytes)["figure"] for chart in at.get("bidi_component")
                if chart.proto.component_name == COMPONENT_NAME and chart.proto.id.endswith(f"-{key}"))


def table_cells(markdown: str) -> list[list[str]]:
    """A Markdown table's cells (ui.tables.markdown_table), header row first, as the text they show: split at the
    pipes that are not escaped, each backslash escape read as the sign it escapes."""
    import re

    rows = []
    for line in markdown.strip().split("\n"):
        cells, cell = [], ""
        for piece in re.findall(r"\\.|\||[^\\|]+", line.strip()):
            if piece == "|":
                cells.append(cell.strip())
                cell = ""
            else:
                cell += piece[1] if piece.startswith("\\") else piece
        rows.append(cells[1:])  # (the text before the first pipe)
    return [rows[0], *rows[2:]]  # (without the |---| row)


def markdown_tables(at) -> list:
    """The tables an AppTest run drew as Markdown (ui.tables.static_table), as data frames of their cells' text."""
    import pandas as pd

    tables = [table_cells(m.value) for m in at.markdown if m.value.startswith("| ")]
    return [pd.DataFrame(rows, columns=header) for header, *rows in tables]


def plotted(values) -> np.ndarray:
    """A trace's array as numbers, also where the figure holds it as a plotly.js typed array (base64, as
    viz.theme.unchecked_figure sends animation frames)."""
    if isinstance(values, dict) and "bdata" in values:
        dtype = np.dtype(values["dtype"])  # plotly.js's names ("f4", "i1", "u2") are NumPy's too
        array = np.frombuffer(base64.b64decode(values["bdata"]), dtype=dtype)
        return array.reshape([int(n) for n in values["shape"].split(",")]) if "shape" in values else array
    return np.asarray(values)


def assert_valid_as_built(fig) -> None:
    """A figure built from dicts without Plotly's per-property checks (viz.theme.figure_from_dicts) is what
    Plotly's own validator makes of it: every property exists, has a valid value, and is in Plotly's form."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    validated = go.Figure(fig.to_dict())  # raises on an unknown property or a bad value
    assert json.loads(pio.to_json(fig, validate=False)) == json.loads(pio.to_json(validated, validate=False))
    assert fig.layout.template.layout.font.size  # the shared template, embedded
