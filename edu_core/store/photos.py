"""Photos and their face data: adding, who sees which, kept rejects, counts and the stored faces."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from edu_core import facecodec, splitting
from edu_core.errors import StoreError
from edu_core.faces import FaceResult
from edu_core.store.blobs import BlobsMixin, _sniff_ext
from edu_core.store.db import Forbidden, NotFound, _now
from edu_core.store.labels import normalize_group, normalize_label
from edu_core.store.records import (
    IMAGE_COLUMNS,
    IMAGE_FROM,
    IMAGE_STATUS,
    SOURCES,
    ImageRecord,
    NewImage,
    Source,
    TeacherSession,
    image_record,
)

_FACE_FIELDS = (
    "status, reason, detail, image_size, box, crop_box, crop_sha, landmarks, blendshapes, pose, quality"
)
_FACE_COLUMNS = ", ".join(f"f.{c} AS {c}" for c in _FACE_FIELDS.split(", "))
# The same columns where a kept photo's own cut replaces the gate's (its reason stays).
_KEPT_FACE_COLUMNS = (
    f"{IMAGE_STATUS} AS status, f.reason AS reason, COALESCE(k.detail, f.detail) AS detail, "
    "f.image_size AS image_size, COALESCE(k.box, f.box) AS box, "
    "COALESCE(k.crop_box, f.crop_box) AS crop_box, "
    "COALESCE(k.crop_sha, f.crop_sha) AS crop_sha, "
    "CASE WHEN k.image_id IS NULL THEN f.landmarks ELSE k.landmarks END AS landmarks, "
    "COALESCE(k.blendshapes, f.blendshapes) AS blendshapes, "
    "CASE WHEN k.image_id IS NULL THEN f.pose ELSE k.pose END AS pose, "
    "COALESCE(k.quality, f.quality) AS quality"
)
_KEPT_FACE_FROM = "images i JOIN faces f ON f.sha = i.sha LEFT JOIN kept_faces k ON k.image_id = i.id"


# The cut face's columns, shared by ``faces`` and ``kept_faces`` (status, reason and the photo's
# size belong to the photo, so only ``faces`` has them).
_CUT_COLUMNS = ("detail", "box", "crop_box", "landmarks", "blendshapes", "pose", "quality")


def _face_values(face: FaceResult) -> dict[str, Any]:
    """The cut face's columns (shared by ``faces`` and ``kept_faces``) as stored."""
    columns = facecodec.to_columns(face)
    return {name: columns[name] for name in _CUT_COLUMNS}


