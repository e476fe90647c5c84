"""The ``kernels`` workload: every scatter-add candidate against the book's per-row loop."""

import platform
import sys

import numpy as np

from .. import kernels
from .timing import median_time

# (label, number of indices, table rows, table width)
KERNEL_CASES = [
    ("narrow: 250,000 indices -> 100,000 x 1", 250_000, 100_000, 1),
    ("wide:    50,000 indices ->  10,000 x 32", 50_000, 10_000, 32),
]


def bench_kernels(repeats=5, seed=0, dtype=np.float32, out=sys.stdout, cases=None):
    """Time every scatter-add candidate against the per-row loop; return the figures.

    ``cases``: (label, indices, rows, dim) tuples; default ``minigrad.bench.KERNEL_CASES``.
    """
    if cases is None:
        # read through the package at call time: minigrad.bench.KERNEL_CASES is the one
        # setting readers and tests see (and may replace)
        from . import KERNEL_CASES as cases
    rng = np.random.default_rng(seed)
    results = []
    print(f"numpy {np.__version__}, python {platform.python_version()}, "
          f"dtype {np.dtype(dtype).name}, median of {repeats} runs", file=out)
    for label, k, n, d in cases:
        idx = rng.integers(0, n, size=k)
        rows = rng.standard_normal((k, d)).astype(dtype)
        expected = kernels.scatter_add_rows_add_at(idx, rows, n)
        print(f"\nscatter-add, {label}", file=out)
        print(f"  {'kernel':<14}{'median ms':>11}{'x loop':>10}{'x add_at':>10}", file=out)
        timings = {}
        for name, kernel in kernels.SCATTER_ADD_METHODS.items():
            got = kernel(idx, rows, n)
            if not np.allclose(got, expected, rtol=1e-4, atol=1e-4):
                raise AssertionError(f"kernel {name} disagrees with add_at on {label}")
            reps = repeats  # the loop too: every ratio is median over median
            timings[name] = median_time(
                lambda kernel=kernel, idx=idx, rows=rows, n=n: kernel(idx, rows, n), reps)
        for name, t in timings.items():
            print(f"  {name:<14}{t * 1e3:>11.2f}{timings['loop'] / t:>10.1f}"
                  f"{timings['add_at'] / t:>10.2f}", file=out)
        auto = kernels.auto_method(rows, idx)
        fastest = min((t, name) for name, t in timings.items())[1]
        print(f"  default ('auto') uses {auto}; fastest here: {fastest}", file=out)
        results.append({"case": label, "indices": k, "rows": n, "dim": d,
                        "seconds": timings, "auto": auto, "fastest": fastest})
    return results


def run(args, out):
    """The CLI's ``kernels``: bench_kernels, then its BENCH figures."""
    results = bench_kernels(repeats=args.repeats, dtype=np.dtype(args.dtype), out=out)
    return {
        "workload": "kernels",
        "dtype": np.dtype(args.dtype).name,
        "repeats": args.repeats,
        "loop_repeats": args.repeats,
        "cases": [{
            "case": " ".join(r["case"].split()),
            "indices": r["indices"], "rows": r["rows"], "dim": r["dim"],
            "median_s": {name: round(t, 6) for name, t in r["seconds"].items()},
            "speedup_vs_loop": {name: round(r["seconds"]["loop"] / t, 2)
                                for name, t in r["seconds"].items()},
            "auto": r["auto"], "fastest": r["fastest"],
        } for r in results],
    }
