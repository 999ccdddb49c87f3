"""The lesson's models measured on real photographs of new people.

Accuracy for people the model never saw, at 20 and 60 training photos per class, mean ± sd
over several seeds, for the pieces model, the CNN head (frozen EfficientNet-Lite0) and the
CNN full fine-tune, on two tasks:

* ``five`` — the lesson's five classes (joy, sadness, surprise, anger, neutral) from the CAFE
  children and the LFW news photos pooled, with the test figure also split by source;
* ``korean6`` — the six classes of the Korean adults (AI Hub crops).

    export EXPRESSION_LAB_REALFACES=~/.cache/expression-lab-devset
    python bench/realfaces_models.py [--seeds 5] [--kinds pieces,cnn,combined,cnn_full] [--tasks five,korean6]

The full fine-tune is the expensive part: on a shared 2-core CPU one 60-per-class run of 3 epochs
at 112 px took 7-11 minutes (``--device cuda`` and more ``--full-epochs`` where there is a GPU);
``--verbose`` prints every seed as it finishes.

Splits are person-disjoint: one fixed share of the people (``--test-share``) is the test set
of every seed; each seed draws N photos per class from the other people. Faces are cut with
the app's landmarker and crop (``edu_core.faces``) but without the gate's rejection
decision, so these figures do not move when the gate changes. Crops, landmarks and CNN
embeddings are cached under ``~/.cache/expression-lab/realfaces-models`` (never in the
repository). The dev set itself never leaves this machine: only aggregate figures are
printed and written.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edu_core import facecodec
from edu_core.faces import FaceResult
from edu_core.folders import LabelRow, read_labels
from edu_core.fsutil import atomic_write
from edu_core.landmarks import BLENDSHAPE_NAMES

ROOT = Path(__file__).resolve().parents[1]

ENV = "EXPRESSION_LAB_REALFACES"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "expression-lab" / "realfaces-models"
#: Bump when the way faces are cut, or the cache is laid out, changes, so stale caches are not
#: reused ("2": each face in edu_core.facecodec's arrays, the pose no longer rounded to float32).
EXTRACT_VERSION = "2"

#: dev-set class folder -> lesson class id, per task
FIVE = {"happy": "joy", "sad": "sadness", "surprise": "surprise", "angry": "anger", "neutral": "neutral"}
KOREAN6 = {
    "happy": "joy",
    "sad": "sadness",
    "angry": "anger",
    "anxious": "anxiety",
    "embarrassed": "embarrassment",
    "hurt": "hurt",
}
TASKS = {
    "five": (("cafe_children", "lfw_mux"), FIVE),
    "korean6": (("kor_aihub",), KOREAN6),
}


def read_rows(root: Path) -> list[LabelRow]:
    """The dev set's ``labels.csv`` (its ``person_id_if_known`` column is read as ``person``)."""
    return read_labels(root)


def _save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write one cache file whole or not at all (not fsynced: a lost cache is rebuilt)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buf.getvalue(), durable=False)


# --------------------------------------------------------------------------- faces


