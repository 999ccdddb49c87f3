"""The face gate on real photographs: the development set of shared/DEVSET.md.

    EXPRESSION_LAB_REALFACES=~/.cache/expression-lab-devset python bench/realfaces.py
        [--part test|fit|all] [--no-cache] [--workers 2] [--limit N] [--models]

What it judges, every photo split by person (``person_split``: no person is in both the people
the gate was fitted on and the people it is measured on):
  * clean photos: every dev-set face, tight crops padded into a larger frame (``framed``) so that
    the face is about 40 % of it, as a student's photo would be; the real phone selfies as taken;
  * real masks (the selfies: worn, below the nose; on the chin leaves the mouth visible = ok);
  * synthetic occluders on the clean photos (``edu_core.occlusions``): masks, gaiters, hands,
    sunglasses, tinted glasses, cap brims, fringes;
  * frame problems made from the clean photos: the face filling the frame, the frame cutting it;
  * the tight crops as given (they may count as close-ups).
Prints Markdown tables of how many are kept/rejected per group (expression, ethnicity, children
vs adults, colour vs greyscale, source). Extraction results are cached under
``~/.cache/expression-lab-gate`` (never in the repository); only the cover decision, which is
cheap, is recomputed from the cached crop on every run.

No image, crop or per-image number of the dev set is ever printed or written into the repository.
When the folder is absent (CI) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edu_core.facecodec import load_npz, save_npz
from edu_core.faces import (
    COVER_FEATURES_VERSION,
    CropConfig,
    FaceResult,
    Landmarker,
    cover_features,
    decide_cover,
    extract,
)
from edu_core.folders import read_labels
from edu_core.fsutil import atomic_write
from edu_core.occlusions import KINDS, occlude

ROOT = Path(__file__).resolve().parent.parent

ENV = "EXPRESSION_LAB_REALFACES"
CACHE = Path(os.environ.get("EXPRESSION_LAB_GATE_CACHE", Path.home() / ".cache" / "expression-lab-gate"))
# Bump when anything before the cover decision (detection, framing, occluders) changes.
CACHE_VERSION = "v2"  # v2: the second, low-confidence look for a face
COVER = ("occluded_mouth", "occluded_eyes")
SUBSAMPLED = ("kor_aihub", "lfw_mux")
NO_COVER = CropConfig(check_cover=False)
FRAME = ("close_up", "cut_off")
# the held-out share of people; the rest is what a learned decision may be fitted on
TEST_SHARE = 0.5


def devset_root() -> Path | None:
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    return path if (path / "labels.csv").is_file() else None


def person_split(person: str) -> str:
    """``"test"`` or ``"fit"``, fixed per person by a hash (so stable across runs and machines)."""
    h = int(hashlib.sha1(person.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < TEST_SHARE else "fit"


@dataclass(frozen=True)
class Row:
    source: str
    cls: str
    file: str
    person: str
    ethnicity: str
    age: str  # "child" | "adult"
    colour: str  # "colour" | "greyscale"
    mouth: str  # CAFE's mouth note: open / closed_or_na / tongue, else ""

    @property
    def split(self) -> str:
        return person_split(self.source + ":" + self.person)


def _notes(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def load_rows(root: Path) -> list[Row]:
    rows = []
    for r in read_labels(root):
        notes = _notes(r.extra.get("notes", ""))
        src = r.source or ""
        eth = notes.get("ethnicity") or ("Korean" if src == "kor_aihub" else "unknown")
        age = "child" if src == "cafe_children" else "adult"
        colour = "greyscale" if src in ("cafe_children", "lfw_mux") else "colour"
        rows.append(
            Row(src, r.label or "", r.file, r.person or r.file, eth, age, colour, notes.get("mouth", ""))
        )
    return rows


def framed(rgb: np.ndarray, share: float = 0.42) -> np.ndarray:
    """A tight face crop put into a frame ``1/share`` times its size, as a photo of a person would be.

    The border continues the crop's own edges, mirrored and heavily blurred, so the frame looks like
    an out-of-focus background rather than a flat card the detector could lock on to.
    """
    import cv2

    h, w = rgb.shape[:2]
    side = int(round(max(h, w) / share))
    py, px = (side - h) // 2, (side - w) // 2
    canvas = cv2.copyMakeBorder(rgb, py, side - h - py, px, side - w - px, cv2.BORDER_REFLECT_101)
    blurred = cv2.GaussianBlur(canvas, (0, 0), side / 25)
    out = blurred.copy()
    out[py : py + h, px : px + w] = rgb
    # soften the seam so that the crop's rectangle is not an edge
    alpha = np.zeros((side, side), np.float32)
    alpha[py : py + h, px : px + w] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, side / 200))
    alpha[py + 4 : py + h - 4, px + 4 : px + w - 4] = 1.0
    out = out.astype(np.float32) * alpha[..., None] + blurred.astype(np.float32) * (1 - alpha[..., None])
    return out.clip(0, 255).astype(np.uint8)


@dataclass
class Case:
    """One photo to judge: a dev-set row under one variant, with the verdict it should get."""

    row: Row
    variant: str  # "clean", "tight", "real_<mask_td class>", a key of occlusions.KINDS, "close_up", "cut_off"
    expected: str  # "ok" or a reason code
    seed: int = 0
    result: FaceResult | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        variant = "real_mask" if self.variant.startswith("real_") else self.variant  # one photo, one key
        text = f"{CACHE_VERSION}|{self.row.file}|{variant}|{self.seed}"
        return hashlib.sha1(text.encode()).hexdigest()[:20]


def _load_rgb(root: Path, row: Row) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(root / row.file) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def frame_landmarks(result: FaceResult) -> np.ndarray:
    """The result's landmarks in pixels of the (upright, full-size) photo it was found in."""
    x0, y0, x1, _ = result.crop_box
    k = (x1 - x0) / result.crop.shape[1]
    lm = result.landmarks[:, :2].astype(np.float32) * k
    return lm + np.array([x0, y0], np.float32)


