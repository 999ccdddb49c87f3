"""``python -m edu_core.samples``: paint the sample faces, or ``aihub ...`` for the AI Hub demo set.

The ``aihub`` subcommand is the seven-class demo generator (:mod:`edu_core.korean7.demo`), which
paints with this package: it is dispatched here, in the entry point nothing imports, so the
package and the demo never import each other in a loop.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edu_core.korean7 import demo
from edu_core.samples.cli import main


def run(argv: Sequence[str] | None = None) -> int:
    """The command line: ``aihub ARGS`` goes to the AI Hub demo writer, anything else to the painter."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "aihub":
        return demo.main(args[1:])
    return main(args)


if __name__ == "__main__":
    raise SystemExit(run())
