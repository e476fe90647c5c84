"""Structure checks for what the benchmarks print: a number where a figure goes, never its value.

Timings and the ratios, fractions and extrapolations computed from them differ
from one machine and one run to the next, so the smoke tests only check that
each such figure is there and is a finite, non-negative number.
"""

import math


def assert_timing_figures(figures, *keys):
    """Each of ``keys`` is in ``figures`` and is a finite number >= 0 (its value unchecked)."""
    for key in keys:
        assert key in figures, f"missing timing figure {key!r}"
        value = figures[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (
            f"{key}: expected a number, got {value!r}")
        assert math.isfinite(value) and value >= 0, f"{key}: expected a finite number >= 0"
