"""Streamlit's own English on the uploader and camera is replaced by the app's words (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit

from edu_core import i18n
from webui import session

FRONTEND = Path(streamlit.__file__).parent / "static" / "static" / "js"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_uploader_and_camera_get_the_apps_words(lang):
    css = session.widget_text_css(lang)
    for key in ("widget.upload", "widget.take_photo", "widget.clear_photo", "widget.camera_ask"):
        assert f'"{i18n.t(key, lang)}"' in css, key
    assert i18n.t("widget.upload_limit", lang, mb=streamlit.config.get_option("server.maxUploadSize")) in css
    assert "</style" not in css.lower()


def test_the_elements_the_css_names_exist_in_this_streamlit():
    # The CSS hangs on Streamlit's test ids; a Streamlit upgrade that renames one must fail here,
    # not silently bring the English back in class.
    bundle = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in FRONTEND.glob("*.js"))
    for test_id in (
        "stFileUploaderDropzone",
        "stFileUploaderDropzoneInstructions",
        "stCameraInputButton",
        "stCameraInputWebcamComponent",
    ):
        assert f"`{test_id}`" in bundle, test_id
    for english in (
        "Upload",
        "per file",
        "Take Photo",
        "Clear photo",
        "This app would like to use your camera.",
    ):
        assert english in bundle, english  # still the text the CSS hides


def test_every_page_carries_the_replacement(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(tmp_path / "lab"))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    styles = [h.proto.body for h in at.get("html") if h.proto.body.startswith("<style>")]
    assert len(styles) == 1 and i18n.t("widget.take_photo", "ko") in styles[0]
