"""Benchmark of the lesson's models on the committed sample faces.

Accuracy of every model kind at 20 and 60 training photos per class (mean ± sd over
several seeds, on the 20-per-class test split), CPU training time of each kind, the
pieces model's time on 300 faces, and one prediction from photo bytes.

    .venv/bin/python bench/train.py [--seeds 5] [--kinds pieces,cnn,combined] [--out bench/out/train.json]

Prints a Markdown table for README.md. Face extraction results are cached in
~/.cache/expression-lab/faces, so a second run starts straight away.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from edu_core.classfolders import extract_cached, scan_class_folders
from edu_core.dataset import choose_per_class
from edu_core.embeddings import EmbeddingCache
from edu_core.evaluate import evaluate_bundle
from edu_core.labels import LESSON_CLASSES
from edu_core.predict import predict_bytes
from edu_core.train import train
from edu_core.trainconfig import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def _ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "sample_images"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--kinds", default="pieces,cnn,combined")
    ap.add_argument("--per-class", default="20,60")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "train.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    kinds = args.kinds.split(",")
    sizes = [int(s) for s in args.per_class.split(",")]

    t0 = time.perf_counter()
    files = scan_class_folders(args.data)
    faces = extract_cached([f.path for f in files])
    t_extract = time.perf_counter() - t0
    labels = [f.label for f in files]
    ok = [i for i, f in enumerate(faces) if f.ok]
    pool = [i for i in ok if files[i].split == "train"]
    test = [i for i in ok if files[i].split == "test"]
    print(
        f"{len(files)} photos, {len(ok)} extracted ({t_extract:.1f} s); "
        f"train pool {len(pool)}, test {len(test)}",
        flush=True,
    )
    classes = [c for c in LESSON_CLASSES if any(labels[i] == c for i in pool)]
    tf, tl = [faces[i] for i in test], [labels[i] for i in test]

    cache = EmbeddingCache()
    results: dict[str, dict[str, list[float]]] = {k: {} for k in kinds}
    times: dict[str, dict[str, list[float]]] = {k: {} for k in kinds}
    for kind in kinds:
        for n in sizes:
            accs, secs = [], []
            for seed in range(args.seeds):
                chosen = choose_per_class(pool, labels, n, seed)
                t = time.perf_counter()
                res = train(
                    kind,
                    [faces[i] for i in chosen],
                    [labels[i] for i in chosen],
                    TrainConfig(seed=seed),
                    class_names=classes,
                    embedding_cache=cache,
                )
                secs.append(time.perf_counter() - t)
                accs.append(evaluate_bundle(res.bundle, tf, tl, embedding_cache=cache)["accuracy"])
            results[kind][str(n)] = accs
            times[kind][str(n)] = secs
            print(
                f"{kind:9s} {n:3d}/class: acc {np.mean(accs):.3f} ± {np.std(accs, ddof=1):.3f}  "
                f"train {statistics.median(secs):.2f} s (first {secs[0]:.2f} s)",
                flush=True,
            )

    # the first CNN run above also paid for the embeddings; measure that cost on its own
    emb_cost = {}
    if any(k != "pieces" for k in kinds):
        chosen = choose_per_class(pool, labels, 60, 0)
        t = time.perf_counter()
        train(
            "cnn",
            [faces[i] for i in chosen],
            [labels[i] for i in chosen],
            TrainConfig(seed=0),
            class_names=classes,
            embedding_cache=EmbeddingCache(),
        )
        emb_cost["cnn_head_300_cold_s"] = time.perf_counter() - t

    # pieces model on 300 faces, warm
    chosen = choose_per_class(pool, labels, 60, 0)
    pf, pl = [faces[i] for i in chosen], [labels[i] for i in chosen]
    pieces_secs = []
    for seed in range(5):
        t = time.perf_counter()
        train("pieces", pf, pl, TrainConfig(seed=seed), class_names=classes)
        pieces_secs.append(time.perf_counter() - t)

    # one prediction: bytes -> extraction -> probabilities, with a warm landmarker
    from edu_core.faces import Landmarker

    latency: dict[str, float] = {}
    photos = [files[i].path.read_bytes() for i in test[:10]]
    with Landmarker() as lm:
        for kind in kinds:
            bundle = train(
                kind, pf, pl, TrainConfig(seed=0), class_names=classes, embedding_cache=cache
            ).bundle
            predict_bytes(bundle, photos[0], landmarker=lm)
            lat = []
            for data in photos:
                t = time.perf_counter()
                predict_bytes(bundle, data, landmarker=lm)
                lat.append(time.perf_counter() - t)
            latency[kind] = statistics.median(lat)

    summary = {
        "machine": {
            "platform": platform.platform(),
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
        },
        "n_test": len(test),
        "seeds": args.seeds,
        "accuracy": results,
        "train_seconds": times,
        "pieces_300_seconds_median": statistics.median(pieces_secs),
        "prediction_seconds_median": latency,
        **emb_cost,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1))

    print(
        "\n| model | 20 per class | 60 per class | 60 − 20 "
        "| train time (CPU, 60/class) | predict (bytes→probs) |"
    )
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        a20, a60 = results[kind].get("20", [np.nan]), results[kind].get("60", [np.nan])
        print(
            f"| {kind} | {np.mean(a20) * 100:.1f} ± {np.std(a20, ddof=1) * 100:.1f} % "
            f"| {np.mean(a60) * 100:.1f} ± {np.std(a60, ddof=1) * 100:.1f} % "
            f"| {(np.mean(a60) - np.mean(a20)) * 100:+.1f} pts "
            f"| {statistics.median(times[kind].get('60', [np.nan])):.2f} s | {latency[kind] * 1000:.0f} ms |"
        )
    print(f"\npieces model, 300 faces: {statistics.median(pieces_secs):.3f} s (median of 5)")
    if emb_cost:
        print(f"cnn head on 300 faces incl. computing embeddings: {emb_cost['cnn_head_300_cold_s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
