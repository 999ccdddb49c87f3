"""The lesson's effects, measured with the lab's own experiment code, on any LabData.

One function, :func:`measure`, runs the comparisons the lesson makes (20 vs 60 per class,
sadness scarce (20 or 5) among classes of 40, 10 % and 30 % planted mislabels, every pair at
20 and 35 per class, children vs adults) and returns each effect in points.
``bench/experiments.py`` calls it on the committed samples and, when
``EXPRESSION_LAB_REALFACES`` is set, on the real-photo development set (:func:`real_data`),
so the two tables come from the same code.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edu_core import dataset
from edu_core import experiments as ex

ROOT = Path(__file__).resolve().parent.parent

#: The rows of the effects table: key, what it is, and whether a row is an accuracy (not an effect).
ROWS: tuple[tuple[str, str], ...] = (
    ("acc20", "accuracy, 20 per class (5 classes)"),
    ("acc60", "accuracy, 60 per class"),
    ("size", "20 → 60 per class: accuracy gain"),
    ("imb20", "sadness 20, every other class 40 — sadness recall vs all 40"),
    ("imb20_p", "… mean P(sadness) on the sadness test photos, 20 vs 40"),
    ("imb5", "sadness 5, every other class 40 — sadness recall vs all 40"),
    ("imb5_p", "… mean P(sadness) on the sadness test photos, 5 vs 40"),
    ("mis10", "10 % of anger mislabelled — anger recall vs clean"),
    ("mis30", "30 % of anger mislabelled — anger recall vs clean"),
    ("mis30_acc", "30 % of anger mislabelled — accuracy vs clean"),
    ("pair_gap", "hardest pair vs joy–anger at 20 per class"),
    ("pair35", "hardest pair: 35 vs 20 per class"),
    ("groups", "children's accuracy: adults only → adults + children (same size)"),
    ("group_gap", "trained on adults only: children minus adults"),
)
ACCURACY_ROWS = ("acc20", "acc60")


def _pts(x: float) -> float:
    return round(100.0 * x, 1)


def measure(
    data: ex.LabData,
    model: str,
    repeats: int = 5,
    cache: Any = None,
    only: Sequence[str] = ex.EXPERIMENTS,
) -> dict[str, Any]:
    """Every effect of :data:`ROWS` in points (mean over ``repeats`` seeds), plus the hardest pair.

    ``only`` limits the experiments run (their rows are left out of the answer).
    """

    def run(cfg: ex.ExperimentConfig, probe: ex.Example | None = None) -> ex.ExperimentResult:
        return ex.run_experiment(cfg, data, probe=probe, embedding_cache=cache)

    out: dict[str, Any] = {}
    if "size" in only:
        _size(run, model, repeats, out)
    if "imbalance" in only:
        _imbalance(run, data, model, repeats, out)
    if "mislabel" in only:
        _mislabel(run, model, repeats, out)
    if "pairs" in only:
        _pairs(run, data, model, repeats, out)
    if "groups" in only:
        _groups(run, model, repeats, out)
    return out


def _size(run: Any, model: str, repeats: int, out: dict[str, Any]) -> None:
    size = run(ex.ExperimentConfig("size", model=model, repeats=repeats, sizes=(20, 60)))
    a20, a60 = (v.accuracy()["mean"] for v in size.variants)
    out.update(acc20=_pts(a20), acc60=_pts(a60), size=_pts(a60 - a20))


def _imbalance(run: Any, data: ex.LabData, model: str, repeats: int, out: dict[str, Any]) -> None:
    # As the lab runs it by default ("every expression too" is on): the scarce class among all
    # five, the others at 40. With joy and sadness alone the painted sadness is found at any count.
    others = tuple((c, 40) for c in data.classes() if c not in ("joy", "sadness"))
    for key, scarce_n in (("imb20", 20), ("imb5", 5)):
        cfg = ex.ExperimentConfig(
            "imbalance",
            model=model,
            repeats=repeats,
            counts=(("joy", 40), ("sadness", scarce_n), *others),
            remedies=("none", "more_data"),
        )
        res = run(cfg)
        imb, bal = res.variants
        out[key] = _pts(imb.recall()["sadness"]["mean"] - bal.recall()["sadness"]["mean"])
        # averaged over every sadness test photo: one probe photo's bars move with that photo
        out[key + "_p"] = _pts(imb.confidence()["sadness"]["mean"] - bal.confidence()["sadness"]["mean"])


def _mislabel(run: Any, model: str, repeats: int, out: dict[str, Any]) -> None:
    cfg = ex.ExperimentConfig(
        "mislabel", model=model, repeats=repeats, fractions=(0.0, 0.1, 0.3), detective=False
    )
    clean, m10, m30 = run(cfg).variants
    r0 = clean.recall()["anger"]["mean"]
    out["mis10"] = _pts(m10.recall()["anger"]["mean"] - r0)
    out["mis30"] = _pts(m30.recall()["anger"]["mean"] - r0)
    out["mis30_acc"] = _pts(m30.accuracy()["mean"] - clean.accuracy()["mean"])


def _pairs(run: Any, data: ex.LabData, model: str, repeats: int, out: dict[str, Any]) -> None:
    # every pair at 20, then only the hardest at 35 (the same seeds draw the same photos)
    pairs = tuple(itertools.combinations(data.classes(), 2))
    res = run(ex.ExperimentConfig("pairs", model=model, repeats=repeats, pairs=pairs, pair_sizes=(20,)))
    at20 = {v.variant.key[: -len("@20")]: v.accuracy()["mean"] for v in res.variants}
    hardest = min(at20, key=at20.get)
    easy = "joy-anger" if "joy-anger" in at20 else max(at20, key=at20.get)
    a, b = hardest.split("-")
    more = run(ex.ExperimentConfig("pairs", model=model, repeats=repeats, pairs=((a, b),), pair_sizes=(35,)))
    out["pair_gap"] = _pts(at20[hardest] - at20[easy])
    out["pair35"] = _pts(more.variants[0].accuracy()["mean"] - at20[hardest])
    out["hardest"] = hardest
    out["pairs20"] = {k: _pts(a) for k, a in sorted(at20.items(), key=lambda kv: kv[1])}


def _groups(run: Any, model: str, repeats: int, out: dict[str, Any]) -> None:
    res = run(
        ex.ExperimentConfig(
            "groups", model=model, repeats=repeats, train_groups=("adult",), add_groups=("child",)
        )
    )
    only, _, same = res.variants
    ga, gs = only.group_accuracy(), same.group_accuracy()
    out["groups"] = _pts(gs["child"]["mean"] - ga["child"]["mean"])
    out["group_gap"] = _pts(ga["child"]["mean"] - ga["adult"]["mean"])


# --------------------------------------------------------------------------- the real photos


def real_data(root: Path, *, test_share: float = 1 / 3) -> tuple[ex.LabData, Any]:
    """The five lesson classes of the dev set (CAFE children, LFW adults) as lab data, split by person.

    Size, pair and imbalance experiments draw N photos per class from the whole training
    pool; the mislabel and groups experiments use every photo of the pool, so a class-sized
    pool is used for them (:func:`lesson_pool`). Returns the data and the CNN embedding cache.
    """
    import realfaces_models as rm  # a sibling bench script (bench/ is on sys.path when run as a script)

    rows = rm.read_rows(root)
    task = rm.load_task(root, rows, "five")
    group = {"cafe_children": "child", "lfw_mux": "adult"}
    examples = [
        ex.Example(f"{s}:{i}", lab, person, group[s], face)
        for i, (face, lab, person, s) in enumerate(
            zip(task["faces"], task["labels"], task["people"], task["sources"], strict=True)
        )
    ]
    _, test = rm.person_split(task["people"], task["sources"], test_share, 0)
    data = ex.make_data(examples, test_ids=[examples[i].id for i in test], source="realfaces:five")
    return data, task


def lesson_pool(data: ex.LabData, per_class: int = 60, seed: int = 0) -> ex.LabData:
    """The same test set, with a training pool the size of a class's own photos.

    Half of every class's photos are children's and half adults', as in the samples
    (whose four age groups are a quarter each: child and adult are the two compared).
    """
    kids = [e for e in data.train if e.group == "child"]
    adults = [e for e in data.train if e.group == "adult"]
    half = per_class // 2
    train = dataset.sample_per_class(kids, half, seed) + dataset.sample_per_class(adults, half, seed)
    return ex.LabData(tuple(train), data.test, data.source + f":pool{per_class}", data.n_rejected)


def measure_real(data: ex.LabData, model: str, repeats: int, cache: Any) -> dict[str, Any]:
    """:func:`measure` with the class-sized pool for the experiments that use the whole pool."""
    whole = ("size", "imbalance", "pairs")
    out = measure(data, model, repeats, cache, only=whole)
    out.update(measure(lesson_pool(data), model, repeats, cache, only=("mislabel", "groups")))
    return out


def goal(real: float, sample: float, key: str) -> str:
    """Whether a samples' figure meets the issue's goal against the real one."""
    if key in ACCURACY_ROWS:
        return "yes" if abs(real - sample) <= 5 else f"no ({sample - real:+.1f})"
    if abs(real) <= 2 and abs(sample) <= 2:
        return "yes (both small)"
    if np.sign(real) != np.sign(sample) or sample == 0:
        return "no (sign)"
    ratio = sample / real
    return "yes" if 0.5 <= ratio <= 2 else f"no (×{ratio:.1f})"


def _fmt(value: float, key: str) -> str:
    return f"{value:.1f}" if key in ACCURACY_ROWS else f"{value:+.1f}"


def markdown(real: dict[str, dict] | None, samples: dict[str, dict], models: Sequence[str]) -> str:
    """The two tables side by side: real photos and samples, per model, with the goal column."""
    head = "| effect (points) |"
    rule = "|---|"
    for m in models:
        head += f" real, {m} | samples, {m} | goal |" if real else f" samples, {m} |"
        rule += "---:|---:|---|" if real else "---:|"
    lines = [head, rule]
    for key, name in ROWS:
        line = f"| {name} |"
        for m in models:
            s = samples[m][key]
            if real:
                r = real[m][key]
                line += f" {_fmt(r, key)} | {_fmt(s, key)} | {goal(r, s, key)} |"
            else:
                line += f" {_fmt(s, key)} |"
        lines.append(line)
    line = "| hardest pair at 20 per class |"
    for m in models:
        line += (
            f" {real[m]['hardest']} | {samples[m]['hardest']} | "
            f"{'same' if real[m]['hardest'] == samples[m]['hardest'] else 'differs'} |"
            if real
            else f" {samples[m]['hardest']} |"
        )
    lines.append(line)
    return "\n".join(lines)
