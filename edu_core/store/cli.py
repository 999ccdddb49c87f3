"""The class data store: one SQLite file plus content-addressed image files.

This is its command line, ``python -m edu_core.store``: create a class, import, export, count,
check, wipe (the first line above is the ``--help`` description, so it stays as it is).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edu_core import photosets
from edu_core.cli import print_json
from edu_core.errors import StoreError
from edu_core.labels import LESSON_CLASSES
from edu_core.store.auth import TEACHER_PASSWORD_ENV, new_teacher_password
from edu_core.store.facade import DATA_ENV, Store, open_store
from edu_core.store.records import TeacherSession


def _print(obj: Any, as_json: bool) -> None:
    if as_json:
        print_json(obj, indent=2, default=str)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            print(f"{k}: {v}")
    else:
        print(obj)


def _teacher(store: Store, args: argparse.Namespace) -> TeacherSession:
    record = store.find_class(args.class_code)
    pin = args.pin if args.pin is not None else os.environ.get("EXPRESSION_LAB_PIN", "")
    return store.teacher_login(record.id, pin)


def _owner(store: Store, args: argparse.Namespace) -> int:
    """The student an import goes to: a resume code, or a new student in the class."""
    if args.student:
        return store.resume(args.student).id
    record = store.find_class(args.class_code)
    _teacher(store, args)  # creating workspaces from the command line is the teacher's job
    return store.join(record.id, args.nickname).id


def _read_new_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new teacher password: ")
    if getpass.getpass("once more: ") != first:
        raise StoreError("password_mismatch", "the two passwords differ")
    return first


def _teacher_password_command(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.reset:
        out["teacher_password"] = new_teacher_password()
        store.set_teacher_password(out["teacher_password"])
        out["note"] = "shown only now; only its hash is kept. Open teacher pages must enter it again."
    elif args.set:
        store.set_teacher_password(_read_new_password())
        out["note"] = "saved (as a hash). Open teacher pages must enter it again."
    source = store.teacher_password_source()
    out["source"] = {
        "env": f"${TEACHER_PASSWORD_ENV} (it wins over a stored one)",
        "file": str(store.teacher_password_file),
        None: "none yet: the app makes one at its next start and prints it",
    }[source]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.store``: create a class, import, export, count, check, wipe."""
    parser = argparse.ArgumentParser(prog="python -m edu_core.store", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=None, help=f"data folder (default ${DATA_ENV} or ./data)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("create-class", help="create a lesson class and print its join code")
    p.add_argument("--name", required=True)
    p.add_argument("--pin", default=None, help="teacher PIN (or $EXPRESSION_LAB_PIN)")
    p.add_argument("--labels", default=",".join(LESSON_CLASSES), help="comma-separated class names")
    p.add_argument("--retention-days", type=int, default=None)

    sub.add_parser("list-classes", help="classes on this server")

    for name, text in (
        ("import", "import a zip or a folder of class subfolders"),
        ("samples", "load sample faces"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--class", dest="class_code", required=True, help="join code")
        p.add_argument("--pin", default=None)
        p.add_argument("--student", default=None, help="resume code of the workspace (default: a new one)")
        p.add_argument("--nickname", default="teacher")
        if name == "import":
            p.add_argument("path", type=Path)
        else:
            p.add_argument("--per-class", type=int, default=20)

    p = sub.add_parser("export", help="export a workspace or the class pool as a zip")
    p.add_argument("--class", dest="class_code", required=True)
    p.add_argument("--pin", default=None)
    p.add_argument("--student", default=None, help="resume code (default: the class pool)")
    p.add_argument("--split", type=int, default=None, help="split id to record in the zip")
    p.add_argument("--out", type=Path, required=True)

    p = sub.add_parser("counts", help="photos per class")
    p.add_argument("--class", dest="class_code", required=True)
    p.add_argument("--pin", default=None)
    p.add_argument("--student", default=None, help="resume code (default: whole class, teacher PIN)")

    p = sub.add_parser("wipe", help="delete all photos of a class (and the class)")
    p.add_argument("--class", dest="class_code", required=True)
    p.add_argument("--pin", default=None)
    p.add_argument("--keep-class", action="store_true")

    p = sub.add_parser(
        "teacher-password",
        help="the teacher password: where it comes from; --reset makes a new one, --set asks for one",
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument("--reset", action="store_true", help="make a new random password and print it once")
    how.add_argument("--set", action="store_true", help="type a new password (or one line on stdin)")

    sub.add_parser("retention", help="apply every class's retention setting now")
    p = sub.add_parser("check", help="database integrity and file consistency")
    p.add_argument("--repair", action="store_true", help="remove orphan files")

    args = parser.parse_args(argv)
    try:
        store = open_store(args.root)
        if args.cmd == "create-class":
            pin = args.pin if args.pin is not None else os.environ.get("EXPRESSION_LAB_PIN", "")
            labels = [x for x in args.labels.split(",") if x.strip()]
            record, _ = store.create_class(args.name, pin, labels=labels, retention_days=args.retention_days)
            out: Any = {
                "class_id": record.id,
                "name": record.name,
                "join_code": record.join_code,
                "labels": list(record.labels),
                "root": str(store.root),
            }
        elif args.cmd == "list-classes":
            out = [{"class_id": c.id, "name": c.name, "join_code": c.join_code} for c in store.list_classes()]
        elif args.cmd in ("import", "samples"):
            student_id = _owner(store, args)
            if args.cmd == "samples":
                report = photosets.load_samples(store, student_id, args.per_class)
            elif args.path.is_dir():
                report = photosets.import_folder(store, student_id, args.path)
            else:
                report = photosets.import_zip(store, student_id, args.path)
            out = {
                "student_id": student_id,
                "resume_code": store.student(student_id).resume_code,
                "imported": len(report.image_ids),
                "counts": report.counts,
                "skipped": [list(s) for s in report.skipped],
                "split_id": report.split_id,
            }
        elif args.cmd == "export":
            viewer: int | TeacherSession = (
                store.resume(args.student).id if args.student else _teacher(store, args)
            )
            data = photosets.export_zip(store, viewer, args.out, split_id=args.split)
            out = {"out": str(args.out), "bytes": len(data)}
        elif args.cmd == "counts":
            if args.student:
                out = {"counts": store.counts(store.resume(args.student).id)}
            else:
                out = store.class_summary(_teacher(store, args))
        elif args.cmd == "wipe":
            n = store.wipe_class(_teacher(store, args), keep_class=args.keep_class)
            out = {"deleted_images": n, "class_deleted": not args.keep_class}
        elif args.cmd == "teacher-password":
            out = _teacher_password_command(store, args)
        elif args.cmd == "retention":
            out = {"deleted_images": store.apply_retention()}
        else:
            report = store.check(repair=args.repair)
            out = {
                "ok": report.ok,
                "integrity": report.integrity,
                "missing_files": list(report.missing_files),
                "orphan_files": list(report.orphan_files),
                "removed": list(report.removed_orphans),
                "counts": report.counts,
            }
    except StoreError as exc:
        _print({"error": exc.code, "detail": exc.detail}, args.json)
        return 2
    _print(out, args.json)
    return 0
