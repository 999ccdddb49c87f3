"""Who may come in: lesson classes, their join codes, students and their resume codes.

Privacy: every read that returns a photo names who is asking (a student id or a verified
:class:`TeacherSession`) and is refused with ``forbidden`` otherwise; :meth:`_class_of` and
:meth:`_check_owner` are where that is decided for classes, models and runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from edu_core.errors import StoreError
from edu_core.labels import LESSON_CLASSES, korean_name
from edu_core.store.auth import AuthMixin, _code
from edu_core.store.db import Forbidden, NotFound, ReadOnly, StorageFull, _json, _now, is_unique_violation
from edu_core.store.labels import normalize_label
from edu_core.store.records import (
    CLASS_COLUMNS,
    STUDENT_COLUMNS,
    ClassRecord,
    StudentRecord,
    TeacherSession,
    class_record,
    student_record,
)

#: The join code of the practice class behind "start alone". Lower case: find_class upper-cases
#: what is typed and _code never makes it, so nobody joins it by a code; it has no teacher PIN.
SOLO_JOIN_CODE = "solo"
SOLO_CLASS_NAME = "혼자 연습 · Practice"


def _typed_code(code: str) -> str:
    """A code as typed (any case, dashes and spaces) in the form it is stored."""
    return code.strip().upper().replace("-", "").replace(" ", "")


class AccessMixin(AuthMixin):
    """Classes, join codes and students."""

    def create_class(
        self,
        name: str,
        pin: str,
        *,
        labels: Sequence[str] = LESSON_CLASSES,
        display_names: Mapping[str, str] | None = None,
        retention_days: int | None = None,
    ) -> tuple[ClassRecord, TeacherSession]:
        """Create a lesson class; returns it and a teacher session for the creator."""
        if len(pin) < 4:
            raise StoreError("pin_too_short", "at least 4 characters")
        label_ids = tuple(normalize_label(x) for x in labels)
        if len(set(label_ids)) != len(label_ids) or len(label_ids) < 2:
            raise StoreError("bad_labels", ", ".join(label_ids))
        names = {c: korean_name(c) for c in label_ids}
        names.update({normalize_label(k): v for k, v in (display_names or {}).items()})
        salt = secrets.token_bytes(16)
        digest = self._hash_pin(pin, salt)
        now = _now()
        for _ in range(20):
            code = _code(6)
            try:
                with self._tx() as conn:
                    cur = conn.execute(
                        "INSERT INTO classes(name, join_code, labels, display_names, pin_salt, pin_hash, "
                        "retention_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (name, code, _json(list(label_ids)), _json(names), salt, digest, retention_days, now),
                    )
                    class_id = int(cur.lastrowid)
                break
            except StoreError as exc:
                if not is_unique_violation(exc):
                    raise
        else:  # pragma: no cover - 31^6 codes
            raise StoreError("store_error", "could not pick a free join code")
        return self.get_class(class_id), self._new_session(class_id)

    def get_class(self, class_id: int) -> ClassRecord:
        """The class with this id (no secrets in it)."""
        rows = self._read(f"SELECT {CLASS_COLUMNS} FROM classes WHERE id = ?", (class_id,))
        if not rows:
            raise NotFound(detail=f"class {class_id}")
        return class_record(rows[0])

    def find_class(self, join_code: str) -> ClassRecord:
        """The class a student joins with this code (case and dashes ignored)."""
        rows = self._read("SELECT id FROM classes WHERE join_code = ?", (_typed_code(join_code),))
        if not rows:
            raise NotFound(detail="join code")
        return self.get_class(rows[0]["id"])

    def list_classes(self) -> list[ClassRecord]:
        """Every class on this server (names and codes only)."""
        return [class_record(r) for r in self._read(f"SELECT {CLASS_COLUMNS} FROM classes ORDER BY id")]

    def rename_classes(self, session: TeacherSession, display_names: Mapping[str, str]) -> ClassRecord:
        """Let the teacher show other names for the classes (ids stay the same)."""
        class_id = self._check_session(session)
        record = self.get_class(class_id)
        names = dict(record.display_names)
        for key, value in display_names.items():
            cid = normalize_label(key)
            if cid not in record.labels:
                raise StoreError("unknown_class", cid)
            names[cid] = value.strip() or korean_name(cid)
        with self._tx() as conn:
            conn.execute("UPDATE classes SET display_names = ? WHERE id = ?", (_json(names), class_id))
        return self.get_class(class_id)

    def set_retention(self, session: TeacherSession, days: int | None) -> None:
        """Delete this class's photos automatically after ``days`` (``None`` keeps them)."""
        class_id = self._check_session(session)
        if days is not None and days < 1:
            raise StoreError("bad_retention", str(days))
        with self._tx() as conn:
            conn.execute("UPDATE classes SET retention_days = ? WHERE id = ?", (days, class_id))

    # ------------------------------------------------------------------ students

    def join(self, class_id: int, nickname: str) -> StudentRecord:
        """Add a student (nickname only) with a fresh personal resume code."""
        nickname = nickname.strip()[:40]
        if not nickname:
            raise StoreError("empty_nickname")
        self.get_class(class_id)
        for _ in range(20):
            code = _code(8)
            try:
                with self._tx() as conn:
                    cur = conn.execute(
                        "INSERT INTO students(class_id, nickname, resume_code, created_at, last_seen) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (class_id, nickname, code, _now(), _now()),
                    )
                    student_id = int(cur.lastrowid)
                return self.student(student_id)
            except StoreError as exc:
                if not is_unique_violation(exc):
                    raise
        raise StoreError("store_error", "could not pick a free resume code")  # pragma: no cover

    def join_solo(self, nickname: str) -> StudentRecord:
        """A personal workspace outside any class (practice at home, a teacher trying the lesson).

        It lives in the server's practice class, which has no teacher: its PIN hash is random
        bytes that no PIN produces, so nobody sees the class's counts or shared photos, and
        students there see only their own photos, as everywhere.
        """
        return self.join(self.solo_class_id(), nickname)

    def solo_class_id(self) -> int:
        """The practice class of this server (made on first use)."""
        rows = self._read("SELECT id FROM classes WHERE join_code = ?", (SOLO_JOIN_CODE,))
        if rows:
            return int(rows[0]["id"])
        names = {c: korean_name(c) for c in LESSON_CLASSES}
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO classes(name, join_code, labels, display_names, pin_salt, pin_hash, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (SOLO_CLASS_NAME, SOLO_JOIN_CODE, _json(list(LESSON_CLASSES)), _json(names),
                     secrets.token_bytes(16), secrets.token_bytes(32), _now()),
                )  # fmt: skip
        except StoreError as exc:
            if not is_unique_violation(exc):  # another tab made it at the same moment
                raise
        return int(self._read("SELECT id FROM classes WHERE join_code = ?", (SOLO_JOIN_CODE,))[0]["id"])

    def student(self, student_id: int) -> StudentRecord:
        """The student with this id (``not_found`` when gone)."""
        rows = self._read(f"SELECT {STUDENT_COLUMNS} FROM students WHERE id = ?", (student_id,))
        if not rows:
            raise NotFound(detail=f"student {student_id}")
        return student_record(rows[0])

    def resume(self, code: str) -> StudentRecord:
        """The student whose personal code this is (so a reloaded browser gets the same workspace)."""
        rows = self._read("SELECT id FROM students WHERE resume_code = ?", (_typed_code(code),))
        if not rows:
            raise NotFound(detail="resume code")
        student_id = rows[0]["id"]
        try:
            with self._tx() as conn:
                conn.execute("UPDATE students SET last_seen = ? WHERE id = ?", (_now(), student_id))
        except (StorageFull, ReadOnly):
            pass  # last_seen is only a hint for the teacher: a full disk must not lock students out
        return self.student(student_id)

    def students(self, session: TeacherSession) -> list[StudentRecord]:
        """Teacher: every student of the class, oldest first."""
        class_id = self._check_session(session)
        rows = self._read(
            f"SELECT {STUDENT_COLUMNS} FROM students WHERE class_id = ? ORDER BY id", (class_id,)
        )
        return [student_record(r) for r in rows]

    def set_pool_consent(self, student_id: int, consent: bool) -> None:
        """The student agrees (or no longer agrees) that the teacher may use their labelled photos."""
        self.student(student_id)
        with self._tx() as conn:
            conn.execute("UPDATE students SET pool_consent = ? WHERE id = ?", (int(consent), student_id))

    def class_labels(self, viewer: int | TeacherSession) -> tuple[str, ...]:
        """The class ids of the viewer's lesson class, in chart order."""
        return self.get_class(self._class_of(viewer)).labels

    def display_name(self, viewer: int | TeacherSession, class_id_label: str) -> str:
        """The name students see for a class id (teacher-renamed or Korean)."""
        record = self.get_class(self._class_of(viewer))
        return record.display_names.get(class_id_label) or korean_name(class_id_label)

    def _class_of(self, viewer: int | TeacherSession) -> int:
        if isinstance(viewer, TeacherSession):
            return self._check_session(viewer)
        return self.student(int(viewer)).class_id

    def _check_owner(self, viewer: int | TeacherSession, class_id: int, student_id: int | None) -> None:
        if isinstance(viewer, TeacherSession):
            if self._check_session(viewer) != class_id:
                raise Forbidden()
        elif student_id != int(viewer):
            raise Forbidden()
