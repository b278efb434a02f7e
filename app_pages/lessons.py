"""Lessons: guided experiments that follow a deep-learning course, each one link away from its page."""

import streamlit as st

from ui.lessons import LESSONS, lesson_label, lesson_query

NUMBERS = list(range(1, len(LESSONS) + 1))


def _go(number: int) -> None:
    st.session_state["lesson"] = number


# A short link names a lesson by its number (?lesson=5): written as a link to it is (the selector's label, none for
# the first), which the selector reads as a run starts, and the run starts again
asked = st.query_params.get("lesson", "")
if asked.isdecimal() and 1 <= int(asked) <= len(LESSONS):  # (isdigit() takes "²", which int() refuses)
    del st.query_params["lesson"]
    st.query_params.update(lesson_query(int(asked)))
    st.rerun()

st.title("Lessons")
st.caption("Each lesson explains one idea in a few sentences, opens the experiment that shows it, and says what "
           "to look for. The links open the page on the exact experiment (same data, same seed): share them, or "
           "change a control there and see what the idea predicts.")
index, content = st.columns([1, 2.6], gap="large")
number = index.radio("Lesson", NUMBERS, format_func=lesson_label, key="lesson", bind="query-params")
lesson = LESSONS[number - 1]

with content:
    st.header(lesson_label(number), anchor=False)
    st.markdown(lesson.text)
    st.latex(lesson.formula)
    st.subheader("Open the experiment", anchor=False)
    for preset in lesson.presets:
        st.page_link(preset.target.file, label=f"**{preset.label}** · {preset.target.title}",
                     icon=preset.target.icon, query_params=preset.query_params)
    st.subheader("What to look for", anchor=False)
    st.markdown("\n".join(f"- {point}" for point in lesson.look_for))
    back, forward = st.columns(2)
    if number > 1:
        back.button(f"← {lesson_label(number - 1)}", key="lesson_back", on_click=_go, args=(number - 1,))
    if number < len(LESSONS):
        forward.button(f"{lesson_label(number + 1)} →", key="lesson_next", on_click=_go, args=(number + 1,))
