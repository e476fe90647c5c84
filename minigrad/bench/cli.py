"""``python -m minigrad.bench WORKLOAD``: the workloads by name, ``all``, the argument parser."""

import argparse
import json
import sys
from pathlib import Path

from . import data, deepfm, engines, fedrecon, scaling, scatter, spam
from .realdata import WorkloadError
from .report import DOCS_DIR, performance_table, update_readme
from .threads import blas_threads, threadpoolctl
from .timing import machine_line

USAGE = """Benchmarks that print figures and ratios measured in one process.

    python -m minigrad.bench kernels    # scatter-add candidates vs a Python loop
    python -m minigrad.bench data       # loading and indexing the real datasets ($MINIGRAD_DATA)
    python -m minigrad.bench spam       # one epoch of the book's spam recipe vs its per-row loop
    python -m minigrad.bench fedrecon   # TFF's FedRecon tutorial on ml-100k vs a per-client loop
    python -m minigrad.bench deepfm     # split DeepFM, ml-100k, batch 128, vs a NumPy lower bound
    python -m minigrad.bench all        # every workload above, then docs/performance/table.md
    python -m minigrad.bench scaling    # time against size, plotted into docs/performance/
    python -m minigrad.bench flower     # a FedAvg round on Flower's Simulation Engine vs in-process
    python -m minigrad.bench ray        # a split DeepFM step with the parties in Ray actors

On a machine shared with other work, ``--blas-threads 1`` keeps OpenBLAS's threads
from spinning against the load (a matmul can otherwise take many times longer).

Never a timed assertion: these print, the reader judges. Each ratio is
against a reference measured in the same run, so machine speed cancels out.
Every workload ends with one line ``BENCH {json}`` holding its figures, for
scripts to pick up.
"""

ALL_ORDER = ("kernels", "data", "spam", "fedrecon", "deepfm")
"""The workloads ``all`` runs, in this order."""


def bench_all(args, out, docs_dir=None, readme=None):
    """Run every workload of ALL_ORDER, printing each table and its BENCH line; then write
    ``docs_dir``/table.md and update the README block. Returns a summary of the figures."""
    docs_dir = Path(docs_dir) if docs_dir is not None else DOCS_DIR
    results, skipped = {}, {}
    for name in ALL_ORDER:
        print(f"\n=== {name} " + "=" * (60 - len(name)), file=out)
        try:
            figures = WORKLOADS[name](args, out)
        except WorkloadError as e:
            skipped[name] = str(e)
            print(f"skipped: {e}", file=out)
            continue
        results[name] = figures
        print("BENCH " + json.dumps(figures), file=out)
    machine = machine_line()
    table = performance_table(results, machine)
    docs_dir.mkdir(parents=True, exist_ok=True)
    table_path = docs_dir / "table.md"
    table_path.write_text(table, encoding="utf-8")
    in_readme = update_readme(table, readme) if readme is not False else False
    print(f"\n=== the performance table ({table_path}"
          f"{', and README.md between its markers' if in_readme else ''}):\n", file=out)
    print(table, file=out)
    keys = {"spam": ("epoch_s", "speedup_vs_book", "within_targets"),
            "fedrecon": ("tutorial_20_rounds_s", "speedup_vs_reference", "within_targets"),
            "deepfm": ("step_s", "epoch_s", "numpy_step_s", "numpy_fraction",
                       "python_overhead_fraction", "step_vs_pytorch_anchor"),
            "data": ("ml100k_load_s", "enron_load_s", "enron_tokenize_index_s",
                     "within_targets"),
            "kernels": ("cases",)}
    summary = {"workload": "all", "machine": machine, "table": str(table_path),
               "readme_updated": in_readme, "skipped": skipped}
    for name, figures in results.items():
        summary[name] = {k: figures[k] for k in keys[name] if k in figures}
    return summary


def run_all(args, out):
    """The CLI's ``all``: bench_all into ``--docs-dir``, and README.md unless ``--no-readme``."""
    return bench_all(args, out, docs_dir=args.docs_dir,
                     readme=False if args.no_readme else None)


WORKLOADS = {"kernels": scatter.run, "data": data.run, "spam": spam.run,
             "fedrecon": fedrecon.run, "deepfm": deepfm.run, "all": run_all,
             "scaling": scaling.run, "flower": engines.run_flower, "ray": engines.run_ray}
"""Workload name -> function(parsed args, out) that prints its table and returns its figures."""


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv=None):
    """Parse ``argv``, run one workload, print its BENCH line; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m minigrad.bench", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=list(WORKLOADS), help="what to measure")
    parser.add_argument("--repeats", type=_positive_int, default=5,
                        help="runs per timing (median)")
    parser.add_argument("--heavy-repeats", type=_positive_int, default=3,
                        help="runs of the multi-second timings (data: tokenization)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                        help="kernels: dtype of the rows")
    parser.add_argument("--blas-threads", type=_positive_int, default=None,
                        help="set the BLAS threads first (1 is steadier on a loaded machine)")
    parser.add_argument("--docs-dir", type=Path, default=None,
                        help="all, scaling: where table.md and the plots go (default: the "
                             "repository's docs/performance/)")
    parser.add_argument("--no-readme", action="store_true",
                        help="all: do not rewrite README.md's performance block")
    args = parser.parse_args(argv)
    try:
        threadpoolctl()
    except ModuleNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.blas_threads is not None and blas_threads(args.blas_threads) is None:
        print("warning: no BLAS library found; --blas-threads ignored", file=sys.stderr)
    try:
        figures = WORKLOADS[args.workload](args, sys.stdout)
    except WorkloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("BENCH " + json.dumps(figures))
    return 1 if figures.get("skipped") else 0


