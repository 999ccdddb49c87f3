"""Real browser, a whole lesson: join, upload sample photos with the file chooser, see a rejection,
label, split, train the pieces model, try a new photo and see the probability bars.

Timings (page load, click *train* → first curve point) are written to
test-artifacts/lesson_timings.json for the README; they are reported, not asserted.
"""

from __future__ import annotations

import csv
import json
import time

import pytest
from playwright.sync_api import expect

from edu_core.dataset import SAMPLE_DIR
from edu_core.i18n import class_name, reason_message, t
from edu_core.labels import LESSON_CLASSES

from .conftest import ARTIFACTS

pytestmark = [pytest.mark.timeout(420), pytest.mark.browser]
PER_CLASS = 6


def _sample_files():
    rows = list(csv.DictReader(open(SAMPLE_DIR / "labels.csv", encoding="utf-8-sig")))
    good = [r for r in rows if not r["expected_reason"]]
    chosen = {
        c: [SAMPLE_DIR / r["file"] for r in good if r["class"] == c][:PER_CLASS] for c in LESSON_CLASSES
    }
    # The first spare is the broadest smile left: filed under sadness, it is the planted mistake.
    rest = sorted([r for r in good if r["class"] == "joy"][PER_CLASS:], key=lambda r: -float(r["intensity"]))
    spare = [SAMPLE_DIR / r["file"] for r in rest[:2]]
    reject = next(SAMPLE_DIR / r["file"] for r in rows if r["expected_reason"] == "occluded_mouth")
    return chosen, spare, reject


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"lesson_{name}.png"), full_page=True)


def _go(page, nav_key: str, title_key: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=t(nav_key)).click()
    page.get_by_role("heading", name=t(title_key)).first.wait_for()


def _choose(page, option: str) -> None:
    """Pick an option of the page's first selectbox by typing it (long lists scroll)."""
    page.get_by_test_id("stSelectbox").first.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()
    expect(page.get_by_role("combobox", name=t("collect.camera_class"))).to_have_value(option)


def _upload(page, files) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stFileUploaderDropzone").first.get_by_test_id("stBaseButton-secondary").click()
    chooser.value.set_files([str(f) for f in files])
    expect(page.get_by_test_id("stFileChip")).to_have_count(len(files))
    expect(page.get_by_test_id("stFileChipIconSpinner")).to_have_count(0, timeout=60_000)  # uploads finished


