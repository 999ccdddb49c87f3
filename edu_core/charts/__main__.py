"""``python -m edu_core.charts``."""

from edu_core.charts.cli import _main

raise SystemExit(_main())
