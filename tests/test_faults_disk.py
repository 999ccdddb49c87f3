"""A full disk and a read-only data folder, for real: a tiny tmpfs in a private mount namespace.

``unshare -rm`` gives the test its own user and mount namespace, so it may mount a 8 MB tmpfs
(nobody else sees it), fill it to the last byte, and later remount it read-only. Two child
scripts run inside: the first adds photos through the store and through the collect page
(AppTest) on the full disk, the second opens the store and the pages on the read-only folder.
Each reports what the student saw as JSON. (A page without error handling of its own, on a
live server, is covered by tests/browser/test_faults_browser.py: AppTest runs a page switched
to with ``switch_page`` without app.py around it.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edu_core.i18n import reason_message

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]
NO_MOUNT = 77

COMMON = textwrap.dedent(
    """
    import errno, json, os, sys
    from pathlib import Path
    DATA = Path(sys.argv[1]) / "lab"
    os.environ["EXPRESSION_LAB_DATA"] = str(DATA)
    from streamlit.testing.v1 import AppTest
    from edu_core.errors import EduError
    from edu_core.i18n import t

    def page(path, **params):
        at = AppTest.from_file({app!r}, default_timeout=120)
        at.query_params.update(params)
        at.run()
        if path:
            at.switch_page(path).run()
        return at

    def seen(at):
        return {{"errors": [e.value for e in at.error], "exception": bool(at.exception),
                "why": [str(e.value)[:300] for e in at.exception]}}

    def report(obj):
        Path(sys.argv[2]).write_text(json.dumps(obj, ensure_ascii=False))
    """
)

FULL = textwrap.dedent(
    """
    from edu_core import faces
    from edu_core.store import NewImage, open_store

    photos = sorted(Path({samples!r}).glob("*.jpg"))[:4]
    db = open_store(DATA)
    klass, _ = db.create_class("6-1", "4321")
    student = db.join(klass.id, "토끼")
    kept = [
        NewImage(p.read_bytes(), p.name, "upload", faces.extract(p.read_bytes()), label="joy")
        for p in photos[:2]
    ]
    db.add_images(student.id, kept)

    filler = Path(sys.argv[1]) / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    for chunk in (1 << 20, 4096, 1):  # fill the disk to the very last byte (unbuffered writes)
        try:
            while True:
                os.write(fd, b"x" * chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    os.close(fd)
    out = {{"resume": student.resume_code}}
    extra = photos[2].read_bytes()
    try:
        db.add_image(student.id, extra, filename=photos[2].name, source="upload", face=faces.extract(extra))
        out["store_code"] = None
    except EduError as exc:
        out["store_code"] = exc.code

    at = page("views/collect.py", s=student.resume_code)
    at.file_uploader[0].set_value([(photos[3].name, photos[3].read_bytes(), "image/jpeg")])
    at.run()
    next(b for b in at.button if b.label == t("collect.extract_button")).click().run()
    out["collect"] = seen(at)
    filler.unlink()  # space again: what was there before must be intact

    records = db.list_images(student.id)
    check = db.check(grace_s=0)
    out["after"] = {{
        "names": sorted(r.filename for r in records),
        "labels": sorted(str(r.label) for r in records),
        "bytes_ok": all(db.original_bytes(student.id, r.id) == (photos[0].parent / r.filename).read_bytes()
                        for r in records),
        "check_ok": check.ok, "temps": len(list((DATA / "files" / "tmp").iterdir())),
        "expected": sorted(p.name for p in photos[:2]),
    }}
    report(out)
    """
)

READ_ONLY = textwrap.dedent(
    """
    import sqlite3
    from edu_core.store import open_store

    out = {{}}
    try:
        open_store(DATA)
        out["open_code"] = None
    except EduError as exc:
        out["open_code"] = exc.code
    out["home"] = seen(page(None))
    resume = json.loads(Path(sys.argv[3]).read_text())["resume"]
    out["collect"] = seen(page("views/collect.py", s=resume))
    conn = sqlite3.connect(f"file:{{DATA / 'lab.sqlite3'}}?mode=ro&immutable=1", uri=True)
    out["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
    out["images"] = conn.execute("SELECT COUNT(*) FROM images WHERE label = 'joy'").fetchone()[0]
    report(out)
    """
)


def _script(tmp_path: Path, name: str, body: str) -> Path:
    fmt = {"app": str(ROOT / "app.py"), "samples": str(ROOT / "sample_images" / "joy")}
    path = tmp_path / name
    path.write_text(COMMON.format(**fmt) + body.format(**fmt))
    return path


def test_full_disk_and_read_only_folder_give_clear_messages_and_keep_data(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed: cannot make a private tmpfs")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"user+mount namespaces are not permitted here: {probe.stderr.strip()}")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    full, ro = _script(tmp_path, "full.py", FULL), _script(tmp_path, "ro.py", READ_ONLY)
    out_full, out_ro = tmp_path / "full.json", tmp_path / "ro.json"
    py = sys.executable
    shell = (
        f"mount -t tmpfs -o size=8m tmpfs '{mnt}' || exit {NO_MOUNT}; "
        f"'{py}' '{full}' '{mnt}' '{out_full}' || exit 1; "
        f"mount -o remount,ro '{mnt}' || exit 2; "
        f"'{py}' '{ro}' '{mnt}' '{out_ro}' '{out_full}'"
    )
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", shell], capture_output=True, text=True, timeout=220)
    if proc.returncode == NO_MOUNT:
        pytest.skip(f"mounting a tmpfs is not permitted here: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]

    full_disk = json.loads(out_full.read_text())
    assert full_disk["store_code"] == "disk_full"  # the store API names the problem
    assert full_disk["collect"]["exception"] is False
    assert reason_message("disk_full") in full_disk["collect"]["errors"]  # 저장 공간이 가득 찼어요…
    after = full_disk["after"]
    assert after["names"] == after["expected"] and after["labels"] == ["joy", "joy"]
    assert after["bytes_ok"] and after["check_ok"] and after["temps"] == 0

    read_only = json.loads(out_ro.read_text())
    assert read_only["open_code"] == "read_only"
    for page in ("home", "collect"):
        assert read_only[page]["exception"] is False, page
        assert read_only[page]["errors"] == [reason_message("read_only")], page  # 지금은 저장할 수 없어요…
    assert read_only["integrity"] == "ok" and read_only["images"] == 2
