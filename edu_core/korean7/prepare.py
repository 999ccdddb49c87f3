"""Building the crop cache: a balanced sample, each face cut once, an 8:1:1 split by person.

:func:`prepare` is resumable: every shard of crops is written with the list of its photos,
and a re-run with the same settings skips what an earlier, interrupted run already did.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edu_core.faces import LandmarkerPool
from edu_core.fsutil import atomic_write
from edu_core.korean7.agreement import Labelled, LabelReport, agreement_labels
from edu_core.korean7.base import CACHE_FORMAT, Korean7Error, present_classes
from edu_core.korean7.cache import (
    PRECROPPED_MARGIN,
    PhotoReader,
    PrepareConfig,
    PrepareSummary,
    crop_one,
    load_parts,
)
from edu_core.korean7.layout import ImportResult, import_dataset
from edu_core.labels import KOREAN7_CLASSES

SPLITS = ("train", "val", "test")
Progress = Callable[[int, int, str], None]


def assign_person_splits(
    keys_by_person: dict[str, list[str]], fractions: Sequence[float], seed: int
) -> dict[str, str]:
    """Assign whole persons to train/val/test so that image counts follow ``fractions``.

    Greedy on a seeded shuffle: each person goes to the split furthest below its target.
    """
    total = sum(len(v) for v in keys_by_person.values())
    fr = np.asarray(fractions, dtype=np.float64)
    fr = fr / fr.sum()
    rng = np.random.default_rng(seed)
    persons = sorted(keys_by_person)
    order = rng.permutation(len(persons))
    # big groups first so the small ones can even out the counts
    ordered = sorted((persons[i] for i in order), key=lambda p: -len(keys_by_person[p]))
    counts = np.zeros(3)
    out: dict[str, str] = {}
    for p in ordered:
        n = len(keys_by_person[p])
        deficit = fr * (counts.sum() + n) - counts
        j = int(np.argmax(deficit)) if total else 0
        counts[j] += n
        for key in keys_by_person[p]:
            out[key] = SPLITS[j]
    return out


@dataclass
class _Plan:
    """What to crop: a shuffled queue and a target per class, and what is done already."""

    queues: dict[str, list[Labelled]]
    target: dict[str, int]
    done: dict[str, dict[str, Any]]
    failed: dict[str, str]
    resumed: int
    item_by_key: dict[str, Labelled] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.item_by_key = {it.record.filename: it for q in self.queues.values() for it in q}

    def handled(self, key: str) -> bool:
        return key in self.done or key in self.failed

    def next_batch(self, shard_size: int) -> list[Labelled]:
        """Next candidates per class, walking each shuffled queue past failures until the
        class has its target of crops (done and failed photos are skipped)."""
        batch: list[Labelled] = []
        for cls, q in self.queues.items():
            need = self.target[cls] - sum(1 for it in q if it.record.filename in self.done)
            for it in q:
                if need <= 0 or len(batch) >= shard_size:
                    break
                if not self.handled(it.record.filename):
                    batch.append(it)
                    need -= 1
        return batch


def _check(cfg: PrepareConfig) -> None:
    if cfg.mode not in ("crop", "resize"):
        raise ValueError(f"mode must be 'crop' or 'resize', not {cfg.mode!r}")
    if cfg.crop_source not in ("engine", "boxes"):
        raise ValueError(f"crop_source must be 'engine' or 'boxes', not {cfg.crop_source!r}")


def _pin_settings(cache: Path, cfg: PrepareConfig) -> None:
    """Refuse to mix crops of other settings into one cache; remember these on first use."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("workers",)}
    settings["split"] = list(cfg.split)
    path = cache / "prepare_config.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != settings:
            raise Korean7Error(
                "cache_config_mismatch",
                f"{cache} was prepared with other settings; use a new folder ({old} != {settings})",
            )
    else:
        atomic_write(path, json.dumps(settings, ensure_ascii=False))


