"""Throughput of face extraction against a plain full-size PIL decode of the same photos.

    python bench/extract.py [--photos 200] [--workers 2] [--size 2000x1500]

Writes phone-sized JPEGs (painted by edu_core.samples, so no real faces are needed) into a
temporary folder, then times in one run:
  * baseline: ``Image.open(...).convert("RGB")`` + EXIF transpose of every file, one thread;
  * ``extract_many`` with N workers (decode at reduced size, detect, check, crop).
Prints a Markdown table; the ratio is what README reports (absolute times vary by machine).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from edu_core import samples
from edu_core.faces import Landmarker, extract, extract_many
from edu_core.labels import LESSON_CLASSES


def make_photos(folder: Path, n: int, size: tuple[int, int], seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        spec = samples.random_spec(rng, LESSON_CLASSES[i % len(LESSON_CLASSES)], face_share=(0.15, 0.3))
        # Painting at phone size is slow; paint smaller and upscale, the JPEG is what matters.
        rgb = samples.render(spec, size=(size[0] // 2, size[1] // 2)).rgb
        path = folder / f"photo_{i:04d}.jpg"
        Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def plain_decode(paths: list[Path]) -> float:
    t = time.perf_counter()
    for p in paths:
        with Image.open(p) as im:
            ImageOps.exif_transpose(im).convert("RGB").load()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--size", default="2000x1500")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        paths = make_photos(Path(tmp), args.photos, size)  # type: ignore[arg-type]
        print(
            f"made {len(paths)} photos of {size[0]}x{size[1]} in {time.perf_counter() - t:.1f}s",
            file=sys.stderr,
        )
        plain_decode(paths[:10])  # warm the page cache and PIL
        base = plain_decode(paths)
        extract_many(paths[:4], workers=args.workers)  # warm MediaPipe
        t = time.perf_counter()
        results = extract_many(paths, workers=args.workers)
        many = time.perf_counter() - t
        latencies = []
        with Landmarker() as lm:
            for p in paths[:50]:
                t = time.perf_counter()
                extract(p, landmarker=lm)
                latencies.append(time.perf_counter() - t)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    ok = sum(r.ok for r in results)
    lat = sorted(latencies)
    print("| measure | value |\n|---|---|")
    print(f"| photos | {len(paths)} JPEG, {size[0]}x{size[1]} |")
    print(f"| faces accepted | {ok}/{len(paths)} |")
    print(f"| plain full PIL decode, 1 thread | {len(paths) / base:.1f} photos/s |")
    print(f"| extract_many, {args.workers} workers | {len(paths) / many:.1f} photos/s |")
    print(f"| **ratio extract_many / plain decode** | **{base / many:.2f}x** |")
    print(
        f"| one photo, decode to crop (p50 / p95, 1 thread) | "
        f"{statistics.median(lat) * 1000:.0f} / {lat[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms |"
    )
    print(f"| peak memory of the process | {peak_mb:.0f} MB |")


if __name__ == "__main__":
    main()
