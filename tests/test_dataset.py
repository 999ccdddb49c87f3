"""Data-set operations: split invariants (property tests), sampling, mislabels, zip/folder import."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edu_core import archive, dataset, photosets
from edu_core.dataset import (
    BalanceRule,
    Item,
    class_counts,
    imbalance_warning,
    inject_mislabels,
    make_imbalanced,
    sample_per_class,
    split_by_person,
    split_stratified,
)
from edu_core.errors import StoreError
from edu_core.faces import FaceResult
from edu_core.labels import LESSON_CLASSES
from edu_core.store import Store, StoreConfig

CLASSES = list(LESSON_CLASSES)


def make_items(sizes: dict[str, int], people: int | None = None, seed: int = 0) -> list[Item]:
    rng = random.Random(seed)
    items = []
    for cls, n in sizes.items():
        for k in range(n):
            person = f"p{rng.randrange(people)}" if people else None
            items.append(Item(f"{cls}-{k}", cls, person))
    return items


sizes_strategy = st.dictionaries(st.sampled_from(CLASSES), st.integers(min_value=1, max_value=40), min_size=1)
ratio_strategy = st.sampled_from([0.1, 0.2, 0.25, 0.3, 0.5])


@settings(max_examples=60, deadline=None)
@given(sizes=sizes_strategy, ratio=ratio_strategy, seed=st.integers(0, 10_000))
def test_stratified_split_invariants(sizes: dict[str, int], ratio: float, seed: int) -> None:
    items = make_items(sizes)
    split = split_stratified(items, test_ratio=ratio, seed=seed)
    train, test = set(split.train_ids), set(split.test_ids)
    assert not train & test
    assert train | test == {it.id for it in items}
    test_per_class = Counter(r.label for r in split.test)
    for cls, n in sizes.items():
        # stratified within one image (floor or ceil of its share), and never the whole class
        got = test_per_class.get(cls, 0)
        assert math.floor(n * ratio) <= got <= min(math.ceil(n * ratio), n - 1)
    if all(n >= 2 for n in sizes.values()):
        assert len(test) == round(len(items) * ratio)
    # same seed → same split, whatever the input order
    shuffled = list(items)
    random.Random(seed + 1).shuffle(shuffled)
    again = split_stratified(shuffled, test_ratio=ratio, seed=seed)
    assert set(again.test_ids) == test


def test_lesson_split_40_images_is_32_8() -> None:
    items = make_items({c: 8 for c in CLASSES})
    split = split_stratified(items, test_ratio=0.2, seed=3)
    assert (len(split.train), len(split.test)) == (32, 8)
    two = make_items({"joy": 20, "anger": 20})
    split = split_stratified(two, 0.2, seed=1)
    assert Counter(r.label for r in split.test) == {"joy": 4, "anger": 4}


def test_different_seeds_give_different_splits() -> None:
    items = make_items({c: 12 for c in CLASSES})
    tests = {tuple(split_stratified(items, 0.2, seed=s).test_ids) for s in range(5)}
    assert len(tests) > 1


@settings(max_examples=60, deadline=None)
@given(
    sizes=sizes_strategy,
    people=st.integers(min_value=2, max_value=12),
    ratio=ratio_strategy,
    seed=st.integers(0, 10_000),
)
# once split differently when the same photos came in reverse order (a float tie in the cost)
@example(
    sizes={"joy": 7, "sadness": 3, "surprise": 10, "anger": 7, "neutral": 1}, people=4, ratio=0.3, seed=9529
)
def test_person_split_never_leaks_an_identity(
    sizes: dict[str, int], people: int, ratio: float, seed: int
) -> None:
    items = make_items(sizes, people=people, seed=seed)
    split = split_by_person(items, test_ratio=ratio, seed=seed)
    train_people = {r.person for r in split.train}
    test_people = {r.person for r in split.test}
    assert not train_people & test_people
    assert not set(split.train_ids) & set(split.test_ids)
    assert set(split.train_ids) | set(split.test_ids) == {it.id for it in items}
    assert split.train  # something is always left to learn from
    assert split_by_person(list(reversed(items)), ratio, seed).test_ids == split.test_ids


def test_person_split_comes_close_to_the_ratio() -> None:
    items = make_items({c: 30 for c in CLASSES}, people=30, seed=2)
    split = split_by_person(items, 0.2, seed=0)
    assert abs(len(split.test) - 30) <= 10
    assert split.by_person


def test_sample_per_class_and_imbalance() -> None:
    items = make_items({c: 60 for c in CLASSES})
    twenty = sample_per_class(items, 20, seed=1)
    assert class_counts(twenty, CLASSES) == {c: 20 for c in CLASSES}
    assert sample_per_class(items, 20, seed=1) == twenty
    assert sample_per_class(items, 20, seed=2) != twenty
    assert class_counts(sample_per_class(items, 80)) == {c: 60 for c in sorted(CLASSES)}
    uneven = sample_per_class(items, {"joy": 40, "sadness": 20}, seed=0)
    assert class_counts(uneven) == {"joy": 40, "sadness": 20}
    cut = make_imbalanced(sample_per_class(items, 40), {"sadness": 20})
    assert class_counts(cut, CLASSES) == {
        "joy": 40,
        "sadness": 20,
        "surprise": 40,
        "anger": 40,
        "neutral": 40,
    }
    with pytest.raises(ValueError):
        sample_per_class(items, {"joy": -1})


def test_inject_mislabels_flags_exactly_the_changed_items() -> None:
    items = make_items({c: 20 for c in CLASSES})
    changed, flagged = inject_mislabels(items, "anger", 0.25, seed=4)
    assert len(flagged) == 5
    by_id = {r.id: r for r in changed}
    for r in items:
        if r.id in flagged:
            assert r.label == "anger" and by_id[r.id].label != "anger"
        else:
            assert by_id[r.id].label == r.label
    assert inject_mislabels(items, "anger", 0.25, seed=4)[1] == flagged
    _, only_joy = inject_mislabels(items, "anger", 1.0, seed=0, targets=["joy"])
    assert len(only_joy) == 20
    with pytest.raises(ValueError):
        inject_mislabels(items, "anger", 1.5)


def test_imbalance_warning_rule() -> None:
    assert imbalance_warning({"joy": 20, "sadness": 20}) is None
    assert imbalance_warning({"joy": 40, "sadness": 20}) == "imbalanced"
    assert imbalance_warning({"joy": 20, "sadness": 0}) == "empty_class"
    assert imbalance_warning({"joy": 3, "sadness": 3}) == "too_few_images"
    assert imbalance_warning({"joy": 40, "sadness": 20}, BalanceRule(max_ratio=2.0)) is None
    assert imbalance_warning({}) == "empty_class"


# --------------------------------------------------------------------------- store-backed helpers


def fake_face(data: bytes) -> FaceResult:
    """A FaceResult derived from the bytes, standing in for MediaPipe in these tests."""
    seed = int.from_bytes(data[-8:], "little")
    rng = np.random.default_rng(seed)
    return FaceResult(
        status="ok",
        crop=rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        landmarks=rng.random((478, 3), dtype=np.float32),
        blendshapes={"mouthSmileLeft": float(rng.random())},
        pose=(0.0, 1.0, 2.0),
    )


class CountingExtractor:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, blobs, progress=None):
        self.calls += len(blobs)
        return [fake_face(b) for b in blobs]


def jpeg_bytes(k: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + k.to_bytes(8, "little") * 8


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data", StoreConfig(scrypt_n=2**10))


def test_zip_round_trip_keeps_labels_split_and_checksums(store: Store, tmp_path: Path, capsys) -> None:
    klass, _ = store.create_class("zip", "1234")
    a = store.join(klass.id, "a")
    for k in range(20):
        store.add_image(
            a.id, jpeg_bytes(k), filename=f"사진{k}.jpg", source="upload",
            face=fake_face(jpeg_bytes(k)), label=CLASSES[k % 5], person=f"p{k % 4}",
        )  # fmt: skip
    split = store.make_split(a.id, test_ratio=0.2, seed=0)
    out = tmp_path / "set.zip"
    data = photosets.export_zip(store, a.id, out, split_id=split.id)
    assert out.read_bytes() == data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(zf.read("labels.csv").decode())))
    assert manifest["classes"] == CLASSES and manifest["class_names"]["joy"] == "기쁨"
    assert manifest["count"] == 20 and manifest["split"]["seed"] == 0
    assert Counter(r["split"] for r in rows) == {"train": 16, "test": 4}

    b = store.join(klass.id, "b")
    extractor = CountingExtractor()
    report = photosets.import_zip(store, b.id, out, extractor=extractor)
    assert len(report.image_ids) == 20 and report.counts == {c: 4 for c in sorted(CLASSES)}
    assert extractor.calls == 20  # "custom" results are never mixed with other versions' cache
    again = store.get_split(b.id, report.split_id)
    originals = {store.image(a.id, i).sha: "test" for i in split.test_ids}
    assert {store.image(b.id, i).sha for i in again.test_ids} == set(originals)
    assert {r.person for r in store.list_images(b.id)} == {"p0", "p1", "p2", "p3"}
    # The dataset CLI verifies the zip and shows what a split would give.
    assert dataset.main(["--json", "inspect", str(out)]) == 0
    inspected = json.loads(capsys.readouterr().out)
    assert (
        inspected["checksums"] == "ok"
        and inspected["count"] == 20
        and inspected["warning"] == "too_few_images"
    )
    assert dataset.main(["--json", "split", str(out), "--by-person", "--seed", "1"]) == 0
    tried = json.loads(capsys.readouterr().out)
    assert tried["n_train"] + tried["n_test"] == 20 and tried["by_person"]
    # Re-importing into the same workspace does not duplicate photos, and reuses cached faces.
    report2 = photosets.import_zip(store, b.id, out, extractor=extractor, keep_split=False)
    assert sorted(report2.image_ids) == sorted(report.image_ids)
    assert extractor.calls == 20


def test_tampered_zip_is_refused(store: Store, tmp_path: Path) -> None:
    klass, _ = store.create_class("zip", "1234")
    a = store.join(klass.id, "a")
    store.add_image(
        a.id, jpeg_bytes(1), filename="x.jpg", source="upload", face=fake_face(jpeg_bytes(1)), label="joy"
    )
    data = photosets.export_zip(store, a.id)
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info.filename, body + b"x" if info.filename.startswith("images/") else body)
    with pytest.raises(StoreError) as err:
        photosets.import_zip(store, a.id, buf.getvalue(), extractor=CountingExtractor())
    assert err.value.code == "bad_checksum"
    with pytest.raises(StoreError) as err:
        photosets.import_zip(store, a.id, b"not a zip", extractor=CountingExtractor())
    assert err.value.code == "bad_archive"


def test_import_folder_with_korean_and_english_names(store: Store, tmp_path: Path) -> None:
    klass, _ = store.create_class("folder", "1234")
    a = store.join(klass.id, "a")
    root = tmp_path / "photos"
    for k, folder in enumerate(["기쁨", "Sadness", "놀람", "angry", "무표정", "강아지"]):
        (root / folder).mkdir(parents=True)
        (root / folder / f"{k}.jpg").write_bytes(jpeg_bytes(100 + k))
    (root / "기쁨" / "notes.txt").write_text("hi")
    (root / "기쁨" / "empty.jpg").write_bytes(b"")  # refused by the store: must not stop the import
    report = photosets.import_folder(store, a.id, root, extractor=CountingExtractor())
    assert report.counts == {c: 1 for c in sorted(CLASSES)}
    assert ("empty.jpg", "empty_file") in report.skipped
    assert ("강아지/", "unknown_class") in report.skipped
    assert any(reason == "unsupported_format" for _, reason in report.skipped)
    assert store.counts(a.id) == {c: 1 for c in CLASSES}


def _write_samples(folder: Path, per_class: int) -> None:
    rows = []
    for cls in CLASSES:
        (folder / cls).mkdir(parents=True)
        for k in range(per_class + 1):
            name = f"{cls}/{cls}_{k:03d}.jpg"
            (folder / name).write_bytes(jpeg_bytes(1000 * CLASSES.index(cls) + k))
            reason = "occluded_mouth" if k == per_class else ""
            rows.append([name, cls, f"id{k % 5}", "teen", "f", "1", "plain", "", reason, "train"])
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "class", "identity", "age_group", "gender", "intensity", "background", "occluder",
                    "expected_reason", "split"])  # fmt: skip
        w.writerows(rows)


def test_load_samples_uses_the_cache_for_the_second_class(store: Store, tmp_path: Path) -> None:
    _write_samples(tmp_path / "samples", per_class=6)
    extractor = CountingExtractor()
    k1, _ = store.create_class("one", "1234")
    s1 = store.join(k1.id, "a")
    seen = []
    report = photosets.load_samples(
        store, s1.id, per_class=4, sample_dir=tmp_path / "samples", extractor=extractor,
        progress=lambda d, t: seen.append((d, t)),
    )  # fmt: skip
    assert report.counts == {c: 4 for c in CLASSES}
    assert extractor.calls == 20
    assert seen[-1] == (20, 20)  # counted in photos: 20 loaded, not "40/40" for extracting + storing
    assert all(t == 20 for _, t in seen)
    assert {r.source for r in store.list_images(s1.id)} == {"sample"}
    assert all(r.person for r in store.list_images(s1.id))
    k2, _ = store.create_class("two", "1234")
    s2 = store.join(k2.id, "b")
    photosets.load_samples(store, s2.id, per_class=4, sample_dir=tmp_path / "samples", extractor=extractor)
    assert extractor.calls == 20  # nothing extracted twice
    # An extractor without a progress keyword works too; an explicit tag shares the cache.
    s3 = store.join(k2.id, "c")
    tag = photosets.face_version(extractor)
    report3 = photosets.load_samples(
        store, s3.id, per_class=6, sample_dir=tmp_path / "samples",
        extractor=lambda blobs: [fake_face(b) for b in blobs], face_version=tag,
        include_rejects=True, rejects_per_reason=5,
    )  # fmt: skip
    assert report3.counts == {c: 6 for c in CLASSES}
    assert len(store.list_images(s3.id)) == 35  # 30 good ones + one photo per class meant to be refused
    # Sample face data survives a class wipe so the next lesson stays fast.
    shas = {r.sha for r in store.list_images(s1.id)}
    store.delete_student_photos(s1.id)
    store.delete_student_photos(s2.id)
    assert store.list_images(s1.id) == []
    assert all(store.cached_face(sha, photosets.face_version(extractor)) is not None for sha in shas)
    assert store.check(grace_s=0).ok


def test_committed_sample_images_are_well_formed() -> None:
    csv_path = dataset.SAMPLE_DIR / "labels.csv"
    if not csv_path.is_file():
        pytest.skip("sample_images/ is generated by another issue")
    rows = photosets.sample_rows(per_class=20)
    counts = Counter(r["class"] for r in rows)
    assert all(counts[c] == 20 for c in CLASSES), counts
    train60 = photosets.sample_rows(per_class=60, split="train")
    assert Counter(r["class"] for r in train60) == {c: 60 for c in CLASSES}
    with_rejects = photosets.sample_rows(per_class=20, include_rejects=True)
    reasons = Counter(r["expected_reason"] for r in with_rejects if r["expected_reason"])
    assert len(with_rejects) == 100 + len(reasons) and set(reasons.values()) == {1}
    for r in rows:
        assert (dataset.SAMPLE_DIR / r["file"]).is_file() or (
            dataset.SAMPLE_DIR / r["class"] / Path(r["file"]).name
        ).is_file()


def test_split_test_counts_total_matches_ratio() -> None:
    counts = dataset.split_test_counts({"joy": 7, "anger": 9, "sadness": 11}, 0.3, random.Random(0))
    assert sum(counts.values()) == round(27 * 0.3)
    for cls, n in {"joy": 7, "anger": 9, "sadness": 11}.items():
        assert counts[cls] in (math.floor(n * 0.3), math.ceil(n * 0.3))


def test_load_samples_with_real_face_extraction(store: Store, tmp_path: Path, monkeypatch) -> None:
    """Painted sample faces through MediaPipe, stored, rebuilt; the second load hits the cache."""
    from edu_core import faces, samples

    rng = np.random.default_rng(5)
    folder = tmp_path / "painted"
    rows = []
    pair = ["joy", "anger"]  # two classes keep MediaPipe's share of the test time small
    for cls in pair:
        (folder / cls).mkdir(parents=True)
        rgb = samples.render(samples.random_spec(rng, cls), size=(480, 360)).rgb
        (folder / cls / "0.jpg").write_bytes(samples.encode_jpeg(rgb))
        rows.append({"file": f"{cls}/0.jpg", "class": cls, "identity": f"id-{cls}", "expected_reason": ""})
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    klass, _ = store.create_class("real", "1234", labels=pair)
    a = store.join(klass.id, "a")
    report = photosets.load_samples(store, a.id, per_class=1, sample_dir=folder)
    assert report.counts == {c: 1 for c in pair}
    fresh = faces.extract((folder / "joy" / "0.jpg").read_bytes())
    rec = store.list_images(a.id, label="joy")[0]
    stored = store.face(rec.id, a.id)
    assert stored.status == fresh.status
    if fresh.ok:
        assert np.array_equal(stored.crop, fresh.crop)
        assert stored.landmarks.shape == (478, 3) and stored.landmarks.dtype == np.float32
        assert len(stored.blendshapes) == len(fresh.blendshapes)

    def no_mediapipe(*args, **kwargs):
        raise AssertionError("extraction should come from the cache")

    monkeypatch.setattr(faces, "extract_many", no_mediapipe)
    b = store.join(klass.id, "b")
    again = photosets.load_samples(store, b.id, per_class=1, sample_dir=folder)
    assert again.counts == report.counts


def test_zip_without_our_manifest_or_with_unlisted_names_is_refused(store: Store) -> None:
    klass, _ = store.create_class("zip", "1234")
    a = store.join(klass.id, "a")

    def make(manifest: dict, rows: str, extra: dict[str, bytes] | None = None) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("manifest.json", json.dumps(manifest))
            zf.writestr("labels.csv", rows)
            for name, body in (extra or {}).items():
                zf.writestr(name, body)
        return buf.getvalue()

    header = "file,class,split,person,group,source,sha256\n"
    cases = [
        make({"format": "something else", "files": {}}, header),
        make({"format": archive.MANIFEST_FORMAT, "files": {}}, header + "../evil.jpg,joy,,,,,\n"),
        make({"format": archive.MANIFEST_FORMAT, "version": 99, "files": {}}, header),
        make({"format": archive.MANIFEST_FORMAT, "version": "x", "files": {}}, header),
    ]
    for data in cases:
        with pytest.raises(StoreError) as err:
            photosets.import_zip(store, a.id, data, extractor=CountingExtractor())
        assert err.value.code == "bad_archive"
    assert store.list_images(a.id) == []
