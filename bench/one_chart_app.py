"""The floor under every page (bench/interaction.py): a Streamlit app of one small Plotly chart and two controls
that change its data, the chart drawn as the pages draw theirs (ui.chart_component).

What a new browser context pays before any Gradscape page runs (Streamlit's frontend, its websocket, and
plotly.js, the 2-D bundle that the chart loads when it is first drawn), and what a control change costs when the script
does nearly nothing: the frontend, the websocket both ways, a script run, and one small chart redrawn.
"""

import shutil
import sys
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ui.chart_component import PLOTLY_BUNDLES, STATIC, plotly_chart, plotly_js  # noqa: E402

# the app's plotly.js, in this script's static/ folder (Streamlit serves the one beside the script it runs)
for bundle in PLOTLY_BUNDLES:
    served = Path(__file__).resolve().parent / "static" / plotly_js(bundle)
    if not served.is_file():
        served.parent.mkdir(exist_ok=True)
        shutil.copyfile(STATIC / plotly_js(bundle), served)
shape = st.selectbox("Shape", ["rise", "fall", "peak"], key="floor_shape")
scale = st.number_input("Scale", value=1, key="floor_scale")
y = {"rise": [0, 1, 2], "fall": [2, 1, 0], "peak": [0, 2, 0]}[shape]
plotly_chart(go.Figure(go.Scatter(x=[0, 1, 2], y=[scale * v for v in y])), key="floor", config={})
