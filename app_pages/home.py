"""Home: what Gradscape is and what each page is for."""

import streamlit as st
from PIL import Image

from ui.catalog import PAGES
from ui.lessons import LESSONS, lesson_label, lesson_query

PREVIEW_ASPECT = 1300 / 1500  # height / width of the part of a full-page screenshot a card shows


@st.cache_data(max_entries=20)
def preview(path: str, modified: float) -> Image.Image:
    """The top of a full-page screenshot (`modified` keys the cache to the file's version)."""
    with Image.open(path) as image:
        return image.crop((0, 0, image.width, min(image.height, round(image.width * PREVIEW_ASPECT)))).copy()


st.title("Gradscape")
st.markdown(
    "A live lab for deep learning. Every page **really trains a PyTorch model** in the background while "
    "the charts show what is happening, as it happens. Change a control and see the consequence: the "
    "learning rate, the initialization, the depth, the optimizer. Share an experiment by copying the URL.")

st.subheader("Lessons", anchor=False)
st.caption("Guided experiments that follow a deep-learning course: each opens the page that shows the idea.")
lessons = next(page for page in PAGES if page.url_path == "lessons")
per_column = -(-len(LESSONS) // 3)
for first, column in zip(range(1, len(LESSONS) + 1, per_column), st.columns(3)):
    for number in range(first, min(first + per_column, len(LESSONS) + 1)):
        column.page_link(lessons.file, label=lesson_label(number), query_params=lesson_query(number))

st.subheader("Pages", anchor=False)
for start in range(0, len(PAGES), 2):
    columns = st.columns(2, gap="large")
    for column, page in zip(columns, PAGES[start:start + 2]):
        with column.container(border=True):
            st.page_link(page.file, label=f"**{page.title}**", icon=page.icon)
            st.write(page.summary)
            if page.screenshot.exists():
                st.image(preview(str(page.screenshot), page.screenshot.stat().st_mtime), width="stretch")
