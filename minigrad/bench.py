"""Benchmarks that print figures and ratios measured in one process.

    python -m minigrad.bench kernels

Never a timed assertion: these print, the reader judges. Each ratio is
against a reference measured in the same run, so machine speed cancels out.
"""

import argparse
import platform
import sys
import time

import numpy as np

from . import kernels

__all__ = ["median_time", "bench_kernels", "main"]


def median_time(fn, repeats=5, warmup=1):
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs (after ``warmup``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# (label, number of indices, table rows, table width)
KERNEL_CASES = [
    ("narrow: 250,000 indices -> 100,000 x 1", 250_000, 100_000, 1),
    ("wide:    50,000 indices ->  10,000 x 32", 50_000, 10_000, 32),
]


def bench_kernels(repeats=5, seed=0, dtype=np.float32, out=sys.stdout):
    """Time every scatter-add candidate against the per-row loop; return the figures."""
    rng = np.random.default_rng(seed)
    results = []
    print(f"numpy {np.__version__}, python {platform.python_version()}, "
          f"dtype {np.dtype(dtype).name}, median of {repeats} runs", file=out)
    for label, k, n, d in KERNEL_CASES:
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
            reps = 1 if name == "loop" else repeats
            timings[name] = median_time(
                lambda kernel=kernel, idx=idx, rows=rows, n=n: kernel(idx, rows, n), reps)
        for name, t in timings.items():
            print(f"  {name:<14}{t * 1e3:>11.2f}{timings['loop'] / t:>10.1f}"
                  f"{timings['add_at'] / t:>10.2f}", file=out)
        auto = kernels._auto_method(rows, idx)
        fastest = min((t, name) for name, t in timings.items())[1]
        print(f"  default ('auto') uses {auto}; fastest here: {fastest}", file=out)
        results.append({"case": label, "indices": k, "rows": n, "dim": d,
                        "seconds": timings, "auto": auto, "fastest": fastest})
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minigrad.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=["kernels"], help="what to measure")
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing (median)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)
    if args.workload == "kernels":
        bench_kernels(repeats=args.repeats, dtype=np.dtype(args.dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main())
