"""Real browser: join a class, upload photos with the file chooser, see the gallery and a rejection."""

from __future__ import annotations

import json
import time

import face_variants as fv
import pytest

from edu_core.i18n import reason_message, t

from .conftest import ARTIFACTS

pytestmark = [pytest.mark.timeout(300), pytest.mark.browser]


def test_upload_shows_gallery_and_rejection_reason(lab_server, browser_page, tmp_path):
    url, data = lab_server
    from edu_core.store import open_store

    klass, _ = open_store(data).create_class("6-1", "4321")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "astronaut.jpg").write_bytes(fv.to_jpeg(fv.astronaut()))
    (photos / "sunglasses.jpg").write_bytes(fv.sunglasses())
    page = browser_page

    start = time.perf_counter()
    page.goto(url)
    page.get_by_text(t("home.title")).first.wait_for()
    load_s = time.perf_counter() - start

    page.get_by_role("textbox", name=t("home.join_code")).fill(klass.join_code)
    page.get_by_role("textbox", name=t("home.nickname")).first.fill("다람쥐")  # the join form's
    page.get_by_role("button", name=t("home.join_button")).click()
    page.get_by_text(t("home.joined", nickname="다람쥐")).wait_for()
    assert "s=" in page.url  # the resume code is in the address: a reload comes back here

    page.get_by_role("link", name=t("nav.collect")).first.click()
    page.get_by_role("heading", name=t("collect.title")).wait_for()
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stFileUploaderDropzone").get_by_test_id("stBaseButton-secondary").click()
    chooser.value.set_files([str(photos / "astronaut.jpg"), str(photos / "sunglasses.jpg")])
    page.get_by_text("sunglasses.jpg").first.wait_for()
    page.get_by_role("button", name=t("collect.extract_button")).click()
    page.get_by_text(t("collect.accepted_title", n=1)).wait_for(timeout=120_000)
    page.get_by_text(reason_message("occluded_eyes")).wait_for()
    page.get_by_test_id("stMain").get_by_role("img").first.wait_for()  # the gallery's crop
    page.screenshot(path=str(ARTIFACTS / "collect_gallery.png"), full_page=True)

    page.reload()  # nothing is lost: the workspace comes back from the store
    page.get_by_text(t("collect.accepted_title", n=1)).wait_for()
    page.get_by_role("button", name=t("collect.skip")).click()
    page.get_by_text(reason_message("occluded_eyes")).wait_for(state="detached")
    (ARTIFACTS / "collect_timings.json").write_text(json.dumps({"page_load_s": round(load_s, 2)}))
