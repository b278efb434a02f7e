"""The floor under every page (bench/interaction.py): a Streamlit app of one small Plotly chart and two controls
that change its data.

What a new browser context pays before any Gradscape code runs (Streamlit's frontend, its websocket, and
plotly.js, a 4.7 MB chunk that Streamlit loads with the first chart), and what a control change costs when the
script does nearly nothing: the frontend, the websocket both ways, a script run, and one small chart redrawn.
"""

import plotly.graph_objects as go
import streamlit as st

shape = st.selectbox("Shape", ["rise", "fall", "peak"], key="floor_shape")
scale = st.number_input("Scale", value=1, key="floor_scale")
y = {"rise": [0, 1, 2], "fall": [2, 1, 0], "peak": [0, 2, 0]}[shape]
st.plotly_chart(go.Figure(go.Scatter(x=[0, 1, 2], y=[scale * v for v in y])), key="floor")
