"""Throughput of the class data store: a whole class writing at once vs one writer, and zip round trips.

    python bench/store.py [--writers 30] [--per-writer 20] [--single 100] [--dataset 300]

Everything runs in one temporary folder with the store's real settings (WAL, fsync of
every file and commit). Photos are phone-like JPEGs (~1024x768, a few hundred kB) and
each gets a 256x256 crop, as in the lesson. Face extraction is *not* timed here (see
bench/extract.py): results are made up so only the store is measured. Prints a Markdown
table; the ratio is measured in the same run on the same disk. The last rows time loading
the committed sample faces (this one *does* run MediaPipe, then reuses the cached results).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from edu_core import dataset, photosets
from edu_core.faces import FaceResult
from edu_core.labels import LESSON_CLASSES
from edu_core.store import Store, StoreConfig


def make_jpegs(n: int, seed: int = 0, size: tuple[int, int] = (1024, 768)) -> tuple[list[bytes], dict]:
    """Distinct JPEGs with smooth content plus sensor-like noise (they compress like photos).

    Returns the JPEG bytes and a made-up extraction result (with a real 256 px crop) for each.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    base = np.stack(
        [
            127 + 100 * np.sin(xx * 0.011),
            127 + 100 * np.cos(yy * 0.007),
            127 + 80 * np.sin((xx + yy) * 0.004),
        ],
        -1,
    ).astype(np.int16)
    out, faces = [], {}
    for i in range(n):
        shifted = np.roll(base, (i * 7) % size[1], axis=0)
        noisy = shifted + rng.integers(-8, 9, size=shifted.shape, dtype=np.int16)
        img = np.clip(noisy, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=88)
        data = buf.getvalue()
        out.append(data)
        faces[data] = FaceResult(
            status="ok",
            image_size=size,
            box=(340, 240, 516, 416),
            crop_box=(300, 200, 556, 456),
            crop=np.ascontiguousarray(img[200:456, 300:556]),
            landmarks=(rng.random((478, 3)) * 256).astype(np.float32),
            blendshapes={f"b{k}": float(rng.random()) for k in range(52)},
            pose=(1.0, 2.0, 3.0),
        )
    return out, faces


def timed_writers(store: Store, students: list[int], photos: list[list[bytes]], faces: dict) -> float:
    """Photos stored per second with one thread per student, all starting together."""
    barrier = threading.Barrier(len(students) + 1)
    errors: list[BaseException] = []

    def work(sid: int, mine: list[bytes]) -> None:
        barrier.wait()
        try:
            for k, data in enumerate(mine):
                rec = store.add_image(
                    sid,
                    data,
                    filename=f"{k}.jpg",
                    source="upload",
                    face=faces[data],
                    label=LESSON_CLASSES[k % 5],
                )
                store.set_label(sid, rec.id, LESSON_CLASSES[(k + 1) % 5])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, p)) for s, p in zip(students, photos, strict=True)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return sum(len(p) for p in photos) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=30)
    ap.add_argument("--per-writer", type=int, default=20)
    ap.add_argument("--single", type=int, default=100, help="photos for the one-writer baseline")
    ap.add_argument("--dataset", type=int, default=300, help="photos in the export/import data set")
    ap.add_argument("--dir", type=Path, default=None, help="where to put the store (default: a temp dir)")
    ap.add_argument(
        "--no-samples", dest="samples", action="store_false", help="skip timing sample_images/ loading"
    )
    args = ap.parse_args()

    n_multi = args.writers * args.per_writer
    t_setup = time.perf_counter()
    blobs, faces = make_jpegs(max(n_multi, args.dataset) + args.single, seed=1)
    print(f"(made {len(blobs)} test photos in {time.perf_counter() - t_setup:.0f} s)", file=sys.stderr)
    avg_kb = sum(len(b) for b in blobs) / len(blobs) / 1024

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        store = Store(Path(tmp) / "data", StoreConfig())
        klass, session = store.create_class("bench", "1234")
        one = store.join(klass.id, "solo")
        single_rate = timed_writers(store, [one.id], [blobs[-args.single :]], faces)

        students = [store.join(klass.id, f"s{i}").id for i in range(args.writers)]
        chunks = [blobs[i * args.per_writer : (i + 1) * args.per_writer] for i in range(args.writers)]
        multi_rate = timed_writers(store, students, chunks, faces)
        assert store.check(grace_s=0).ok

        # A 300-photo data set: export one workspace, import it into a fresh class.
        owner = store.join(klass.id, "exporter")
        dataset_blobs = blobs[: args.dataset]
        for k, data in enumerate(dataset_blobs):
            store.add_image(
                owner.id,
                data,
                filename=f"{k}.jpg",
                source="upload",
                face=faces[data],
                label=LESSON_CLASSES[k % 5],
            )
        split = store.make_split(owner.id, test_ratio=0.2, seed=0)
        t0 = time.perf_counter()
        zip_bytes = photosets.export_zip(store, owner.id, Path(tmp) / "set.zip", split_id=split.id)
        export_s = time.perf_counter() - t0

        other = Store(Path(tmp) / "other", StoreConfig())
        k2, _ = other.create_class("next lesson", "1234")
        target = other.join(k2.id, "t")
        by_bytes = {b: faces[b] for b in dataset_blobs}
        t0 = time.perf_counter()
        report = photosets.import_zip(
            other,
            target.id,
            Path(tmp) / "set.zip",
            extractor=lambda bl, progress=None: [by_bytes[b] for b in bl],
        )
        import_s = time.perf_counter() - t0
        assert len(report.image_ids) == args.dataset and other.check(grace_s=0).ok

        samples_rows = []
        if args.samples and (dataset.SAMPLE_DIR / "labels.csv").is_file():
            # Real MediaPipe extraction the first time, the store's cache for the next student.
            for who in ("first student", "second student (cached faces)"):
                sid = other.join(k2.id, who).id
                t0 = time.perf_counter()
                rep = photosets.load_samples(other, sid, per_class=20, include_rejects=True)
                samples_rows.append((who, len(rep.image_ids), time.perf_counter() - t0))

    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}")
    print(
        f"Photos: ~{avg_kb:.0f} kB JPEG each + 256 px PNG crop; every write fsynced (WAL, synchronous=FULL)\n"
    )
    print("| measurement | value |")
    print("|---|---|")
    print(f"| 1 writer: photos stored per second (add + relabel) | {single_rate:.1f} |")
    print(f"| {args.writers} concurrent writers: photos stored per second | {multi_rate:.1f} |")
    print(f"| ratio {args.writers} writers / 1 writer | {multi_rate / single_rate:.2f}x |")
    print(f"| export {args.dataset} photos to zip ({len(zip_bytes) / 1e6:.1f} MB) | {export_s:.2f} s |")
    print(f"| import it into a new class (checksums verified, extraction excluded) | {import_s:.2f} s |")
    for who, n, secs in samples_rows:
        print(f"| load sample faces, 20 per class + rejects ({n} photos), {who} | {secs:.2f} s |")


if __name__ == "__main__":
    main()
