"""The lesson's comparisons, run fairly and repeated over seeds.

Five experiments show that *data* changes what a model believes:

* ``size``      — too little data: 20 vs 60 photos per class (all classes or a pair);
* ``pairs``     — easy vs hard pairs: joy/anger against surprise/anger at 20 and 35 per class;
* ``imbalance`` — e.g. joy 40 vs sadness 20, and the remedies (over-sampling, under-sampling,
  class weights, more real data) as variants of the same experiment;
* ``mislabel``  — k % of one class filed under other classes (0, 10, 30 %), and whether the
  mislabel detective finds the planted ones;
* ``groups``    — train on one age group only, test on every group, then add the missing group.

Fairness rules, enforced here rather than left to the page: every variant is tested on
the *same* fixed test set (the rows marked ``split == test``, or a person-wise split drawn
once), which never overlaps any training set; every variant uses the same model kind and
settings; each variant is trained once per seed and the seed decides both which photos
are drawn and how the model starts, so the spread over seeds shows what is luck.

A result holds its config, seeds and a fingerprint of the data, so it can be stored and
re-run to the same numbers (:func:`rerun`).
"""

from __future__ import annotations

from edu_core import dataset  # callers reach the dataset helpers as ``ex.dataset``
from edu_core.experiments.choose import (
    compared,
    default_probe,
    focus_class,
    pick_probe,
    probe_compared,
    rank_pairs,
)
from edu_core.experiments.cli import main
from edu_core.experiments.config import (
    EXPERIMENTS,
    MODEL_CHOICES,
    REMEDIES,
    RESULT_FORMAT,
    RESULT_VERSION,
    ExperimentConfig,
    ExperimentError,
    Progress,
    Variant,
)
from edu_core.experiments.data import Example, LabData, load_folder, load_store, make_data
from edu_core.experiments.report import accuracy_figure, groups_figure, recall_figure, result_csv, result_png
from edu_core.experiments.results import (
    ExperimentResult,
    SeedRun,
    VariantResult,
    list_results,
    load_result,
    save_result,
)
from edu_core.experiments.run import (
    estimate_seconds,
    measure_embed_seconds,
    n_trainings,
    rerun,
    run_experiment,
)
from edu_core.experiments.variants import (
    most_per_class,
    photos_needed,
    plan_variants,
    shortfall,
    training_set,
)
from edu_core.experiments.words import group_label, reason_text, text, variant_label

__all__ = [
    "probe_compared",
    "rank_pairs",
    "pick_probe",
    "compared",
    "EXPERIMENTS",
    "Example",
    "ExperimentConfig",
    "ExperimentError",
    "ExperimentResult",
    "LabData",
    "MODEL_CHOICES",
    "Progress",
    "REMEDIES",
    "RESULT_FORMAT",
    "RESULT_VERSION",
    "SeedRun",
    "Variant",
    "VariantResult",
    "accuracy_figure",
    "dataset",
    "default_probe",
    "estimate_seconds",
    "focus_class",
    "group_label",
    "groups_figure",
    "list_results",
    "load_folder",
    "load_result",
    "load_store",
    "main",
    "make_data",
    "measure_embed_seconds",
    "most_per_class",
    "n_trainings",
    "photos_needed",
    "plan_variants",
    "reason_text",
    "recall_figure",
    "rerun",
    "result_csv",
    "result_png",
    "run_experiment",
    "save_result",
    "shortfall",
    "text",
    "training_set",
    "variant_label",
]
