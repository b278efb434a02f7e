"""Gradscape: run with `streamlit run app.py`."""

import streamlit as st

import ui.preload  # noqa: F401 - first: the modules every page uses, imported by one session's thread

from engine.common.device import describe_device, limit_threads, pick_device
from engine.runtime.hosts import current_host
from ui.catalog import CLASS_VIEW, HOME, PAGES
from ui.chart_component import missing_plotly_js
from ui.delivery import FOREGROUND, wait_until_sent
from ui.jobs import where_slot
from ui.rooms import class_panel
from ui.sharing import (link_parameters, open_exact_link, open_old_labels, page_styles, presenting,
                        report_unused_link_parameters, share_panel, show_share_link)

# The whole run counts as a click's (ui.delivery.Foreground): other sessions' timed refreshes start after it.
with FOREGROUND.run():
    # presenting(): the session's presentation toggle (else the link's ?present=): a page opened with query params of
    # its own (a class's push, a run opened big) keeps the projector's sidebar folded.
    st.set_page_config(page_title="Gradscape", page_icon=":material/insights:", layout="wide",
                       initial_sidebar_state="collapsed" if presenting() else "auto")
    limit_threads()  # each script run is a fresh thread

    by_url_path = {info.url_path: info for info in [HOME, *PAGES, CLASS_VIEW]}
    if "_pages" not in st.session_state:  # (made once a session: each checks its file, ~4 ms a run in all; not shared
        # between sessions, as st.navigation marks the one it returns callable for that run)
        st.session_state._pages = [st.Page(info.file, title=info.title, icon=info.icon, url_path=info.url_path,
                                           default=info is HOME) for info in by_url_path.values()]
    navigation = st.navigation(st.session_state._pages)
    page = by_url_path.get(navigation.url_path, HOME)
    open_old_labels(page)
    arrived = link_parameters()
    open_exact_link(arrived, page)

    with st.sidebar:
        st.toggle("Force CPU", key="force_cpu", help="Train on the CPU even when a GPU is available.")
        try:
            host = current_host()
        except (ValueError, RuntimeError) as error:  # GRADSCAPE_JOBS, GRADSCAPE_WORKERS, Ray missing
            st.error(f"This server cannot train: {str(error).rstrip('.')}. Fix the setting and restart the server.",
                     icon=":material/error:")
            st.stop()
        st.caption(f"Training on **{describe_device(pick_device(st.session_state.force_cpu))}**, "
                   f"in {host.description}")
        where_slot()  # the page's job says where it trains, here (ui.live.job_controls)
        link = share_panel(page)
        class_panel(page)

    # Live areas rerun once a second; Streamlit's default is to fade elements while
    # they are being replaced, which makes a training chart flicker. Keep them opaque.
    st.html("<style>[data-stale='true']{opacity:1 !important;transition:none !important}" + page_styles() + "</style>")
    if problem := missing_plotly_js():  # (the pages still run; each chart says it could not be drawn)
        st.error(problem, icon=":material/error:")
    notice = st.empty()
    navigation.run()
    report_unused_link_parameters(arrived, page, notice)
    show_share_link(link, page)
    wait_until_sent()  # the next run of this session starts once this one was sent (ui.delivery)
