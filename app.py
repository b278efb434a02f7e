"""Gradscape: run with `streamlit run app.py`."""

import streamlit as st

from engine.device import describe_device, limit_torch_threads, pick_device
from ui.catalog import HOME, PAGES

st.set_page_config(page_title="Gradscape", page_icon=":material/insights:", layout="wide")
limit_torch_threads()  # each script run is a fresh thread

pages = [st.Page(info.file, title=info.title, icon=info.icon, url_path=info.url_path, default=info is HOME)
         for info in [HOME, *PAGES]]
navigation = st.navigation(pages)

# Live areas rerun twice a second; Streamlit's default is to fade elements while
# they are being replaced, which makes a training chart flicker. Keep them opaque.
st.html("<style>[data-stale='true']{opacity:1 !important;transition:none !important}</style>")

with st.sidebar:
    st.toggle("Force CPU", key="force_cpu", help="Train on the CPU even when a GPU is available.")
    st.caption(f"Training on **{describe_device(pick_device(st.session_state.force_cpu))}**")

navigation.run()