def _cut(lm: Any, rgb: np.ndarray) -> tuple[FaceResult, bool] | None:
    """The largest face as the app cuts it (crop, landmarks in crop pixels, blendshapes, pose),
    and whether the photo had to be set into a larger frame first."""
    from edu_core.faces import CropConfig, head_pose, square_crop

    faces = lm.detect(rgb)
    padded = False
    if not faces:
        # tight crops (the Korean set, most CAFE and LFW crops) hide the face's outline from the
        # detector; set the photo into a larger frame of its own mean colour, as the app's
        # close-up check does
        h, w = rgb.shape[:2]
        fill = rgb.reshape(-1, 3).mean(0).astype(np.uint8)
        canvas = np.empty((2 * h, 2 * w, 3), np.uint8)
        canvas[:] = fill
        canvas[h // 2 : h // 2 + h, w // 2 : w // 2 + w] = rgb
        rgb, padded = canvas, True
        faces = lm.detect(rgb)
    if not faces:
        return None
    face = max(faces, key=lambda f: f.area)
    cfg = CropConfig()
    crop, box = square_crop(rgb, face.box, cfg.margin, cfg.crop_size)
    k = cfg.crop_size / (box[2] - box[0])
    pts = face.landmarks.copy()
    pts[:, 0] = (pts[:, 0] - box[0]) * k
    pts[:, 1] = (pts[:, 1] - box[1]) * k
    pts[:, 2] *= k
    cut = FaceResult(
        status="ok",
        crop=crop,
        landmarks=pts.astype(np.float32),
        blendshapes={n: float(face.blendshapes.get(n, 0.0)) for n in BLENDSHAPE_NAMES},
        pose=head_pose(face.matrix),
    )
    return cut, padded


def _to_cache(faces: Sequence[FaceResult | None], padded: Sequence[bool]) -> dict[str, np.ndarray]:
    """One source's faces in one file: face ``i``'s facecodec arrays under ``"i/<name>"``."""
    out = {"padded": np.array(padded, bool)}
    for i, face in enumerate(faces):
        if face is not None:
            out.update({f"{i}/{name}": a for name, a in facecodec.to_arrays(face).items()})
    return out


def _from_cache(d: dict[str, np.ndarray], n: int) -> list[FaceResult | None]:
    """The faces of :func:`_to_cache` (``None`` where no face was found)."""
    parts: dict[int, dict[str, np.ndarray]] = {}
    for key, a in d.items():
        i, sep, name = key.partition("/")
        if sep:
            parts.setdefault(int(i), {})[name] = a
    return [facecodec.from_arrays(parts[i]) if i in parts else None for i in range(n)]


def extract_source(root: Path, rows: list[LabelRow], source: str) -> list[FaceResult | None]:
    """Every face of one source (``None`` where none was found), cached as one file keyed by the
    files' hashes."""
    from PIL import Image

    from edu_core.faces import Landmarker

    mine = [r for r in rows if r.source == source]
    key = hashlib.sha1((EXTRACT_VERSION + "".join(r.sha256 or "" for r in mine)).encode()).hexdigest()[:12]
    path = CACHE / f"faces-{source}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as d:
            return _from_cache({k: d[k] for k in d.files}, len(mine))
    n = len(mine)
    faces: list[FaceResult | None] = [None] * n
    padded = [False] * n
    t0 = time.perf_counter()
    with Landmarker(num_faces=2) as lm:
        for i, r in enumerate(mine):
            with Image.open(root / r.file) as im:
                rgb = np.asarray(im.convert("RGB"))
            cut = _cut(lm, rgb)
            if cut is not None:
                faces[i], padded[i] = cut
            if (i + 1) % 200 == 0:
                print(f"  {source}: {i + 1}/{n} ({time.perf_counter() - t0:.0f} s)", flush=True)
    _save_cache(path, _to_cache(faces, padded))
    return faces


def load_task(root: Path, rows: list[LabelRow], task: str) -> dict[str, Any]:
    """Accepted faces of one task with their labels, people and sources (in labels.csv order)."""
    sources, classes = TASKS[task]
    faces, labels, people, srcs = [], [], [], []
    missed: Counter[str] = Counter()
    for source in sources:
        found = extract_source(root, rows, source)
        mine = [r for r in rows if r.source == source]
        for face, r in zip(found, mine, strict=True):
            if r.label not in classes:
                continue
            if face is None:
                missed[source] += 1
                continue
            faces.append(face)
            labels.append(classes[r.label])
            people.append(f"{source}:{r.person or ''}")
            srcs.append(source)
    return {
        "faces": faces,
        "labels": labels,
        "people": people,
        "sources": srcs,
        "classes": [c for c in classes.values()],
        "missed": dict(missed),
    }


def person_split(people: Sequence[str], sources: Sequence[str], share: float, seed: int) -> tuple[list, list]:
    """(train, test) indices: ``share`` of each source's people (and all their photos) are test."""
    rng = np.random.default_rng(seed)
    test_people: set[str] = set()
    for source in sorted(set(sources)):
        mine = sorted({p for p, s in zip(people, sources, strict=True) if s == source})
        order = rng.permutation(len(mine))
        test_people |= {mine[j] for j in order[: int(round(share * len(mine)))]}
    train = [i for i, p in enumerate(people) if p not in test_people]
    test = [i for i, p in enumerate(people) if p in test_people]
    return train, test


# --------------------------------------------------------------------------- CNN embeddings


def embedding_cache(
    faces: Sequence[Any], arch: str = "efficientnet_lite0", size: int = 224, *, name: str = "emb"
) -> Any:
    """An EmbeddingCache holding the frozen backbone's embedding of every crop (and its mirror).

    ``name`` names the cache file, so other photo sets (the painted samples) keep their own.
    """
    import torch

    from edu_core.models import ExpressionModel
    from edu_core.train import EmbeddingCache, embed_crops

    keys = [EmbeddingCache.key_of(f.crop) for f in faces]
    cache = EmbeddingCache(max_items=4 * len(faces) + 100)
    path = CACHE / f"{name}-{arch}-{size}.npz"
    stored: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path, allow_pickle=False) as d:
            stored = {k: d[k] for k in d.files}
    todo = [i for i, k in enumerate(keys) if f"{k}-0" not in stored]
    if todo:
        print(f"  embedding {len(todo)} crops (and their mirror images) with {arch} ...", flush=True)
        model = ExpressionModel("cnn", 2, arch=arch, image_size=size)
        crops = [faces[i].crop for i in todo]
        t0 = time.perf_counter()
        for mirrored in (False, True):
            emb = embed_crops(model, crops, device=torch.device("cpu"), mirrored=mirrored).numpy()
            for j, i in enumerate(todo):
                stored[f"{keys[i]}-{int(mirrored)}"] = emb[j].astype(np.float32)
        print(f"  ... {time.perf_counter() - t0:.0f} s", flush=True)
        _save_cache(path, stored)
    for k in keys:
        for m in (False, True):
            cache.put((arch, size, k, m), stored[f"{k}-{int(m)}"])
    return cache