def _plan(labelled: list[Labelled], cfg: PrepareConfig, cache: Path, wanted: set[str] | None) -> _Plan:
    done, failed = load_parts(cache)
    by_class: dict[str, list[Labelled]] = defaultdict(list)
    for item in labelled:
        by_class[item.label].append(item)
    rng = np.random.default_rng(cfg.seed)
    queues: dict[str, list[Labelled]] = {}
    for cls in KOREAN7_CLASSES:
        items = sorted(by_class.get(cls, []), key=lambda it: it.record.filename)
        items = [items[i] for i in rng.permutation(len(items))]
        if cfg.prefer_unanimous:
            items.sort(key=lambda it: -it.votes)  # stable: the shuffle stays within each vote count
        if wanted is not None:
            items = [it for it in items if it.record.filename in wanted]
        queues[cls] = items
    every = cfg.per_class is None or wanted is not None
    target = {c: len(q) if every else min(cfg.per_class or 0, len(q)) for c, q in queues.items()}
    return _Plan(queues, target, done, failed, resumed=len(done))


def _write_part(cache: Path, n_part: int, outcomes: list[Any], plan: _Plan, size: int) -> None:
    """One shard and its entry list; the list goes last, so a half-written part is redone."""
    good = [o for o in outcomes if o.crop is not None]
    shard = f"part-{n_part:05d}.npy"
    meta = {
        "shard": shard,
        "entries": [
            {
                "key": o.key,
                "label": plan.item_by_key[o.key].label,
                "source": o.source,
                "iou": None if o.iou is None else round(o.iou, 3),
                "engine_reason": o.engine_reason,
            }
            for o in good
        ],
        "failed": {o.key: o.source for o in outcomes if o.crop is None},
    }
    arr = np.stack([o.crop for o in good]) if good else np.zeros((0, size, size, 3), np.uint8)
    buf = io.BytesIO()
    np.save(buf, arr)
    # rebuildable from the photos: no fsync (a 100 MB shard per call would stall the disk)
    atomic_write(cache / shard, buf.getvalue(), durable=False)
    atomic_write(cache / f"part-{n_part:05d}.json", json.dumps(meta, ensure_ascii=False), durable=False)
    for row, entry in enumerate(meta["entries"]):
        plan.done[entry["key"]] = {**entry, "shard": shard, "row": row}
    plan.failed.update(meta["failed"])


def _crop_all(cache: Path, plan: _Plan, cfg: PrepareConfig, progress: Progress | None) -> None:
    pool = (
        LandmarkerPool(size=max(1, cfg.workers))
        if cfg.mode == "crop" and cfg.crop_source == "engine"
        else None
    )
    reader = PhotoReader()
    n_part = len(list(cache.glob("part-*.json")))
    planned = sum(plan.target.values())
    processed = sum(1 for q in plan.queues.values() for it in q if plan.handled(it.record.filename))
    try:
        with ThreadPoolExecutor(max_workers=max(1, cfg.workers)) as ex:
            while batch := plan.next_batch(cfg.shard_size):
                outcomes = []
                for out in ex.map(lambda it: crop_one(it, cfg, reader, pool), batch):
                    outcomes.append(out)
                    processed += 1
                    if progress is not None:
                        progress(min(processed, planned), planned, "crop")
                _write_part(cache, n_part, outcomes, plan, cfg.size)
                n_part += 1
    finally:
        if pool is not None:
            pool.close()


def _split(
    chosen: list[dict[str, Any]], plan: _Plan, cfg: PrepareConfig, other: dict | None
) -> tuple[dict, str]:
    """(key -> split, how it was split): by person where the names carry one, else by photo."""
    if other is not None:
        other_split = {e["key"]: e["split"] for e in other["entries"]}
        return {e["key"]: other_split[e["key"]] for e in chosen}, other.get("split_by", "person")
    persons = {e["key"]: plan.item_by_key[e["key"]].record.person for e in chosen}
    with_person = sum(1 for p in persons.values() if p)
    split_by = "person" if with_person == len(persons) else ("image" if not with_person else "person+image")
    groups: dict[str, list[str]] = defaultdict(list)
    for e in chosen:
        # photos whose name carries no uploader id form a group of their own
        groups[persons[e["key"]] or f"photo:{e['key']}"].append(e["key"])
    return assign_person_splits(groups, cfg.split, cfg.seed), split_by


def _entries(chosen: list[dict[str, Any]], plan: _Plan, split_of: dict[str, str]) -> list[dict[str, Any]]:
    entries = []
    for e in sorted(chosen, key=lambda e: (e["shard"], e["row"])):
        item = plan.item_by_key[e["key"]]
        entries.append(
            {
                **e,
                "split": split_of[e["key"]],
                "person": item.record.person,
                "uploader": item.record.uploader,
                "votes": item.votes,
            }
        )
    return entries


