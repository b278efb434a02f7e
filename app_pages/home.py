"""Home: what Gradscape is and what each page is for."""

import streamlit as st

from ui.catalog import PAGES

st.title("Gradscape")
st.markdown(
    "A live lab for deep learning. Every page **really trains a PyTorch model** in the background while "
    "the charts show what is happening, as it happens. Change a control and see the consequence: the "
    "learning rate, the initialization, the depth, the optimizer. Share an experiment by copying the URL.")

for start in range(0, len(PAGES), 2):
    columns = st.columns(2, gap="large")
    for column, page in zip(columns, PAGES[start:start + 2]):
        with column.container(border=True):
            st.page_link(page.file, label=f"**{page.title}**", icon=page.icon)
            st.write(page.summary)
            if page.screenshot.exists():
                st.image(str(page.screenshot), width="stretch")
