"""Class identifiers shared by every module, and the names people use for them.

Code and files use short English ids; students see the Korean (or English) name.
Folders and CSV files from teachers may use either, so :func:`normalize_label`
accepts both.
"""

from __future__ import annotations

#: The five expressions of the classroom lesson, in the order every chart uses.
LESSON_CLASSES: tuple[str, ...] = ("joy", "sadness", "surprise", "anger", "neutral")

#: The seven classes of the AI Hub Korean emotion data set, in its own order.
KOREAN7_CLASSES: tuple[str, ...] = (
    "joy",
    "embarrassment",
    "anger",
    "anxiety",
    "hurt",
    "sadness",
    "neutral",
)

KOREAN_NAMES: dict[str, str] = {
    "joy": "기쁨",
    "sadness": "슬픔",
    "surprise": "놀람",
    "anger": "화남",
    "neutral": "무표정",
    "embarrassment": "당황",
    "anxiety": "불안",
    "hurt": "상처",
}

#: The AI Hub data set writes some classes differently from the lesson.
KOREAN7_NAMES: dict[str, str] = {**KOREAN_NAMES, "anger": "분노", "neutral": "중립"}

_ALIASES: dict[str, str] = {
    **{name: cid for cid, name in KOREAN_NAMES.items()},
    **{name: cid for cid, name in KOREAN7_NAMES.items()},
    "happy": "joy",
    "happiness": "joy",
    "sad": "sadness",
    "surprised": "surprise",
    "angry": "anger",
    "calm": "neutral",
    "embarrassed": "embarrassment",
    "anxious": "anxiety",
}


def normalize_label(name: str) -> str:
    """Map a Korean or English class name (any case, spaces trimmed) to its id.

    Raises ``ValueError`` naming the allowed values when the name is unknown.
    """
    key = name.strip()
    if key in _ALIASES:
        return _ALIASES[key]
    low = key.lower()
    if low in KOREAN_NAMES:
        return low
    if low in _ALIASES:
        return _ALIASES[low]
    allowed = sorted(set(KOREAN_NAMES) | set(KOREAN_NAMES.values()) | {"분노", "중립"})
    raise ValueError(f"unknown class name {name!r}; allowed: {', '.join(allowed)}")


def korean_name(class_id: str, *, korean7: bool = False) -> str:
    """The Korean display name of a class id."""
    return (KOREAN7_NAMES if korean7 else KOREAN_NAMES)[class_id]
