"""Class folders and labels.csv: one reader for every spelling the project's files use."""

from __future__ import annotations

from pathlib import Path

import pytest

from edu_core.errors import FolderError
from edu_core.folders import (
    COLUMNS,
    LabelRow,
    format_labels,
    parse_labels,
    read_labels,
    scan_class_folders,
    write_labels,
)

SAMPLE_STYLE = (
    "file,class,identity,age_group,gender,intensity,background,occluder,expected_reason,split\n"
    "joy/a.jpg,joy,p01,child,female,0.4,park,none,,Train\n"
    "rejects/mask/b.jpg,sadness,p02,adult,male,0.3,home,mask,occluded_mouth,\n"
)
ZIP_STYLE = (
    "file,class,split,person,group,source,sha256\n"
    "images/joy/a.jpg,joy,train,p01,child,upload,abc\n"
    "images/sadness/b.jpg,,test,,,,\n"
)
DEVSET_STYLE = (
    "source,class,file,person_id_if_known,sha256,notes\n"
    "kor_aihub,angry,kor_aihub/angry/x.jpg,521247,ff00,sex=F;age=50s\n"
    "lfw_mux,happy,lfw_mux/happy/y.jpg,,ee11,\n"
)


def test_the_sample_sets_spelling_is_read_into_the_schema():
    a, b = parse_labels(SAMPLE_STYLE)
    assert a == LabelRow(
        file="joy/a.jpg",
        label="joy",
        split="train",
        person="p01",
        group="child",
        extra={"gender": "female", "intensity": "0.4", "background": "park", "occluder": "none"},
    )
    assert b.expected_reason == "occluded_mouth" and b.split is None and b.person == "p02"


def test_the_data_set_zips_spelling_is_the_schema():
    a, b = parse_labels(ZIP_STYLE)
    assert (a.file, a.label, a.split, a.person, a.group, a.source, a.sha256) == (
        "images/joy/a.jpg", "joy", "train", "p01", "child", "upload", "abc",
    )  # fmt: skip
    assert b == LabelRow(file="images/sadness/b.jpg", split="test")
    assert a.extra == {}


def test_the_dev_sets_person_column_and_notes():
    a, b = parse_labels(DEVSET_STYLE)
    assert (a.source, a.label, a.person, a.extra) == (
        "kor_aihub",
        "angry",
        "521247",
        {"notes": "sex=F;age=50s"},
    )
    assert b.person is None and b.extra == {"notes": ""}


def test_bom_crlf_backslashes_and_empty_rows():
    text = "\ufefffile,class\r\njoy\\a.jpg,joy\r\n,joy\r\n"
    assert parse_labels(text) == [LabelRow(file="joy/a.jpg", label="joy")]


def test_a_csv_without_a_file_column_is_refused():
    with pytest.raises(FolderError) as err:
        parse_labels("name,class\na.jpg,joy\n")
    assert err.value.code == "bad_labels"


def test_write_then_read_keeps_every_column(tmp_path):
    rows = parse_labels(SAMPLE_STYLE) + parse_labels(ZIP_STYLE)
    write_labels(tmp_path, rows)
    text = (tmp_path / "labels.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",")[: len(COLUMNS)] == list(COLUMNS)
    back = read_labels(tmp_path / "labels.csv")
    assert [r.as_dict() for r in back] == [
        {
            **r.as_dict(),
            **{k: "" for k in ("gender", "intensity", "background", "occluder") if k not in r.extra},
        }
        for r in rows
    ]
    assert read_labels(tmp_path / "nowhere") == []


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_scan_finds_class_folders_in_either_language_and_joins_their_rows(tmp_path):
    for name in ("기쁨/a.jpg", "joy/b.PNG", "sadness/c.jpg", "sadness/notes.txt", "sadness/.hidden.jpg",
                 "cache/d.jpg", "sadness/deeper/e.jpg"):  # fmt: skip
        _touch(tmp_path / name)
    (tmp_path / "labels.csv").write_text(
        "file,class,split,person\n기쁨/a.jpg,joy,test,p1\nb.PNG,joy,train,p2\njoy/c.jpg,joy,train,p3\n",
        encoding="utf-8",
    )
    scan = scan_class_folders(tmp_path)
    got = {p.file: (p.label, p.split, p.person) for p in scan.photos}
    assert got == {
        "joy/b.PNG": ("joy", "train", "p2"),  # a row naming only the file
        "sadness/c.jpg": ("sadness", None, None),  # joy/c.jpg's row is another photo
        "기쁨/a.jpg": ("joy", "test", "p1"),
    }
    assert sorted(scan.skipped) == [("cache/", "unknown_class"), ("sadness/notes.txt", "unsupported_format")]
    deep = scan_class_folders(tmp_path, recursive=True)
    assert "sadness/deeper/e.jpg" in {p.file for p in deep.photos}


def test_scan_of_a_missing_folder_says_so(tmp_path):
    with pytest.raises(FolderError) as err:
        scan_class_folders(tmp_path / "missing")
    assert err.value.code == "not_found"


def test_a_scan_without_labels_ignores_a_broken_labels_csv(tmp_path):
    _touch(tmp_path / "joy" / "a.jpg")
    (tmp_path / "labels.csv").write_text("name,class\na.jpg,joy\n", encoding="utf-8")  # no file column
    with pytest.raises(FolderError):
        scan_class_folders(tmp_path)
    scan = scan_class_folders(tmp_path, labels=False)
    assert [(p.file, p.label, p.row) for p in scan.photos] == [("joy/a.jpg", "joy", None)]


def test_exact_files_keep_the_names_as_written():
    text = "file,class\nimages\\..\\x.jpg,joy\n,joy\n"
    assert [r.file for r in parse_labels(text)] == ["images/../x.jpg"]
    assert [r.file for r in parse_labels(text, exact_files=True)] == ["images\\..\\x.jpg", ""]


def test_format_labels_can_keep_another_files_layout():
    rows = parse_labels(ZIP_STYLE)
    text = format_labels(rows, columns=("file", "class", "split", "person", "group", "source", "sha256"),
                         lineterminator="\r\n")  # fmt: skip
    assert text == ZIP_STYLE.replace("\n", "\r\n")
