"""viz.theme's figures built without Plotly's checks are what Plotly's own path makes of the same dicts."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from tests.conftest import plotted
from viz.theme import unchecked_figure


def test_frames_typed_here_reach_the_browser_as_plotlys_own_encoding_of_the_arrays():
    rng = np.random.default_rng(0)
    data = [{"type": "scatter", "x": rng.normal(size=5), "y": rng.normal(size=5)},
            {"type": "heatmap", "z": rng.normal(size=(3, 4))}]
    frames = [{"name": str(k), "traces": [0, 1],
               "data": [{"type": "scatter", "x": rng.normal(size=k + 1).astype(np.float32), "y": rng.normal(size=k + 1),
                         "customdata": np.arange(k + 1)},  # (an int array: left to Plotly)
                        {"type": "heatmap", "z": rng.normal(size=(3, 4)).astype(np.float32)}],
               "layout": {"xaxis": {"range": np.array([-1.0, 1.0])}}}  # (Plotly leaves a range as it is)
              for k in range(4)]
    layout = {"title": {"text": "frames"}}
    ours = unchecked_figure(data, layout, frames)
    plotlys = go.Figure({"data": data, "layout": layout, "frames": frames})  # validated, arrays encoded by Plotly
    assert json.loads(pio.to_json(ours, validate=False)) == json.loads(pio.to_json(plotlys, validate=False))
    assert len(ours.frames) == 4
    assert np.array_equal(plotted(ours.frames[3].data[1].z), frames[3]["data"][1]["z"])  # readable back