# --------------------------------------------------------------------------- measuring

KIND_LABELS = {
    "pieces": "pieces model",
    "cnn": "CNN head (frozen EfficientNet-Lite0)",
    "combined": "combined head (CNN embedding + pieces)",
    "cnn_full": "CNN full fine-tune",
}


def train_once(kind: str, faces, labels, classes, seed: int, cache: Any, args: argparse.Namespace):
    from edu_core.train import TrainConfig, train

    if kind == "cnn_full":
        cfg = TrainConfig(
            seed=seed, mode="full", epochs=args.full_epochs, image_size=args.full_size, device=args.device
        )
        return train("cnn", faces, labels, cfg, class_names=classes).bundle
    cfg = TrainConfig(seed=seed, mode="head", device="cpu")
    return train(kind, faces, labels, cfg, class_names=classes, embedding_cache=cache).bundle


def run_task(task: str, data: dict[str, Any], args: argparse.Namespace, cache: Any) -> dict[str, Any]:
    from edu_core.predict import predict_proba
    from edu_core.train import choose_per_class

    faces, labels, sources = data["faces"], data["labels"], data["sources"]
    classes = data["classes"]
    train_pool, test = person_split(data["people"], sources, args.test_share, args.split_seed)
    available = {c: sum(labels[i] == c for i in train_pool) for c in classes}
    test_faces = [faces[i] for i in test]
    y_test = np.array([classes.index(labels[i]) for i in test])
    groups = {"all": np.ones(len(test), bool)}
    if len(set(sources)) > 1:
        for s in sorted(set(sources)):
            groups[s] = np.array([sources[i] == s for i in test])
    out: dict[str, Any] = {
        "classes": classes,
        "n_train_people": len({data["people"][i] for i in train_pool}),
        "n_test_people": {
            g: len({data["people"][test[j]] for j in np.flatnonzero(m)}) for g, m in groups.items()
        },
        "n_test_photos": {g: int(m.sum()) for g, m in groups.items()},
        "test_per_class": {c: int((y_test == k).sum()) for k, c in enumerate(classes)},
        "train_available_per_class": available,
        "not_found": data["missed"],
        "results": {},
    }
    print(
        f"\n[{task}] train people {out['n_train_people']}, test people {out['n_test_people']}, "
        f"test photos {out['n_test_photos']}; available for training per class {available}",
        flush=True,
    )
    for kind in args.kinds:
        for n in args.sizes:
            accs: dict[str, list[float]] = {g: [] for g in groups}
            bal: list[float] = []
            secs: list[float] = []
            for seed in range(args.seeds):
                chosen = choose_per_class(train_pool, labels, n, seed)
                t = time.perf_counter()
                bundle = train_once(
                    kind, [faces[i] for i in chosen], [labels[i] for i in chosen], classes, seed, cache, args
                )
                secs.append(time.perf_counter() - t)
                probs = predict_proba(bundle, test_faces, embedding_cache=cache)
                hit = probs.argmax(1) == y_test
                for g, m in groups.items():
                    accs[g].append(float(hit[m].mean()))
                bal.append(float(np.mean([hit[y_test == k].mean() for k in range(len(classes))])))
                if args.verbose:
                    print(
                        f"    {kind} {n}/class seed {seed}: {hit.mean() * 100:.1f} % ({secs[-1]:.0f} s)",
                        flush=True,
                    )
            res = {
                "accuracy": {g: (float(np.mean(v)), float(np.std(v, ddof=1))) for g, v in accs.items()},
                "balanced_accuracy": (float(np.mean(bal)), float(np.std(bal, ddof=1))),
                "train_seconds_median": statistics.median(secs),
                "short_classes": {c: a for c, a in available.items() if a < n},
            }
            out["results"][f"{kind}@{n}"] = res
            cells = "  ".join(f"{g} {m * 100:.1f}±{s * 100:.1f}" for g, (m, s) in res["accuracy"].items())
            print(
                f"  {kind:9s} {n:3d}/class: {cells}  balanced {res['balanced_accuracy'][0] * 100:.1f}  "
                f"({statistics.median(secs):.1f} s/run)",
                flush=True,
            )
    return out


