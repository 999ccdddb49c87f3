"""Photos, sample faces and teachers' zips → face extraction → the store.

The web pages call these with a progress callback; nothing here draws anything. A photo
counts as received only once the store returned its record, so nothing is acknowledged
that a reload could lose.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edu_core import faces, models, photosets
from edu_core.errors import EduError, StoreError
from edu_core.store import NewImage

#: Faces found at once per batch (and MediaPipe graphs a server keeps in memory).
EXTRACT_WORKERS = 2
#: The largest photo file taken (the decoder's limit too); ``server.maxUploadSize`` is the larger
#: limit for a teacher's class zips and model files.
PHOTO_MAX_BYTES = 25 * 1024 * 1024

Progress = Callable[[int, int], None]
#: Store errors after which every later photo of a batch would fail the same way.
_FATAL = ("disk_full", "read_only")


def split_oversized(
    entries: Sequence[tuple[str, bytes]],
) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
    """The photos small enough to take, and ``(file name, "photo_too_large")`` for the rest.

    The server takes files up to the teachers' limit (class zips, models); a photo has its own,
    checked first so the student reads why, and the file is neither stored nor decoded.
    """
    too_big = [(name, "photo_too_large") for name, data in entries if len(data) > PHOTO_MAX_BYTES]
    return [(name, data) for name, data in entries if len(data) <= PHOTO_MAX_BYTES], too_big


def store_photos(
    db: Any,
    sid: int,
    entries: Sequence[tuple[str, bytes]],
    *,
    source: str,
    label: str | None = None,
    group: str | None = None,
    pool: faces.LandmarkerPool | None = None,
    progress: Progress | None = None,
) -> tuple[list, list[tuple[str, str]]]:
    """Find the faces in photos, then store every photo (rejected ones too, with their reason).

    ``group`` tags every photo of the batch, the rejected ones too (the gate's keep rate per
    group counts them); ``label`` goes only to photos whose face was accepted.

    Returns the stored records and the ``(file name, reason code)`` of each file the store
    refused (an empty file, say); one refused file never stops the rest of the batch. A full
    or read-only disk raises its ``StoreError``.
    """
    results = faces.extract_many(
        [data for _, data in entries], workers=EXTRACT_WORKERS, pool=pool, progress=progress
    )
    photos = [
        NewImage(data, name, source, res, group=group, label=label if res.ok else None)
        for (name, data), res in zip(entries, results, strict=True)
    ]
    try:
        # One transaction for the batch: its files are fsynced side by side and the class
        # queues once for the write lock instead of once per photo.
        return db.add_images(sid, photos), []
    except StoreError as exc:
        if exc.code in _FATAL:
            raise
    # One file spoiled the batch (an empty one, say): store them one by one to name it.
    stored, refused = [], []
    for photo in photos:
        try:
            stored += db.add_images(sid, [photo])
        except StoreError as exc:
            if exc.code in _FATAL:
                raise
            refused.append((photo.filename, exc.code))
    return stored, refused


def load_samples(
    db: Any,
    sid: int,
    per_class: int,
    *,
    pool: faces.LandmarkerPool | None = None,
    progress: Progress | None = None,
) -> photosets.ImportReport:
    """Put the ready-made sample faces, already labelled, into the workspace."""

    def extractor(blobs: Any) -> list:
        return faces.extract_many(list(blobs), workers=EXTRACT_WORKERS, pool=pool)

    return photosets.load_samples(db, sid, per_class, extractor=extractor, progress=progress)


def model_in_upload(name: str, data: bytes) -> bytes | None:
    """The checkpoint in a teacher's upload (``model.pt`` in a zip, or a bare ``.pt`` file).

    None for a zip without a model (a data set). Anything else raises ``EduError("bad_archive")``.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read("model.pt") if "model.pt" in zf.namelist() else None
    except zipfile.BadZipFile:
        if name.endswith(".pt"):
            return data
        raise EduError("bad_archive") from None


def import_model(db: Any, session: Any, name: str, model_bytes: bytes) -> Any:
    """Keep an uploaded checkpoint as one of the class's models, named after its file."""
    bundle = models.load_bundle(model_bytes)
    return db.add_model(
        session, name=Path(name).stem, kind=bundle.kind, labels=bundle.class_names, file_bytes=model_bytes
    )


def import_holder(db: Any, session: Any, holder: int | None, nickname: str) -> int:
    """The workspace that keeps a teacher's imported photos and shares them with the class pool.

    ``holder`` is the one used before (reused while it belongs to the session's class);
    otherwise a new one named ``nickname`` is made.
    """
    if holder is None or db.student(holder).class_id != session.class_id:
        holder = db.join(session.class_id, nickname).id
        db.set_pool_consent(holder, True)
    return holder


def import_dataset(
    db: Any,
    holder: int,
    data: bytes,
    *,
    pool: faces.LandmarkerPool | None = None,
    progress: Progress | None = None,
) -> photosets.ImportReport:
    """A data-set zip (:func:`photosets.export_zip`) into ``holder``'s workspace, faces found anew."""

    def extractor(blobs: Any, progress: Progress | None = None) -> list:
        return faces.extract_many(list(blobs), workers=EXTRACT_WORKERS, pool=pool, progress=progress)

    return photosets.import_zip(db, holder, data, extractor=extractor, progress=progress)
