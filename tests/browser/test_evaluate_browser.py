"""Real browser: a click on a cell of the confusion table shows that cell's photos (issue 15.4).

Plotly cannot select heatmap cells, so this is the check that the selectable markers over the
cells really reach Streamlit as a selection in chromium (AppTest only simulates the event).
"""

from __future__ import annotations

import numpy as np
import pytest

from edu_core.i18n import class_name, t
from edu_core.labels import LESSON_CLASSES

from .conftest import ARTIFACTS

pytestmark = [pytest.mark.timeout(300), pytest.mark.browser]


def test_clicking_a_confusion_cell_shows_its_photos(lab_server, browser_page):
    import face_variants as fv
    from test_pages_lesson import _trained_model_with_test_run, _variant

    from edu_core import faces
    from edu_core.images import encode_jpeg
    from edu_core.store import open_store

    url, data = lab_server
    db = open_store(data)
    klass, _ = db.create_class("6-2", "2468")
    student = db.join(klass.id, "여우")
    base = faces.extract(fv.to_jpeg(fv.astronaut()))
    rng = np.random.default_rng(7)
    for label in LESSON_CLASSES:
        for k in range(8):
            face = _variant(base, label, k, rng)
            db.add_image(student.id, encode_jpeg(face.crop), filename=f"{label}_{k}.jpg", source="upload",
                         face=face, label=label)  # fmt: skip
    metrics = _trained_model_with_test_run(db, student)
    cells = metrics["confusion_ids"]
    i, j = next((i, j) for i in range(5) for j in range(5) if cells[i][j])

    page = browser_page
    page.goto(f"{url}/evaluate?s={student.resume_code}")
    page.get_by_role("tab", name=t("eval.accuracy")).click()
    page.get_by_text(t("eval.confusion_help")).wait_for(timeout=60_000)
    chart = page.get_by_test_id("stPlotlyChart").nth(1)  # the recall chart comes first
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first
    area.wait_for()
    box = area.bounding_box()
    assert box is not None
    n = len(LESSON_CLASSES)
    page.mouse.click(box["x"] + (j + 0.5) * box["width"] / n, box["y"] + (i + 0.5) * box["height"] / n)
    title = t("eval.cell_photos", true=class_name(LESSON_CLASSES[i]), pred=class_name(LESSON_CLASSES[j]),
              n=len(cells[i][j]))  # fmt: skip
    page.get_by_text(title).wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "confusion_cell_click.png"), full_page=True)
