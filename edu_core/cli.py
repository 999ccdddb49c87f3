"""What every ``python -m edu_core.<module>`` command prints, in one place.

Results go to standard output (one JSON object with ``--json``); an :class:`EduError` becomes
``{"error": code, "detail": ...}`` (or ``error: ...`` as text) and exit status 2, so scripts
can tell a refused input from a crash (status 1 with a traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from edu_core.errors import EduError

#: The exit status of a command that refused its input with a reason code.
EXIT_REFUSED = 2


def print_json(obj: Any, *, indent: int | None = None, default: Callable[[Any], Any] | None = None) -> None:
    """Print ``obj`` as one JSON document, Korean text left readable (``default`` as in ``json.dumps``)."""
    print(json.dumps(obj, ensure_ascii=False, indent=indent, default=default))


def print_error(exc: EduError, *, as_json: bool, file: TextIO | None = None) -> int:
    """Report ``exc`` (on standard error unless ``file`` says otherwise); returns :data:`EXIT_REFUSED`."""
    out = sys.stderr if file is None else file
    if as_json:
        print(json.dumps({"error": exc.code, "detail": exc.detail}, ensure_ascii=False), file=out)
    else:
        print(f"error: {exc}", file=out)
    return EXIT_REFUSED
