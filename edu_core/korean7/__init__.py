"""The Korean seven-class emotion model: AI Hub import, agreement labels, crop cache, training.

A school that downloaded the AI Hub data set "한국인 감정인식을 위한 복합 영상", or got a folder
of face crops already cut from it, runs four steps:

1. :func:`import_dataset` (:mod:`.layout`) walks the folder as it arrived (zipped or not, any
   of the usual layouts, label files in UTF-8, UTF-8 with BOM or CP949), matches every label
   record to its photo by file name and says what is missing. A folder without label files is
   read as face crops labelled by folder name or file name, person ids kept;
2. :func:`agreement_labels` (:mod:`.agreement`) turns three blind annotators into one label
   (``min_agree`` of 3), dropping records without a majority and ``알수없음``;
3. :func:`prepare` (:mod:`.prepare`, :mod:`.cache`) samples a balanced subset, cuts each face
   once into a crop cache of sharded uint8 arrays, splits it 8:1:1 by person and resumes after
   an interruption. A class without photos (the public crops lack 중립) is left out and named;
4. :func:`train_korean7` (:mod:`.training`) fits ResNet18 or EfficientNet-Lite0 on the cache and
   writes metrics with per-class accuracy and the confusion matrix; :func:`leak_comparison`
   (:mod:`.leak`) tests one model on people it has seen and on new people.

:func:`load_model` / :func:`predict_korean7` / :func:`build_demo_pipeline` are what the
Streamlit page calls; :mod:`.demo` writes the synthetic AI-Hub-format set. Every step has a
CLI: ``python -m edu_core.korean7 {import,prepare,train,evaluate,predict,demo,compare,leak} ...
--json``.
"""

from edu_core.korean7.agreement import Labelled, LabelReport, agreement, agreement_labels
from edu_core.korean7.base import (
    CACHE_FORMAT,
    CHECKPOINT_FORMAT,
    DATASET_LABELS,
    INVALID,
    PAPER_RESULTS,
    PHOTO_SUFFIXES,
    UNKNOWN,
    UNKNOWN_LABEL,
    Korean7Error,
    present_classes,
)
from edu_core.korean7.cache import (
    PRECROPPED_MARGIN,
    CropCache,
    PrepareConfig,
    PrepareSummary,
    box_iou,
    mean_box,
)
from edu_core.korean7.cli import main
from edu_core.korean7.data import Korean7TrainConfig, device_augment
from edu_core.korean7.evaluation import (
    Korean7Model,
    Korean7Prediction,
    confusion_of,
    evaluate_korean7,
    load_model,
    metrics_from_confusion,
    model_report,
    predict_crops,
    predict_korean7,
)
from edu_core.korean7.layout import (
    ImportResult,
    Korean7ImportReport,
    class_from_name,
    import_dataset,
    parse_face_filename,
)
from edu_core.korean7.leak import leak_comparison, leak_split, write_leak_cache
from edu_core.korean7.pipeline import (
    DEMO_HEAD_EPOCHS,
    DEMO_HEAD_LR,
    DEMO_HEAD_WEIGHT_DECAY,
    DEMO_PER_CLASS,
    DemoPipelineResult,
    FolderRunResult,
    build_demo_pipeline,
    compare_preprocessing,
    train_on_folder,
)
from edu_core.korean7.prepare import assign_person_splits, prepare
from edu_core.korean7.records import ImageRef, Korean7Record, decode_label_bytes, person_from_filename
from edu_core.korean7.training import train_korean7

__all__ = [
    "CACHE_FORMAT",
    "CHECKPOINT_FORMAT",
    "DATASET_LABELS",
    "DEMO_HEAD_EPOCHS",
    "DEMO_HEAD_LR",
    "DEMO_HEAD_WEIGHT_DECAY",
    "DEMO_PER_CLASS",
    "INVALID",
    "PAPER_RESULTS",
    "PHOTO_SUFFIXES",
    "PRECROPPED_MARGIN",
    "UNKNOWN",
    "UNKNOWN_LABEL",
    "CropCache",
    "DemoPipelineResult",
    "FolderRunResult",
    "ImageRef",
    "ImportResult",
    "Korean7Error",
    "Korean7ImportReport",
    "Korean7Model",
    "Korean7Prediction",
    "Korean7Record",
    "Korean7TrainConfig",
    "LabelReport",
    "Labelled",
    "PrepareConfig",
    "PrepareSummary",
    "agreement",
    "agreement_labels",
    "assign_person_splits",
    "box_iou",
    "build_demo_pipeline",
    "class_from_name",
    "compare_preprocessing",
    "confusion_of",
    "decode_label_bytes",
    "device_augment",
    "evaluate_korean7",
    "import_dataset",
    "leak_comparison",
    "leak_split",
    "load_model",
    "main",
    "mean_box",
    "metrics_from_confusion",
    "model_report",
    "parse_face_filename",
    "person_from_filename",
    "predict_crops",
    "predict_korean7",
    "prepare",
    "present_classes",
    "train_korean7",
    "train_on_folder",
    "write_leak_cache",
]
