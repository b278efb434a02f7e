"""The floor under every page's first chart (bench/interaction.py): a Streamlit app of one small Plotly chart.

What a new browser context pays before any Gradscape code runs: Streamlit's frontend, its websocket, and
plotly.js (a 4.7 MB chunk that Streamlit loads with the first chart).
"""

import plotly.graph_objects as go
import streamlit as st

st.plotly_chart(go.Figure(go.Scatter(x=[0, 1, 2], y=[0, 2, 1])), key="floor")
