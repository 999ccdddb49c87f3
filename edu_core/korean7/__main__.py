"""``python -m edu_core.korean7 ...``: see :mod:`edu_core.korean7.cli`."""

from edu_core.korean7.cli import main

raise SystemExit(main())
