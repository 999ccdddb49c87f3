"""Time the five lab experiments (pieces model, 5 seeds) on the committed samples; print Markdown.

    .venv/bin/python bench/experiments.py [--data sample_images] [--repeats 5] [--cold] [--out FILE]
    .venv/bin/python bench/experiments.py --effects [--models pieces,cnn]

``--effects`` prints the lesson's effects table instead (``bench/lesson_effects.py``): on the
samples and, when ``EXPRESSION_LAB_REALFACES`` points at the real-photo development set, on
real faces side by side, with whether each sample figure meets the goal (same sign, within a
factor of 2, or both within 2 points; accuracy within 5 points).

``--cold`` extracts the faces into an empty cache first (what the very first run in a
class costs); otherwise the on-disk face cache is used, as in the app after the first
load. Two tables come out: seconds per experiment, and each variant's accuracy and
focus-class recall (mean ± sd over seeds) so the README can quote the measured effects.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from edu_core import experiments as ex

ROOT = Path(__file__).resolve().parent.parent
ENV = "EXPRESSION_LAB_REALFACES"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "sample_images"))
    ap.add_argument("--model", default="pieces", choices=ex.MODEL_CHOICES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="start from an empty face cache")
    ap.add_argument("--out", default=None, help="also write the Markdown here")
    ap.add_argument("--effects", action="store_true", help="the lesson's effects, samples vs real faces")
    ap.add_argument("--models", default="pieces,cnn", help="with --effects: the models to measure")
    args = ap.parse_args(argv)
    if args.effects:
        return effects_main(args)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = ex.load_folder(args.data, cache_dir=tmp if args.cold else None)
        load_s = time.perf_counter() - t0
        rows, effects, more, total = [], [], [], 0.0
        for kind in ex.EXPERIMENTS:
            cfg = ex.ExperimentConfig(kind, model=args.model, repeats=args.repeats)
            focus = ex.focus_class(cfg, data)
            t1 = time.perf_counter()
            result = ex.run_experiment(cfg, data, probe=ex.default_probe(cfg, data))
            seconds = time.perf_counter() - t1
            total += seconds
            rows.append(f"| {kind} | {len(result.variants)} | {ex.n_trainings(cfg, data)} | {seconds:.1f} |")
            for v in result.variants:
                acc, rec = v.accuracy(), v.recall()[focus]
                extra = ""
                if v.group_accuracy():
                    extra = ", ".join(f"{g} {m['mean']:.2f}" for g, m in v.group_accuracy().items())
                if v.detective():
                    d = v.detective()
                    extra = f"detective found {d['found']:.1f} of {d['planted']:.0f}"
                effects.append(
                    f"| {kind} | {v.variant.key} | {v.n_train():.0f} | {acc['mean']:.3f} ± {acc['sd']:.3f} "
                    f"| {focus} {rec['mean']:.3f} ± {rec['sd']:.3f} | {extra} |"
                )
        # settings the README quotes besides the defaults: where the samples show the effect best
        five = ("surprise", "anger", "neutral")
        for kind, setting, extra in (
            (
                "imbalance",
                "5 classes, sadness 20, others 40",
                {"counts": (("joy", 40), ("sadness", 20), *((c, 40) for c in five))},
            ),
            (
                "imbalance",
                "5 classes, sadness 5, others 40",
                {"counts": (("joy", 40), ("sadness", 5), *((c, 40) for c in five))},
            ),
            ("groups", "children first, then adults", {"train_groups": ("child",), "add_groups": ("adult",)}),
        ):
            cfg = ex.ExperimentConfig(kind, model=args.model, repeats=args.repeats, **extra)
            focus = ex.focus_class(cfg, data)
            result = ex.run_experiment(cfg, data)
            for v in result.variants:
                acc, rec = v.accuracy(), v.recall()[focus]
                groups = ", ".join(f"{g} {m['mean']:.2f}" for g, m in v.group_accuracy().items())
                more.append(
                    f"| {kind} ({setting}) | {v.variant.key} | {v.n_train():.0f} | {acc['mean']:.3f} ± "
                    f"{acc['sd']:.3f} | {focus} {rec['mean']:.3f} ± {rec['sd']:.3f} | {groups} |"
                )
    cpu = f"{os.cpu_count()} CPU cores" + (f", {platform.processor()}" if platform.processor() else "")
    lines = [
        f"Model: {args.model}, {args.repeats} seeds each, data: {len(data.train)} training / "
        f"{len(data.test)} test faces ({data.n_rejected} photos rejected by extraction); {cpu}.",
        "",
        f"Loading the samples ({'cold: extracting every face' if args.cold else 'face cache warm'}): "
        f"{load_s:.1f} s",
        "",
        "| experiment | variants | trainings | seconds |",
        "|---|---:|---:|---:|",
        *rows,
        f"| **all five** | | | **{total:.1f}** |",
        "",
        "| experiment | variant | training photos | accuracy (mean ± sd) | focus-class recall | notes |",
        "|---|---|---:|---|---|---|",
        *effects,
        "",
        "Other settings (not part of the timing above):",
        "",
        "| experiment | variant | training photos | accuracy (mean ± sd) | focus-class recall | notes |",
        "|---|---|---:|---|---|---|",
        *more,
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


def effects_main(args: argparse.Namespace) -> int:
    """The effects table: the samples, and the real faces when the dev set is on this machine."""
    import lesson_effects as le  # sibling bench module (bench/ is on sys.path when run as a script)

    models = [m for m in args.models.split(",") if m]
    samples = ex.load_folder(args.data)
    sample_cache = None
    real_root = os.environ.get(ENV, "").strip()
    real: dict[str, dict] | None = None
    if "cnn" in models:
        import realfaces_models as rm

        sample_cache = rm.embedding_cache([e.face for e in (*samples.train, *samples.test)], name="samples")
    if real_root and (Path(real_root).expanduser() / "labels.csv").is_file():
        import realfaces_models as rm

        data, task = le.real_data(Path(real_root).expanduser())
        cache = rm.embedding_cache(task["faces"]) if "cnn" in models else None
        real = {m: le.measure_real(data, m, args.repeats, cache) for m in models}
    else:
        print(f"{ENV} is not set: the real-face table is skipped (see DEVSET.md).", file=sys.stderr)
    mine = {m: le.measure(samples, m, args.repeats, sample_cache) for m in models}
    text = le.markdown(real, mine, models)
    if real:
        text += "\n\nPairs at 20 per class (accuracy %, hardest first):\n"
        for m in models:
            text += f"\n- real, {m}: " + ", ".join(f"{k} {v:.0f}" for k, v in real[m]["pairs20"].items())
            text += f"\n- samples, {m}: " + ", ".join(f"{k} {v:.0f}" for k, v in mine[m]["pairs20"].items())
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
