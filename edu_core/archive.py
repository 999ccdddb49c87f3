"""Zips a teacher downloads: a trained model with its card."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

#: Stored run figures left out of a model's card: per-photo ids and the epoch-by-epoch curve.
_CARD_SKIPS = ("confusion_ids", "history")


def model_zip(db: Any, viewer: Any, model_id: int, *, metrics: Mapping[str, Any]) -> bytes:
    """A model as a zip: the checkpoint plus a small JSON card (name, classes, test figures).

    ``metrics`` are the figures stored when the model was tested (``jobs.run_metrics``).
    """
    record = db.model(viewer, model_id)
    card = {
        "name": record.name,
        "kind": record.kind,
        "classes": list(record.labels),
        "metrics": {k: v for k, v in metrics.items() if k not in _CARD_SKIPS},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.pt", db.model_bytes(viewer, model_id))
        zf.writestr("model.json", json.dumps(card, ensure_ascii=False, indent=1))
    return buf.getvalue()
