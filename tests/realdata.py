"""Where the tests find the real datasets (never in git): one rule for every test file."""

import os
from pathlib import Path

import pytest

COURSE_COPY = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_data_root(*required):
    """$MINIGRAD_DATA, else ../shared/data beside the repo, if it holds every ``required``
    path (e.g. "enron-spam/enron1"); None otherwise (then the caller skips, saying why)."""
    for candidate in (os.environ.get("MINIGRAD_DATA"), COURSE_COPY):
        if not candidate or candidate == "synthetic":
            continue
        if all((Path(candidate) / rel).exists() for rel in required):
            return Path(candidate)
    return None


ENRON_ROOT = real_data_root("enron-spam/enron1")
"""The root holding the real Enron-Spam corpus (at least enron1), or None."""

needs_enron = pytest.mark.skipif(
    ENRON_ROOT is None, reason="Enron-Spam not found in $MINIGRAD_DATA or ../shared/data "
                               "(get it with `python -m minigrad.datasets download enron-spam`)")
"""Skip a test, saying why, where the real Enron-Spam corpus is absent."""
