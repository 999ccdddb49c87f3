"""A small, synthetic copy of the AI Hub Korean emotion data set, laid out like the real one.

The real data set ("한국인 감정인식을 위한 복합 영상") cannot be shipped: a school downloads
it from AI Hub. Tests and teachers without it use this generator instead. It writes the
same folders (``[원천]``/``[라벨]`` under ``Training``/``Validation``), the same per-class
JSON label lists (uploader label, three blind annotators with their own tall boxes), the
same awkward details (annotators who disagree, ``알수없음``, photos stored sideways or
mirrored with an EXIF orientation, label files in CP949 or with a UTF-8 BOM, zips) and
faces drawn by :mod:`edu_core.samples`. Everything here is synthetic; nothing is a real
person.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from edu_core import samples
from edu_core.labels import KOREAN7_CLASSES, KOREAN7_NAMES

#: Class names as the data set writes them, in the data set's order.
KOREAN7_DATASET_NAMES: tuple[str, ...] = tuple(KOREAN7_NAMES[c] for c in KOREAN7_CLASSES)
_CLASS_IDS: dict[str, str] = {KOREAN7_NAMES[c]: c for c in KOREAN7_CLASSES}
UNKNOWN = "알수없음"
LAYOUTS: tuple[str, ...] = ("official", "unzipped", "flat")
ENCODINGS: tuple[str, ...] = ("utf-8", "utf-8-sig", "cp949")

#: The ten place categories of the data set (our own short wording), in the order of
#: ``edu_core.samples.BACKGROUNDS``.
BACKGROUNDS: tuple[str, ...] = (
    "공공시설&종교&의료시설",
    "교통&이동수단",
    "상업시설&점포&시장",
    "스포츠&레저시설",
    "오락&공연시설",
    "사무실&행사장",
    "자연환경",
    "도심&거리",
    "문화유적&관광지",
    "주거&숙박시설",
)


@dataclass(frozen=True)
class Disagreement:
    """How three blind annotators read one uploader class.

    ``agree`` is the share of records whose 3-annotator majority equals the uploader's
    class, ``no_majority`` the share with three different answers; the rest get a
    majority on one of ``confused_with``. Numbers follow what users of the real data
    reported (기쁨 97.5 %, 중립 94.6 %, 당황 77.5 %, 불안 37.8 % with 26.7 % no majority);
    the other three classes are our estimates.
    """

    agree: float
    no_majority: float
    confused_with: tuple[str, ...]
    unanimous: float = 0.7  # share of the agreeing records where all three agree


DISAGREEMENT: dict[str, Disagreement] = {
    "기쁨": Disagreement(0.975, 0.01, ("중립", "당황"), unanimous=0.85),
    "당황": Disagreement(0.775, 0.10, ("불안", "중립", "기쁨"), unanimous=0.55),
    "분노": Disagreement(0.85, 0.06, ("상처", "당황", "중립"), unanimous=0.65),
    "불안": Disagreement(0.378, 0.267, ("상처", "슬픔", "당황", "중립"), unanimous=0.35),
    "상처": Disagreement(0.55, 0.20, ("슬픔", "불안", "분노"), unanimous=0.4),
    "슬픔": Disagreement(0.70, 0.12, ("상처", "불안", "중립"), unanimous=0.5),
    "중립": Disagreement(0.946, 0.03, ("불안", "슬픔", "기쁨"), unanimous=0.8),
}

# Phones store most sideways photos as 6 or 8; the mirror family (2, 4, 5, 7) comes from
# front cameras and editing apps, and is the case PIL silently gets wrong.
_ORIENTATION_WEIGHTS: dict[int, float] = {6: 0.35, 8: 0.15, 3: 0.15, 2: 0.10, 4: 0.08, 5: 0.08, 7: 0.09}

# The inverse of what a viewer does for each EXIF orientation: the stored pixels are the
# upright picture transformed so that applying the orientation gives it back.
_STORE_TRANSFORM: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

# Photo shapes as (width, height) ratios to the long side: 4:3, 16:9 and square,
# landscape and portrait.
_ASPECTS: tuple[tuple[float, float], ...] = (
    (1.0, 0.75),
    (0.75, 1.0),
    (1.0, 0.5625),
    (0.5625, 1.0),
    (1.0, 1.0),
)
_ASPECT_WEIGHTS = (0.35, 0.35, 0.1, 0.1, 0.1)
_FIRST_DAY = datetime(2020, 11, 1)  # the real photos were taken from late 2020


@dataclass(frozen=True)
class DemoConfig:
    """Everything that shapes a generated demo set. Defaults look like the real data."""

    per_class: int = 20  # images per class, Training and Validation together
    seed: int = 0
    layout: str = "official"  # one of LAYOUTS
    zipped: bool = False  # official layout only: each [원천]/[라벨] folder becomes a .zip
    json_encodings: tuple[str, ...] = ENCODINGS  # cycled over the label files
    long_side: int = 1440  # phone-like; tests use ~200 to stay fast
    exif_share: float = 0.3  # share of photos stored rotated/mirrored with EXIF orientation != 1
    validation_share: float = 0.2
    images_per_person: float = 5.0  # photos per synthetic uploader, across classes
    n_missing: int = 0  # photos listed in a label file but left out (the importer must notice)
    jpeg_quality: int = 88


@dataclass(frozen=True)
class DemoSummary:
    """What was written: counts that tests and the CLI report."""

    root: str
    layout: str
    zipped: bool
    n_images: int
    n_records: int
    n_label_files: int
    n_persons: int
    per_class: dict[str, int]
    orientations: dict[int, int]
    label_encodings: dict[str, int]
    majority_matches_folder: dict[str, float]
    missing_images: list[str] = field(default_factory=list)


def annotate(rng: np.random.Generator, folder: str) -> tuple[list[str], str | None]:
    """Draw the three annotators' answers for one photo acted as ``folder``.

    Returns the three labels and the class the face should show (the majority's reading
    when there is one, else the acted class): uploaders who meant 불안 but look sad get
    a sad face *and* a sad majority, which is what makes agreement filtering worth doing.
    """
    prof = DISAGREEMENT[folder]
    u = rng.random()
    if u < prof.agree:
        if rng.random() < prof.unanimous:
            labels = [folder] * 3
        else:
            other = UNKNOWN if rng.random() < 0.15 else str(rng.choice(prof.confused_with))
            labels = [folder, folder, other]
        shown = folder
    elif u < prof.agree + prof.no_majority:
        pool = [c for c in prof.confused_with]
        picks = list(rng.choice(pool, size=min(2, len(pool)), replace=False))
        if rng.random() < 0.2:
            picks[-1] = UNKNOWN
        labels = [folder, *map(str, picks)]
        shown = folder
    elif rng.random() < 0.04:
        # Two annotators could not tell at all: the majority is 알수없음.
        labels = [UNKNOWN, UNKNOWN, folder]
        shown = folder
    else:
        other = str(rng.choice(prof.confused_with))
        labels = [other, other, folder] if rng.random() < 0.6 else [other] * 3
        shown = other
    order = rng.permutation(3)
    return [labels[i] for i in order], shown


def majority(labels: Sequence[str], min_agree: int = 2) -> str | None:
    """The label given by at least ``min_agree`` annotators, or None."""
    if not labels:
        return None
    label, count = Counter(labels).most_common(1)[0]
    return label if count >= min_agree else None


def _annotator_boxes(
    rng: np.random.Generator, face_box: tuple[float, float, float, float], size: tuple[int, int]
) -> list[dict[str, float]]:
    """Three tall boxes (w/h about 0.73, forehead to below the chin) around the true face."""
    x0, y0, x1, y1 = face_box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    face_h = max(y1 - y0, (x1 - x0) / 0.8)
    w, h = size
    boxes = []
    for _ in range(3):
        bh = face_h * rng.uniform(1.05, 1.25)
        bw = bh * rng.uniform(0.68, 0.78)
        bcx = cx + rng.normal(0, 0.04) * bw
        bcy = cy + rng.normal(0.02, 0.04) * bh
        box = {
            "minX": round(float(np.clip(bcx - bw / 2, 0, w - 1)), 1),
            "minY": round(float(np.clip(bcy - bh / 2, 0, h - 1)), 1),
            "maxX": round(float(np.clip(bcx + bw / 2, 1, w)), 1),
            "maxY": round(float(np.clip(bcy + bh / 2, 1, h)), 1),
        }
        boxes.append(box)
    return boxes


def _render(
    rng: np.random.Generator, shown: str, intensity: float, size: tuple[int, int], identity: samples.Identity
) -> tuple[np.ndarray, tuple[float, float, float, float], str]:
    """An upright synthetic photo of ``identity`` showing ``shown`` (a Korean class name).

    Returns the RGB array, the true face box (x0, y0, x1, y1) and the place name as the
    data set writes it.
    """
    place = int(rng.integers(len(BACKGROUNDS)))
    w, h = size
    # The data set's faces fill 10-40 % of the frame; MediaPipe's short-range detector needs
    # a face at least ~15 % of the width, so portrait frames (narrow) allow a wider share.
    lo, hi = (0.17, 0.3) if w >= h else (0.24, 0.4)
    spec = samples.random_spec(
        rng,
        _CLASS_IDS[shown],
        classes="korean7",
        identity=identity,
        intensity=intensity,
        background=samples.BACKGROUNDS[place],
        face_share=(lo, hi),
    )
    rendered = samples.render(spec, size=size)
    if rendered.face_box is None:  # pragma: no cover - random_spec always places one person
        raise ValueError("the sample painter returned a picture without a face")
    x0, y0, x1, y1 = (float(v) for v in rendered.face_box)
    return rendered.rgb, (x0, y0, x1, y1), BACKGROUNDS[place]


def _jpeg_bytes(upright: np.ndarray, orientation: int, quality: int) -> bytes:
    im = Image.fromarray(upright)
    exif = Image.Exif()
    if orientation != 1:
        im = im.transpose(_STORE_TRANSFORM[orientation])
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def _split_dirs(layout: str, split: str, cls: str) -> tuple[Path, Path, str]:
    """(image folder, label folder, label file name) relative to the root."""
    long = "training" if split == "Training" else "validation"
    tag = "TRAIN" if split == "Training" else "VALID"
    label_file = f"img_emotion_{long}_data({cls}).json"
    if layout == "official":
        return (
            Path(split) / f"[원천]EMOIMG_{cls}_{tag}_01",
            Path(split) / f"[라벨]EMOIMG_{cls}_{tag}",
            label_file,
        )
    if layout == "unzipped":
        return Path(split) / f"{cls}_unzipped", Path(split) / "labels", label_file
    if layout == "flat":
        return Path(cls), Path(cls), label_file
    raise ValueError(f"unknown layout {layout!r}; allowed: {', '.join(LAYOUTS)}")


def _encode_json(records: list[dict], encoding: str) -> bytes:
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; allowed: {', '.join(ENCODINGS)}")
    text = json.dumps(records, ensure_ascii=False, indent=1)
    return text.encode(encoding)


def _zip_folder(folder: Path) -> None:
    """Replace ``folder`` with ``folder.zip`` holding its files at the zip's root."""
    target = folder.with_name(folder.name + ".zip")
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, arcname=path.name)
    shutil.rmtree(folder)


