"""Precision and recall of every rejection reason on the project's own labelled test photos.

    python bench/rejections.py

Sources, each photo with the reason it should get ("ok" = should be accepted):
  * the committed sample faces: ``sample_images/<class>/`` (ok) and
    ``sample_images/rejects/<reason>/`` (painted masks, sunglasses, close-ups, ...);
  * copies of a real portrait (skimage's astronaut) with drawn occluders, crops, blur and
    exposure changes at several strengths (tests/face_variants.py).
Prints a Markdown table for README.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

from edu_core.faces import REASONS, extract_many
from edu_core.folders import read_labels

ROOT = Path(__file__).resolve().parent.parent


def _test_helper(name: str):
    """A helper module of the test suite (tests/NAME.py), which is a folder of scripts, not a package."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses and pickling look a class's module up there
    spec.loader.exec_module(mod)
    return mod


fv = _test_helper("face_variants")


def portrait_cases() -> list[tuple[str, bytes]]:
    cases: list[tuple[str, bytes]] = [("ok", fv.to_jpeg(fv.astronaut()))]
    cases += [("ok", fv.with_orientation(o)) for o in range(1, 9)]
    cases += [("ok", fv.blurred(r)) for r in (1.0, 1.5)]
    cases += [("ok", fv.darkened(f)) for f in (0.5, 0.7)]
    cases += [("ok", fv.brightened(a, gain=1.0)) for a in (20, 35)]
    cases += [("ok", fv.big_photo(w, seed=w)) for w in (1600, 2000, 3000)]
    cases += [("close_up", fv.close_up(t)) for t in (0.6, 0.7, 0.8, 0.9, 1.0)]
    cases += [("cut_off", fv.cut_off(k)) for k in (0.6, 0.7, 0.8, 0.85)]
    cases += [
        ("occluded_mouth", fv.mask(c))
        for c in ((170, 205, 225), (25, 25, 25), (235, 235, 235), (200, 60, 60))
    ]
    cases += [("occluded_mouth", fv.hand_over_mouth())]
    cases += [("occluded_eyes", fv.sunglasses()), ("occluded_eyes", fv.hair_over_eyes())]
    cases += [("occluded_eyes", fv.hair_over_eyes((200, 170, 110)))]
    cases += [("multiple_faces", fv.two_faces())]
    cases += [("face_too_small", fv.tiny_face(w)) for w in (1800, 2500)]
    # radius 3.5 is as soft as the softest usable real news photos, which the gate keeps
    cases += [("blurry", fv.blurred(r)) for r in (4, 5, 8)]
    cases += [("too_dark", fv.darkened(f)) for f in (0.1, 0.2)]
    cases += [("too_bright", fv.brightened(a)) for a in (120, 160)]
    cases += [("no_face", fv.no_face())]
    return cases


def sample_cases() -> list[tuple[str, Path]]:
    root = ROOT / "sample_images"
    cases: list[tuple[str, Path]] = []
    rows = read_labels(root)
    if rows:
        cases += [(row.expected_reason or "ok", root / row.file) for row in rows]
    else:
        for p in sorted((root / "rejects").glob("*/*.jpg")):
            cases.append((p.parent.name, p))
    return [(e, p) for e, p in cases if p.exists()]


def table(name: str, cases: list) -> None:
    if not cases:
        print(f"\n({name}: no photos found)")
        return
    results = extract_many([c[1] for c in cases], workers=2)
    truth = [c[0] for c in cases]
    got = [r.reason or "ok" for r in results]
    confusions = Counter((t, g) for t, g in zip(truth, got, strict=True) if t != g)
    print(f"\n**{name}** ({len(cases)} photos)\n")
    print("| reason | photos | precision | recall |\n|---|---|---|---|")
    for reason in ("ok", *REASONS):
        n_true = sum(t == reason for t in truth)
        n_got = sum(g == reason for g in got)
        hit = sum(t == g == reason for t, g in zip(truth, got, strict=True))
        if n_true == 0 and n_got == 0:
            continue
        prec = f"{hit / n_got:.2f}" if n_got else "–"
        rec = f"{hit / n_true:.2f}" if n_true else "–"
        print(f"| {reason} | {n_true} | {prec} | {rec} |")
    if confusions:
        worst = ", ".join(f"{t}→{g} ×{n}" for (t, g), n in confusions.most_common(6))
        print(f"\nMost common mistakes: {worst}")


def main() -> None:
    table("Synthetic sample faces (sample_images/)", sample_cases())
    table("Real portrait with drawn changes (tests/face_variants.py)", portrait_cases())


if __name__ == "__main__":
    main()
