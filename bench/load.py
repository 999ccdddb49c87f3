"""A whole class at once: N students on one running ``streamlit run`` server (loopback only).

    python bench/load.py [--students 30] [--per-class 12] [--think 1.0] [--json bench/out/load.json]

Each simulated student is a real websocket session speaking the browser's protocol
(tests/stclient.py), pausing ``--think`` seconds on each page as a reader
would: join, upload and extract ``5 x per-class`` photos (their own copies,
so no two students share a file), label them on the label page, split, train the pieces
model while watching the live view, and try the model on a new photo. A probe tab loads the
start page from scratch every second; its loads on the idle server, before the students
arrive, are the baseline. Prints per-step p50/p95, total time, the server's peak memory,
errors, and whether every acknowledged photo is stored exactly once.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Not for edu_core (installed by requirements.txt): this bench drives the test suite's simulated
# class, tests/classroom.py, which imports its sibling tests/stclient.py by its top-level name.
sys.path.insert(0, str(HERE.parent / "tests"))

import classroom  # noqa: E402
from stclient import StreamlitClient  # noqa: E402

from edu_core.store import Store  # noqa: E402


def idle_loads(url: str, n: int) -> list[float]:
    """Fresh-tab loads of the start page with nobody else on the server."""
    times = []
    for _ in range(n):
        with StreamlitClient(url) as c:
            times.append(c.open("").seconds)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--per-class", type=int, default=12, help="photos per class and student (5 classes)")
    ap.add_argument("--think", type=float, default=1.0, help="seconds a student reads a page before acting")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lab-load-") as tmp:
        data = Path(tmp) / "data"
        db = Store(data)
        klass, _ = db.create_class("부하 시험", "4321")
        db.close()
        with classroom.running_server(data, Path(tmp) / "server.log") as server:
            idle_loads(server.url, 3)  # warm-up: imports, model files, caches
            idle = idle_loads(server.url, 20)
            report = classroom.run_class(
                server, klass.join_code, students=args.students, per_class=args.per_class, think=args.think
            )
            problems = classroom.verify_store(data, report)
            db = Store(data)
            stored = sum(len(db.list_images(db.resume(r.code).id)) for r in report.students if r.code)
            db.close()

    errors = report.all_errors()
    during = [s for s, busy, kind in report.page_loads if busy and kind == "fresh"]
    switches = [s for s, busy, kind in report.page_loads if busy and kind == "switch"]
    acknowledged = sum(len(r.acknowledged) for r in report.students)
    pct = classroom.percentile
    cores = Path("/proc/cpuinfo").read_text().count("processor")
    where = f"one server ({platform.machine()}, {cores} cores)"
    print(f"## {args.students} students x {5 * args.per_class} photos, {where}\n")
    print("| step | n | p50 s | p95 s |\n|---|---:|---:|---:|")
    for step, n, p50, p95 in report.step_table():
        print(f"| {step} | {n} | {p50:.2f} | {p95:.2f} |")
    print(f"| fresh page load, idle server (baseline) | {len(idle)} | {pct(idle, 50):.2f} | "
          f"{pct(idle, 95):.2f} |")  # fmt: skip
    print(f"| fresh page load while someone trains | {len(during)} | "
          f"{pct(during, 50):.2f} | {pct(during, 95):.2f} |")  # fmt: skip
    print(f"| page switch while someone trains | {len(switches)} | "
          f"{pct(switches, 50):.2f} | {pct(switches, 95):.2f} |")  # fmt: skip
    ratio = pct(during, 95) / pct(idle, 95)  # fresh loads, like for like
    print(f"\n- whole class, first join to last prediction: **{report.seconds:.0f} s**")
    print(f"- server peak memory (VmHWM): **{report.peak_rss_mb:.0f} MB**")
    busy = report.cpu_seconds / (report.seconds * cores)
    print(f"- server CPU: {report.cpu_seconds:.0f} core-seconds, {busy:.0%} of all cores over the run")
    print(f"- p95 page load while training vs idle: **{ratio:.1f}x**")
    print(f"- errors: **{len(errors)}**" + "".join(f"\n  - {e}" for e in errors[:20]))
    print(f"- photos acknowledged by the page: {acknowledged}; rows in the store: {stored}; "
          f"store problems: **{len(problems)}**" + "".join(f"\n  - {p}" for p in problems[:20]))  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "students": args.students, "per_class": args.per_class, "seconds": report.seconds,
            "peak_rss_mb": report.peak_rss_mb, "errors": errors, "problems": problems, "think": args.think,
            "cpu_seconds": report.cpu_seconds,
            "steps": report.step_table(), "idle": idle, "during_training": during,
            "switches_during_training": switches,
            "acknowledged": acknowledged, "stored": stored, "when": time.strftime("%Y-%m-%d %H:%M"),
        }, indent=1))  # fmt: skip
    return 1 if errors or problems else 0


if __name__ == "__main__":
    sys.exit(main())
