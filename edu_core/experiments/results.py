"""An experiment's numbers (per seed, per variant, per run) and storing them."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from edu_core.experiments.config import (
    RESULT_FORMAT,
    RESULT_VERSION,
    ExperimentConfig,
    ExperimentError,
    Variant,
)

if TYPE_CHECKING:  # heavy imports stay out of module import time (the page imports this early)
    from edu_core.store import Store, TeacherSession

# --------------------------------------------------------------------------- results


def _mean_sd(values: Sequence[float]) -> dict[str, float]:
    v = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if len(v) == 0:
        return {"mean": float("nan"), "sd": float("nan")}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


@dataclass(frozen=True)
class SeedRun:
    """One training of one variant with one seed, and its numbers on the fixed test set."""

    seed: int
    train_ids: tuple[str, ...]
    train_counts: dict[str, int]
    accuracy: float
    recall: dict[str, float]
    confusion: list[list[int]]
    probe: dict[str, float] | None = None
    group_accuracy: dict[str, float] = field(default_factory=dict)
    planted: tuple[str, ...] = ()
    found: tuple[str, ...] = ()  # planted photos among the detective's top suspects
    seconds: float = 0.0
    #: per class, the probability the model gave the right answer, averaged over that class's
    #: test photos: what the bars of a typical photo show, not of one photo that may be odd
    confidence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class VariantResult:
    """One variant's runs (one per seed) and their means and sds."""

    variant: Variant
    runs: tuple[SeedRun, ...]

    def accuracy(self) -> dict[str, float]:
        return _mean_sd([r.accuracy for r in self.runs])

    def recall(self) -> dict[str, dict[str, float]]:
        return {c: _mean_sd([r.recall[c] for r in self.runs]) for c in self.variant.classes}

    def probe(self) -> dict[str, dict[str, float]] | None:
        if any(r.probe is None for r in self.runs):
            return None
        return {c: _mean_sd([r.probe[c] for r in self.runs if r.probe]) for c in self.variant.classes}

    def confidence(self) -> dict[str, dict[str, float]]:
        """Per class, the mean probability of the right class on its test photos (mean, sd over seeds)."""
        got = [r.confidence for r in self.runs]
        return {c: _mean_sd([g[c] for g in got if c in g]) for c in self.variant.classes}

    def group_accuracy(self) -> dict[str, dict[str, float]]:
        groups = sorted({g for r in self.runs for g in r.group_accuracy})
        return {g: _mean_sd([r.group_accuracy.get(g, float("nan")) for r in self.runs]) for g in groups}

    def confusion(self) -> np.ndarray:
        """The confusion matrix averaged over seeds (counts of the fixed test set)."""
        return np.mean([np.asarray(r.confusion, dtype=float) for r in self.runs], axis=0)

    def detective(self) -> dict[str, float] | None:
        planted = sum(len(r.planted) for r in self.runs)
        if not planted:
            return None
        return {
            "planted": planted / len(self.runs),
            "found": sum(len(r.found) for r in self.runs) / len(self.runs),
            "share": _mean_sd([len(r.found) / len(r.planted) for r in self.runs if r.planted])["mean"],
        }

    def n_train(self) -> float:
        return float(np.mean([len(r.train_ids) for r in self.runs]))

    def n_test(self) -> int:
        """Test photos this variant was scored on: those of its own classes (a pair sees two)."""
        return int(np.sum(self.runs[0].confusion)) if self.runs else 0

    def summary(self) -> dict[str, Any]:
        """JSON-ready means and sds (the CLI contract)."""
        out: dict[str, Any] = {
            "variant": self.variant.key,
            "classes": list(self.variant.classes),
            "n_train": self.n_train(),
            "n_test": self.n_test(),
            "accuracy": self.accuracy(),
            "recall": self.recall(),
        }
        if self.probe() is not None:
            out["probe"] = self.probe()
        if self.group_accuracy():
            out["group_accuracy"] = self.group_accuracy()
        if self.detective() is not None:
            out["detective"] = self.detective()
        return out


