"""One label from three blind annotators (``min_agree`` of 3), and how pure each folder is.

Records from a folder of face crops carry the poser's intended emotion only (no annotators):
that label is kept as it is and says so (``label_source``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from edu_core.korean7.base import INVALID, UNKNOWN
from edu_core.korean7.records import Korean7Record
from edu_core.labels import KOREAN7_CLASSES


@dataclass(frozen=True)
class Labelled:
    """A record with the label the annotators agreed on."""

    record: Korean7Record
    label: str  # class id
    votes: int  # how many annotators gave it (1 for a folder- or file-name label)


def agreement(annotators: Sequence[str], min_agree: int = 2) -> tuple[str | None, str]:
    """(label, reason) from the annotators' answers.

    ``reason`` is "ok", "unknown" (the majority said 알수없음), "no_majority" (fewer than
    ``min_agree`` share an answer) or "invalid" (the majority is not one of the 7 classes).
    """
    if min_agree < 1:
        raise ValueError("min_agree must be 1, 2 or 3")
    if not annotators:
        return None, "no_annotators"
    label, count = Counter(annotators).most_common(1)[0]
    top = [lab for lab, c in Counter(annotators).items() if c == count]
    if count < min_agree or len(top) > 1:
        return None, "no_majority"
    if label == UNKNOWN:
        return None, "unknown"
    if label == INVALID:
        return None, "invalid"
    return label, "ok"


@dataclass
class LabelReport:
    """How many records each rule kept or dropped, and how pure each folder is."""

    min_agree: int
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    per_label: dict[str, int] = field(default_factory=dict)
    # per uploader folder: share whose agreed label equals the folder, and what else
    purity: dict[str, dict[str, float]] = field(default_factory=dict)


def agreement_labels(
    records: Sequence[Korean7Record], min_agree: int = 2, *, require_image: bool = True
) -> tuple[list[Labelled], LabelReport]:
    """Label every record by annotator agreement; report what was dropped and why."""
    if min_agree not in (2, 3):
        raise ValueError(f"min_agree must be 2 or 3, not {min_agree!r}")
    report = LabelReport(min_agree=min_agree)
    dropped: Counter[str] = Counter()
    by_folder: dict[str, Counter[str]] = defaultdict(Counter)
    kept: list[Labelled] = []
    for rec in records:
        if rec.label_source != "annotators":
            label, reason, votes = rec.uploader, "ok", 1
        else:
            label, reason = agreement(rec.annotators, min_agree)
            votes = Counter(rec.annotators)[label] if label else 0
            by_folder[rec.uploader][label or reason] += 1
        if label is None:
            dropped[reason] += 1
            continue
        if require_image and rec.image is None:
            dropped["missing_image"] += 1
            continue
        kept.append(Labelled(rec, label, votes))
    report.kept = len(kept)
    report.dropped = dict(dropped)
    report.per_label = {c: n for c in KOREAN7_CLASSES if (n := sum(1 for k in kept if k.label == c))}
    for folder, outcomes in sorted(by_folder.items()):
        total = sum(outcomes.values())
        report.purity[folder] = {
            "records": float(total),
            "same_as_folder": round(outcomes[folder] / total, 4),
            "other_class": round(
                sum(v for k, v in outcomes.items() if k in KOREAN7_CLASSES and k != folder) / total, 4
            ),
            "no_majority": round(outcomes["no_majority"] / total, 4),
            "unknown": round(outcomes["unknown"] / total, 4),
        }
    return kept, report
