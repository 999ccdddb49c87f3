"""The :class:`Store` facade: every room composed into one object, and where the data lives."""

from __future__ import annotations

import os
from pathlib import Path

from edu_core.store.access import AccessMixin
from edu_core.store.db import StoreConfig, _translate
from edu_core.store.labels import LabelsMixin
from edu_core.store.maintenance import MaintenanceMixin
from edu_core.store.photos import PhotosMixin
from edu_core.store.runs import RunsMixin
from edu_core.store.splits import SplitsMixin

DATA_ENV = "EXPRESSION_LAB_DATA"
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_ROOT = REPO_ROOT / "data"


class Store(AccessMixin, PhotosMixin, LabelsMixin, SplitsMixin, RunsMixin, MaintenanceMixin):
    """The class data store rooted at ``root`` (``root/lab.sqlite3`` and ``root/files/``).

    Safe to share between threads and to open from several processes at once.
    """

    def __init__(self, root: Path, cfg: StoreConfig = StoreConfig()) -> None:
        super().__init__(root, cfg)
        try:
            (self.files / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _translate(exc) from exc
        self._migrate()
        self.empty_trash()  # finish deletions a killed process left half done


def default_root() -> Path:
    """Where the data lives: ``$EXPRESSION_LAB_DATA`` or ``<repo>/data``."""
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_ROOT


def open_store(root: Path | None = None, cfg: StoreConfig = StoreConfig()) -> Store:
    """Open (creating if needed) the store at ``root`` or :func:`default_root`."""
    return Store(Path(root) if root is not None else default_root(), cfg)
