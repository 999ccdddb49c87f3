"""``python -m edu_core.korean7 {import,prepare,train,evaluate,predict,demo,compare,leak} ... --json``.

``python -m edu_core.korean7 demo-set --out DIR ...`` writes the synthetic AI-Hub-format set alone
(:mod:`edu_core.korean7.demo`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edu_core.errors import EduError
from edu_core.korean7 import demo
from edu_core.korean7.agreement import agreement_labels
from edu_core.korean7.cache import PrepareConfig
from edu_core.korean7.data import Korean7TrainConfig
from edu_core.korean7.evaluation import evaluate_korean7, load_model, predict_korean7
from edu_core.korean7.layout import import_dataset
from edu_core.korean7.leak import leak_comparison
from edu_core.korean7.pipeline import (
    DEMO_HEAD_EPOCHS,
    DEMO_PER_CLASS,
    build_demo_pipeline,
    compare_preprocessing,
)
from edu_core.korean7.prepare import prepare
from edu_core.korean7.training import train_korean7

ARCHS = ("resnet18", "efficientnet_lite0")


def _progress_bar(enabled: bool) -> Callable[[int, int, str], None]:
    last = [0.0]

    def show(done: int, total: int, stage: str) -> None:
        if not enabled:
            return
        now = time.monotonic()
        if done < total and now - last[0] < 0.5:
            return
        last[0] = now
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{stage} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _emit(obj: Any, as_json: bool) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=1, default=str)
    print(text if as_json or len(text) < 4000 else text[:4000] + "\n...")


def _train_args(pt: argparse.ArgumentParser) -> None:
    pt.add_argument("--arch", choices=ARCHS, default="resnet18")
    pt.add_argument("--epochs", type=int, default=150)
    pt.add_argument("--batch-size", type=int, default=128)
    pt.add_argument("--lr", type=float, default=3e-4)
    pt.add_argument("--image-size", type=int, default=224)
    pt.add_argument("--pretrained", choices=("auto", "yes", "no"), default="auto")
    pt.add_argument("--patience", type=int, default=30)
    pt.add_argument("--workers", type=int, default=4)
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--device", default="auto")
    pt.add_argument("--no-amp", action="store_true")
    pt.add_argument("--no-resume", action="store_true")
    pt.add_argument("--limit-train", type=int, default=None)
    pt.add_argument("--cpu-threads", type=int, default=None, help="torch threads for CPU runs")
    pt.add_argument("--mode", choices=("full", "head"), default="full", help="head: frozen backbone")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m edu_core.korean7", description="Korean seven-class emotion pipeline"
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    cpus = max(1, min(8, os.cpu_count() or 1))

    pi = sub.add_parser("import", help="read the data set, report labels and missing photos")
    pi.add_argument("root", type=Path)
    pi.add_argument("--min-agree", type=int, choices=(2, 3), default=2)

    pp = sub.add_parser("prepare", help="build the crop cache (resumable)")
    pp.add_argument("root", type=Path)
    pp.add_argument("--cache", type=Path, required=True)
    pp.add_argument("--per-class", type=int, default=7000, help="0 = every labelled photo")
    pp.add_argument("--min-agree", type=int, choices=(2, 3), default=2)
    pp.add_argument("--mode", choices=("crop", "resize"), default="crop")
    pp.add_argument("--crop-source", choices=("engine", "boxes"), default="engine")
    pp.add_argument("--size", type=int, default=256)
    pp.add_argument("--margin", type=float, default=0.25)
    pp.add_argument("--workers", type=int, default=cpus)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--same-as", type=Path, help="use the photos and split of this other cache")

    pt = sub.add_parser("train", help="train on a cache (torchrun for several GPUs)")
    pt.add_argument("--cache", type=Path, required=True)
    pt.add_argument("--out", type=Path, required=True)
    _train_args(pt)

    pl = sub.add_parser("leak", help="one model tested on people it has seen and on new people")
    pl.add_argument("--cache", type=Path, required=True)
    pl.add_argument("--out", type=Path, required=True)
    _train_args(pl)

    pe = sub.add_parser("evaluate", help="accuracy, per-class accuracy, confusion matrix")
    pe.add_argument("--checkpoint", type=Path, required=True)
    pe.add_argument("--cache", type=Path, required=True)
    pe.add_argument("--split", choices=("train", "val", "test", "seen"), default="test")
    pe.add_argument("--device", default="cpu")

    pr = sub.add_parser("predict", help="seven probabilities for photos")
    pr.add_argument("--checkpoint", type=Path, required=True)
    pr.add_argument("images", type=Path, nargs="+")

    pd = sub.add_parser("demo", help="synthetic demo: generate, prepare, train")
    pd.add_argument("--workdir", type=Path, required=True)
    pd.add_argument("--per-class", type=int, default=DEMO_PER_CLASS)
    pd.add_argument("--epochs", type=int, default=DEMO_HEAD_EPOCHS)
    pd.add_argument("--arch", choices=ARCHS, default="efficientnet_lite0")
    pd.add_argument("--crop-source", choices=("engine", "boxes"), default="engine")
    pd.add_argument(
        "--mode",
        choices=("auto", "head", "full"),
        default="auto",
        help="head: frozen backbone + last layer; full: fine-tune all; auto: head when the weights are here",
    )

    pc = sub.add_parser("compare", help="the paper's table: whole photo resized vs face crop")
    pc.add_argument("root", type=Path)
    pc.add_argument("--workdir", type=Path, required=True)
    pc.add_argument("--per-class", type=int, default=7000)
    pc.add_argument("--arch", choices=ARCHS, default="resnet18")
    pc.add_argument("--epochs", type=int, default=150)
    pc.add_argument("--image-size", type=int, default=224)
    pc.add_argument("--crop-source", choices=("engine", "boxes"), default="engine")
    pc.add_argument("--workers", type=int, default=cpus)

    for sp in (pi, pp, pt, pl, pe, pr, pd, pc):
        sp.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def _train_config(args: argparse.Namespace) -> Korean7TrainConfig:
    return Korean7TrainConfig(
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        image_size=args.image_size,
        pretrained=args.pretrained,
        patience=args.patience,
        workers=args.workers,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        resume=not args.no_resume,
        limit_train=args.limit_train,
        cpu_threads=args.cpu_threads,
        mode=args.mode,
    )


def _cmd_import(args: argparse.Namespace) -> Any:
    res = import_dataset(args.root)
    _, lrep = agreement_labels(res.records, args.min_agree)
    rep = asdict(res.report)
    rep["missing_images"] = rep["missing_images"][:100]
    rep["unlabelled_images"] = rep["unlabelled_images"][:100]
    return {"import": rep, "labels": asdict(lrep)}


def _cmd_prepare(args: argparse.Namespace, bar: Callable[[int, int, str], None]) -> Any:
    cfg = PrepareConfig(
        per_class=args.per_class or None,
        min_agree=args.min_agree,
        mode=args.mode,
        crop_source=args.crop_source,
        size=args.size,
        margin=args.margin,
        workers=args.workers,
        seed=args.seed,
    )
    return asdict(prepare(args.root, args.cache, cfg, progress=bar, same_as=args.same_as))


def _epoch_log(as_json: bool) -> Callable[[dict[str, Any]], None]:
    def log(info: dict[str, Any]) -> None:
        if not as_json:
            sys.stderr.write(json.dumps(info) + "\n")

    return log


def _cmd_predict(args: argparse.Namespace) -> Any:
    model = load_model(args.checkpoint)
    out = []
    for path in args.images:
        pred = predict_korean7(model, path)
        out.append({"image": str(path), **{k: v for k, v in asdict(pred).items() if k != "crop"}})
    return {"synthetic_model": model.synthetic, "predictions": out}


def _cmd_demo(args: argparse.Namespace, bar: Callable[[int, int, str], None]) -> Any:
    res = build_demo_pipeline(
        args.workdir,
        args.per_class,
        (lambda s, f: bar(int(f * 100), 100, s)) if not args.json else None,
        epochs=args.epochs,
        arch=args.arch,
        crop_source=args.crop_source,
        mode=args.mode,
    )
    return asdict(res)


def _cmd_compare(args: argparse.Namespace) -> Any:
    return compare_preprocessing(
        args.root,
        args.workdir,
        PrepareConfig(per_class=args.per_class, crop_source=args.crop_source, workers=args.workers),
        Korean7TrainConfig(arch=args.arch, epochs=args.epochs, image_size=args.image_size),
    )


def _run(args: argparse.Namespace, bar: Callable[[int, int, str], None]) -> Any:
    """The command's result (None: nothing to print, as for a non-main torchrun process)."""
    if args.cmd == "import":
        return _cmd_import(args)
    if args.cmd == "prepare":
        return _cmd_prepare(args, bar)
    if args.cmd == "train":
        return (
            train_korean7(args.cache, args.out, _train_config(args), on_epoch_end=_epoch_log(args.json))
            or None
        )
    if args.cmd == "leak":
        return leak_comparison(args.cache, args.out, _train_config(args), on_epoch_end=_epoch_log(args.json))
    if args.cmd == "evaluate":
        return evaluate_korean7(args.checkpoint, args.cache, split=args.split, device=args.device)
    if args.cmd == "predict":
        return _cmd_predict(args)
    if args.cmd == "demo":
        return _cmd_demo(args, bar)
    return _cmd_compare(args)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; see the module docstring."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo-set"]:
        return demo.main(argv[1:])
    args = _parser().parse_args(argv)
    bar = _progress_bar(not args.json and sys.stderr.isatty())
    try:
        result = _run(args, bar)
    except EduError as exc:
        err = {"error": exc.code, "detail": exc.detail}
        print(json.dumps(err, ensure_ascii=False), file=sys.stdout if args.json else sys.stderr)
        return 2
    if result is not None:
        _emit(result, args.json)
    return 0
