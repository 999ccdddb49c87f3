"""Which seven-class checkpoint the class uses: the data folder's ``korean7/`` corner.

Uploads, demo runs and the class's choice (``current.json``) live there. The web page keeps
its per-session copy of the loaded model; this module only knows paths and files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edu_core.fsutil import atomic_write
from edu_core.korean7.evaluation import load_model
from edu_core.store import default_root


def korean7_dir() -> Path:
    """The data-folder corner of the seven-class page: uploads, demo runs and the class's choice."""
    return default_root() / "korean7"


def korean7_current() -> Path | None:
    """The checkpoint the class uses now: the last one loaded on this server, else the newest saved."""
    marker = korean7_dir() / "current.json"
    if marker.is_file():
        chosen = json.loads(marker.read_text(encoding="utf-8")).get("path")
        if chosen and Path(chosen).is_file():
            return Path(chosen)
    saved = sorted(korean7_dir().rglob("best.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    return saved[0] if saved else None


def use_checkpoint(path: str | Path) -> Any:
    """Load a checkpoint (``ModelFileError`` if it is not one) and make it the class's current model.

    ``path`` should already be resolved; the loaded model is returned.
    """
    path = Path(path)
    model = load_model(path)
    folder = korean7_dir()
    folder.mkdir(parents=True, exist_ok=True)
    # atomic: a reader never sees half a file
    atomic_write(folder / "current.json", json.dumps({"path": str(path)}, ensure_ascii=False))
    return model
