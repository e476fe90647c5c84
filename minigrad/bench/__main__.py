"""``python -m minigrad.bench``: see ``minigrad.bench.cli``."""

import sys

from .cli import main

sys.exit(main())
