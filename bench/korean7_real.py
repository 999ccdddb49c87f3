"""The Korean seven-class model on real Korean faces (the dev set's ``kor_aihub`` crops).

    EXPRESSION_LAB_REALFACES=~/.cache/expression-lab-devset python bench/korean7_real.py \
        [--size 112] [--epochs 4] [--head-epochs 300] [--runs head,effnet,resnet] [--leak head]

The crops (about 1,800 photos of about 430 Korean adults, six classes, no 중립) go through the
same path as a teacher's folder: ``import_dataset`` (labels from the class folders, person ids
from the file names), ``prepare`` (8:1:1 split by person), ``train_korean7``, and the identity
leak comparison (``leak_comparison``: one model, people it has seen vs new people). Prints
README-ready Markdown. Nothing of the data set is written outside ``--workdir`` (default under
``~/.cache``); no image or per-image number is printed. Skips, exit 0, without the dev set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from edu_core import korean7
from edu_core.korean7 import Korean7TrainConfig, PrepareConfig
from edu_core.labels import KOREAN7_NAMES

SOURCE = "kor_aihub"


def _runs(args: argparse.Namespace) -> dict[str, Korean7TrainConfig]:
    """The configurations this bench can run, by name."""
    common = dict(image_size=args.size, workers=0, cpu_threads=args.threads, seed=args.seed, batch_size=32)
    return {
        # frozen ImageNet backbone + last layer, full-batch (the page's CPU default)
        "head": Korean7TrainConfig(
            arch="efficientnet_lite0",
            mode="head",
            epochs=args.head_epochs,
            patience=args.head_epochs,
            lr=3e-3,
            weight_decay=1e-2,
            **common,
        ),
        # every layer fine-tuned from the shipped ImageNet weights
        "effnet": Korean7TrainConfig(
            arch="efficientnet_lite0", epochs=args.epochs, patience=args.epochs, lr=1e-3, **common
        ),
        # ImageNet weights only if torchvision's file is already in the torch cache, else from scratch
        "resnet": Korean7TrainConfig(
            arch="resnet18", epochs=args.epochs, patience=args.epochs, lr=1e-3, pretrained="auto", **common
        ),
    }


def inference_speed(checkpoint: Path, cache_dir: Path, threads: int) -> float:
    """Images per second of ``predict_crops`` over the test crops (batches of 32, CPU)."""
    model = korean7.load_model(checkpoint)
    cache = korean7.CropCache(cache_dir)
    crops = cache.images(cache.subset("test"))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        korean7.predict_crops(model, crops[:8])  # warm-up
        t = time.perf_counter()
        for s in range(0, len(crops), 32):
            korean7.predict_crops(model, crops[s : s + 32])
        return round(len(crops) / (time.perf_counter() - t), 1)
    finally:
        torch.set_num_threads(before)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _name(c: str) -> str:
    return f"{KOREAN7_NAMES[c]} ({c})"


def _confusion_table(m: dict) -> list[str]:
    classes = m["classes"]
    lines = ["| true \\ predicted | " + " | ".join(KOREAN7_NAMES[c] for c in classes) + " |"]
    lines.append("|---" * (len(classes) + 1) + "|")
    for c, row in zip(classes, m["confusion"], strict=True):
        lines.append(f"| {_name(c)} | " + " | ".join(str(v) for v in row) + " |")
    return lines


def _most_confused(m: dict, k: int = 3) -> list[str]:
    cm = np.asarray(m["confusion"], dtype=float)
    classes = m["classes"]
    pairs = []
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            pairs.append((cm[i, j] + cm[j, i], classes[i], classes[j]))
    pairs.sort(reverse=True)
    return [f"{KOREAN7_NAMES[a]}–{KOREAN7_NAMES[b]} ({int(n)})" for n, a, b in pairs[:k]]


def report(res: dict) -> None:
    """README-ready Markdown from the bench's results."""
    prep = res["prepare"]
    print(f"\nMachine: {res['machine']}; {res['date']}; dev set {SOURCE} at commit {res['commit']}")
    print(
        f"{prep['total']} crops, classes {', '.join(prep['classes'])}; absent: "
        f"{', '.join(prep['absent_classes']) or 'none'}; split by {prep['split_by']}: "
        + ", ".join(f"{s} {sum(v.values())}" for s, v in prep["per_split"].items())
        + f"; {res['persons']} people. "
        + (
            f"Crop cache ({prep['size']} px) built at {prep['images_per_second']} photos/s."
            if prep["resumed"] < prep["total"]
            else "Crop cache reused from an earlier run."
        )
    )
    print(
        "\n| model (CPU, reduced run) | epochs | top-1, new people | training wall time | "
        "training img/s | predict img/s |"
    )
    print("|---|---|---|---|---|---|")
    for r in res["runs"].values():
        print(
            f"| {r['label']} | {r['epochs_run']} | {_pct(r['accuracy'])} (n={r['n']}) | "
            f"{r['seconds']:.0f} s | {r['train_speed']} | {r['predict_images_per_second']} |"
        )
    runs = list(res["runs"].values())
    if runs:
        classes = runs[0]["classes"]
        head = " | ".join(r["label"] for r in runs)
        print(f"\n| per-class accuracy, new people | {head} | test photos |")
        print("|---" * (len(runs) + 2) + "|")
        for c in classes:
            cells = " | ".join(_pct(r["per_class_accuracy"].get(c)) for r in runs)
            print(f"| {_name(c)} | {cells} | {runs[0]['support'][c]} |")
        best = max(runs, key=lambda r: r["accuracy"] or 0)
        print(f"\nConfusion matrix, {best['label']}, test people (rows: true class):\n")
        print("\n".join(_confusion_table(best)))
        print(f"\nMost confused pairs: {', '.join(_most_confused(best))}")
    for lk in res.get("leak", {}).values():
        s, n, ch = lk["seen_people"], lk["new_people"], lk["checks"]
        print(f"\nIdentity leak, {lk['label']}: one model, trained once on {lk['train_images']} photos")
        print("\n| tested on | photos | people | in training | top-1 |")
        print("|---|---|---|---|---|")
        print(
            f"| people it has seen (another photo of theirs) | {s['n']} | {ch['seen_people']} | "
            f"{ch['seen_people_in_training']} | {_pct(s['accuracy'])} |"
        )
        print(
            f"| new people | {n['n']} | {ch['new_people']} | {ch['new_people_in_training']} | "
            f"{_pct(n['accuracy'])} |"
        )
        ps, pn = s["accuracy"] or 0.0, n["accuracy"] or 0.0
        half = 196 * ((ps * (1 - ps) / max(s["n"], 1) + pn * (1 - pn) / max(n["n"], 1)) ** 0.5)
        print(f"| gap (seen − new) | | | | {100 * lk['gap']:+.1f} points (95 % interval ±{half:.1f}) |")


