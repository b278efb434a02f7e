"""Home: what Gradscape is and what each page is for."""

import io

import streamlit as st
from PIL import Image

from ui.catalog import PAGES
from ui.lessons import LESSONS, lesson_label, lesson_query

PREVIEW_ASPECT = 1300 / 1500  # height / width of the part of a full-page screenshot a card shows
PREVIEW_WIDTH = 1460  # st.image's widest picture: a wider one it scales down and encodes again at every run


@st.cache_data(max_entries=20)
def preview(path: str, modified: float) -> bytes:
    """The top of a full-page screenshot as a JPEG (`modified` keys the cache to the file's version), encoded once
    here: given the picture, st.image scaled and encoded all twelve at every run of this page (0.4 s of its 0.55 s),
    given the bytes it sends them as they are."""
    with Image.open(path) as image:
        top = image.convert("RGB").crop((0, 0, image.width, min(image.height, round(image.width * PREVIEW_ASPECT))))
    if top.width > PREVIEW_WIDTH:
        top = top.resize((PREVIEW_WIDTH, round(top.height * PREVIEW_WIDTH / top.width)), Image.Resampling.BILINEAR)
    encoded = io.BytesIO()
    top.save(encoded, format="JPEG", quality=90)  # (what st.image made of it)
    return encoded.getvalue()


st.title("Gradscape")
st.markdown(
    "A live lab for deep learning. Every page **really trains a PyTorch model** in the background while "
    "the charts show what is happening, as it happens. Change a control and see the consequence: the "
    "learning rate, the initialization, the depth, the optimizer. Share an experiment by copying the URL.")

st.subheader("Lessons", anchor=False)
st.caption("Guided experiments that follow a deep-learning course: each opens the page that shows the idea.")
lessons = next(page for page in PAGES if page.url_path == "lessons")
per_column = -(-len(LESSONS) // 3)
# A long title wraps onto a second line (a page link keeps to one line and cut "...equivariance, invariance" off)
st.html("<style>.st-key-home_lessons [data-testid=stPageLink] span, .st-key-home_lessons [data-testid=stPageLink] p "
        "{white-space: normal}</style>")
with st.container(key="home_lessons"):
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
