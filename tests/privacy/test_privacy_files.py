"""No file name a student or a zip brings can write outside the data folder (issue 9).

Everything is real: the upload page through AppTest, a real store and real files in a tmp folder.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import zipfile
from pathlib import Path

import face_variants as fv
import pytest
from privacy_world import (
    open_page,
)

from edu_core.i18n import t

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


HOSTILE_NAMES = [
    "../../evil.jpg",
    "/etc/passwd.jpg",
    "..\\..\\x.png",
    "nul\x00byte.jpg",
    "a" * 5000 + ".jpg",
    "../" * 50 + "deep.jpg",
    "~/.bashrc.jpg",
    "$(touch pwned).jpg",
    "; rm -rf ~ ;.jpg",
    "사진/../../../한글.jpg",
    "CON.jpg",
    ".htaccess",
]


def _tree(top: Path) -> dict[str, int]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            out[str(p.relative_to(top))] = p.lstat().st_mode
    return out


def _escaped(before: dict, after: dict, data_rel: str) -> list[str]:
    new = set(after) - set(before)
    return sorted(p for p in new if not p.startswith(data_rel + os.sep) and p != data_rel)


def test_hostile_upload_names_stay_inside_the_data_folder(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative "../x" would land next to the data folder
    before = _tree(tmp_path)
    photo = fv.to_jpeg(fv.astronaut())
    files = [(name, photo + bytes([k]), "image/jpeg") for k, name in enumerate(HOSTILE_NAMES)]
    pwned = tmp_path / "pwned"
    files.append(("script.sh.jpg", b"#!/bin/sh\ntouch " + str(pwned).encode() + b"\n", "image/jpeg"))
    files.append(("evil.py.png", b"import os; os.system('touch " + str(pwned).encode() + b"')", "image/png"))

    at = open_page("collect", {"s": world.a.resume_code})
    at.file_uploader[0].set_value(files)
    at.run()
    next(b for b in at.button if b.label == t("collect.extract_button")).click().run()
    assert not at.exception
    after = _tree(tmp_path)
    assert _escaped(before, after, "lab") == []
    assert not pwned.exists() and not Path("/etc/passwd.jpg").exists() and not Path("/evil.jpg").exists()
    records = world.db.list_images(world.a.id)
    new = [r for r in records if r.id not in world.a_images]
    assert len(new) == len(files)  # every file was received and explained, none lost
    for rec in new:  # the name is kept as text only; the file is named by its checksum
        path = world.db.blob_path(rec.sha, rec.ext)
        assert path.is_file() and path.parent.parent == world.root / "files"
        assert re.fullmatch(r"[0-9a-f]{64}\.[a-z]+", path.name)
        assert path.stat().st_mode & 0o111 == 0  # never executable
    by_name = {r.filename: r for r in new}
    assert by_name["script.sh.jpg"].status != "ok" and by_name["evil.py.png"].status != "ok"
    report = world.db.check(grace_s=0)
    assert report.ok, report


def _evil_zip(photo: bytes, outside: Path) -> bytes:
    """A data-set zip whose members try to escape: parent paths, absolute paths, a symlink."""
    import hashlib

    from edu_core import archive

    names = ["../x.jpg", "/tmp/abs_evil.jpg", "images/joy/../../../up.jpg", "images\\..\\..\\win.jpg"]
    buf = io.BytesIO()
    files = {}
    with zipfile.ZipFile(buf, "w") as zf:
        for k, name in enumerate(names):
            data = photo + bytes([k])
            zf.writestr(name, data)
            files[name] = hashlib.sha256(data).hexdigest()
        link = zipfile.ZipInfo("images/joy/link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(outside))
        files["images/joy/link.jpg"] = hashlib.sha256(str(outside).encode()).hexdigest()
        rows = "file,class,split,sha256\n" + "".join(f"{n},joy,,{h}\n" for n, h in files.items())
        zf.writestr("labels.csv", rows)
        manifest = {"format": archive.MANIFEST_FORMAT, "version": 1, "files": files}
        zf.writestr("manifest.json", json.dumps(manifest))
    return buf.getvalue()


def test_zip_import_with_traversal_and_symlink_members_writes_nothing_outside(world, tmp_path, monkeypatch):
    from edu_core import faces, photosets

    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "outside_target"
    outside.write_bytes(b"secret on the server")
    before = _tree(tmp_path)
    holder = world.db.join(world.klass.id, "가져오기")
    report = photosets.import_zip(
        world.db,
        holder.id,
        _evil_zip(fv.to_jpeg(fv.astronaut()), outside),
        extractor=lambda blobs, progress=None: faces.extract_many(list(blobs)),
    )
    assert _escaped(before, _tree(tmp_path), "lab") == []
    assert outside.read_bytes() == b"secret on the server"  # the link's target was not written
    records = world.db.list_images(holder.id)
    assert len(records) == len(report.image_ids) == 5  # read from memory, stored by checksum
    for rec in records:
        assert "/" not in rec.filename  # only the last part of a member's name is kept, as text
        assert world.db.blob_path(rec.sha, rec.ext).parent.parent == world.root / "files"
        data = world.db.original_bytes(holder.id, rec.id)
        assert b"secret on the server" not in data  # the symlink was not followed
    assert world.db.check(grace_s=0).ok
