"""Where the tests find the real datasets (never in git): one rule and one skip per dataset.

The real data lives wherever ``$MINIGRAD_DATA`` points; a test that needs a dataset
that is absent is skipped with a reason that says how to get it.
"""

import os
from pathlib import Path

import pytest


def real_data_root(*required):
    """$MINIGRAD_DATA if it holds every ``required`` path (e.g. "enron-spam/enron1"),
    else None (then the caller skips, saying why)."""
    candidate = os.environ.get("MINIGRAD_DATA")
    if not candidate or candidate == "synthetic":
        return None
    if all((Path(candidate) / rel).exists() for rel in required):
        return Path(candidate)
    return None


def missing(name, dataset):
    """The skip reason for an absent dataset: what it is and the command that fetches it."""
    return (f"{name} not found in $MINIGRAD_DATA (get it with "
            f"`python -m minigrad.datasets download {dataset}`)")


ENRON_ROOT = real_data_root("enron-spam/enron1")
"""The root holding the real Enron-Spam corpus (at least enron1), or None."""
ENRON_MISSING = missing("Enron-Spam", "enron-spam")
needs_enron = pytest.mark.skipif(ENRON_ROOT is None, reason=ENRON_MISSING)

ML100K_ROOT = real_data_root("ml-100k/u.data")
"""The root holding the real MovieLens 100K, or None."""
ML100K_MISSING = missing("MovieLens 100K", "ml-100k")
needs_ml100k = pytest.mark.skipif(ML100K_ROOT is None, reason=ML100K_MISSING)