def write_demo_set(
    out: Path | str,
    per_class: int = 20,
    seed: int = 0,
    *,
    zipped: bool = False,
    layout: str = "official",
    json_encodings: Sequence[str] = ENCODINGS,
    long_side: int = 1440,
    exif_share: float = 0.3,
    n_missing: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Write a synthetic AI-Hub-format set with ``per_class`` photos per class under ``out``.

    The same arguments give byte-identical files. ``out`` must be empty or absent.
    """
    cfg = DemoConfig(
        per_class=per_class,
        seed=seed,
        layout=layout,
        zipped=zipped,
        json_encodings=tuple(json_encodings),
        long_side=long_side,
        exif_share=exif_share,
        n_missing=n_missing,
    )
    return write_demo(Path(out), cfg, progress=progress)


def write_demo(out: Path, cfg: DemoConfig, progress: Callable[[int, int], None] | None = None) -> DemoSummary:
    """Write the demo set described by ``cfg`` (see :func:`write_demo_set`)."""
    if cfg.layout not in LAYOUTS:
        raise ValueError(f"unknown layout {cfg.layout!r}; allowed: {', '.join(LAYOUTS)}")
    if cfg.zipped and cfg.layout != "official":
        raise ValueError("zipped=True needs layout='official' (the zips are the official folders)")
    if not cfg.json_encodings:
        raise ValueError("json_encodings must name at least one of: " + ", ".join(ENCODINGS))
    for enc in cfg.json_encodings:
        if enc not in ENCODINGS:
            raise ValueError(f"unknown encoding {enc!r}; allowed: {', '.join(ENCODINGS)}")
    if cfg.per_class < 1:
        raise ValueError("per_class must be at least 1")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)

    n_total = cfg.per_class * len(KOREAN7_DATASET_NAMES)
    n_persons = max(2, int(round(n_total / cfg.images_per_person)))
    persons = []
    for i in range(n_persons):
        pid = hashlib.sha256(f"expression-lab-demo/{cfg.seed}/{i}".encode()).hexdigest()
        gender = str(rng.choice(["남", "여"]))
        age = int(rng.choice([10, 20, 30, 40, 50, 60]))
        # One painted identity per uploader, matching the record's gender and age, so a
        # split by uploader really tests on faces the model has never seen.
        identity = samples.random_identity(
            rng,
            pid[:12],
            age_group="teen" if age < 20 else ("senior" if age >= 60 else "adult"),
            gender="male" if gender == "남" else "female",
        )
        persons.append(
            {
                "id": pid,
                "gender": gender,
                "age": age,
                "isProf": "전문인" if rng.random() < 0.5 else "일반인",
                "identity": identity,
            }
        )

    # Plan every photo first so the EXIF cycle and the missing files are spread over classes.
    plan = []
    for cls in KOREAN7_DATASET_NAMES:
        n_valid = int(round(cfg.per_class * cfg.validation_share)) if cfg.per_class >= 3 else 0
        for k in range(cfg.per_class):
            plan.append((cls, "Validation" if k < n_valid else "Training", k))
    # Exactly round(exif_share * n) photos are stored rotated or mirrored; the first seven of
    # them take orientations 2..8 in turn, so even a tiny set holds every EXIF case.
    n_plan = len(plan)
    n_rot = int(round(cfg.exif_share * n_plan))
    if cfg.exif_share > 0:
        n_rot = max(n_rot, min(7, n_plan))
    rotated = [int(i) for i in rng.choice(n_plan, size=n_rot, replace=False)]
    weights = np.array(list(_ORIENTATION_WEIGHTS.values()))
    orientations = dict.fromkeys(range(n_plan), 1)
    for k, idx in enumerate(rotated):
        orientations[idx] = (
            k + 2 if k < 7 else int(rng.choice(list(_ORIENTATION_WEIGHTS), p=weights / weights.sum()))
        )
    # Photos left out are upright ones where possible, so no EXIF case goes missing.
    upright = [i for i in range(n_plan) if orientations[i] == 1]
    pool = upright if len(upright) >= cfg.n_missing else list(range(n_plan))
    missing_idx = {int(i) for i in rng.choice(pool, size=min(cfg.n_missing, len(pool)), replace=False)}

    records: dict[tuple[str, str], list[dict]] = {}
    counts_orient: Counter[int] = Counter()
    matches: Counter[str] = Counter()
    written = 0
    missing: list[str] = []
    seq: Counter[str] = Counter()
    for idx, (cls, split, _k) in enumerate(plan):
        person = persons[int(rng.integers(n_persons))]
        labels, shown = annotate(rng, cls)
        maj = majority(labels)
        if maj == cls:
            matches[cls] += 1
        agree_n = Counter(labels)[shown]
        intensity = {3: float(rng.uniform(0.7, 1.0)), 2: float(rng.uniform(0.45, 0.8))}.get(
            agree_n, float(rng.uniform(0.25, 0.5))
        )
        ax, ay = _ASPECTS[int(rng.choice(len(_ASPECTS), p=_ASPECT_WEIGHTS))]
        size = (max(64, int(round(cfg.long_side * ax))), max(64, int(round(cfg.long_side * ay))))
        rgb, face_box, bg = _render(rng, shown, intensity, size, person["identity"])
        size = (rgb.shape[1], rgb.shape[0])
        seq[person["id"]] += 1
        stamp = (_FIRST_DAY + timedelta(seconds=int(rng.integers(0, 120 * 86400)))).strftime("%Y%m%d%H%M%S")
        filename = (
            f"{person['id']}_{person['gender']}_{person['age']}_{cls}_{bg}_"
            f"{stamp}-{seq[person['id']]:03d}-{int(rng.integers(1, 20)):03d}.jpg"
        )
        boxes = _annotator_boxes(rng, face_box, size)
        record = {
            "filename": filename,
            "gender": person["gender"],
            "age": person["age"],
            "isProf": person["isProf"],
            "faceExp_uploader": cls,
            "bg_uploader": bg,
        }
        for name, label, box in zip(("annot_A", "annot_B", "annot_C"), labels, boxes, strict=True):
            record[name] = {"boxes": box, "faceExp": label, "bg": bg}
        records.setdefault((cls, split), []).append(record)
        o = orientations[idx]
        img_dir, _, _ = _split_dirs(cfg.layout, split, cls)
        if idx in missing_idx:
            missing.append(filename)
        else:
            (out / img_dir).mkdir(parents=True, exist_ok=True)
            (out / img_dir / filename).write_bytes(_jpeg_bytes(rgb, o, cfg.jpeg_quality))
            counts_orient[o] += 1
            written += 1
        if progress is not None:
            progress(idx + 1, len(plan))

    enc_counts: Counter[str] = Counter()
    folders: set[Path] = set()
    for n_file, ((cls, split), recs) in enumerate(sorted(records.items())):
        img_dir, label_dir, label_name = _split_dirs(cfg.layout, split, cls)
        enc = cfg.json_encodings[n_file % len(cfg.json_encodings)]
        (out / label_dir).mkdir(parents=True, exist_ok=True)
        (out / label_dir / label_name).write_bytes(_encode_json(recs, enc))
        enc_counts[enc] += 1
        folders.update({img_dir, label_dir})
    if cfg.zipped:
        for folder in sorted(folders):
            if (out / folder).is_dir():
                _zip_folder(out / folder)

    per_class_written = Counter(cls for cls, _split, _ in plan)
    summary = DemoSummary(
        root=str(out),
        layout=cfg.layout,
        zipped=cfg.zipped,
        n_images=written,
        n_records=len(plan),
        n_label_files=len(records),
        n_persons=len({r["filename"].split("_", 1)[0] for recs in records.values() for r in recs}),
        per_class=dict(per_class_written),
        orientations={int(k): v for k, v in sorted(counts_orient.items())},
        label_encodings=dict(enc_counts),
        majority_matches_folder={c: round(matches[c] / cfg.per_class, 3) for c in KOREAN7_DATASET_NAMES},
        missing_images=missing,
    )
    (out / "DEMO_README.txt").write_text(
        "Synthetic demo set in the AI Hub Korean emotion format, written by edu_core.korean7.demo.\n"
        "Every face is drawn by a program; nothing here is a real person or real AI Hub data.\n"
        f"Settings: {json.dumps(asdict(cfg), ensure_ascii=False)}\n",
        encoding="utf-8",
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m edu_core.korean7 demo-set --out DIR --per-class N [--json]``."""
    parser = argparse.ArgumentParser(
        prog="python -m edu_core.korean7 demo-set",
        description="Write a synthetic demo set laid out like the AI Hub Korean emotion data.",
    )
    parser.add_argument("--out", required=True, type=Path, help="empty or new folder")
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", choices=LAYOUTS, default="official")
    parser.add_argument("--zipped", action="store_true", help="zip each [원천]/[라벨] folder")
    parser.add_argument(
        "--encodings",
        default=",".join(ENCODINGS),
        help="label file encodings to cycle through, comma-separated (utf-8, utf-8-sig, cp949)",
    )
    parser.add_argument("--long-side", type=int, default=1440, help="photo size; 1440 is phone-like")
    parser.add_argument("--exif-share", type=float, default=0.3)
    parser.add_argument("--missing", type=int, default=0, help="leave out this many listed photos")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)

    def _bar(done: int, total: int) -> None:
        if not args.json:
            sys.stderr.write(f"\r{done}/{total} photos")
            if done == total:
                sys.stderr.write("\n")

    try:
        summary = write_demo_set(
            args.out,
            args.per_class,
            args.seed,
            zipped=args.zipped,
            layout=args.layout,
            json_encodings=[e.strip() for e in args.encodings.split(",") if e.strip()],
            long_side=args.long_side,
            exif_share=args.exif_share,
            n_missing=args.missing,
            progress=_bar,
        )
    except (ValueError, FileExistsError) as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(asdict(summary), ensure_ascii=False, indent=1))
    else:
        print(
            f"wrote {summary.n_images} photos and {summary.n_label_files} label files to {summary.root} "
            f"(synthetic faces)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
