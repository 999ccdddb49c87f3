"""The identity-leak lesson: one model, tested on photos of people it has seen and of new people.

From a cache split 8:1:1 by person, one photo of each training person (while the held-out set
is smaller than the new-people test) is kept out of training: the "seen people" test. The
model trains once on the rest; then the same checkpoint is measured on those held-out photos of
people it knows, and on the test people it never saw. The gap between the two is what a split
by photo instead of by person would hide (the public copy of the AI Hub crops ships a test
folder whose people are, 519 of 530, also in its training folder).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from edu_core.fsutil import atomic_write
from edu_core.korean7.base import CACHE_FORMAT, Korean7Error
from edu_core.korean7.cache import CropCache
from edu_core.korean7.data import Korean7TrainConfig
from edu_core.korean7.evaluation import evaluate_korean7
from edu_core.korean7.training import EpochHook, train_korean7

SEEN = "seen"  # the split name of the held-out photos of training people


def leak_split(cache: CropCache, seed: int = 0) -> dict[str, str]:
    """key -> "train" / "val" / "test" / "seen": the cache's split, with seen-people photos held out.

    Only people with at least two training photos give one away (so everyone tested as "seen"
    keeps a photo in training), and no more than the new-people test holds, so both tests have
    about the same size.
    """
    rng = np.random.default_rng(seed)
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in cache.entries:
        if e["split"] == "train" and e.get("person"):
            by_person[e["person"]].append(e)
    want = len(cache.subset("test"))
    people = sorted(p for p, es in by_person.items() if len(es) >= 2)
    held: set[str] = set()
    for i in rng.permutation(len(people)):
        if len(held) >= want:
            break
        photos = sorted(by_person[people[i]], key=lambda e: e["key"])
        held.add(photos[int(rng.integers(len(photos)))]["key"])
    return {e["key"]: (SEEN if e["key"] in held else e["split"]) for e in cache.entries}


def write_leak_cache(cache_dir: str | Path, out_dir: str | Path, seed: int = 0) -> CropCache:
    """A re-split of ``cache_dir`` in ``out_dir`` that reads the same shards (no crop is copied)."""
    cache = CropCache(cache_dir)
    if cache.index.get("split_by") not in ("person", "person+image"):
        raise Korean7Error("leak_needs_persons", f"{cache_dir} was not split by person: no person ids")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    split_of = leak_split(cache, seed)
    if not any(s == SEEN for s in split_of.values()):
        raise Korean7Error("leak_no_seen", "no training person has two photos: nobody to test as seen")
    index = dict(cache.index)
    index["format"] = CACHE_FORMAT
    index["shard_dir"] = os.path.relpath(cache.shard_dir, out)
    index["entries"] = [{**e, "split": split_of[e["key"]]} for e in cache.entries]
    index["leak_of"] = str(cache.dir)
    atomic_write(out / "index.json", json.dumps(index, ensure_ascii=False))
    return CropCache(out)


def _people(cache: CropCache, split: str) -> set[str]:
    return {cache.entries[i]["person"] for i in cache.subset(split) if cache.entries[i].get("person")}


def leak_comparison(
    cache_dir: str | Path,
    work_dir: str | Path,
    cfg: Korean7TrainConfig = Korean7TrainConfig(),
    *,
    on_epoch_end: EpochHook | None = None,
) -> dict[str, Any]:
    """Train once, then measure the same checkpoint on seen and on new people.

    Writes ``work_dir/cache`` (the re-split index) and ``work_dir/model`` (``best.pt``,
    ``metrics.json`` and ``leak.json``, which the page shows next to the model). Returns the
    ``leak.json`` dict: both tests' metrics, the gap and the checks that the people are as said.
    """
    work = Path(work_dir)
    leak_cache = write_leak_cache(cache_dir, work / "cache", cfg.seed)
    model_dir = work / "model"
    new = train_korean7(leak_cache.dir, model_dir, cfg, on_epoch_end=on_epoch_end)
    seen = evaluate_korean7(model_dir / "best.pt", leak_cache.dir, split=SEEN, device="cpu")
    trained = _people(leak_cache, "train")
    result = {
        "arch": cfg.arch,
        "mode": cfg.mode,
        "image_size": cfg.image_size,
        "epochs_run": new.get("epochs_run"),
        "pretrained": new.get("pretrained"),
        "train_images": new.get("train_images"),
        "images_per_second": new.get("images_per_second"),
        "synthetic": leak_cache.synthetic,
        "classes": list(leak_cache.classes),
        "absent_classes": list(leak_cache.absent_classes),
        "seen_people": _public(seen),
        "new_people": _public(new),
        "gap": round((seen["accuracy"] or 0.0) - (new["accuracy"] or 0.0), 4),
        "checks": {
            "seen_people_in_training": len(_people(leak_cache, SEEN) & trained),
            "seen_people": len(_people(leak_cache, SEEN)),
            "new_people_in_training": len(_people(leak_cache, "test") & trained),
            "new_people": len(_people(leak_cache, "test")),
            "seen_photos_in_training": 0,  # by construction: a held-out photo is never in "train"
        },
    }
    atomic_write(model_dir / "leak.json", json.dumps(result, ensure_ascii=False, indent=1))
    return result


def _public(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("accuracy", "n", "per_class_accuracy", "support", "confusion", "classes")
    return {k: m.get(k) for k in keys}