def test_whole_lesson_in_a_real_browser(lab_server, browser_page):
    url, data = lab_server
    from edu_core.store import open_store

    klass, _ = open_store(data).create_class("6-1", "4321")  # the teacher's part, done beforehand
    chosen, spare, reject = _sample_files()
    page = browser_page
    timings: dict[str, float] = {}

    start = time.perf_counter()
    page.goto(f"{url}/?join={klass.join_code}")  # the link of the teacher's QR code
    page.get_by_role("heading", name=t("home.title")).wait_for()
    timings["page_load_s"] = time.perf_counter() - start
    page.get_by_role("textbox", name=t("home.nickname")).first.fill("부엉이")  # the join form's
    page.get_by_role("button", name=t("home.join_button")).click()
    page.get_by_text(t("home.joined", nickname="부엉이")).wait_for()
    _shot(page, "1_joined")

    _go(page, "nav.collect", "collect.title")
    for i, label in enumerate(LESSON_CLASSES):  # one batch per expression, labelled on the way in
        _choose(page, class_name(label))
        files = chosen[label] + ([reject] if label == "joy" else [])
        _upload(page, files)
        page.get_by_role("button", name=t("collect.extract_button")).click()
        page.get_by_text(t("collect.accepted_title", n=(i + 1) * PER_CLASS)).wait_for(timeout=120_000)
        expect(page.get_by_test_id("stFileChip")).to_have_count(0)  # a fresh uploader for the next batch
    _choose(page, t("label.none"))
    _upload(page, spare[:1])
    page.get_by_role("button", name=t("collect.extract_button")).click()
    page.get_by_text(t("collect.accepted_title", n=5 * PER_CLASS + 1)).wait_for(timeout=120_000)
    db = open_store(data)
    student = db.resume(page.url.split("s=")[1].split("&")[0])
    rejected = [r for r in db.list_images(student.id) if r.status != "ok"]
    assert [r.filename for r in rejected] == [reject.name]
    page.get_by_text(reason_message(rejected[0].reason)).first.wait_for()  # the reason, in words
    _shot(page, "2_collected")

    _go(page, "nav.label", "label.title")
    page.get_by_text(t("warn.unlabelled", n=1)).wait_for()
    page.get_by_text(t("label.tab", name=t("label.none"), n=1)).wait_for()  # the view starts there
    # The unlabelled photo is a big smile: filing it under sadness plants the label mistake that
    # the detective must find later.
    target = page.get_by_role("radiogroup", name=t("label.target"))
    target.get_by_role("radio", name=class_name("sadness")).click()
    page.get_by_role("button", name=f"→ {class_name('sadness')}").first.click()
    page.get_by_text(t("label.tab", name=t("label.none"), n=0)).wait_for()  # and stays after the move
    planted = next(r for r in db.list_images(student.id) if r.filename == spare[0].name)
    assert planted.label == "sadness"
    _shot(page, "3_labelled")

    _go(page, "nav.split", "split.title")
    page.get_by_role("button", name=t("split.button")).click()
    total = 5 * PER_CLASS + 1
    page.get_by_text(t("split.summary", total=total, train=total - 5 * 1 - 1 + 1, test=6)).or_(
        page.get_by_text(t("split.summary", total=total, train=25, test=6))
    ).or_(page.get_by_text(t("split.summary", total=total, train=26, test=5))).first.wait_for()
    for _ in range(8):  # the detective looks at training photos only: reshuffle until it is one
        splits = db.list_splits(student.id)
        if splits and planted.id in splits[-1].train_ids:
            break
        page.get_by_role("button", name=t("split.seed")).click()
        deadline = time.monotonic() + 30
        while len(db.list_splits(student.id)) == len(splits) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert planted.id in db.list_splits(student.id)[-1].train_ids
    _shot(page, "4_split")

    _go(page, "nav.train", "train.title")
    clicked = time.perf_counter()
    page.get_by_role("button", name=t("train.start")).click()
    page.locator(".js-plotly-plot .scatterlayer .point").first.wait_for(timeout=120_000)
    timings["train_click_to_first_point_s"] = time.perf_counter() - clicked
    page.get_by_text(t("train.done", acc=0.0)[:8]).first.wait_for(timeout=180_000)
    timings["train_click_to_done_s"] = time.perf_counter() - clicked
    _shot(page, "5_trained")

    _go(page, "nav.evaluate", "eval.title")
    _upload(page, spare[1:2])
    page.get_by_text(t("eval.probabilities")).first.wait_for(timeout=60_000)
    bars = page.locator(".js-plotly-plot .barlayer .point")
    assert bars.count() >= 5  # one probability bar per class (plus the why chart)
    verdict = page.get_by_text(t("eval.verdict", name="X", p=0.5).split("**")[0].strip() or "X")
    assert verdict.count() + page.get_by_text(t("eval.cannot_tell", p=0.0)[:12]).count() >= 1
    _shot(page, "6_try_it")

    page.get_by_role("tab", name=t("eval.detective")).click()
    page.get_by_role("button", name=t("eval.detective_start")).click()
    page.get_by_text(t("eval.relabel", name=class_name("joy"))).first.wait_for(timeout=120_000)
    suspect = t("eval.detective_row", label=class_name("sadness"), pred=class_name("joy"), p=0.5)
    page.get_by_text(suspect.split(" (")[0]).first.wait_for()  # the planted smile, labelled sadness
    _shot(page, "7_detective")

    # The teacher's part: import last lesson's data-set zip, see it counted at once, wipe the class.
    from classroom import TEACHER_PASSWORD

    from edu_core.photosets import export_zip

    archive = ARTIFACTS / "lesson_class.zip"
    archive.write_bytes(export_zip(db, student.id, split_id=db.list_splits(student.id)[-1].id))
    teacher = page.context.new_page()
    teacher.goto(f"{url}/teacher")
    teacher.get_by_label(t("teacher.password"), exact=True).fill(TEACHER_PASSWORD)
    teacher.get_by_role("button", name=t("teacher.door_button")).click()
    teacher.get_by_label(t("teacher.pin"), exact=True).fill("4321")
    teacher.get_by_role("button", name=t("teacher.login_button")).click()
    teacher.get_by_text(t("teacher.join_code", code=klass.join_code)).first.wait_for(timeout=60_000)
    teacher.get_by_role("tab", name=t("teacher.export_title")).click()
    with teacher.expect_file_chooser() as chooser:
        teacher.get_by_test_id("stFileUploaderDropzone").first.get_by_test_id(
            "stBaseButton-secondary"
        ).click()
    chooser.value.set_files(str(archive))
    expect(teacher.get_by_test_id("stFileChipIconSpinner")).to_have_count(0, timeout=60_000)
    teacher.get_by_role("button", name=t("teacher.import")).click()
    teacher.get_by_text(t("teacher.import_done", n=total, skipped=0)).wait_for(timeout=180_000)
    summary = db.class_summary(db.teacher_login(klass.id, "4321"))
    assert summary["accepted"] == 2 * total  # the student's photos and the imported copies
    overview = t(
        "teacher.summary",
        students=summary["students"],
        sharing=summary["students_sharing"],
        images=summary["images"],
        accepted=summary["accepted"],
        rejected=summary["rejected"],
    )
    teacher.get_by_role("tab", name=t("teacher.overview")).click()
    teacher.get_by_text(overview).wait_for()  # the overview counts the import without a page switch
    _shot(teacher, "8_teacher_import")
    confirm = teacher.get_by_test_id("stCheckbox").filter(has_text=t("teacher.wipe_check"))
    teacher.get_by_role("tab", name=t("teacher.wipe_title")).click()
    confirm.get_by_text(t("teacher.wipe_check")).click()  # the words, not the row's empty middle
    teacher.get_by_role("button", name=t("teacher.wipe_button")).click()  # still on the wipe tab
    teacher.get_by_text(t("teacher.wiped", n=0).split(".")[0]).first.wait_for(timeout=60_000)
    after = db.class_summary(db.teacher_login(klass.id, "4321"))
    assert after["images"] == 0
    teacher.get_by_text(
        t("teacher.summary", students=after["students"], sharing=after["students_sharing"], images=0,
          accepted=0, rejected=0)
    ).wait_for(state="attached")  # fmt: skip
    _shot(teacher, "9_teacher_wiped")
    (ARTIFACTS / "lesson_timings.json").write_text(
        json.dumps({k: round(v, 2) for k, v in timings.items()}, indent=1)
    )
