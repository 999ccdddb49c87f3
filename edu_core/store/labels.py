"""Labels, person and group tags on photos, the label history and the planted mistakes."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from edu_core import splitting
from edu_core.errors import StoreError
from edu_core.labels import normalize_label as _normalize_any
from edu_core.store.db import Forbidden, NotFound, StoreBase, _now
from edu_core.store.records import LABEL_EVENT_COLUMNS, ImageRecord, LabelEvent, TeacherSession, label_event


def normalize_label(name: str) -> str:
    """:func:`edu_core.labels.normalize_label`, but failing with the ``unknown_class`` reason code."""
    try:
        return _normalize_any(str(name))
    except ValueError as exc:
        raise StoreError("unknown_class", str(name)) from exc


def normalize_group(name: str | None) -> str | None:
    """A group tag as stored: spaces collapsed, at most 40 characters, ``None`` when empty."""
    return " ".join((name or "").split())[:40] or None


class LabelsMixin(StoreBase):
    """Who labels what: labels, tags and their history (only on photos the viewer may change)."""

    def _label_target(
        self, conn: sqlite3.Connection, viewer: int | TeacherSession, image_id: int
    ) -> sqlite3.Row:
        row = conn.execute(
            "SELECT i.student_id AS student_id, i.class_id AS class_id, i.label AS label, "
            "i.injected AS injected, i.label_before_injection AS label_before_injection, "
            "s.pool_consent AS pool_consent "
            "FROM images i JOIN students s ON s.id = i.student_id WHERE i.id = ?",
            (image_id,),
        ).fetchone()
        if row is None:
            raise NotFound(detail=f"image {image_id}")
        if isinstance(viewer, TeacherSession):
            if row["class_id"] != viewer.class_id or not row["pool_consent"]:
                raise Forbidden(detail=f"image {image_id}")
        elif row["student_id"] != int(viewer):
            raise Forbidden(detail=f"image {image_id}")
        return row

    def set_person(self, viewer: int | TeacherSession, image_ids: Sequence[int], person: str | None) -> None:
        """Say who is in these photos (a nickname); ``None`` or "" means the student who took them.

        A split that keeps each person's photos on one side groups by this tag, and photos without
        one by the student who uploaded them.
        """
        name = " ".join((person or "").split())[:40] or None
        with self._tx() as conn:
            for image_id in image_ids:
                owner = self._label_target(conn, viewer, int(image_id))["student_id"]
                nickname = conn.execute("SELECT nickname FROM students WHERE id = ?", (owner,)).fetchone()
                # the uploader's own nickname is the default person, not a second person of that name
                tag = None if nickname and name == nickname["nickname"] else name
                conn.execute("UPDATE images SET person = ? WHERE id = ?", (tag, int(image_id)))

    def set_group(self, viewer: int | TeacherSession, image_ids: Sequence[int], group: str | None) -> None:
        """Tag these photos with a group the class chose ("안경", "8-10세", ...); ``None`` or "" clears it.

        Rejected photos take a tag too: the gate's keep rate per group needs them.
        """
        tag = normalize_group(group)
        with self._tx() as conn:
            for image_id in image_ids:
                self._label_target(conn, viewer, int(image_id))
                conn.execute("UPDATE images SET grp = ? WHERE id = ?", (tag, int(image_id)))

    def class_groups(self, viewer: int | TeacherSession) -> list[str]:
        """The group tags already used in the viewer's class, for the next student to pick from."""
        rows = self._read(
            "SELECT DISTINCT grp FROM images WHERE class_id = ? AND grp IS NOT NULL ORDER BY grp",
            (self._class_of(viewer),),
        )
        return [r["grp"] for r in rows]

    def group_gate_counts(self, session: TeacherSession) -> dict[str | None, tuple[int, int]]:
        """Per group tag (``None``: untagged): ``(photos, passed by the face gate)`` of every student.

        Counts only, sharing or not, like :meth:`kept_summary`: a photo a student kept after the
        gate said no counts as rejected, because that is what the gate did.
        """
        class_id = self._check_session(session)
        rows = self._read(
            "SELECT i.grp AS grp, COUNT(*) AS n, COALESCE(SUM(f.status = 'ok'), 0) AS ok "
            "FROM images i LEFT JOIN faces f ON f.sha = i.sha WHERE i.class_id = ? GROUP BY i.grp",
            (class_id,),
        )
        return {r["grp"]: (int(r["n"]), int(r["ok"])) for r in rows}

    def set_labels(
        self,
        viewer: int | TeacherSession,
        labels: Mapping[int, str | None],
        *,
        injected: bool = False,
    ) -> None:
        """Set several labels in one transaction; every change is kept in the history.

        ``injected`` marks planted mistakes (the lesson's label-error experiment);
        :meth:`revert_injected` undoes them.
        """
        if isinstance(viewer, TeacherSession):
            self._check_session(viewer)
            actor = "teacher"
        else:
            actor = f"student:{int(viewer)}"
        allowed = set(self.class_labels(viewer))
        clean = {}
        for image_id, label in labels.items():
            if label is not None:
                label = normalize_label(label)
                if label not in allowed:
                    raise StoreError("unknown_class", label)
            clean[int(image_id)] = label
        now = _now()
        with self._tx() as conn:
            for image_id, label in clean.items():
                row = self._label_target(conn, viewer, image_id)
                old, was_injected, before = row["label"], row["injected"], row["label_before_injection"]
                if old == label and not (was_injected and not injected):
                    continue
                if injected:
                    keep_before = before if was_injected else old
                    conn.execute(
                        "UPDATE images SET label = ?, injected = 1, label_before_injection = ? WHERE id = ?",
                        (label, keep_before, image_id),
                    )
                else:
                    conn.execute(
                        "UPDATE images SET label = ?, injected = 0, label_before_injection = NULL "
                        "WHERE id = ?",
                        (label, image_id),
                    )
                conn.execute(
                    "INSERT INTO label_events(image_id, old_label, new_label, actor, injected, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (image_id, old, label, actor, int(injected), now),
                )

    def set_label(
        self, viewer: int | TeacherSession, image_id: int, label: str | None, *, injected: bool = False
    ) -> ImageRecord:
        """Change one photo's label (``None`` removes it)."""
        self.set_labels(viewer, {image_id: label}, injected=injected)
        return self.image(viewer, image_id)

    def label_history(self, viewer: int | TeacherSession, image_id: int) -> list[LabelEvent]:
        """Every label change of a photo, oldest first."""
        self.image(viewer, image_id)
        rows = self._read(
            f"SELECT {LABEL_EVENT_COLUMNS} FROM label_events WHERE image_id = ? ORDER BY id", (image_id,)
        )
        return [label_event(r) for r in rows]

    def recent_label_events(self, viewer: int | TeacherSession, limit: int = 12) -> list[LabelEvent]:
        """The viewer's latest label changes over all their photos, newest first (one query)."""
        where, params = self._visible_clause(viewer)
        columns = ", ".join(f"e.{c.strip()} AS {c.strip()}" for c in LABEL_EVENT_COLUMNS.split(","))
        rows = self._read(
            f"SELECT {columns} FROM label_events e JOIN images i ON i.id = e.image_id "
            f"WHERE {where} ORDER BY e.at DESC, e.id DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [label_event(r) for r in rows]

    def inject_mislabels(
        self,
        viewer: int | TeacherSession,
        source_class: str,
        fraction: float,
        seed: int = 0,
        targets: Sequence[str] | None = None,
    ) -> list[int]:
        """Plant wrong labels on ``fraction`` of a class (flagged, revertible); returns the image ids."""
        items = self.list_images(viewer, status="ok", labelled=True)
        items = [r for r in items if not r.injected]
        if targets is None:
            targets = self.class_labels(viewer)  # any other class of the lesson, present or not
        targets = [normalize_label(t) for t in targets]
        changed, ids = splitting.inject_mislabels(
            items, normalize_label(source_class), fraction, seed, targets
        )
        new = {r.id: r.label for r in changed if r.id in set(ids)}
        self.set_labels(viewer, new, injected=True)
        return list(ids)

    def revert_injected(self, viewer: int | TeacherSession, image_ids: Sequence[int] | None = None) -> int:
        """Put back the true labels of planted mistakes; returns how many were fixed."""
        flagged = [r for r in self.list_images(viewer) if r.injected]
        if image_ids is not None:
            wanted = set(image_ids)
            flagged = [r for r in flagged if r.id in wanted]
        originals = (
            {
                r["id"]: r["label_before_injection"]
                for r in self._read(
                    "SELECT id, label_before_injection FROM images "
                    f"WHERE id IN ({','.join('?' * len(flagged))})",
                    [r.id for r in flagged],
                )
            }
            if flagged
            else {}
        )
        self.set_labels(viewer, {r.id: originals.get(r.id) for r in flagged})
        return len(flagged)
