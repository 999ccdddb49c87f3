"""What an experiment is: its names, its error, its config and its variants' shape."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edu_core.errors import EduError

EXPERIMENTS: tuple[str, ...] = ("size", "pairs", "imbalance", "mislabel", "groups")
REMEDIES: tuple[str, ...] = ("none", "oversample", "undersample", "class_weights", "more_data")
MODEL_CHOICES: tuple[str, ...] = ("pieces", "cnn")
RESULT_FORMAT = "expression-lab-experiment"
RESULT_VERSION = 1
Progress = Callable[[int, int], None]


class ExperimentError(EduError):
    """An experiment cannot run on this data (too few photos, unknown class or group, ...)."""

    code = "experiment_error"


# --------------------------------------------------------------------------- configs and variants


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that decides an experiment's numbers (stored with every result)."""

    experiment: str = "size"
    model: str = "pieces"
    repeats: int = 5
    seed: int = 0
    # size: photos per class; () classes = every class of the data, or e.g. ("joy", "anger")
    sizes: tuple[int, ...] = (20, 60)
    classes: tuple[str, ...] = ()
    # pairs: each pair at each size
    pairs: tuple[tuple[str, str], ...] = (("joy", "anger"), ("surprise", "anger"))
    pair_sizes: tuple[int, ...] = (20, 35)
    # imbalance: photos per class (only these classes are trained) and the remedies to compare
    counts: tuple[tuple[str, int], ...] = (("joy", 40), ("sadness", 20))
    remedies: tuple[str, ...] = REMEDIES
    # mislabel: which class loses a share of its photos to the other classes
    mislabel_class: str = "anger"
    fractions: tuple[float, ...] = (0.0, 0.1, 0.3)
    detective: bool = True  # the pieces model only (see _detective_on)
    detective_folds: int = 3
    # groups: train on these age groups only, then add the missing ones
    train_groups: tuple[str, ...] = ("adult",)
    add_groups: tuple[str, ...] = ("child",)
    # training settings shared by every variant
    epochs: int | None = None
    mode: str = "auto"
    device: str = "auto"
    tiny: bool = False  # a few epochs on 64 px crops: for tests only

    def __post_init__(self) -> None:
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {self.experiment!r}; allowed: {', '.join(EXPERIMENTS)}")
        if self.model not in MODEL_CHOICES:
            raise ValueError(f"unknown model {self.model!r}; allowed: {', '.join(MODEL_CHOICES)}")
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")
        bad = sorted(set(self.remedies) - set(REMEDIES))
        if bad:
            raise ValueError(f"unknown remedies {bad}; allowed: {', '.join(REMEDIES)}")
        if any(not 0.0 <= f < 1.0 for f in self.fractions):
            raise ValueError("mislabel fractions must be in [0, 1)")

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.seed, self.seed + self.repeats))

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExperimentConfig:
        """Inverse of :meth:`to_dict` (lists become tuples; unknown keys are refused)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}")

        def tup(v: Any) -> Any:
            return tuple(tup(x) for x in v) if isinstance(v, list) else v

        return cls(**{k: tup(v) for k, v in d.items()})


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: its stable key, classes and how its training set is made."""

    key: str
    classes: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
