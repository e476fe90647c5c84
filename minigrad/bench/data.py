"""The ``data`` workload: loading ml-100k and Enron-Spam and indexing every email."""

import platform
import sys

import numpy as np

from .realdata import or_refuse
from .threads import blas_threads
from .timing import cpus, load_average, table, timings

DATA_TARGETS = {"ml100k_load_s": 1.0, "enron_load_s": 10.0, "enron_tokenize_index_s": 10.0}
"""Seconds each data figure should stay under, on a 2-core machine."""

MAX_LEN = 500  # the book's cut-off for an email's length in words


def bench_data(root=None, repeats=5, heavy_repeats=3, out=None):
    """Time loading ml-100k and Enron-Spam and indexing every email; return the figures.

    Reads the real data under ``root`` (default ``$MINIGRAD_DATA``, else <repo>/data)
    and raises DatasetError when it is absent; the synthetic stand-ins are refused,
    since their timings say nothing about the real files. Prints to ``out`` (default
    sys.stdout).
    """
    out = out or sys.stdout
    # Imported here so that the kernels workload needs NumPy alone.
    import pandas as pd

    from ..datasets import (
        SYNTHETIC,
        DatasetError,
        Vocabulary,
        data_root,
        load_enron_spam,
        load_movielens,
        tokenize,
    )

    root = data_root(root)
    if root == SYNTHETIC:
        raise DatasetError("the data benchmark times the real datasets, and MINIGRAD_DATA is "
                           "'synthetic': set MINIGRAD_DATA to a folder holding ml-100k/ and "
                           "enron-spam/ (see data/README.md)")
    if repeats < 1 or heavy_repeats < 1:
        raise ValueError(f"repeats and heavy_repeats must be >= 1, got {repeats}, "
                         f"{heavy_repeats}")

    # The first load of each is the warm-up (file cache, imports), and fails early and
    # clearly when a dataset is missing, before anything is timed.
    try:
        ml = load_movielens("ml-100k", root)
        corpus = load_enron_spam(root)
    except DatasetError as e:
        raise DatasetError(f"the data benchmark needs the real datasets (it refuses the "
                           f"synthetic stand-ins). {e}") from e
    texts = corpus.texts

    def tokenize_and_index():
        token_lists = [tokenize(text) for text in texts]
        vocab = Vocabulary.build(token_lists)
        batch = vocab.to_indices(token_lists, max_len=MAX_LEN)
        last.update(vocab_size=len(vocab), tokens=int(batch.original_lengths.sum()),
                    indexed_rows=len(batch), truncated_rows=batch.num_truncated)

    last = {}
    times = {
        "ml100k_load_s": timings(lambda: load_movielens("ml-100k", root), repeats, 0),
        "enron_load_s": timings(lambda: load_enron_spam(root), repeats, 0),
        # Several seconds a run: no warm-up, fewer runs.
        "enron_tokenize_index_s": timings(tokenize_and_index, heavy_repeats, 0),
    }

    labels = {
        "ml100k_load_s": "ml-100k: load_movielens('ml-100k')",
        "enron_load_s": "Enron-Spam: load_enron_spam(), enron1-6",
        "enron_tokenize_index_s": f"Enron-Spam: tokenize + Vocabulary + to_indices({MAX_LEN})",
    }
    ham, spam = int((corpus.labels == 0).sum()), int((corpus.labels == 1).sum())
    print(f"numpy {np.__version__}, pandas {pd.__version__}, python "
          f"{platform.python_version()}, {cpus()} cores{load_average()}", file=out)
    print(f"data root: {root}\n", file=out)
    medians = {key: float(np.median(ts)) for key, ts in times.items()}
    rows = [(labels[key], len(ts), medians[key], min(ts), max(ts), f"< {DATA_TARGETS[key]:g} s")
            for key, ts in times.items()]
    columns = [("runs", 5, ""), ("median s", 10, ".3f"), ("min s", 8, ".3f"),
               ("max s", 8, ".3f"), ("target", 9, "")]
    header, *lines = table("workload", 56, columns, rows)
    print(header + "  ", file=out)
    for key, line in zip(times, lines, strict=True):
        print(f"{line}  {'ok' if medians[key] < DATA_TARGETS[key] else 'OVER TARGET'}", file=out)
    notes = [
        "",
        "  runs: the loads are timed after one untimed warm-up load each; tokenization",
        f"  takes several seconds a run, so {heavy_repeats} run(s) and no warm-up.",
        f"  ml-100k: {len(ml.ratings):,} ratings, {len(ml.users):,} users, {len(ml.items):,} "
        f"items, mean rating {ml.ratings['rating'].mean():.4f}",
        f"  Enron-Spam: {len(corpus):,} emails ({ham:,} ham, {spam:,} spam), "
        f"{corpus.num_decode_fallbacks:,} decoded as latin-1",
        *(f"    note: {note}" for note in corpus.notes),
    ]
    print("\n".join(notes), file=out)
    print(f"  indexing: tokenize(text) (every word, lowercased), Vocabulary.build (no cut-off),\n"
          f"    to_indices(max_len={MAX_LEN}, long='truncate'): {last['tokens']:,} words, "
          f"{last['vocab_size']:,} vocabulary entries,\n    {last['indexed_rows']:,} rows, "
          f"{last['truncated_rows']:,} of them truncated", file=out)

    return {
        "workload": "data",
        **{key: round(value, 4) for key, value in medians.items()},
        "runs": {key: len(ts) for key, ts in times.items()},
        "targets_s": DATA_TARGETS,
        "within_targets": all(medians[k] < DATA_TARGETS[k] for k in medians),
        "cpus": cpus(),
        "blas_threads": blas_threads(),
        "ml100k_ratings": len(ml.ratings),
        "ml100k_users": len(ml.users),
        "ml100k_items": len(ml.items),
        "enron_emails": len(corpus),
        "enron_ham": ham,
        "enron_spam": spam,
        "enron_decode_fallbacks": corpus.num_decode_fallbacks,
        **last,
        "max_len": MAX_LEN,
    }


def run(args, out):
    """The CLI's ``data``: bench_data on $MINIGRAD_DATA, a WorkloadError when it is absent."""
    return or_refuse(bench_data, repeats=args.repeats, heavy_repeats=args.heavy_repeats,
                     out=out)
