"""``python -m edu_core.aihub_demo``: the AI Hub demo set writer, kept under its published name.

The code lives in :mod:`edu_core.korean7.demo`; this module is only the command's entry point.
"""

from edu_core.korean7.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
