"""The committed sample set: its plan, labels.csv, contact sheet, README and writer."""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edu_core.labels import KOREAN_NAMES, LESSON_CLASSES
from edu_core.samples.recipes import _pick, expression_for, random_identity, random_person, random_scene
from edu_core.samples.render import encode_jpeg, render
from edu_core.samples.spec import (
    AGE_GROUPS,
    BACKGROUNDS,
    GENDERS,
    OCCLUDERS,
    REJECT_REASONS,
    FaceSpec,
    Identity,
    Person,
    SampleConfig,
    SampleError,
)

# ---------------------------------------------------------------------------------------------
# The committed sample set

LABEL_COLUMNS: tuple[str, ...] = (
    "file",
    "class",
    "identity",
    "age_group",
    "gender",
    "intensity",
    "background",
    "occluder",
    "expected_reason",
    "split",
)


@dataclass(frozen=True)
class PlannedImage:
    """One file of the sample set: where it goes, how to paint it and its labels.csv row."""

    file: str  # path relative to the sample folder, with forward slashes
    spec: FaceSpec
    size: tuple[int, int]
    row: dict[str, str] = field(default_factory=dict)


def _identity_for(seed: int, index: int, name: str) -> Identity:
    rng = np.random.default_rng([seed, 1, index])
    age = AGE_GROUPS[index % len(AGE_GROUPS)]
    gender = GENDERS[(index // len(AGE_GROUPS)) % len(GENDERS)]
    return random_identity(rng, name, age_group=age, gender=gender)


def _row(
    plan_file: str, cls: str, person: Person | None, spec: FaceSpec, reason: str, split: str
) -> dict[str, str]:
    return {
        "file": plan_file,
        "class": cls,
        "identity": person.identity.id if person else "",
        "age_group": person.identity.age_group if person else "",
        "gender": person.identity.gender if person else "",
        "intensity": f"{person.expression.intensity:.3f}" if person else "",
        "background": spec.background,
        "occluder": person.occluder if person else "none",
        "expected_reason": reason,
        "split": split,
    }


def _expression_plan(seed: int, cfg: SampleConfig) -> list[PlannedImage]:
    """Train and test faces: every identity shows four of the five classes, in one split only."""
    plan: list[PlannedImage] = []
    n_cls = len(LESSON_CLASSES)
    for split, quota, offset in (("train", cfg.train_per_class, 0), ("test", cfg.test_per_class, 500)):
        counts = dict.fromkeys(LESSON_CLASSES, 0)
        index = 0
        while any(c < quota for c in counts.values()):
            ident = _identity_for(seed, offset + index, f"{split}{index:03d}")
            skip = LESSON_CLASSES[index % n_cls]
            for ci, cls in enumerate(LESSON_CLASSES):
                if cls == skip or counts[cls] >= quota:
                    continue
                rng = np.random.default_rng([seed, 2, offset + index, ci])
                expr = expression_for(cls, rng, identity=ident)
                person = random_person(rng, ident, expr, face_share=cfg.face_share)
                spec = random_scene(rng, (person,))
                counts[cls] += 1
                name = f"{cls}/{cls}_{split}_{ident.id}.jpg"
                plan.append(PlannedImage(name, spec, cfg.size, _row(name, cls, person, spec, "", split)))
            index += 1
    return plan


def reject_spec(reason: str, rng: np.random.Generator, index: int = 0) -> tuple[FaceSpec, tuple[int, int]]:
    """A picture the extractor should refuse with ``reason``, and the size to paint it at.

    ``index`` cycles through the variants of a reason (mask / hand / scarf, ...).
    """
    if reason not in REJECT_REASONS:
        raise SampleError("sample_error", f"unknown reason {reason!r}; allowed: {', '.join(REJECT_REASONS)}")
    cls = LESSON_CLASSES[index % len(LESSON_CLASSES)]
    ident = random_identity(rng, f"rej_{reason}_{index:02d}")
    expr = expression_for(cls, rng)
    size = (640, 480)
    if reason in OCCLUDERS:
        occ = OCCLUDERS[reason][index % len(OCCLUDERS[reason])]
        person = replace(random_person(rng, ident, expr, face_share=(0.24, 0.34)), occluder=occ)
        return random_scene(rng, (person,)), size
    if reason == "close_up":
        # brow to chin still inside the picture, but the face fills 75-90 % of its height
        share = float(rng.uniform(0.57, 0.66))
        s_h = share / 2 * 4 / 3
        lo, hi = 0.9 * s_h, 1.0 - 1.2 * s_h
        person = replace(
            random_person(rng, ident, expr, face_share=(share, share), max_yaw=8.0),
            center=(float(rng.uniform(0.47, 0.53)), float(rng.uniform(lo, hi)) if hi > lo else 0.5),
            roll=float(rng.uniform(-4, 4)),
        )
        return random_scene(rng, (person,)), size
    if reason == "cut_off":
        # a normal-sized face with part of it beyond one edge of the frame
        share = float(rng.uniform(0.26, 0.34))
        side = index % 3
        base = random_person(rng, ident, expr, face_share=(share, share))
        s_h = share / 2 * 4 / 3
        if side == 0:  # off the left or right edge
            cx = share * (0.5 - float(rng.uniform(0.15, 0.3)))
            person = replace(base, center=(cx if index % 2 else 1.0 - cx, base.center[1]))
        elif side == 1:  # chin below the bottom edge
            person = replace(
                base, center=(base.center[0], 1.0 + (float(rng.uniform(0.18, 0.3)) * 2.3 - 1.3) * s_h)
            )
        else:  # forehead above the top edge
            person = replace(base, center=(base.center[0], (1.0 - 2.3 * float(rng.uniform(0.3, 0.4))) * s_h))
        return random_scene(rng, (person,)), size
    if reason == "multiple_faces":
        other = random_identity(rng, f"rej_{reason}_{index:02d}b")
        share = float(rng.uniform(0.2, 0.27))
        a = random_person(rng, ident, expr, face_share=(share, share))
        b = random_person(
            rng,
            other,
            expression_for(_pick(rng, LESSON_CLASSES), rng),
            face_share=(share * 0.85, share * 1.1),
        )
        a = replace(a, center=(float(rng.uniform(0.27, 0.33)), a.center[1]))
        b = replace(
            b,
            center=(
                float(rng.uniform(0.67, 0.73)),
                float(np.clip(a.center[1] + rng.normal(0, 0.04), 0.35, 0.6)),
            ),
        )
        return random_scene(rng, (a, b)), size
    if reason == "no_face":
        return random_scene(rng, (), background=BACKGROUNDS[index % len(BACKGROUNDS)]), size
    if reason == "face_too_small":
        share = float(rng.uniform(0.045, 0.056))
        person = random_person(rng, ident, expr, face_share=(share, share))
        return random_scene(rng, (person,), background=BACKGROUNDS[index % len(BACKGROUNDS)]), (960, 720)
    person = random_person(rng, ident, expr, face_share=(0.24, 0.34))
    spec = random_scene(rng, (person,))
    if reason == "blurry":
        return replace(spec, blur=float(rng.uniform(5.0, 8.0)), noise=1.0), size
    if reason == "too_dark":
        return replace(spec, exposure=float(rng.uniform(0.1, 0.2)), noise=float(rng.uniform(1.0, 2.0))), size
    # too_bright: a blown-out exposure
    return replace(spec, exposure=float(rng.uniform(3.5, 4.5))), size


def _reject_plan(seed: int, cfg: SampleConfig) -> list[PlannedImage]:
    plan = []
    for ri, reason in enumerate(REJECT_REASONS):
        for i in range(cfg.rejects_per_reason):
            rng = np.random.default_rng([seed, 3, ri, i])
            spec, size = reject_spec(reason, rng, i)
            name = f"rejects/{reason}/{reason}_{i:02d}.jpg"
            main = spec.main
            # no_face pictures still carry the class the student meant to photograph
            cls = main.expression.name if main else LESSON_CLASSES[i % len(LESSON_CLASSES)]
            plan.append(PlannedImage(name, spec, size, _row(name, cls, main, spec, reason, "")))
    return plan


def sample_plan(seed: int, cfg: SampleConfig = SampleConfig()) -> list[PlannedImage]:
    """Every file of the sample set, in writing order. Cheap: nothing is painted here."""
    return _expression_plan(seed, cfg) + _reject_plan(seed, cfg)


def paint(item: PlannedImage, quality: int = 85) -> bytes:
    """The JPEG bytes of one planned file."""
    return encode_jpeg(render(item.spec, size=item.size).rgb, quality)


def contact_sheet(
    folder: Path, rows: Sequence[dict[str, str]], *, per_row: int = 10, thumb: int = 112
) -> Image.Image:
    """A grid of thumbnails: one row per lesson class (train first), then one per reject reason."""
    groups: list[tuple[str, list[str]]] = []
    for cls in LESSON_CLASSES:
        files = [r["file"] for r in rows if r["class"] == cls and not r["expected_reason"]]
        groups.append((f"{cls} {KOREAN_NAMES[cls]}", files[:: max(1, len(files) // per_row)][:per_row]))
    for reason in REJECT_REASONS:
        files = [r["file"] for r in rows if r["expected_reason"] == reason]
        groups.append((reason, files[:per_row]))
    th = thumb * 3 // 4
    label_w = 150
    sheet = Image.new("RGB", (label_w + per_row * (thumb + 4), len(groups) * (th + 4) + 4), (245, 245, 245))
    d = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for gi, (label, files) in enumerate(groups):
        y = 4 + gi * (th + 4)
        d.text((6, y + th // 2 - 8), label.split(" ")[0], fill=(20, 20, 20), font=font)
        for fi, name in enumerate(files):
            with Image.open(folder / name) as im:
                im.draft("RGB", (thumb * 2, th * 2))
                small = im.convert("RGB").resize((thumb, th), Image.BILINEAR)
            sheet.paste(small, (label_w + fi * (thumb + 4), y))
    return sheet


def _readme(seed: int, cfg: SampleConfig, plan: Sequence[PlannedImage], total_bytes: int) -> str:
    n_expr = sum(1 for p in plan if not p.row["expected_reason"])
    return f"""# Sample faces (synthetic)

Every face in this folder is **painted by a program** (`edu_core/samples.py`): no photo of a
real person was used, so the set can be shared with any class. The people, their
expressions, the places behind them and the camera effects are drawn from a random seed.

- `<class>/` — {n_expr} expression pictures for the five lesson classes
  ({", ".join(f"{c} {KOREAN_NAMES[c]}" for c in LESSON_CLASSES)}):
  {cfg.train_per_class} for training and {cfg.test_per_class} for testing per class. Each painted person
  appears in only one of the two splits (column `split`), showing up to four different expressions.
- `rejects/<reason>/` — {cfg.rejects_per_reason} pictures per rejection reason that the face extractor
  should refuse (covered mouth or eyes, close-up, cut off, two faces, no face, tiny face,
  blurred, too dark, too bright). The folder name is the extractor's reason code.
- `labels.csv` — one row per file: {", ".join(LABEL_COLUMNS)}. `intensity` is the painted
  strength of the expression (0 subtle .. 1 strong); `expected_reason` is empty for faces that
  should be accepted. Rows of `no_face` pictures carry the class the student "meant" to shoot.
- `contact_sheet.jpg` — thumbnails of every class and reason.

Total size: {total_bytes / 1e6:.1f} MB. Regenerate byte for byte (same Python packages):

```
python -m edu_core.samples --out sample_images --seed {seed}
```
"""


def generate_samples(
    out: Path,
    seed: int = 7,
    cfg: SampleConfig = SampleConfig(),
    *,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> dict[str, object]:
    """Write the sample set into ``out`` (class folders, rejects, labels.csv, README, sheet).

    Existing files with the same names are overwritten; nothing else in ``out`` is touched.
    ``workers`` > 1 paints in that many processes (painting is deterministic, so the bytes
    are the same). Returns a summary (counts, bytes, seconds).
    """
    t0 = time.perf_counter()
    out = Path(out)
    plan = sample_plan(seed, cfg)
    total = 0
    # the pool is shut down on any error too (a full disk, an interrupted run)
    with ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
        quality = [cfg.jpeg_quality] * len(plan)
        if pool is None:
            painted = map(paint, plan, quality)
        else:
            painted = pool.map(paint, plan, quality, chunksize=4)
        for i, (item, data) in enumerate(zip(plan, painted, strict=True)):
            path = out / item.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            total += len(data)
            if progress:
                progress(i + 1, len(plan))
    rows = [item.row for item in plan]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "labels.csv").write_text(buf.getvalue(), encoding="utf-8")
    if cfg.contact_sheet:
        sheet = contact_sheet(out, rows)
        data = encode_jpeg(np.asarray(sheet), 82)
        (out / "contact_sheet.jpg").write_bytes(data)
        total += len(data)
    (out / "README.md").write_text(_readme(seed, cfg, plan, total), encoding="utf-8")
    counts: dict[str, int] = {}
    for r in rows:
        key = r["expected_reason"] or f"{r['class']}/{r['split']}"
        counts[key] = counts.get(key, 0) + 1
    return {
        "out": str(out),
        "seed": seed,
        "files": len(plan),
        "counts": counts,
        "bytes": total,
        "seconds": round(time.perf_counter() - t0, 1),
    }