class PhotosMixin(BlobsMixin):
    """Adding photos, listing what a viewer may see, and the face data stored with them."""

    def add_image(
        self,
        student_id: int,
        data: bytes,
        *,
        filename: str,
        source: Source,
        face: FaceResult,
        person: str | None = None,
        group: str | None = None,
        label: str | None = None,
        face_version: str = "",
    ) -> ImageRecord:
        """Store a photo and its extraction result; returns only once both are durable.

        The same bytes added again by the same student return the existing record.
        ``face_version`` names the extraction settings: a cached result with another
        version is replaced.
        """
        photo = NewImage(data, filename, source, face, person, group, label, face_version)
        return self.add_images(student_id, [photo])[0]

    def add_images(self, student_id: int, photos: Sequence[NewImage]) -> list[ImageRecord]:
        """Store many photos of one student in one transaction (imports, samples).

        Files are written and fsynced in parallel first, then every row is committed at
        once; nothing is acknowledged before that commit.
        """
        student = self.student(student_id)
        labels = self.get_class(student.class_id).labels
        prepared = []
        files: dict[tuple[str, str], bytes] = {}
        for p in photos:
            if p.source not in SOURCES:
                raise ValueError(f"source must be one of {SOURCES}, got {p.source!r}")
            if not p.data:
                raise StoreError("empty_file", p.filename)
            label = None
            if p.label is not None:
                label = normalize_label(p.label)
                if label not in labels:
                    raise StoreError("unknown_class", label)
            sha = hashlib.sha256(p.data).hexdigest()
            ext = _sniff_ext(p.data)
            crop_bytes = facecodec.encode_crop(p.face.crop) if p.face.crop is not None else None
            crop_sha = hashlib.sha256(crop_bytes).hexdigest() if crop_bytes is not None else None
            files[(sha, ext)] = p.data
            if crop_bytes is not None and crop_sha is not None:
                files[(crop_sha, "png")] = crop_bytes
            prepared.append((p, label, sha, ext, crop_bytes, crop_sha))
        # The slow part (writing and fsyncing files) happens before taking the lock.
        self._write_files(files)
        now = _now()
        ids: list[int] = []
        with self._tx() as conn:
            crops: set[str] = set()
            for p, label, sha, ext, crop_bytes, crop_sha in prepared:
                existing = conn.execute(
                    "SELECT id FROM images WHERE student_id = ? AND sha = ?", (student_id, sha)
                ).fetchone()
                if crop_bytes is not None and crop_sha is not None:
                    self._ensure_blob(conn, crop_sha, "png", crop_bytes)
                    crops.add(crop_sha)
                if existing is not None:
                    ids.append(int(existing["id"]))
                    continue
                ext = self._ensure_blob(conn, sha, ext, p.data)
                self._put_face(conn, sha, p.face, crop_sha, p.face_version, keep=p.source == "sample")
                cur = conn.execute(
                    "INSERT INTO images(student_id, class_id, sha, filename, source, person, grp, label, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        student_id,
                        student.class_id,
                        sha,
                        p.filename[:200],
                        p.source,
                        p.person,
                        normalize_group(p.group),
                        label,
                        now,
                    ),
                )
                image_id = int(cur.lastrowid)
                ids.append(image_id)
                if label is not None:
                    conn.execute(
                        "INSERT INTO label_events(image_id, old_label, new_label, actor, at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (image_id, None, label, f"student:{student_id}", now),
                    )
            # A crop written for nothing (duplicate upload, or an older crop replaced) is queued here.
            self._collect(conn, crops)
            queued = conn.execute("SELECT EXISTS (SELECT 1 FROM trash)").fetchone()[0]
        if queued:
            self.empty_trash()
        found = {r.id: r for r in self._images_by_id(ids)}
        return [found[i] for i in ids]

    def _images_by_id(self, ids: Sequence[int]) -> list[ImageRecord]:
        out: list[ImageRecord] = []
        unique = sorted(set(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self._read(
                f"SELECT {IMAGE_COLUMNS} FROM {IMAGE_FROM} WHERE i.id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            out.extend(image_record(r) for r in rows)
        return out

    def _put_face(
        self,
        conn: sqlite3.Connection,
        sha: str,
        face: FaceResult,
        crop_sha: str | None,
        version: str,
        keep: bool,
    ) -> None:
        """Store (or refresh, when made with other settings) the extraction result for these bytes."""
        row = conn.execute("SELECT version, crop_sha FROM faces WHERE sha = ?", (sha,)).fetchone()
        if row is not None and row["version"] == version:
            if keep:
                conn.execute("UPDATE faces SET keep = 1 WHERE sha = ?", (sha,))
            return
        columns = facecodec.to_columns(face)
        values = {
            "version": version,
            "status": columns["status"],
            "reason": columns["reason"],
            "image_size": columns["image_size"],
            "crop_sha": crop_sha,
            **{name: columns[name] for name in _CUT_COLUMNS},
        }
        if row is None:
            names = [*values, "sha", "keep", "created_at"]
            conn.execute(
                f"INSERT INTO faces({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                (*values.values(), sha, int(keep), _now()),
            )
        else:
            conn.execute(
                f"UPDATE faces SET {', '.join(f'{k} = ?' for k in values)}, keep = MAX(keep, ?) "
                "WHERE sha = ?",
                (*values.values(), int(keep), sha),
            )
            if row["crop_sha"] and row["crop_sha"] != crop_sha:
                self._collect(conn, {row["crop_sha"]})

    def _visible_clause(self, viewer: int | TeacherSession) -> tuple[str, list[Any]]:
        """SQL condition (and params) for the images this viewer may see."""
        if isinstance(viewer, TeacherSession):
            class_id = self._check_session(viewer)
            # Teachers see a student's photos only when that student agreed to share them.
            return (
                "i.class_id = ? AND i.student_id IN "
                "(SELECT id FROM students WHERE class_id = ? AND pool_consent = 1)",
                [class_id, class_id],
            )
        self.student(int(viewer))
        return "i.student_id = ?", [int(viewer)]

    def image(self, viewer: int | TeacherSession, image_id: int) -> ImageRecord:
        """One photo's record, if the viewer may see it (``forbidden`` otherwise)."""
        where, params = self._visible_clause(viewer)
        rows = self._read(
            f"SELECT {IMAGE_COLUMNS} FROM {IMAGE_FROM} WHERE i.id = ? AND {where}", [image_id, *params]
        )
        if rows:
            return image_record(rows[0])
        if self._read("SELECT 1 FROM images WHERE id = ?", (image_id,)):
            raise Forbidden(detail=f"image {image_id}")
        raise NotFound(detail=f"image {image_id}")

    def list_images(
        self,
        viewer: int | TeacherSession,
        *,
        label: str | None = None,
        status: str | None = None,
        source: str | None = None,
        labelled: bool | None = None,
        student_id: int | None = None,
    ) -> list[ImageRecord]:
        """Photos the viewer may see, oldest first, optionally filtered.

        A student sees their own; a teacher session sees the class pool (photos of
        students who agreed to share), optionally narrowed to one ``student_id``.
        """
        where, params = self._visible_clause(viewer)
        conds = [where]
        if label is not None:
            conds.append("i.label = ?")
            params.append(normalize_label(label))
        if status is not None:
            conds.append(f"{IMAGE_STATUS} = ?")
            params.append(status)
        if source is not None:
            conds.append("i.source = ?")
            params.append(source)
        if labelled is not None:
            conds.append("i.label IS NOT NULL" if labelled else "i.label IS NULL")
        if student_id is not None:
            conds.append("i.student_id = ?")
            params.append(student_id)
        rows = self._read(
            f"SELECT {IMAGE_COLUMNS} FROM {IMAGE_FROM} WHERE {' AND '.join(conds)} ORDER BY i.id", params
        )
        return [image_record(r) for r in rows]

    def pool(self, session: TeacherSession) -> list[ImageRecord]:
        """The class data set: labelled, accepted photos of every student who agreed to share.

        A photo the gate rejected and its student kept joins only once the teacher accepted it.
        """
        return [
            r for r in self.list_images(session, status="ok", labelled=True) if r.kept_accepted or not r.kept
        ]

    def keep_rejected(self, student_id: int, image_id: int, face: FaceResult) -> ImageRecord:
        """Keep a rejected photo the student says is fine, with the face cut for it (see edu_core.kept)."""
        rec = self.image(student_id, image_id)
        if rec.kept:
            return rec
        if face.status != "ok" or face.crop is None:
            raise ValueError("a kept photo needs a cut face")
        crop_bytes = facecodec.encode_crop(face.crop)
        crop_sha = hashlib.sha256(crop_bytes).hexdigest()
        self._write_files({(crop_sha, "png"): crop_bytes})
        values = {"image_id": rec.id, "crop_sha": crop_sha, **_face_values(face), "created_at": _now()}
        with self._tx() as conn:
            self._ensure_blob(conn, crop_sha, "png", crop_bytes)
            conn.execute(
                f"INSERT OR IGNORE INTO kept_faces({', '.join(values)}) "
                f"VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
        return self.image(student_id, image_id)

    def kept_summary(self, session: TeacherSession) -> dict[str, dict[str, int]]:
        """Per rejection reason: photos students kept anyway, and how many the teacher accepted.

        Counts only (every student, sharing or not): how often each rule of the gate was overruled.
        """
        class_id = self._check_session(session)
        rows = self._read(
            "SELECT COALESCE(f.reason, 'unknown') AS reason, COUNT(*) AS n, SUM(k.accepted) AS accepted "
            "FROM kept_faces k JOIN images i ON i.id = k.image_id LEFT JOIN faces f ON f.sha = i.sha "
            "WHERE i.class_id = ? GROUP BY 1 ORDER BY 2 DESC",
            (class_id,),
        )
        return {r["reason"]: {"kept": r["n"], "accepted": int(r["accepted"] or 0)} for r in rows}

    def accept_kept(self, session: TeacherSession) -> int:
        """The teacher lets every kept photo of the class into the class pool; returns how many."""
        class_id = self._check_session(session)
        with self._tx() as conn:
            return conn.execute(
                "UPDATE kept_faces SET accepted = 1 WHERE accepted = 0 AND image_id IN "
                "(SELECT id FROM images WHERE class_id = ?)",
                (class_id,),
            ).rowcount

    def counts(self, viewer: int | TeacherSession) -> dict[str, int]:
        """Accepted, labelled photos per class for the viewer, in chart order."""
        items = self.list_images(viewer, status="ok", labelled=True)
        return splitting.class_counts(items, self.class_labels(viewer))

    def class_summary(self, session: TeacherSession) -> dict[str, Any]:
        """Numbers only (no photos) for the teacher's dashboard, across all students."""
        class_id = self._check_session(session)
        labels = self.get_class(class_id).labels
        rows = self._read(
            "SELECT i.label AS label, COUNT(*) AS n FROM images i JOIN faces f ON f.sha = i.sha "
            "WHERE i.class_id = ? AND f.status = 'ok' AND i.label IS NOT NULL GROUP BY i.label",
            (class_id,),
        )
        per_label = {r["label"]: r["n"] for r in rows}
        totals = self._read(
            "SELECT COUNT(*) AS images, COUNT(DISTINCT i.student_id) AS students, "
            "COALESCE(SUM(f.status = 'ok'), 0) AS accepted, "
            "COALESCE(SUM(f.status = 'ok' AND i.label IS NOT NULL), 0) AS accepted_labelled "
            "FROM images i LEFT JOIN faces f ON f.sha = i.sha WHERE i.class_id = ?",
            (class_id,),
        )[0]
        students = self._read(
            "SELECT COUNT(*) AS n, SUM(pool_consent) AS sharing FROM students WHERE class_id = ?", (class_id,)
        )[0]
        return {
            "class_id": class_id,
            "images": totals["images"],
            # the chart counts accepted, labelled photos only: the dashboard says so in numbers
            "accepted": totals["accepted"],
            "rejected": totals["images"] - totals["accepted"],
            "accepted_labelled": totals["accepted_labelled"],
            "students_with_images": totals["students"],
            "students": students["n"],
            "students_sharing": students["sharing"] or 0,
            "counts": {c: per_label.get(c, 0) for c in labels},
        }

    def original_bytes(self, viewer: int | TeacherSession, image_id: int) -> bytes:
        """The photo exactly as uploaded."""
        rec = self.image(viewer, image_id)
        return self._blob_bytes(rec.sha, rec.ext)

    def crop_bytes(self, viewer: int | TeacherSession, image_id: int) -> bytes | None:
        """The 256 px face crop as PNG bytes (``None`` for rejected photos)."""
        rec = self.image(viewer, image_id)
        return None if rec.crop_sha is None else self._blob_bytes(rec.crop_sha, "png")

    def _face_from_row(self, row: sqlite3.Row, *, crop: bool = True) -> FaceResult:
        crop_sha = row["crop_sha"]
        pixels = facecodec.decode_crop(self._blob_bytes(crop_sha, "png")) if crop and crop_sha else None
        return facecodec.from_columns(dict(row), crop=pixels)

    def face(self, image_id: int, viewer: int | TeacherSession) -> FaceResult:
        """Rebuild the extraction result of a photo (crop decoded back to an array)."""
        self.image(viewer, image_id)
        rows = self._read(f"SELECT {_KEPT_FACE_COLUMNS} FROM {_KEPT_FACE_FROM} WHERE i.id = ?", (image_id,))
        if not rows:
            raise NotFound(detail=f"face of image {image_id}")
        return self._face_from_row(rows[0])

    def faces(
        self, viewer: int | TeacherSession, image_ids: Sequence[int], *, crops: bool = True
    ) -> list[FaceResult]:
        """:meth:`face` for many photos in one query (for training).

        ``crops=False`` leaves ``crop`` as None: the pieces model reads only landmarks and
        expression scores, and decoding every crop was most of the cost of starting it.
        """
        where, params = self._visible_clause(viewer)
        found: dict[int, FaceResult] = {}
        ids = list(image_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._read(
                f"SELECT i.id AS image_id, {_KEPT_FACE_COLUMNS} FROM {_KEPT_FACE_FROM} "
                f"WHERE i.id IN ({','.join('?' * len(chunk))}) AND {where}",
                [*chunk, *params],
            )
            for row in rows:
                found[row["image_id"]] = self._face_from_row(row, crop=crops)
        missing = [i for i in ids if i not in found]
        if missing:
            raise Forbidden(detail=f"images {missing[:5]}")
        return [found[i] for i in ids]

    def cached_face(self, sha: str, version: str = "") -> FaceResult | None:
        """A stored extraction result for these file bytes, if any (the samples' cache)."""
        rows = self._read(
            f"SELECT {_FACE_COLUMNS} FROM faces f WHERE f.sha = ? AND f.version = ?", (sha, version)
        )
        if not rows:
            return None
        try:
            return self._face_from_row(rows[0])
        except NotFound:
            return None