def _pm(v: tuple[float, float] | None) -> str:
    return "—" if v is None else f"{v[0] * 100:.1f} ± {v[1] * 100:.1f}"


def markdown(report: dict[str, Any], args: argparse.Namespace) -> str:
    five, kor = report["tasks"].get("five"), report["tasks"].get("korean6")
    lines = [
        f"Real photos, new people ({report['date']}; mean ± sd over {args.seeds} seeds, accuracy in %):",
        "",
        "| model | photos per class | 5 classes: all | children (CAFE) | news (LFW) "
        "| Korean adults, 6 classes |",
        "|---|---|---|---|---|---|",
    ]
    for kind in args.kinds:
        for n in args.sizes:
            key = f"{kind}@{n}"
            f = five["results"].get(key) if five else None
            k = kor["results"].get(key) if kor else None
            fa = f["accuracy"] if f else {}
            lines.append(
                f"| {KIND_LABELS[kind]} | {n} | {_pm(fa.get('all'))} | {_pm(fa.get('cafe_children'))} "
                f"| {_pm(fa.get('lfw_mux'))} | {_pm(k['accuracy']['all'] if k else None)} |"
            )
    lines.append("")
    for name, t in (("5 classes", five), ("Korean 6", kor)):
        if t:
            lines.append(
                f"{name}: {t['n_train_people']} training people; test people {t['n_test_people']}, "
                f"test photos {t['n_test_photos']}; training photos available per class "
                f"{t['train_available_per_class']}."
            )
    if "cnn_full" in args.kinds:
        lines.append(
            f"CNN full fine-tune: {args.full_epochs} epochs at {args.full_size} px on the CPU "
            "(a short run for the figure; on a GPU the app trains longer at 224 px)."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/realfaces_models.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--sizes", default="20,60", help="training photos per class")
    ap.add_argument("--kinds", default="pieces,cnn,combined,cnn_full")
    ap.add_argument("--tasks", default="five,korean6")
    ap.add_argument(
        "--test-share", type=float, default=1 / 3, help="share of each source's people kept for test"
    )
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--full-epochs", type=int, default=3)
    ap.add_argument("--full-size", type=int, default=112, help="image size of the full fine-tune")
    ap.add_argument("--device", default="cpu", help="for the full fine-tune")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose", action="store_true", help="print every seed's figure as it comes")
    ap.add_argument("--out", default=str(CACHE / "report.json"), help="aggregate figures (JSON)")
    args = ap.parse_args(argv)
    value = os.environ.get(ENV, "").strip()
    if not value:
        print(
            f"{ENV} is not set: no real-photo development set on this machine, nothing to measure "
            "(see DEVSET.md)."
        )
        return 0
    root = Path(value).expanduser()
    if not (root / "labels.csv").is_file():
        print(f"{ENV}={value} has no labels.csv; build the set first (see DEVSET.md).")
        return 0
    import torch

    torch.set_num_threads(max(1, args.threads))
    args.kinds = [k for k in args.kinds.split(",") if k]
    bad = sorted(set(args.kinds) - set(KIND_LABELS))
    if bad:
        ap.error(f"unknown kinds {bad}; allowed: {', '.join(KIND_LABELS)}")
    args.sizes = [int(s) for s in args.sizes.split(",")]
    tasks = [t for t in args.tasks.split(",") if t]
    rows = read_rows(root)
    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "tasks": {},
        "args": {k: v for k, v in vars(args).items() if k != "out"},
    }
    for task in tasks:
        data = load_task(root, rows, task)
        cache = embedding_cache(data["faces"]) if set(args.kinds) & {"cnn", "combined"} else None
        report["tasks"][task] = run_task(task, data, args, cache)
    text = markdown(report, args)
    print("\n" + text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
