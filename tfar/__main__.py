"""``python -m tfar``: the ``tfar`` command line (see :mod:`tfar.cli`)."""

import sys

from tfar.cli import main

if __name__ == "__main__":
    sys.exit(main())
