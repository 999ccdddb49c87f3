"""``python -m edu_core.experiments``."""

from edu_core.experiments.cli import main

raise SystemExit(main())
