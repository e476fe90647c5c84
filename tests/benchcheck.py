"""Structure checks for what the benchmarks print: a number where a figure goes, never its value.

Timings and the ratios, fractions and extrapolations computed from them differ
from one machine and one run to the next, so the smoke tests only check that
each such figure is there and is a finite, non-negative number (ratios: positive).
"""

import functools
import json
import math

from minigrad.bench import deepfm

SMALL_DEEPFM = {"dim": 4, "units": (8, 4), "fuse_units": (8, 4)}
"""make_parties sizes that keep a DeepFM step well under a millisecond."""


def _assert_numbers(figures, keys, check, what):
    for key in keys:
        assert key in figures, f"missing figure {key!r}"
        value = figures[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (
            f"{key}: expected a number, got {value!r}")
        assert math.isfinite(value) and check(value), f"{key}: expected a finite number {what}"


def assert_timing_figures(figures, *keys):
    """Each of ``keys`` is in ``figures`` and is a finite number >= 0 (its value unchecked)."""
    _assert_numbers(figures, keys, lambda v: v >= 0, ">= 0")


def assert_ratio_figures(figures, *keys):
    """Each of ``keys`` is in ``figures`` and is a finite number > 0 (its value unchecked)."""
    _assert_numbers(figures, keys, lambda v: v > 0, "> 0")


def bench_lines(stdout):
    """The figures of every ``BENCH {json}`` line in ``stdout``, in order."""
    return [json.loads(line[len("BENCH "):]) for line in stdout.splitlines()
            if line.startswith("BENCH ")]


def bench_line(stdout):
    """The figures of the last line, which must be ``BENCH {json}``."""
    last = stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("BENCH "), last
    return json.loads(last[len("BENCH "):])


def use_small_deepfm(monkeypatch):
    """Within the test, the deepfm workload (and scaling) build SMALL_DEEPFM-sized parties."""
    monkeypatch.setattr(deepfm, "deepfm_parties",
                        functools.partial(deepfm.deepfm_parties, **SMALL_DEEPFM))
