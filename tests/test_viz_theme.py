"""viz.theme's figures built without Plotly's checks are what Plotly's own path makes of the same dicts."""

from __future__ import annotations

import copy
import json
import pickle

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
                         "customdata": np.arange(k + 1) * 1000, "ids": np.arange(k + 1, dtype=np.uint64)},
                        {"type": "heatmap", "z": rng.normal(size=(3, 4)).astype(np.float32)}],
               "layout": {"xaxis": {"range": np.array([-1.0, 1.0])}}}  # (Plotly leaves a range as it is)
              for k in range(4)]
    layout = {"title": {"text": "frames"}}
    ours = unchecked_figure(data, layout, frames)
    plotlys = go.Figure({"data": data, "layout": layout, "frames": frames})  # validated, arrays encoded by Plotly
    assert json.loads(pio.to_json(ours, validate=False)) == json.loads(pio.to_json(plotlys, validate=False))
    for copied in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):  # noqa: S301 - our own bytes
        assert json.loads(pio.to_json(copied, validate=False)) == json.loads(pio.to_json(plotlys, validate=False))
    assert len(ours.frames) == 4 and isinstance(ours.frames[0], go.Frame)  # Plotly's objects, once asked for
    assert np.array_equal(plotted(ours.frames[3].data[1].z), frames[3]["data"][1]["z"])  # readable back
    assert np.array_equal(plotted(ours.frames[3].data[0].customdata), frames[3]["data"][0]["customdata"])
    assert json.loads(pio.to_json(ours, validate=False)) == json.loads(pio.to_json(plotlys, validate=False))
    ours.frames = frames[:1]
    assert len(json.loads(pio.to_json(ours, validate=False))["frames"]) == 1


def test_frames_are_not_made_into_plotlys_objects_until_asked_for():
    """Plotly makes an object of every frame and trace it is given (~30 ms of the Optimizers page's run at every
    change); a FramedFigure keeps them as given while it is only shown, copied and serialized."""
    frames = [{"name": str(k), "data": [{"type": "scatter", "x": np.arange(3.0)}]} for k in range(3)]
    ours = unchecked_figure([{"type": "scatter", "x": [0.0]}], {}, frames)
    pio.to_json(copy.deepcopy(ours), validate=False)
    assert not ours._frame_objs and len(ours.to_dict()["frames"]) == 3
