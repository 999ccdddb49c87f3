"""Typed errors that carry a stable reason code.

Pages never show the exception text: they look the code up in ``edu_core.i18n``
so the student reads a short sentence in their own language.
"""

from __future__ import annotations


class EduError(Exception):
    """Base class: every error edu_core raises on purpose has a reason code."""

    code: str = "error"

    def __init__(self, code: str | None = None, detail: str = "") -> None:
        self.code = code or self.code
        self.detail = detail
        super().__init__(f"{self.code}: {detail}" if detail else self.code)


class ImageError(EduError):
    """A file could not be turned into an upright RGB image."""

    code = "unreadable"


class ModelFileError(EduError):
    """A model bundle or checkpoint is missing or broken."""

    code = "model_missing"


class FolderError(EduError):
    """A photo folder or its labels.csv cannot be read (edu_core.folders)."""

    code = "not_found"


class StoreError(EduError):
    """The class data store refused an operation."""

    code = "store_error"