@dataclass(frozen=True)
class ExperimentResult:
    """A finished experiment: config, data fingerprint, the fixed test set and every variant."""

    config: ExperimentConfig
    fingerprint: str
    test_ids: tuple[str, ...]
    variants: tuple[VariantResult, ...]
    seconds: float
    device: str
    probe_id: str | None = None
    created_at: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        """Per variant: mean/sd accuracy and per-class recall (what the CLI prints)."""
        return {
            "experiment": self.config.experiment,
            "model": self.config.model,
            "repeats": self.config.repeats,
            "seeds": list(self.config.seeds),
            "n_test": len(self.test_ids),
            "fingerprint": self.fingerprint,
            "seconds": round(self.seconds, 3),
            "device": self.device,
            "probe": self.probe_id,
            "variants": [v.summary() for v in self.variants],
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, including each seed's training ids, for storing and re-running (JSON values only)."""
        return json.loads(json.dumps(self._raw_dict()))

    def _raw_dict(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT,
            "version": RESULT_VERSION,
            "config": self.config.to_dict(),
            "fingerprint": self.fingerprint,
            "test_ids": list(self.test_ids),
            "seconds": self.seconds,
            "device": self.device,
            "probe_id": self.probe_id,
            "created_at": self.created_at,
            "variants": [
                {
                    "key": v.variant.key,
                    "classes": list(v.variant.classes),
                    "params": dict(v.variant.params),
                    "runs": [dataclasses.asdict(r) for r in v.runs],
                }
                for v in self.variants
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExperimentResult:
        """Inverse of :meth:`to_dict`; refuses other formats and results from a newer version."""
        if d.get("format") != RESULT_FORMAT:
            raise ExperimentError("not_an_experiment", "not an Expression Lab experiment result")
        if int(d.get("version", 0)) > RESULT_VERSION:
            raise ExperimentError("not_an_experiment", f"made by a newer version ({d.get('version')})")
        variants = []
        for v in d["variants"]:
            runs = tuple(
                SeedRun(
                    **{
                        **r,
                        "train_ids": tuple(r["train_ids"]),
                        "planted": tuple(r["planted"]),
                        "found": tuple(r["found"]),
                    }
                )
                for r in v["runs"]
            )
            variants.append(VariantResult(Variant(v["key"], tuple(v["classes"]), dict(v["params"])), runs))
        return cls(
            config=ExperimentConfig.from_dict(d["config"]),
            fingerprint=d["fingerprint"],
            test_ids=tuple(d["test_ids"]),
            variants=tuple(variants),
            seconds=float(d["seconds"]),
            device=d["device"],
            probe_id=d.get("probe_id"),
            created_at=float(d.get("created_at", 0.0)),
        )


# --------------------------------------------------------------------------- storing


def save_result(store: Store, viewer: int | TeacherSession, result: ExperimentResult) -> int:
    """Store a result as a finished run (its config and seeds make it reproducible); returns the run id."""
    run_id = store.start_run(viewer, config={"type": "experiment", **result.config.to_dict()})
    store.finish_run(viewer, run_id, metrics=result.to_dict())
    return run_id


def list_results(store: Store, viewer: int | TeacherSession) -> list[tuple[int, ExperimentResult]]:
    """Every stored experiment this viewer may see, newest first."""
    out = []
    for run in store.list_runs(viewer):
        if run.config.get("type") == "experiment" and run.metrics.get("format") == RESULT_FORMAT:
            out.append((run.id, ExperimentResult.from_dict(run.metrics)))
    return sorted(out, key=lambda p: -p[0])


def load_result(store: Store, viewer: int | TeacherSession, run_id: int) -> ExperimentResult:
    run = store.run(viewer, run_id)
    if run.config.get("type") != "experiment":
        raise ExperimentError("not_an_experiment", f"run {run_id} is a training run")
    return ExperimentResult.from_dict(run.metrics)
