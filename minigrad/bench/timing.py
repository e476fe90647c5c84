"""Wall-clock timers and the machine line that heads every benchmark table.

Never a timed assertion: these measure, the reader judges. Each ratio a workload
prints is against a reference timed in the same process, so machine speed cancels.
"""

import os
import platform
import time

import numpy as np

from .threads import blas_threads


def median_time(fn, repeats=5, warmup=1):
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs (after ``warmup``)."""
    return float(np.median(timings(fn, repeats, warmup)))


def timings(fn, repeats, warmup):
    """All wall times of ``fn()`` in seconds over ``repeats`` runs (after ``warmup``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def verdict(met):
    """How a table line judges a goal: 'ok' or 'NOT MET'."""
    return "ok" if met else "NOT MET"


def targets_line(goals):
    """'  targets: GOAL: ok; GOAL: NOT MET' from ``(goal text, met)`` pairs: a table's verdict."""
    return "  targets: " + "; ".join(f"{goal}: {verdict(met)}" for goal, met in goals)


def table(label_title, label_width, columns, rows):
    """The lines of a workload's table: its header, then one line per row, each indented 2.

    ``columns`` holds ``(title, width, spec)``; a row is ``(label, value, ...)``: the label
    left-aligned in ``label_width``, each value ``format(value, spec)`` right-aligned in
    its column's width.
    """
    def line(label, cells):
        return f"  {label:<{label_width}}" + "".join(
            f"{cell:>{width}}" for cell, (_, width, _) in zip(cells, columns, strict=True))

    return [line(label_title, [title for title, _, _ in columns])] + [
        line(label, [format(value, spec) for value, (_, _, spec) in zip(values, columns,
                                                                         strict=True)])
        for label, *values in rows]


def cpus():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count()


def load_average():
    """', load average X.XX' where the OS reports one, else ''."""
    return f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""


def machine_line():
    """numpy version, cores, BLAS threads and load: the header of every table."""
    threads = blas_threads()
    return (f"numpy {np.__version__}, python {platform.python_version()}, {cpus()} cores, "
            f"BLAS threads {threads if threads is not None else 'unknown'}{load_average()}")


def print_table(out, heading, label_title, label_width, columns, rows):
    """A workload's table on ``out``: the machine line, ``heading``, a blank line, ``table``."""
    print(machine_line(), file=out)
    print(heading + "\n", file=out)
    print("\n".join(table(label_title, label_width, columns, rows)), file=out)
