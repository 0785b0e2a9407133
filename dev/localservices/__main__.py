"""`python dev/localservices ...` (or `python -m localservices` with dev/ on the path): cli.py."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a directory: import `localservices` as the package it is
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from localservices.cli import main

sys.exit(main())
