"""``python -m edu_core.charts``: one lesson chart from numbers, as offline HTML or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edu_core.charts.lesson import class_count_bars, probability_bars, recall_bars
from edu_core.cli import print_json
from edu_core.i18n import DEFAULT_LANG
from edu_core.labels import LESSON_CLASSES


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edu_core.charts",
        description="Build a lesson chart from numbers and write it as a standalone HTML file (offline).",
    )
    parser.add_argument("kind", choices=("probabilities", "counts", "recall"))
    parser.add_argument("values", nargs=5, type=float, help="one value per class in lesson order")
    parser.add_argument("--lang", default=DEFAULT_LANG, choices=("ko", "en"))
    parser.add_argument("--out", type=Path, help="write HTML here (plotly.js embedded, no network)")
    parser.add_argument("--json", action="store_true", help="print the figure as JSON")
    args = parser.parse_args(argv)
    if args.kind == "probabilities":
        fig = probability_bars(args.values, lang=args.lang)
    elif args.kind == "counts":
        fig = class_count_bars(dict(zip(LESSON_CLASSES, map(int, args.values), strict=True)), lang=args.lang)
    else:
        fig = recall_bars(args.values, lang=args.lang)
    if args.out:
        fig.write_html(args.out, include_plotlyjs=True)
    if args.json or not args.out:
        print_json({"kind": args.kind, "figure": json.loads(fig.to_json())})
    return 0
