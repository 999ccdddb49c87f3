"""Moved to :mod:`edu_core.korean7.demo`.

Kept only because ``python -m edu_core.samples aihub`` still dispatches here; once samples drops
that subcommand this file (and the samples -> korean7 -> samples import loop it closes) can go.
"""

from edu_core.korean7.demo import *  # noqa: F403
from edu_core.korean7.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
