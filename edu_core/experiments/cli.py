"""``python -m edu_core.experiments run ...``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from edu_core.errors import EduError
from edu_core.experiments.choose import default_probe
from edu_core.experiments.config import EXPERIMENTS, MODEL_CHOICES, ExperimentConfig
from edu_core.experiments.data import load_folder
from edu_core.experiments.report import result_csv, result_png
from edu_core.experiments.run import (
    estimate_seconds,
    measure_embed_seconds,
    n_trainings,
    run_experiment,
)

# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.experiments run {size,pairs,imbalance,mislabel,groups} --data DIR ...``"""
    ap = argparse.ArgumentParser(
        prog="python -m edu_core.experiments",
        description="Run one of the lesson's data experiments, repeated over seeds.",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment and print mean/sd per variant")
    run.add_argument("experiment", choices=EXPERIMENTS)
    run.add_argument("--data", required=True, help="folder with one subfolder per class (and labels.csv)")
    run.add_argument("--model", default="pieces", choices=MODEL_CHOICES)
    run.add_argument("--repeats", type=int, default=5, help="number of seeds (>= 5 for the lesson)")
    run.add_argument("--seed", type=int, default=0, help="first seed")
    run.add_argument("--classes", default="", help="comma-separated classes (size, mislabel, groups)")
    run.add_argument("--sizes", default="20,60", help="photos per class (size)")
    run.add_argument("--counts", default="joy=40,sadness=20", help="photos per class (imbalance)")
    run.add_argument("--mislabel-class", default="anger")
    run.add_argument("--fractions", default="0,0.1,0.3")
    run.add_argument("--train-groups", default="adult")
    run.add_argument("--add-groups", default="child")
    run.add_argument(
        "--no-detective", action="store_true", help="skip the mislabel detective (pieces model only anyway)"
    )
    run.add_argument("--epochs", type=int, default=None)
    run.add_argument("--device", default="auto")
    run.add_argument("--cache", default=None, help="face extraction cache folder")
    run.add_argument("--csv", default=None, help="also write the per-seed CSV here")
    run.add_argument("--png", default=None, help="also write the comparison chart (PNG) here")
    run.add_argument("--full", action="store_true", help="with --json: every seed's numbers and training ids")
    run.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    def split(s: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in s.split(",") if x.strip())

    try:
        cfg = ExperimentConfig(
            experiment=args.experiment,
            model=args.model,
            repeats=args.repeats,
            seed=args.seed,
            classes=split(args.classes),
            sizes=tuple(int(x) for x in split(args.sizes)),
            counts=tuple((k, int(v)) for k, v in (x.split("=") for x in split(args.counts))),
            mislabel_class=args.mislabel_class,
            fractions=tuple(float(x) for x in split(args.fractions)),
            detective=not args.no_detective,
            train_groups=split(args.train_groups),
            add_groups=split(args.add_groups),
            epochs=args.epochs,
            device=args.device,
        )
        data = load_folder(args.data, cache_dir=args.cache)
        probe = default_probe(cfg, data)
        if not args.json:
            embed_s = measure_embed_seconds(device=args.device) if cfg.model == "cnn" else None
            eta = estimate_seconds(cfg, data, embed_s=embed_s)
            print(
                f"{len(data.train)} training / {len(data.test)} test photos; about "
                f"{eta:.0f} s for {n_trainings(cfg, data)} trainings",
                file=sys.stderr,
            )
        result = run_experiment(cfg, data, probe=probe)
    except EduError as exc:
        msg = {"error": exc.code, "detail": exc.detail}
        print(json.dumps(msg) if args.json else f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(
            json.dumps({"error": "bad_argument", "detail": str(exc)}) if args.json else f"error: {exc}",
            file=sys.stderr,
        )
        return 2
    if args.csv:
        Path(args.csv).write_text(result_csv(result), encoding="utf-8")
    if args.png:
        Path(args.png).write_bytes(result_png(result))
    if args.json:
        print(json.dumps(result.to_dict() if args.full else result.summary(), ensure_ascii=False))
    else:
        print(
            f"{cfg.experiment} · {cfg.model} · seeds {cfg.seeds[0]}..{cfg.seeds[-1]} · "
            f"{len(result.test_ids)} test photos · {result.seconds:.1f} s"
        )
        for v in result.variants:
            a = v.accuracy()
            rec = "  ".join(f"{c} {m['mean']:.2f}±{m['sd']:.2f}" for c, m in v.recall().items())
            print(f"  {v.variant.key:<24} acc {a['mean']:.3f} ± {a['sd']:.3f}   {rec}")
            if v.detective():
                d = v.detective()
                print(f"  {'':<24} detective found {d['found']:.1f} of {d['planted']:.1f} planted")
    return 0
