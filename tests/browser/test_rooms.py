"""In Chromium, four sessions: a teacher starts a class and pushes the Playground; three students open the join
link, land on it at once, set their own learning rates and train; the class view shows the three runs, each at
the rate its student chose; opened big on the projector, a run keeps presentation mode in the address. A student
who tries to take the class over with a made-up key is refused, and nothing reaches the others."""

from __future__ import annotations

import io
import re
import time

import pytest
import zxingcpp
from PIL import Image

from scripts.browser import (chromium, chromium_available, record_positions, recorded_positions, start_class,
                             wait_until_rendered)
from ui.rooms import ROOM_PARAM

if not chromium_available():
    pytest.skip("no Chromium here: apt-get install -y chromium", allow_module_level=True)

LR_MOVES = (-2, 2, 4)  # arrow presses on each student's learning-rate slider (options: engine LEARNING_RATES)


def metric(page, label: str) -> str | None:
    return page.evaluate("""(label) => { const box = [...document.querySelectorAll('[data-testid=stMetric]')]
        .find(m => m.querySelector('[data-testid=stMetricLabel]').innerText.trim() === label);
        return box ? box.querySelector('[data-testid=stMetricValue]').innerText : null; }""", label)


def slider_value(page) -> str:
    return page.locator(".st-key-pg_lr input[type=range]").get_attribute("aria-valuetext")


@pytest.mark.alone  # four pages of one server at once
def test_a_teacher_and_three_students_work_as_one_class(app_url):
    with chromium(1400, 900) as browser:
        teacher = browser.new_page()
        teacher.goto(f"{app_url}/playground?pg_data=XOR")
        wait_until_rendered(teacher)
        side = teacher.locator("[data-testid=stSidebar]")
        record_positions(teacher, "[data-testid=stSidebarUserContent]", 5)
        link, code = start_class(teacher)
        assert re.fullmatch(rf".*/\?{ROOM_PARAM}={code}", link) and len(code) == 6
        # Where Push stood at every frame from its first: it never moved under the teacher's pointer (a QR code
        # loaded late above it moved it ~250 px, the sidebar's line of where the job trains 61 px).
        assert len(recorded_positions(teacher)["room_push"]) == 1
        qr = side.locator(".join-qr")  # the QR code reads as the join link
        qr.scroll_into_view_if_needed()
        assert [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))] == [link]
        side.get_by_text(f"Pushed Network Playground to class {code}").wait_for(timeout=30_000)

        students, rates = [], []
        for moves in LR_MOVES:
            student = browser.new_page()
            student.goto(link)
            student.wait_for_url(re.compile(r"/playground\?.*pg_data=XOR"), timeout=30_000)  # the push, at once
            wait_until_rendered(student)
            student.locator("[data-testid=stSidebar]").get_by_text(re.compile(r"In class .* as ")).wait_for()
            handle = student.locator(".st-key-pg_lr input[type=range]")
            handle.focus()
            for _ in range(abs(moves)):
                handle.press("ArrowRight" if moves > 0 else "ArrowLeft")
            student.wait_for_url(re.compile(r"pg_lr="), timeout=30_000)
            rates.append(float(slider_value(student)))
            student.get_by_role("button", name="Train").click()
            students.append(student)
        time.sleep(3)
        for student in students:
            student.get_by_role("button", name="Pause").click()
        assert len(set(rates)) == 3

        side.get_by_text("Class view").click()
        teacher.wait_for_url(re.compile(r"/class"))
        teacher.wait_for_function("() => [...document.querySelectorAll('[data-testid=stMetricValue]')]"
                                  ".some(v => v.innerText === '3')", timeout=30_000)
        assert metric(teacher, "Students") == "3"
        teacher.wait_for_function("() => { const p = document.querySelector('.st-key-class_by_lr .js-plotly-plot');"
                                  " return p && p._fullData[0].x.length === 3; }", timeout=30_000)
        plotted = teacher.evaluate("() => Array.from(document.querySelector('.st-key-class_by_lr .js-plotly-plot')"
                                   "._fullData[0].x)")
        assert sorted(plotted) == pytest.approx(sorted(rates))
        # (each chart is drawn when its own component has loaded: the curves may come a moment after the scatter)
        teacher.wait_for_function("() => { const p = document.querySelector('.st-key-class_curves .js-plotly-plot');"
                                  " return p && p._fullData && p._fullData.length >= 3; }", timeout=30_000)
        assert teacher.evaluate("() => document.querySelector('.st-key-class_curves .js-plotly-plot')"
                                "._fullData.length") == 3

        # A click on a run's point (the first drawn: the highlighted one is drawn last) offers that run to open.
        name = teacher.evaluate("() => document.querySelector('.st-key-class_by_lr .js-plotly-plot')"
                                "._fullData[0].text[0].split(' · ')[0]")
        point = teacher.locator(".st-key-class_by_lr .scatterlayer .trace:first-child path.point").first
        point.scroll_into_view_if_needed()
        box = point.bounding_box()
        teacher.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        teacher.get_by_role("button", name=f"Open {name}'s run here").wait_for(timeout=30_000)

        # On the projector: presentation mode on, a run opened big keeps it in the address (a reload keeps it).
        side.get_by_text("Share and present").click()
        wait_until_rendered(teacher)  # the panel's rerun (it fills the link) first: see below
        side.get_by_text("Presentation mode").click()
        teacher.wait_for_url(re.compile(r"/class\?present=true"), timeout=30_000)
        teacher.locator(".st-key-class_open_run button").first.click()
        teacher.wait_for_url(re.compile(r"/playground\?(.*&)?present=true"), timeout=30_000)

        # A student leaves and tries to take the class over with a key it made up: refused.
        forger = students[0]
        forger_side = forger.locator("[data-testid=stSidebar]")
        forger_side.get_by_role("button", name="Leave the class").click()
        # (each click waits for the rerun the one before caused: a rerun that lands after a click redraws the
        # panel and can drop what the click opened)
        forger_side.get_by_text(re.compile(r"In class .* as ")).wait_for(state="detached", timeout=30_000)
        wait_until_rendered(forger)
        forger_side.get_by_text("Class", exact=True).click()
        take_back = forger_side.get_by_role("button", name="Take back a class")
        take_back.wait_for(timeout=30_000)
        wait_until_rendered(forger)
        take_back.click()
        forger.get_by_label("Code").fill(code)
        forger.get_by_label("Teacher key").fill("let-me-in")
        forger.get_by_role("button", name="Take it back").click()
        forger_side.get_by_text("Only the teacher of this class may do that.").wait_for(timeout=30_000)
        assert forger_side.get_by_role("button", name="Push this page to the class").count() == 0
        assert "/playground" in students[1].url  # the others stay where the teacher's push put them
