"""``python -m edu_core.store``: see :mod:`edu_core.store.cli`."""

import sys

from edu_core.store.cli import main

sys.exit(main())