def _frame_variant(rgb: np.ndarray, lm: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
    fw, fh = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if kind == "close_up":  # the face fills the frame: a square a little smaller than the face
        half = max(fw, fh) / 2 * rng.uniform(0.75, 1.0)
        box = (cx - half, cy - half, cx + half, cy + half)
    else:  # one edge of the frame runs through the face, keeping 45-75 % of it
        keep = rng.uniform(0.45, 0.75)
        side = rng.integers(4)
        m = 0.6 * max(fw, fh)
        box = [x0 - m, y0 - m, x1 + m, y1 + m]
        if side == 0:
            box[2] = x0 + keep * fw
        elif side == 1:
            box[0] = x1 - keep * fw
        elif side == 2:
            box[3] = y0 + keep * fh
        else:
            box[1] = y1 - keep * fh
    bx0, by0 = int(max(0, box[0])), int(max(0, box[1]))
    bx1, by1 = int(min(w, box[2])), int(min(h, box[3]))
    return np.ascontiguousarray(rgb[by0:by1, bx0:bx1])


# --- the cache ----------------------------------------------------------------------------------


_FEATURES: dict[str, dict[str, float]] = {}
_FEATURES_DIRTY = [False]


def _features_file() -> Path:
    return CACHE / f"features-v{COVER_FEATURES_VERSION}.pkl"


def load_features() -> None:
    import pickle

    try:
        _FEATURES.update(pickle.loads(_features_file().read_bytes()))
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        pass


def save_features() -> None:
    import pickle

    if _FEATURES_DIRTY[0]:
        atomic_write(_features_file(), pickle.dumps(_FEATURES), durable=False)  # a cache: rebuilt if lost
        _FEATURES_DIRTY[0] = False


def features_of(key: str, r: FaceResult) -> dict[str, float] | None:
    """The cover features of a cached result (computed once per features version, kept in the cache)."""
    if r.crop is None:
        return None
    if key not in _FEATURES:
        _FEATURES[key] = cover_features(r.crop, r.landmarks, r.blendshapes)
        _FEATURES_DIRTY[0] = True
    return _FEATURES[key]


def rejudge(case: Case, cfg: CropConfig) -> str:
    """The verdict the current gate gives a cached result (only the cover decision is redone)."""
    r = case.result
    # a face seen only at low confidence (extract's second look) is judged for a cover and
    # otherwise stays "no_face", as extract() itself does when it makes the cover decision
    faint = r.reason == "no_face" and r.crop is not None
    if r.reason in COVER or r.reason is None or faint:
        feats = features_of(case.key, r)
        if feats is None:
            return r.reason or "ok"
        reason, _, _ = decide_cover(feats, cfg)
        return reason or ("no_face" if faint else "ok")
    return r.reason


# --- building and running the cases --------------------------------------------------------------


def clean_cases(rows: Iterable[Row]) -> list[Case]:
    cases = []
    for row in rows:
        if row.source == "mask_td":
            expected = "occluded_mouth" if row.cls in ("mask_correct", "mask_below_nose") else "ok"
            cases.append(Case(row, f"real_{row.cls}" if row.cls != "no_mask" else "clean", expected))
        else:
            cases.append(Case(row, "clean", "ok"))
            if row.source == "kor_aihub" and row.split == "test" and _hash(row.file) % 4 == 0:
                cases.append(Case(row, "tight", "close_up"))
    return cases


def _hash(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)


def derived_cases(clean: list[Case]) -> list[Case]:
    """Occluded and badly framed copies of every clean photo that was found (kinds cycle by hash)."""
    kinds = list(KINDS)
    out = []
    for c in clean:
        if c.variant != "clean" or c.result is None or c.result.crop is None:
            continue
        h = _hash(c.row.file)
        # Extraction costs ~0.1-0.3 s a photo on two shared cores: every other photo gets an
        # occluder (every one of the few real selfies), an eighth of the held-out ones a bad frame.
        if h % 2 == 0 or c.row.source == "mask_td":
            kind = kinds[(h // 2) % len(kinds)]
            out.append(Case(c.row, kind, KINDS[kind], seed=h))
        if c.row.split == "test" and h % 8 == 1:
            frame_kind = ("close_up", "cut_off")[(h // 8) % 2]
            out.append(Case(c.row, frame_kind, frame_kind, seed=h))
    return out


def _image_for(root: Path, case: Case, clean_of: dict[str, Case]) -> np.ndarray:
    rgb = _load_rgb(root, case.row)
    if case.variant != "tight" and case.row.source != "mask_td":
        rgb = framed(rgb)
    if case.variant in ("clean", "tight") or case.variant.startswith("real_"):
        return rgb
    lm = frame_landmarks(clean_of[case.row.file].result)
    if case.variant in KINDS:
        return occlude(rgb, lm, case.variant, seed=case.seed)
    return _frame_variant(rgb, lm, case.variant, np.random.default_rng(case.seed))


def run_cases(
    root: Path,
    cases: list[Case],
    clean_of: dict[str, Case],
    *,
    workers: int,
    use_cache: bool,
    cached_only: bool = False,
) -> None:
    todo = []
    for c in cases:
        cached = load_npz(CACHE / f"{c.key}.npz") if use_cache else None
        if cached is not None:
            c.result = cached
        else:
            todo.append(c)
    if not todo or cached_only:
        return
    local = threading.local()
    made: list[Landmarker] = []
    lock = threading.Lock()
    done = [0]

    def one(c: Case) -> None:
        lm = getattr(local, "lm", None)
        if lm is None:
            lm = local.lm = Landmarker()
            with lock:
                made.append(lm)
        c.result = extract(_jpeg(_image_for(root, c, clean_of)), NO_COVER, landmarker=lm)
        save_npz(CACHE / f"{c.key}.npz", c.result)
        with lock:
            done[0] += 1
            if done[0] % 250 == 0:
                print(f"  extracted {done[0]}/{len(todo)}", file=sys.stderr, flush=True)

    print(f"extracting {len(todo)} photos (cache: {CACHE})", file=sys.stderr, flush=True)
    try:
        with ThreadPoolExecutor(max_workers=workers) as ex:
            list(ex.map(one, todo))
    finally:
        for lm in made:
            lm.close()


def build(root: Path, *, part: str = "test", workers: int = 2, use_cache: bool = True,
          limit: int | None = None, cached_only: bool = False) -> list[Case]:  # fmt: skip
    """Every case of ``part`` ("test", "fit" or "all" people), extracted (from the cache when it can)."""
    # Two shared cores extract ~2 photos/s: half of the two large sources (chosen by a hash of the
    # file name, so the same half every time) is plenty for every group to have hundreds of photos.
    rows = [r for r in load_rows(root) if r.source not in SUBSAMPLED or (_hash(r.file) >> 8) % 2 == 0]
    if part != "all":
        rows = [r for r in rows if r.split == part]
    if limit:
        rows = rows[:: max(1, len(rows) // limit)][:limit]
    clean = clean_cases(rows)
    run_cases(root, clean, {}, workers=workers, use_cache=use_cache, cached_only=cached_only)
    clean_of = {c.row.file: c for c in clean if c.variant == "clean"}
    derived = derived_cases(clean)
    run_cases(root, derived, clean_of, workers=workers, use_cache=use_cache, cached_only=cached_only)
    # with cached_only, whatever has not been extracted yet is left out
    load_features()
    return [c for c in clean + derived if c.result is not None]


# --- tables -------------------------------------------------------------------------------------


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f} %" if n else "–"


def groups(row: Row) -> Iterator[tuple[str, str]]:
    yield "all", "all"
    yield "source", row.source
    yield "expression", row.cls
    yield "ethnicity", row.ethnicity
    yield "age", row.age
    yield "colour", row.colour
    if row.mouth:
        yield "mouth (CAFE note)", row.mouth


def keep_table(cases: list[Case], verdicts: list[str], min_n: int = 15) -> tuple[str, list[str]]:
    """Clean photos kept, per group; returns the table and the groups under their goal."""
    stats: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for c, v in zip(cases, verdicts, strict=True):
        if c.variant != "clean" or c.expected != "ok":
            continue
        for g in groups(c.row):
            stats[g]["n"] += 1
            stats[g]["ok"] += v == "ok"
            if v != "ok":
                stats[g][v] += 1
    lines = ["| group | value | photos | kept | most common rejection |", "|---|---|---|---|---|"]
    missed = []
    for (g, val), s in sorted(stats.items(), key=lambda kv: (kv[0][0] != "all", kv[0])):
        n, ok = s["n"], s["ok"]
        rej = Counter({k: v for k, v in s.items() if k not in ("n", "ok")})
        top = ", ".join(f"{k} {v}" for k, v in rej.most_common(2)) or "–"
        lines.append(f"| {g} | {val} | {n} | {_pct(ok, n)} | {top} |")
        goal = 0.97 if g == "all" else 0.95
        if n >= min_n and ok < goal * n:
            missed.append(f"{g}={val}: {_pct(ok, n)} of {n} (goal {goal:.0%})")
    return "\n".join(lines), missed


def reject_table(cases: list[Case], verdicts: list[str]) -> str:
    stats: dict[str, Counter] = defaultdict(Counter)
    for c, v in zip(cases, verdicts, strict=True):
        if c.variant == "clean":
            continue
        for key in (c.variant, f"{c.variant} · {c.row.colour}"):
            s = stats[key]
            s["n"] += 1
            s["expected"] = 0
            if c.expected == "ok":
                s["right"] += v == "ok"
                s["rejected"] += v != "ok"
            else:
                s["rejected"] += v != "ok"
                s["right"] += v == c.expected or (c.expected in FRAME and v in FRAME)
            s[f"→{v}"] += 1
    lines = [
        "| photos | expected | n | rejected | right verdict | most common verdicts |",
        "|---|---|---|---|---|---|",
    ]
    expected_of = {c.variant: c.expected for c in cases}
    for key in sorted(stats, key=lambda k: (expected_of[k.split(" · ")[0]], k)):
        s = stats[key]
        verd = Counter({k[1:]: v for k, v in s.items() if k.startswith("→")})
        top = ", ".join(f"{k} {v}" for k, v in verd.most_common(3))
        exp = expected_of[key.split(" · ")[0]]
        lines.append(
            f"| {key} | {exp} | {s['n']} | {_pct(s['rejected'], s['n'])} "
            f"| {_pct(s['right'], s['n'])} | {top} |"
        )
    return "\n".join(lines)


def summary(cases: list[Case], verdicts: list[str]) -> dict[str, float]:
    def rate(pred) -> tuple[int, int]:
        sel = [(c, v) for c, v in zip(cases, verdicts, strict=True) if pred(c)]
        return sel, len(sel)

    clean, n = rate(lambda c: c.variant == "clean" and c.expected == "ok")
    cover, m = rate(lambda c: c.variant != "clean" and c.expected in COVER)
    frame, f = rate(lambda c: c.variant in FRAME)
    return {
        "clean_kept": sum(v == "ok" for _, v in clean) / max(n, 1),
        "cover_rejected": sum(v != "ok" for _, v in cover) / max(m, 1),
        "cover_named": sum(v == c.expected for c, v in cover) / max(m, 1),
        "frame_rejected": sum(v != "ok" for _, v in frame) / max(f, 1),
        "n_clean": n,
        "n_cover": m,
        "n_frame": f,
    }


def report(cases: list[Case], cfg: CropConfig = CropConfig()) -> str:
    verdicts = [rejudge(c, cfg) for c in cases]
    keep, missed = keep_table(cases, verdicts)
    s = summary(cases, verdicts)
    out = [
        f"Clean photos kept: **{s['clean_kept']:.1%}** of {s['n_clean']} · covered faces rejected: "
        f"**{s['cover_rejected']:.1%}** of {s['n_cover']}, right part named **{s['cover_named']:.1%}** · "
        f"cut off / filling the frame rejected: **{s['frame_rejected']:.1%}** of {s['n_frame']}",
        "",
        "**Clean, uncovered photos** (tight crops padded into a frame)",
        "",
        keep,
        "",
        "**Covered and badly framed photos**",
        "",
        reject_table(cases, verdicts),
    ]
    if missed:
        out += ["", "Groups under their goal: " + "; ".join(missed)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("test", "fit", "all"), default="test",
                    help="whose photos: held-out people (default), the fitting people, or all")  # fmt: skip
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-cache", action="store_true", help="extract every photo again")
    ap.add_argument("--limit", type=int, help="judge only about this many dev-set rows (quick look)")
    ap.add_argument("--cached-only", action="store_true", help="judge only photos already in the cache")
    ap.add_argument(
        "--models", action="store_true", help="also run bench/realfaces_models.py (model accuracy)"
    )
    args = ap.parse_args(argv)
    root = devset_root()
    if root is None:
        print(
            f"The real-photo dev set is not here: set {ENV} to its folder (shared/DEVSET.md). Nothing to do."
        )
        return 0
    cases = build(root, part=args.part, workers=args.workers, use_cache=not args.no_cache, limit=args.limit,
                  cached_only=args.cached_only)  # fmt: skip
    print(f"## Face gate on real photos ({args.part} people, dev set {root.name})\n")
    print(report(cases))
    save_features()
    if args.models:
        # --- hook: model accuracy on the same people (bench/realfaces_models.py, written separately) ---
        import realfaces_models  # noqa: PLC0415

        realfaces_models.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
