"""``python -m edu_core.samples``."""

from edu_core.samples.cli import main

raise SystemExit(main())