def _train_speed(m: dict, n_val: int) -> str:
    """Fine-tuning: the median epoch's images/s. Frozen head: the one pass that embeds the photos
    (each training photo and its mirror image, plus the validation photos); its epochs are free."""
    if m["mode"] != "head":
        return f"{m['images_per_second']} (median epoch)"
    first = m["history"][0]["train_seconds"]
    return f"{(2 * m['train_images'] + n_val) / first:.1f} (embedding pass)"


def _label(name: str, cfg: Korean7TrainConfig, pretrained: bool) -> str:
    arch = {"efficientnet_lite0": "EfficientNet-Lite0", "resnet18": "ResNet18"}[cfg.arch]
    how = "frozen backbone + last layer" if cfg.mode == "head" else "fine-tuned"
    weights = "ImageNet weights" if pretrained else "from scratch (no ImageNet weights here)"
    return f"{arch}, {how}, {weights}, {cfg.image_size} px"


def main() -> int:
    """Run the chosen configurations and print the tables."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=112, help="crop and network input size (224 = the paper)")
    ap.add_argument("--epochs", type=int, default=4, help="fine-tuning epochs (CPU: a reduced run)")
    ap.add_argument("--head-epochs", type=int, default=300)
    ap.add_argument("--runs", default="head,effnet,resnet")
    ap.add_argument("--leak", default="head", help="runs to repeat as the leak comparison ('' = none)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "expression-lab-k7bench")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument(
        "--merge", type=Path, nargs="*", default=[], help="earlier --json-out files to report too"
    )
    args = ap.parse_args()
    root = os.environ.get("EXPRESSION_LAB_REALFACES")
    if not root or not (Path(root) / SOURCE).is_dir():
        print("EXPRESSION_LAB_REALFACES is not set (or has no kor_aihub/): no real faces, nothing measured.")
        return 0
    summary = json.loads((Path(root) / "summary.json").read_text(encoding="utf-8"))
    res: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{args.threads} torch thread(s), no GPU" + (" (CUDA present)" if torch.cuda.is_available() else ""),
        "date": time.strftime("%Y-%m-%d"),
        "commit": summary["sources"][SOURCE]["commit"],
        "runs": {},
        "leak": {},
    }
    work = args.workdir / f"s{args.size}-seed{args.seed}"
    imported = korean7.import_dataset(Path(root) / SOURCE)
    res["persons"] = imported.report.persons
    cache = work / "cache"
    prep = korean7.prepare(imported, cache, PrepareConfig(per_class=None, size=args.size, seed=args.seed))
    res["prepare"] = {k: v for k, v in json.loads(json.dumps(prep.__dict__)).items() if k != "import_report"}
    configs = _runs(args)
    for name in filter(None, args.runs.split(",")):
        cfg = configs[name]
        t = time.perf_counter()
        m = korean7.train_korean7(cache, work / f"model_{name}", cfg)
        r = {k: m[k] for k in ("accuracy", "n", "per_class_accuracy", "support", "confusion", "classes")}
        r |= {k: m[k] for k in ("epochs_run", "images_per_second", "pretrained", "train_images")}
        r["label"] = _label(name, cfg, m["pretrained"])
        r["train_speed"] = _train_speed(m, len(korean7.CropCache(cache).subset("val")))
        r["seconds"] = round(time.perf_counter() - t, 1)
        best_pt = work / f"model_{name}" / "best.pt"
        r["predict_images_per_second"] = inference_speed(best_pt, cache, args.threads)
        res["runs"][name] = r
        print(f"{name}: {r['label']}: {_pct(r['accuracy'])} in {r['seconds']} s", file=sys.stderr)
    for name in filter(None, args.leak.split(",")):
        cfg = configs[name]
        lk = korean7.leak_comparison(cache, work / f"leak_{name}", cfg)
        lk["label"] = _label(name, cfg, bool(lk["pretrained"]))
        res["leak"][name] = lk
        seen, new = lk["seen_people"]["accuracy"], lk["new_people"]["accuracy"]
        print(f"leak {name}: seen {seen} new {new}", file=sys.stderr)
    if args.json_out:
        args.json_out.write_text(json.dumps(res, ensure_ascii=False, indent=1))
    for path in args.merge:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        res["runs"] = {**earlier.get("runs", {}), **res["runs"]}
        res["leak"] = {**earlier.get("leak", {}), **res["leak"]}
    report(res)
    if args.json_out:
        args.json_out.write_text(json.dumps(res, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
