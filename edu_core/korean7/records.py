"""One photo's label record, and reading the AI Hub label files (JSON in UTF-8, BOM or CP949)."""

from __future__ import annotations

import json
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edu_core.korean7.base import DATASET_LABELS, INVALID, UNKNOWN, UNKNOWN_LABEL, Korean7Error

_PERSON_RE = re.compile(r"^[0-9a-fA-F]{16,}$")


@dataclass(frozen=True)
class ImageRef:
    """Where one photo's bytes are: a file, or a member of a zip."""

    path: str  # file path, or the zip's path
    member: str | None = None  # name inside the zip (as stored), None for a plain file

    def describe(self) -> str:
        """``path`` or ``zip!member``, for messages."""
        return f"{self.path}!{self.member}" if self.member else self.path


@dataclass(frozen=True)
class Korean7Record:
    """One labelled photo of the data set, normalised (from a label file or a face folder)."""

    filename: str  # the key: NFC base name for AI Hub records, NFC relative path in a face folder
    uploader: str  # class id of the folder / faceExp_uploader
    annotators: tuple[str, ...]  # class ids, UNKNOWN or INVALID, one per annotator present
    boxes: tuple[tuple[float, float, float, float], ...]  # annotator boxes, upright pixels
    person: str | None  # uploader id from the file name, when the name carries one
    source_split: str  # "training", "validation" or "" (from the label file name/path)
    label_file: str
    image: ImageRef | None = None  # None when the photo was not found
    # "annotators" (an AI Hub label file), "folder" or "filename" (a folder of face crops,
    # where the poser's intended emotion is the only label there is)
    label_source: str = "annotators"
    precropped: bool = False  # the photo is already a face crop: prepare only resizes it


def nfc(name: str) -> str:
    """NFC form of a name: macOS unzips Korean names in NFD; the label files use NFC."""
    return unicodedata.normalize("NFC", name)


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """The real name of a zip member: legacy Korean zips store CP949 without the UTF-8 flag."""
    name = info.filename
    if info.flag_bits & 0x800:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for enc in ("utf-8", "cp949"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return name


def decode_label_bytes(data: bytes) -> tuple[list[Any], str]:
    """Parse a label file in UTF-8, UTF-8 with BOM or CP949; returns (records, encoding)."""
    if data.startswith(b"\xef\xbb\xbf"):
        attempts: tuple[str, ...] = ("utf-8-sig",)
    else:
        attempts = ("utf-8", "cp949")
    last: Exception | None = None
    for enc in attempts:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as exc:
            last = exc
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Korean7Error("bad_label_file", f"not JSON ({enc}): {exc}") from exc
        if isinstance(value, dict):
            # Some re-packaged copies wrap the list: {"data": [...]}
            lists = [v for v in value.values() if isinstance(v, list)]
            value = lists[0] if len(lists) == 1 else None
        if not isinstance(value, list):
            raise Korean7Error("bad_label_file", "expected a JSON list of records")
        return value, enc
    raise Korean7Error("bad_label_file", f"neither UTF-8 nor CP949: {last}")


def label_id(value: Any) -> str:
    """A data-set label string -> class id, UNKNOWN (알수없음) or INVALID."""
    if not isinstance(value, str):
        return INVALID
    value = nfc(value.strip())
    if value == UNKNOWN_LABEL:
        return UNKNOWN
    return DATASET_LABELS.get(value, INVALID)


def _box(value: Any) -> tuple[float, float, float, float] | None:
    if isinstance(value, list) and value:  # some copies wrap the box in a one-element list
        value = value[0]
    if not isinstance(value, dict):
        return None
    try:
        x0, y0, x1, y1 = (float(value[k]) for k in ("minX", "minY", "maxX", "maxY"))
    except (KeyError, TypeError, ValueError):
        return None
    if not (x1 > x0 and y1 > y0) or not all(map(math.isfinite, (x0, y0, x1, y1))):
        return None
    return x0, y0, x1, y1


def person_from_filename(filename: str) -> str | None:
    """The uploader id at the start of an AI Hub file name (a long hex hash), if any."""
    head = filename.split("_", 1)[0]
    return head.lower() if _PERSON_RE.match(head) else None


def split_hint(*names: str) -> str:
    """ "training" / "validation" / "" from the names of a label file and its folders."""
    text = " ".join(names).lower()
    if "valid" in text:
        return "validation"
    if "train" in text:
        return "training"
    return ""


def records_from(items: list[Any], label_file: str, hint: str) -> Iterator[Korean7Record]:
    """The records of one parsed label file (entries without a file name are skipped)."""
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            continue
        filename = nfc(Path(item["filename"].replace("\\", "/")).name)
        annots, boxes = [], []
        for key in sorted(k for k in item if k.startswith("annot_")):
            annot = item[key]
            if not isinstance(annot, dict):
                continue
            annots.append(label_id(annot.get("faceExp")))
            box = _box(annot.get("boxes"))
            if box is not None:
                boxes.append(box)
        yield Korean7Record(
            filename=filename,
            uploader=label_id(item.get("faceExp_uploader")),
            annotators=tuple(annots),
            boxes=tuple(boxes),
            person=person_from_filename(filename),
            source_split=hint,
            label_file=label_file,
        )
