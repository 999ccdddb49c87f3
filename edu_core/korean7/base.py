"""Names, file formats and the error type every part of the seven-class pipeline shares."""

from __future__ import annotations

from edu_core.errors import EduError
from edu_core.labels import KOREAN7_CLASSES, KOREAN7_NAMES

#: Korean label strings of the data set -> our class ids.
DATASET_LABELS: dict[str, str] = {KOREAN7_NAMES[c]: c for c in KOREAN7_CLASSES}
UNKNOWN_LABEL = "알수없음"
UNKNOWN = "unknown"  # our id for 알수없음
INVALID = "invalid"  # a label string that is none of the eight above

#: Accuracy (%) reported by the paper for each preprocessing and network (7 classes,
#: 7,000 images per class, 8:1:1 split).
PAPER_RESULTS: dict[str, dict[str, float]] = {
    "resize": {"VGG19": 14.3, "ResNet18": 15.6, "K-EmotionNet": 15.1},
    "cascade_crop": {"VGG19": 59.0, "ResNet18": 60.4, "K-EmotionNet": 61.8},
    "yolo_face_crop": {"VGG19": 82.8, "ResNet18": 81.7, "K-EmotionNet": 84.37},
}

CACHE_FORMAT = "expression-lab-korean7-cache"
CHECKPOINT_FORMAT = "expression-lab-korean7-model"
#: What the walk of a data set folder treats as a photo (the AI Hub data holds JPEG and PNG).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


class Korean7Error(EduError):
    """The Korean seven-class pipeline refused an input (empty data set, bad cache, ...)."""

    code = "korean7_error"


def present_classes(counts: dict[str, int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(classes with photos, classes without any), both in :data:`KOREAN7_CLASSES` order."""
    present = tuple(c for c in KOREAN7_CLASSES if counts.get(c, 0) > 0)
    return present, tuple(c for c in KOREAN7_CLASSES if c not in present)
