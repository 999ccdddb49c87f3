"""Saved train/test splits of a viewer's photos."""

from __future__ import annotations

from collections.abc import Sequence

from edu_core import splitting
from edu_core.errors import StoreError
from edu_core.store.db import Forbidden, NotFound, StoreBase, _now
from edu_core.store.records import SavedSplit, TeacherSession


class SplitsMixin(StoreBase):
    """Making, saving and reading splits (a student's own, or the teacher's of the class pool)."""

    def save_split(
        self,
        viewer: int | TeacherSession,
        train_ids: Sequence[int],
        test_ids: Sequence[int],
        *,
        seed: int,
        test_ratio: float,
        by_person: bool = False,
    ) -> int:
        """Remember a train/test split; returns its id."""
        overlap = set(train_ids) & set(test_ids)
        if overlap:
            raise StoreError("split_overlap", str(sorted(overlap)[:5]))
        visible = {r.id for r in self.list_images(viewer)}
        if not set(train_ids) | set(test_ids) <= visible:
            raise Forbidden(detail="split names photos the viewer cannot see")
        class_id = self._class_of(viewer)
        student_id = None if isinstance(viewer, TeacherSession) else int(viewer)
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO splits(class_id, student_id, seed, test_ratio, by_person, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (class_id, student_id, seed, test_ratio, int(by_person), _now()),
            )
            split_id = int(cur.lastrowid)
            conn.executemany(
                "INSERT INTO split_items(split_id, image_id, part) VALUES (?, ?, ?)",
                [(split_id, i, "train") for i in train_ids] + [(split_id, i, "test") for i in test_ids],
            )
        return split_id

    def make_split(
        self, viewer: int | TeacherSession, *, test_ratio: float = 0.2, seed: int = 0, by_person: bool = False
    ) -> SavedSplit:
        """Split the viewer's accepted, labelled photos (stratified, or by person) and save it."""
        items = (
            self.pool(viewer)
            if isinstance(viewer, TeacherSession)
            else self.list_images(viewer, status="ok", labelled=True)
        )
        fn = splitting.split_by_person if by_person else splitting.split_stratified
        split = fn(items, test_ratio=test_ratio, seed=seed)
        split_id = self.save_split(
            viewer, split.train_ids, split.test_ids, seed=seed, test_ratio=test_ratio, by_person=by_person
        )
        return self.get_split(viewer, split_id)

    def get_split(self, viewer: int | TeacherSession, split_id: int) -> SavedSplit:
        """A saved split (photos deleted since then are simply gone from it)."""
        class_id = self._class_of(viewer)
        rows = self._read(
            "SELECT id, class_id, student_id, seed, test_ratio, by_person, created_at "
            "FROM splits WHERE id = ?",
            (split_id,),
        )
        if not rows:
            raise NotFound(detail=f"split {split_id}")
        row = rows[0]
        if row["class_id"] != class_id or (
            not isinstance(viewer, TeacherSession) and row["student_id"] != int(viewer)
        ):
            raise Forbidden(detail=f"split {split_id}")
        items = self._read(
            "SELECT image_id, part FROM split_items WHERE split_id = ? ORDER BY image_id", (split_id,)
        )
        return SavedSplit(
            id=split_id,
            seed=row["seed"],
            test_ratio=row["test_ratio"],
            by_person=bool(row["by_person"]),
            train_ids=tuple(r["image_id"] for r in items if r["part"] == "train"),
            test_ids=tuple(r["image_id"] for r in items if r["part"] == "test"),
            created_at=row["created_at"],
        )

    def list_splits(self, viewer: int | TeacherSession) -> list[SavedSplit]:
        """The viewer's saved splits, oldest first."""
        class_id = self._class_of(viewer)
        if isinstance(viewer, TeacherSession):
            rows = self._read(
                "SELECT id FROM splits WHERE class_id = ? AND student_id IS NULL ORDER BY id", (class_id,)
            )
        else:
            rows = self._read("SELECT id FROM splits WHERE student_id = ? ORDER BY id", (int(viewer),))
        return [self.get_split(viewer, r["id"]) for r in rows]