def _summary(
    cache: Path,
    cfg: PrepareConfig,
    entries: list[dict[str, Any]],
    plan: _Plan,
    imported: ImportResult,
    label_report: LabelReport,
    *,
    split_by: str,
    same_as: bool,
    seconds: float,
) -> PrepareSummary:
    per_class = dict(Counter(e["label"] for e in entries))
    classes, absent = present_classes(per_class)
    summary = PrepareSummary(
        cache_dir=str(cache),
        mode=cfg.mode,
        size=cfg.size,
        total=len(entries),
        per_class=per_class,
        per_split={s: dict(Counter(e["label"] for e in entries if e["split"] == s)) for s in SPLITS},
        sources=dict(Counter(e["source"] for e in entries)),
        dropped={
            **{f"label:{k}": v for k, v in label_report.dropped.items()},
            **{f"crop:{k}": v for k, v in Counter(plan.failed.values()).items()},
        },
        shortfall={
            c: cfg.per_class - per_class[c]
            for c in classes
            if cfg.per_class and per_class[c] < cfg.per_class and not same_as
        },
        split_by=split_by,
        resumed=plan.resumed,
        seconds=round(seconds, 2),
        import_report=asdict(imported.report)
        | {
            "missing_images": imported.report.missing_images[:50],
            "unlabelled_images": imported.report.unlabelled_images[:50],
        },
        label_report=asdict(label_report),
        synthetic=(Path(imported.report.root) / "DEMO_README.txt").is_file(),
        classes=list(classes),
        absent_classes=list(absent),
    )
    new = max(0, len(entries) - plan.resumed)
    summary.images_per_second = round(new / summary.seconds, 2) if summary.seconds > 0 else 0.0
    return summary


def _write_index(cache: Path, cfg: PrepareConfig, entries: list[dict], summary: PrepareSummary) -> None:
    precropped = summary.sources.get("given", 0) == len(entries) and bool(entries)
    index = {
        "format": CACHE_FORMAT,
        "version": 1,
        "classes": summary.classes,
        "absent_classes": summary.absent_classes,
        "mode": cfg.mode,
        "size": cfg.size,
        "margin": PRECROPPED_MARGIN if precropped else cfg.margin,
        "precropped": precropped,
        "split_by": summary.split_by,
        "synthetic": summary.synthetic,
        "entries": entries,
        "summary": asdict(summary),
    }
    atomic_write(cache / "index.json", json.dumps(index, ensure_ascii=False))


def prepare(
    root: str | Path | ImportResult,
    cache_dir: str | Path,
    cfg: PrepareConfig = PrepareConfig(),
    *,
    progress: Progress | None = None,
    same_as: str | Path | None = None,
) -> PrepareSummary:
    """Build (or resume) the crop cache in ``cache_dir`` from the data set at ``root``.

    ``progress(done, total, stage)`` reports the photos processed. ``same_as`` reuses the
    photos and split of another cache (used to compare preprocessings on identical data).
    Re-running with the same settings continues where an interrupted run stopped. The cache
    holds the classes that have photos; the summary names the absent ones (e.g. 중립).
    """
    _check(cfg)
    t0 = time.perf_counter()
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    imported = root if isinstance(root, ImportResult) else import_dataset(root)
    labelled, label_report = agreement_labels(imported.records, cfg.min_agree)
    if not labelled:
        raise Korean7Error("no_labelled_images", f"no usable records under {imported.report.root}")
    _pin_settings(cache, cfg)
    other = None
    if same_as is not None:
        other = json.loads((Path(same_as) / "index.json").read_text(encoding="utf-8"))
    plan = _plan(labelled, cfg, cache, {e["key"] for e in other["entries"]} if other else None)
    _crop_all(cache, plan, cfg, progress)
    chosen = [
        plan.done[k] for q in plan.queues.values() for it in q if (k := it.record.filename) in plan.done
    ]
    split_of, split_by = _split(chosen, plan, cfg, other)
    entries = _entries(chosen, plan, split_of)
    summary = _summary(
        cache,
        cfg,
        entries,
        plan,
        imported,
        label_report,
        split_by=split_by,
        same_as=other is not None,
        seconds=time.perf_counter() - t0,
    )
    _write_index(cache, cfg, entries, summary)
    return summary
