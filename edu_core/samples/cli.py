"""``python -m edu_core.samples``: paint the set, check it, or hand over to the AI Hub demo."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from edu_core.samples.catalog import generate_samples
from edu_core.samples.quality import quality_report
from edu_core.samples.spec import SampleConfig


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _check_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edu_core.samples check",
        description="Measure the sample set's quality gates with MediaPipe and the face extractor.",
    )
    parser.add_argument("--dir", type=Path, default=Path("sample_images"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N pictures per class/reason")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(list(argv))
    report = quality_report(args.dir, limit=args.limit)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"exactly one face found: {report['detection']:.1%} of {report['expression_images']} pictures")
    print(f"accepted by the extractor: {report['accepted']:.1%}")
    for cls, means in report["blendshapes"].items():
        print(f"  {cls:9s} " + "  ".join(f"{k}={v:.2f}" for k, v in means.items()))
    for reason, r in report["rejects"].items():
        print(f"  {reason:15s} {r['correct']:.0%} of {r['n']}  {r['got']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``--out DIR --seed S [--json]`` or ``check --dir DIR`` (``aihub``: see ``__main__``)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in and args_in[0] == "check":
        return _check_main(args_in[1:])
    parser = argparse.ArgumentParser(
        prog="python -m edu_core.samples",
        description="Paint the synthetic sample faces (sample_images/). "
        "Use 'aihub --out DIR --per-class N' for a seven-class demo set in the AI Hub layout.",
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train-per-class", type=int, default=SampleConfig.train_per_class)
    parser.add_argument("--test-per-class", type=int, default=SampleConfig.test_per_class)
    parser.add_argument("--rejects-per-reason", type=int, default=SampleConfig.rejects_per_reason)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--workers", type=int, default=1, help="paint in this many processes (same bytes)")
    args = parser.parse_args(args_in)
    cfg = SampleConfig(
        train_per_class=args.train_per_class,
        test_per_class=args.test_per_class,
        rejects_per_reason=args.rejects_per_reason,
    )

    def show(done: int, total: int) -> None:
        if not args.json and (done % 50 == 0 or done == total):
            print(f"{done}/{total}", file=sys.stderr)

    summary = generate_samples(args.out, args.seed, cfg, progress=show, workers=args.workers)
    summary["sha256"] = _digest(args.out)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(
            f"wrote {summary['files']} pictures ({summary['bytes'] / 1e6:.1f} MB) to {args.out} "
            f"in {summary['seconds']} s"
        )
    return 0
