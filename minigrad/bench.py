"""Benchmarks that print figures and ratios measured in one process.

    python -m minigrad.bench kernels    # scatter-add candidates vs a Python loop
    python -m minigrad.bench data       # loading and indexing the real datasets ($MINIGRAD_DATA)
    python -m minigrad.bench spam       # one epoch of the book's spam recipe vs its per-row loop
    python -m minigrad.bench fedrecon   # TFF's FedRecon tutorial on ml-100k vs a per-client loop
    python -m minigrad.bench deepfm     # split DeepFM, ml-100k, batch 128, vs a NumPy lower bound
    python -m minigrad.bench all        # every workload above, then docs/performance/table.md
    python -m minigrad.bench scaling    # time against size, plotted into docs/performance/

On a machine shared with other work, ``--blas-threads 1`` keeps OpenBLAS's threads
from spinning against the load (a matmul can otherwise take many times longer).

Never a timed assertion: these print, the reader judges. Each ratio is
against a reference measured in the same run, so machine speed cancels out.
Every workload ends with one line ``BENCH {json}`` holding its figures, for
scripts to pick up.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from . import kernels

__all__ = ["median_time", "bench_kernels", "bench_data", "bench_spam", "bench_fedrecon",
           "WORKLOADS", "DATA_TARGETS", "main"]


def median_time(fn, repeats=5, warmup=1):
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs (after ``warmup``)."""
    return float(np.median(_timings(fn, repeats, warmup)))


def _timings(fn, repeats, warmup):
    """All wall times of ``fn()`` in seconds over ``repeats`` runs (after ``warmup``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


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
            reps = repeats  # the loop too: every ratio is median over median
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


DATA_TARGETS = {"ml100k_load_s": 1.0, "enron_load_s": 10.0, "enron_tokenize_index_s": 10.0}
"""Seconds each data figure should stay under, on a 2-core machine."""

MAX_LEN = 500  # the book's cut-off for an email's length in words


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count()


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

    from .datasets import (
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
        "ml100k_load_s": _timings(lambda: load_movielens("ml-100k", root), repeats, 0),
        "enron_load_s": _timings(lambda: load_enron_spam(root), repeats, 0),
        # Several seconds a run: no warm-up, fewer runs.
        "enron_tokenize_index_s": _timings(tokenize_and_index, heavy_repeats, 0),
    }

    labels = {
        "ml100k_load_s": "ml-100k: load_movielens('ml-100k')",
        "enron_load_s": "Enron-Spam: load_enron_spam(), enron1-6",
        "enron_tokenize_index_s": f"Enron-Spam: tokenize + Vocabulary + to_indices({MAX_LEN})",
    }
    ham, spam = int((corpus.labels == 0).sum()), int((corpus.labels == 1).sum())
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    print(f"numpy {np.__version__}, pandas {pd.__version__}, python "
          f"{platform.python_version()}, {_cpus()} cores{load}", file=out)
    print(f"data root: {root}\n", file=out)
    print(f"  {'workload':<56}{'runs':>5}{'median s':>10}{'min s':>8}{'max s':>8}"
          f"{'target':>9}  ", file=out)
    medians = {}
    for key, ts in times.items():
        medians[key] = float(np.median(ts))
        target = DATA_TARGETS[key]
        verdict = "ok" if medians[key] < target else "OVER TARGET"
        print(f"  {labels[key]:<56}{len(ts):>5}{medians[key]:>10.3f}{min(ts):>8.3f}"
              f"{max(ts):>8.3f}{'< ' + format(target, 'g') + ' s':>9}  {verdict}", file=out)
    print(f"\n  runs: the loads are timed after one untimed warm-up load each; tokenization\n"
          f"  takes several seconds a run, so {heavy_repeats} run(s) and no warm-up.", file=out)
    print(f"  ml-100k: {len(ml.ratings):,} ratings, {len(ml.users):,} users, "
          f"{len(ml.items):,} items, mean rating {ml.ratings['rating'].mean():.4f}", file=out)
    print(f"  Enron-Spam: {len(corpus):,} emails ({ham:,} ham, {spam:,} spam), "
          f"{corpus.num_decode_fallbacks:,} decoded as latin-1", file=out)
    for note in corpus.notes:
        print(f"    note: {note}", file=out)
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
        "cpus": _cpus(),
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


def _run_kernels(args, out):
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


def _run_data(args, out):
    return _or_refuse(bench_data, repeats=args.repeats, heavy_repeats=args.heavy_repeats,
                      out=out)


class WorkloadError(Exception):
    """A workload cannot run here (e.g. its data is absent); main prints it, exits 1."""


def _or_refuse(load, *args, **kwargs):
    """``load(*args, **kwargs)``, with a DatasetError turned into a WorkloadError."""
    from .datasets import DatasetError

    try:
        return load(*args, **kwargs)
    except DatasetError as e:
        raise WorkloadError(str(e)) from e


WORKLOADS = {"kernels": _run_kernels, "data": _run_data}
"""Workload name -> function(parsed args, out) that prints its table and returns its figures."""


# ---------------------------------------------------------------------------
# spam: one epoch of the book's recipe, against the book's per-row loop (issues 4, 8)
# ---------------------------------------------------------------------------
SPAM_TARGETS = {"epoch_s": 0.2, "speedup_vs_book": 100.0}
"""The goals: an epoch in <= 0.2 s, >= 100x the book's algorithm."""


def _real_root(workload, what, folder, root=None):
    """The real data root for ``workload``; a DatasetError when MINIGRAD_DATA is 'synthetic'.

    Benchmarks time the real datasets only: a synthetic stand-in would print figures
    that look comparable with the peers' and are not.
    """
    from .datasets import SYNTHETIC, DatasetError, data_root

    root = data_root(root)
    if root == SYNTHETIC:
        raise DatasetError(f"the {workload} benchmark times the real {what}, and MINIGRAD_DATA "
                           f"is 'synthetic': set MINIGRAD_DATA to a folder holding {folder}/ "
                           "(see data/README.md)")
    return root


def _book_spam_data(root=None):
    """The book's recipe on the real Enron-Spam corpus; a DatasetError when it is absent."""
    from .datasets import load_enron_spam
    from .recipes import spam

    root = _real_root("spam", "Enron-Spam corpus", "enron-spam", root)
    return spam.book_recipe(load_enron_spam(root, encoding_fallback="ignore"))


class _ForceScatterAdd:
    """Within ``with``, every 'auto' scatter-add (the embedding backward) uses ``method``.

    Patches ``kernels._auto_method`` for the block only and counts the calls, so a
    caller can check the patch was really on the path it timed.
    """

    def __init__(self, method):
        self.method = method
        self.calls = 0

    def _choose(self, rows, indices):
        self.calls += 1
        return self.method

    def __enter__(self):
        self._original = kernels._auto_method
        kernels._auto_method = self._choose
        return self

    def __exit__(self, *exc):
        kernels._auto_method = self._original


def bench_spam(data=None, repeats=5, loop_batches=3, batch_size=500, out=None):
    """Time one epoch of the book's recipe, and the book's algorithm on the same batches.

    ``data`` is a ``recipes.spam.SpamData`` (default: the book recipe on the real
    corpus). The epoch runs through the public API, ``recipes.spam.train_epoch``,
    ``repeats`` times after one warm-up. The book's algorithm is the same
    forward/backward with the embedding backward done by the per-row Python loop
    (``kernels.scatter_add_rows_loop``); it is timed on the first ``loop_batches``
    batches and extrapolated to the epoch. Prints to ``out``; returns the figures.
    """
    from .recipes import spam

    out = out or sys.stdout
    data = _book_spam_data() if data is None else data
    X, y = data.X_train, data.y_train
    num_batches = len(X) // batch_size  # the book skips the last partial batch
    if num_batches < 1 or repeats < 1 or loop_batches < 1:
        raise ValueError(f"bench_spam: need >= 1 batch of {batch_size} (have {len(X)} rows), "
                         f"repeats >= 1 and loop_batches >= 1")
    loop_batches = min(loop_batches, num_batches)
    vocab_size = len(data.vocab)

    def timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    model = spam.spam_model(vocab_size)
    timed(lambda: spam.train_epoch(model, X, y, batch_size=batch_size))  # warm-up
    epoch_times = [timed(lambda: spam.train_epoch(model, X, y, batch_size=batch_size))
                   for _ in range(repeats)]

    def first_batches():
        """A fresh model trained on batches 0 .. loop_batches-1; seconds per batch."""
        m = spam.spam_model(vocab_size)
        times = []
        for b in range(loop_batches):
            sl = slice(b * batch_size, (b + 1) * batch_size)
            times.append(timed(lambda sl=sl: spam.train_epoch(m, X[sl], y[sl],
                                                               batch_size=batch_size)))
        return m, times

    with _ForceScatterAdd("loop") as forced:
        book_model, loop_times = first_batches()
    if forced.calls < loop_batches:
        raise AssertionError("the embedding backward did not go through kernels._auto_method: "
                             "the reference timed was not the book's per-row loop")
    fast_model, fast_times = first_batches()
    max_diff = float(np.abs(book_model.weight.data - fast_model.weight.data).max())
    if not np.allclose(book_model.weight.data, fast_model.weight.data, rtol=1e-4, atol=1e-5):
        raise AssertionError(f"the book's loop and minigrad disagree after {loop_batches} "
                             f"batches (max |diff| {max_diff:.3g})")

    epoch_s = float(np.median(epoch_times))
    loop_batch_s = float(np.median(loop_times))
    fast_batch_s = float(np.median(fast_times))
    book_epoch_s = loop_batch_s * num_batches  # extrapolated
    kernel = kernels._auto_method(np.empty((1, X.shape[1], 1)), X[:1])
    dtype = model.weight.data.dtype.name
    figures = {
        "workload": "spam",
        "epoch_s": round(epoch_s, 4),
        "epoch_runs": repeats,
        "epoch_min_s": round(min(epoch_times), 4),
        "epoch_max_s": round(max(epoch_times), 4),
        "ms_per_batch": round(epoch_s / num_batches * 1e3, 3),
        "book_loop_epoch_s": round(book_epoch_s, 3),
        "book_loop_extrapolated": True,
        "book_loop_batches_timed": loop_batches,
        "book_loop_ms_per_batch": round(loop_batch_s * 1e3, 2),
        "same_batches_ms_per_batch": round(fast_batch_s * 1e3, 3),
        "speedup_vs_book": round(book_epoch_s / epoch_s, 1),
        "speedup_same_batches": round(loop_batch_s / fast_batch_s, 1),
        "max_abs_weight_diff": max_diff,
        "num_batches": num_batches,
        "batch_size": batch_size,
        "train_rows": len(X),
        "skipped_rows": len(X) - num_batches * batch_size,
        "max_len": int(X.shape[1]),
        "vocab_size": vocab_size,
        "dtype": dtype,
        "kernel": kernel,
        "targets": SPAM_TARGETS,
        "cpus": _cpus(),
        "blas_threads": blas_threads(),
    }
    figures["within_targets"] = bool(epoch_s <= SPAM_TARGETS["epoch_s"] and
                                     figures["speedup_vs_book"] >= SPAM_TARGETS["speedup_vs_book"])

    print(_machine_line(), file=out)
    print(f"spam, the book's recipe: {len(X):,} training rows x {X.shape[1]} word slots, "
          f"vocabulary {vocab_size:,}, {dtype}\n  {num_batches} batches of {batch_size} per "
          f"epoch (the last {figures['skipped_rows']} rows skipped, as in the book)\n", file=out)
    print(f"  {'variant':<54}{'runs':>5}{'s/epoch':>10}{'ms/batch':>10}{'x book':>9}", file=out)
    rows = [
        ("minigrad: recipes.spam.train_epoch, full epoch", repeats, f"{epoch_s:.3f}",
         epoch_s / num_batches, book_epoch_s / epoch_s),
        (f"minigrad: the same {loop_batches} batches as the book's below", loop_batches, "-",
         fast_batch_s, loop_batch_s / fast_batch_s),
        ("book's algorithm: per-row loop in embedding backward", loop_batches,
         f"{book_epoch_s:.2f}*", loop_batch_s, 1.0),
    ]
    for label, runs, per_epoch, per_batch, ratio in rows:
        print(f"  {label:<54}{runs:>5}{per_epoch:>10}{per_batch * 1e3:>10.2f}{ratio:>9.1f}",
              file=out)
    verdict = {True: "ok", False: "NOT MET"}
    print(f"\n  * extrapolated: median of {loop_batches} timed batches (batches 1-{loop_batches} "
          f"of the epoch) x {num_batches} batches\n"
          f"  embedding backward: kernels.scatter_add_rows 'auto' -> '{kernel}'; the book's "
          f"algorithm\n    is the same train_epoch with 'auto' forced to 'loop' "
          f"(kernels.scatter_add_rows_loop)\n"
          f"  after those {loop_batches} batches the two models agree: max |diff| "
          f"{max_diff:.2g}\n"
          f"  targets: epoch <= {SPAM_TARGETS['epoch_s']} s: "
          f"{verdict[epoch_s <= SPAM_TARGETS['epoch_s']]}; >= "
          f"{SPAM_TARGETS['speedup_vs_book']:g}x the book's algorithm: "
          f"{verdict[figures['speedup_vs_book'] >= SPAM_TARGETS['speedup_vs_book']]}", file=out)
    return figures


def _run_spam(args, out):
    data = _or_refuse(_book_spam_data)
    return bench_spam(data, repeats=args.repeats, loop_batches=max(3, args.heavy_repeats),
                      out=out)


WORKLOADS["spam"] = _run_spam


# ---------------------------------------------------------------------------
# fedrecon: the TFF tutorial's configuration on ml-100k, against the per-client loop
# (issues 5, 8)
# ---------------------------------------------------------------------------
FEDRECON_TARGETS = {"tutorial_20_rounds_s": 0.5, "speedup_vs_reference": 10.0}
"""The goals: the tutorial's 20 rounds in <= 0.5 s, >= 10x the per-client loop."""

FEDRECON_PEERS = {"tff_0.87_20_rounds_s": 43.7, "pytorch_loop_20_rounds_s": 5.8}
"""Peer anchors measured on this machine class (PyTorch and TFF scripts), not in this run."""


def _ml100k(workload, root=None):
    """Real ml-100k for ``workload``; a DatasetError when absent or MINIGRAD_DATA is 'synthetic'."""
    from .datasets import load_movielens

    return load_movielens("ml-100k", _real_root(workload, "ml-100k", "ml-100k", root))


def _fedrecon_data(root=None):
    """Real ml-100k; a DatasetError when it is absent or MINIGRAD_DATA is 'synthetic'."""
    return _ml100k("fedrecon", root)


def bench_fedrecon(ml, repeats=5, reference_runs=3, num_rounds=20, reference_rounds=None,
                   seed=0, out=None):
    """Time the TFF tutorial's FedRecon on ``ml`` (a MovieLens), and the per-client loop.

    The tutorial: users shuffled by ``np.random.seed(42)`` and split 80/10/10, each
    keeping its first 300 ratings; dim 50, batch 5, 50 clients a round, SGD server
    1.0 / client 0.5 / reconstruction 0.1. ``repeats`` timed runs of ``num_rounds``
    rounds (seeds seed, seed+1, ...; plan drawing included, server initialization
    not) after one warm-up; the reference ``reconstruction.train(reference=True)``
    runs ``reference_rounds`` (default all) rounds ``reference_runs`` times with the
    first run's seed, and must reach the same model. Prints to ``out``; returns the
    figures.
    """
    from .federated import reconstruction as fr

    out = out or sys.stdout
    if repeats < 1 or reference_runs < 1 or num_rounds < 1:
        raise ValueError("bench_fedrecon: repeats, reference_runs and num_rounds must be >= 1")
    reference_rounds = num_rounds if reference_rounds is None else reference_rounds
    if not 1 <= reference_rounds <= num_rounds:
        raise ValueError(f"bench_fedrecon: reference_rounds must lie in 1..{num_rounds}")

    # the tutorial's split: np.random.seed(42); np.random.shuffle(datasets); cut at 80 / 90 %
    perm = np.random.RandomState(42).permutation(ml.num_users)
    a, b = int(ml.num_users * 0.8), int(ml.num_users * 0.9)
    train, val, test = (fr.client_datasets(ml, ids, max_examples_per_user=300)
                        for ids in (perm[:a], perm[a:b], perm[b:]))
    spec = fr.MFSpec(num_items=ml.num_items, dim=50)
    config = fr.FedReconConfig()

    def run(run_seed, rounds, reference=False):
        """(seconds, per-round seconds, final state) of ``rounds`` rounds from a fresh model."""
        rng = np.random.default_rng(run_seed)
        state = fr.initialize(spec, config, rng)
        stamps = [time.perf_counter()]
        state, history = fr.train(spec, config, train, rounds, rng, state=state,
                                  reference=reference,
                                  callback=lambda s, r: stamps.append(time.perf_counter()))
        return stamps[-1] - stamps[0], np.diff(stamps), state, history

    initial = fr.initialize(spec, config, np.random.default_rng(seed)).params
    initial_val = fr.evaluate(spec, initial, val, np.random.default_rng(1000 + seed))
    run(seed, num_rounds)                                               # warm-up
    runs = []
    for r in range(repeats):
        seconds, per_round, state, history = run(seed + r, num_rounds)
        t0 = time.perf_counter()
        val_m = fr.evaluate(spec, state.params, val, np.random.default_rng(1000 + seed + r))
        eval_s = time.perf_counter() - t0
        test_m = fr.evaluate(spec, state.params, test, np.random.default_rng(2000 + seed + r))
        runs.append({"seed": seed + r, "seconds": seconds, "per_round": per_round,
                     "state": state, "train": history[-1], "val": val_m, "test": test_m,
                     "eval_s": eval_s})
    ref_times, ref_state = [], None
    for _ in range(reference_runs):
        seconds, _, ref_state, _ = run(seed, reference_rounds, reference=True)
        ref_times.append(seconds)
    fast_state = (runs[0]["state"] if reference_rounds == num_rounds
                  else run(seed, reference_rounds)[2])
    max_diff = max(float(np.abs(fast_state.params[k] - ref_state.params[k]).max())
                   for k in spec.global_names)
    if max_diff > 1e-9:
        raise AssertionError(f"the vectorized rounds and the per-client loop disagree after "
                             f"{reference_rounds} rounds (max |diff| {max_diff:.3g})")
    t0 = time.perf_counter()
    fr.evaluate_reference(spec, runs[0]["state"].params, val,
                          np.random.default_rng(1000 + seed))
    eval_reference_s = time.perf_counter() - t0

    rounds_s = float(np.median([r["seconds"] for r in runs]))
    per_round_s = float(np.median(np.concatenate([r["per_round"] for r in runs])))
    ref_round_s = float(np.median(ref_times)) / reference_rounds
    reference_total_s = ref_round_s * num_rounds
    speedup = reference_total_s / rounds_s
    first = runs[0]
    test_losses = [r["test"]["loss"] for r in runs]
    test_accs = [r["test"]["rating_accuracy"] for r in runs]
    figures = {
        "workload": "fedrecon",
        "data": ml.name,
        "tutorial_20_rounds_s": round(rounds_s * 20 / num_rounds, 4),
        "num_rounds": num_rounds,
        "rounds_s": round(rounds_s, 4),
        "rounds_runs": repeats,
        "rounds_min_s": round(min(r["seconds"] for r in runs), 4),
        "rounds_max_s": round(max(r["seconds"] for r in runs), 4),
        "per_round_s": round(per_round_s, 5),
        "reference_20_rounds_s": round(ref_round_s * 20, 3),
        "reference_rounds": reference_rounds,
        "reference_runs": reference_runs,
        "reference_extrapolated": reference_rounds < num_rounds,
        "speedup_vs_reference": round(speedup, 1),
        "max_abs_diff_vs_reference": max_diff,
        "initial_val_loss": round(initial_val["loss"], 4),
        "initial_val_rating_accuracy": round(initial_val["rating_accuracy"], 4),
        "val_loss": round(first["val"]["loss"], 4),
        "val_rating_accuracy": round(first["val"]["rating_accuracy"], 4),
        "test_loss": round(first["test"]["loss"], 4),
        "test_rating_accuracy": round(first["test"]["rating_accuracy"], 4),
        "test_loss_mean": round(float(np.mean(test_losses)), 4),
        "test_loss_std": round(float(np.std(test_losses)), 4),
        "test_rating_accuracy_mean": round(float(np.mean(test_accs)), 4),
        "test_rating_accuracy_std": round(float(np.std(test_accs)), 4),
        "eval_val_s": round(float(np.median([r["eval_s"] for r in runs])), 4),
        "eval_val_reference_s": round(eval_reference_s, 4),
        "clients": [len(train), len(val), len(test)],
        "train_ratings": len(train.item),
        "dtype": spec.dtype.name,
        "seed": seed,
        "targets": FEDRECON_TARGETS,
        "peers": FEDRECON_PEERS,
        "speedup_vs_tff": round(FEDRECON_PEERS["tff_0.87_20_rounds_s"] / (rounds_s * 20
                                                                          / num_rounds), 1),
        "cpus": _cpus(),
        "blas_threads": blas_threads(),
    }
    figures["within_targets"] = bool(
        figures["tutorial_20_rounds_s"] <= FEDRECON_TARGETS["tutorial_20_rounds_s"]
        and speedup >= FEDRECON_TARGETS["speedup_vs_reference"])

    print(_machine_line(), file=out)
    print(f"FedRecon, the TFF tutorial's configuration on {ml.name}: {len(train)}/{len(val)}/"
          f"{len(test)} train/val/test users (np.random.seed(42) shuffle),\n  <= 300 ratings "
          f"each ({len(train.item):,} for training), dim 50, batch 5, 50 clients/round, SGD "
          f"server 1.0 / client 0.5 / recon 0.1, {spec.dtype.name}\n", file=out)
    print(f"  {'variant':<52}{'runs':>5}{'s/' + str(num_rounds) + ' rounds':>14}"
          f"{'ms/round':>10}{'x loop':>8}", file=out)
    table = [
        ("minigrad: reconstruction.train (clients in lockstep)", repeats, rounds_s,
         per_round_s, speedup),
        (f"per-client loop: train(reference=True){'*' if reference_rounds < num_rounds else ''}",
         reference_runs, reference_total_s, ref_round_s, 1.0),
    ]
    for label, n_runs, total, per_round, ratio in table:
        print(f"  {label:<52}{n_runs:>5}{total:>14.3f}{per_round * 1e3:>10.2f}{ratio:>8.1f}",
              file=out)
    if reference_rounds < num_rounds:
        print(f"  * timed on its first {reference_rounds} rounds, extrapolated to "
              f"{num_rounds}", file=out)
    print(f"  both reach the same model after {reference_rounds} rounds: max |diff| "
          f"{max_diff:.2g}", file=out)
    print(f"  evaluation of the {len(val)} val users: {figures['eval_val_s'] * 1e3:.1f} ms "
          f"(per-user loop {eval_reference_s * 1e3:.1f} ms)", file=out)
    print(f"  peers (measured beside minigrad, not in this run): TFF 0.87 "
          f"{FEDRECON_PEERS['tff_0.87_20_rounds_s']} s, PyTorch per-client loop "
          f"{FEDRECON_PEERS['pytorch_loop_20_rounds_s']} s for 20 rounds\n", file=out)
    print(f"  initial val: loss {initial_val['loss']:.4f}, rating accuracy "
          f"{initial_val['rating_accuracy']:.4f}", file=out)
    print(f"  {'seed':>6}{'train loss':>12}{'train acc':>11}{'val loss':>10}{'val acc':>9}"
          f"{'test loss':>11}{'test acc':>10}", file=out)
    for r in runs:
        print(f"  {r['seed']:>6}{r['train']['loss']:>12.4f}{r['train']['rating_accuracy']:>11.4f}"
              f"{r['val']['loss']:>10.4f}{r['val']['rating_accuracy']:>9.4f}"
              f"{r['test']['loss']:>11.4f}{r['test']['rating_accuracy']:>10.4f}", file=out)
    print(f"  {'mean':>6}{'':>23}{'':>19}{np.mean(test_losses):>11.4f}{np.mean(test_accs):>10.4f}",
          file=out)
    print("  (TFF 0.87 here: val 1.81 / 0.315, test 1.884 / 0.313; PyTorch loop: test 1.995 / "
          "0.301)", file=out)
    verdict = {True: "ok", False: "NOT MET"}
    print(f"\n  targets: 20 rounds <= {FEDRECON_TARGETS['tutorial_20_rounds_s']} s: "
          f"{verdict[figures['tutorial_20_rounds_s'] <= FEDRECON_TARGETS['tutorial_20_rounds_s']]}"
          f"; >= {FEDRECON_TARGETS['speedup_vs_reference']:g}x the per-client loop: "
          f"{verdict[speedup >= FEDRECON_TARGETS['speedup_vs_reference']]}", file=out)
    return figures


def _run_fedrecon(args, out):
    ml = _or_refuse(_fedrecon_data)
    return bench_fedrecon(ml, repeats=args.repeats, reference_runs=args.heavy_repeats, out=out)


WORKLOADS["fedrecon"] = _run_fedrecon


# ---------------------------------------------------------------------------
# deepfm: split DeepFM on ml-100k, batch 128, against a plain-NumPy lower bound (issues 6, 8)
# ---------------------------------------------------------------------------
DEEPFM_PEERS = {"pytorch_step_s": 0.0071, "pytorch_epoch_s": 5.9}
"""The anchor: PyTorch eager, the same split DeepFM on ml-100k at batch 128 (not this run)."""

DEEPFM_TARGETS = {"step_vs_pytorch": 1.0}
"""The goal: a step no slower than PyTorch eager's (measured beside it, same machine)."""

__all__ += ["bench_deepfm", "deepfm_parties", "NumpyDeepFM"]


def _deepfm_data(root=None):
    """Real ml-100k; a DatasetError when it is absent or MINIGRAD_DATA is 'synthetic'."""
    return _ml100k("deepfm", root)


def deepfm_parties(ml, seed=0, dtype=np.float32, aggregation="concat", lr=1e-3):
    """alice and bob of SecretFlow's split DeepFM on every row of ``ml`` (a MovieLens).

    vertical_split; alice: user id, gender, age group, occupation; bob: movie id,
    genres (a bag), label rating > 3. SecretFlow's sizes; Adam(lr) per party. The
    builder is notebook 04's (``recipes.deepfm.make_parties``), with no rows held out.
    """
    from .recipes.deepfm import make_parties, prepare

    every_row = prepare(ml, test_fraction=0.0, val_fraction=0.0)
    return make_parties(every_row, seed=seed, dtype=dtype, aggregation=aggregation, lr=lr)


class NumpyDeepFM:
    """The same split-DeepFM step written out in plain NumPy, with no graph: the lower bound.

    Shares the parties' parameter arrays and optimizers; ``step(rows)`` computes every
    gradient by hand (the derivatives the autograd graph would apply), sets ``.grad``
    and steps both optimizers, so the time left between it and ``split.train_step`` is
    the autograd layer's own: graph records, per-op dispatch, extra temporaries.
    ``gradients(rows)`` returns {Tensor: ndarray} without stepping. Only the default
    model (no ``fm_stop_gradient``, any aggregation).
    """

    def __init__(self, alice, bob):
        if alice.model.fm_stop_gradient or bob.model.fm_stop_gradient:
            raise ValueError("NumpyDeepFM covers the default model (fm_stop_gradient=False)")
        self.alice, self.bob = alice, bob

    @staticmethod
    def _base_forward(base, X):
        emb, first = base.embedding, base.first_order.weights
        rows = emb.rows(X)
        if emb._multi:       # bags: gather slot-major, then whole-row adds (as the op does)
            slot_rows = emb.weight.data.take(rows.T, axis=0)        # (S, B, K)
            sizes = np.diff(np.append(emb._bags, rows.shape[1]))
            v = np.stack([slot_rows[a:a + n].sum(axis=0)
                          for a, n in zip(emb._bags, sizes, strict=True)], axis=1)
        else:
            v = emb.weight.data.take(rows, axis=0)                  # (B, F, K)
        v += emb.bias.data
        batch, fields, dim = v.shape
        h = v.reshape(batch, fields * dim)
        acts, masks = [], []
        for layer in base.dnn.layers:
            acts.append(h)
            h = h @ layer.weight.data
            h += layer.bias.data
            mask = h > 0
            h *= mask
            masks.append(mask)
        fm_sum = v[:, 0].copy()
        for f in range(1, fields):
            fm_sum += v[:, f]
        flat = v.reshape(batch, fields * dim)
        square_sum = (flat * flat).sum(axis=1, keepdims=True)
        first_order = first.weight.data[:, 0].take(rows).sum(axis=1, keepdims=True)
        fm_linear = (first_order + base.first_order.bias.data) - 0.5 * square_sum
        return (h, fm_sum, fm_linear), (rows, v, acts, masks)

    @staticmethod
    def _base_backward(base, cache, g_deep, g_sum, g_linear, grads):
        rows, v, acts, masks = cache
        emb, first = base.embedding, base.first_order
        g = g_deep
        for layer, a, mask in zip(reversed(base.dnn.layers), reversed(acts), reversed(masks),
                                  strict=True):
            g = g * mask
            grads[layer.weight] = a.T @ g
            grads[layer.bias] = g.sum(axis=0)
            g = g @ layer.weight.data.T
        g_v = g.reshape(v.shape) + g_sum[:, None, :] - g_linear[:, :, None] * v
        grads[emb.bias] = g_v.sum(axis=0)
        if emb._multi:
            g_v = np.repeat(g_v, np.diff(np.append(emb._bags, rows.shape[1])), axis=1)
        g_w1 = np.broadcast_to(g_linear[:, :, None], rows.shape + (1,))  # every slot's weight
        for table, g_rows in ((emb.weight, g_v), (first.weights.weight, g_w1)):
            g_table = kernels.scatter_add_rows(rows, g_rows, table.data.shape[0])
            g_table[emb.padding_idx] = 0
            grads[table] = g_table
        grads[first.bias] = g_linear.sum(axis=0)

    def gradients(self, rows):
        """(loss, {parameter Tensor: gradient}) of one batch, by hand."""
        alice, bob = self.alice, self.bob
        grads = {}
        (deep_a, sum_a, lin_a), cache_a = self._base_forward(alice.model, alice.X[rows])
        (deep_b, sum_b, lin_b), cache_b = self._base_forward(bob.model, bob.X[rows])
        concat_mode = bob.aggregation.mode == "concat"
        h = np.concatenate([deep_a, deep_b], axis=1) if concat_mode else deep_a + deep_b
        fm_sum, fm_linear = sum_a + sum_b, lin_a + lin_b
        dnn = bob.fuse.dnn
        acts, masks = [], []
        for layer in dnn.layers:
            acts.append(h)
            h = h @ layer.weight.data
            h += layer.bias.data
            mask = h > 0
            h *= mask
            masks.append(mask)
        logits = h @ dnn.output.weight.data
        logits += dnn.output.bias.data
        logits = logits + ((fm_sum * fm_sum).sum(1, keepdims=True) * 0.5 + fm_linear)
        y = bob.y[rows]
        loss = float((kernels.softplus(logits) - logits * y).mean())
        g = (kernels.sigmoid(logits) - y) * (1.0 / logits.size)
        grads[dnn.output.weight] = h.T @ g
        grads[dnn.output.bias] = g.sum(axis=0)
        g_h = g @ dnn.output.weight.data.T
        for layer, a, mask in zip(reversed(dnn.layers), reversed(acts), reversed(masks),
                                  strict=True):
            g_h = g_h * mask
            grads[layer.weight] = a.T @ g_h
            grads[layer.bias] = g_h.sum(axis=0)
            g_h = g_h @ layer.weight.data.T
        g_sum = g * fm_sum
        if concat_mode:
            g_deep_a, g_deep_b = g_h[:, :deep_a.shape[1]], g_h[:, deep_a.shape[1]:]
        else:
            g_deep_a = g_deep_b = g_h
        self._base_backward(alice.model, cache_a, g_deep_a, g_sum, g, grads)
        self._base_backward(bob.model, cache_b, g_deep_b, g_sum, g, grads)
        return loss, grads

    def step(self, rows):
        """One training step on ``rows``: hand-written gradients, then both optimizers."""
        loss, grads = self.gradients(rows)
        for p, g in grads.items():
            p.grad = g
        self.alice.optimizer.step()
        self.bob.optimizer.step()
        return loss


def autograd_gradients(alice, bob, rows):
    """(loss, {parameter Tensor: gradient}) of one batch through the split protocol, no step."""
    from .federated.split import Message

    hidden = alice.model.hidden(alice.X[rows])
    logits, parts = bob.logits(rows, [Message("alice", "bob", "hidden",
                                              {"values": hidden.data})])
    loss = logits.bce_with_logits(bob.y[rows])
    loss.backward()
    hidden.backward(np.concatenate([p.grad for p in parts[0]], axis=1))
    params = alice.optimizer.parameters + bob.optimizer.parameters
    grads = {p: p.grad for p in params}
    for p in params:
        p.grad = None
    return float(loss.data), grads


def _matmul_and_adam_seconds(alice, bob, batch_size, repeats):
    """Median seconds of (a) the step's matmuls alone (forward and backward, same shapes and
    dtype) and (b) both parties' Adam steps; pass copies: the Adam steps change the model."""
    shapes = []
    for dnn in (alice.model.dnn, bob.model.dnn, bob.fuse.dnn):
        layers = dnn.layers + ([dnn.output] if dnn.output is not None else [])
        shapes += [layer.weight.data.shape for layer in layers]
    dtype = alice.model.embedding.weight.data.dtype
    rng = np.random.default_rng(0)
    mats = [(rng.standard_normal((batch_size, n)).astype(dtype),
             rng.standard_normal((n, m)).astype(dtype),
             rng.standard_normal((batch_size, m)).astype(dtype)) for n, m in shapes]

    def matmuls():
        for x, w, g in mats:
            x @ w
            g @ w.T
            x.T @ g

    params = alice.optimizer.parameters + bob.optimizer.parameters

    def adam():
        for p in params:
            p.grad = np.full_like(p.data, 1e-3)
        alice.optimizer.step()
        bob.optimizer.step()

    matmul_s = median_time(matmuls, repeats=repeats, warmup=3)
    adam_s = median_time(adam, repeats=repeats, warmup=3)
    return matmul_s, adam_s, len(shapes)


def _profile_summary(alice, bob, batches, top=8):
    """cProfile of ``len(batches)`` steps: [(function, calls, seconds)] by own time."""
    import cProfile
    import pstats

    from .federated import split

    profiler = cProfile.Profile()
    profiler.enable()
    for rows in batches:
        split.train_step(alice, bob, rows)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(v[2] for v in stats.values())
    rows = sorted(((v[2], v[1], k) for k, v in stats.items()), reverse=True)[:top]
    summary = []
    for tottime, calls, (filename, line, name) in rows:
        where = os.path.basename(filename) + f":{line}" if filename != "~" else "builtin"
        summary.append((f"{where} {name}", calls, tottime))
    return summary, total


def bench_deepfm(ml, steps=300, warmup=30, repeats=5, batch_size=128, seed=0,
                 profile_steps=100, out=None):
    """Time split DeepFM (``split.train_step``) on every row of ``ml``, and its NumPy lower bound.

    ``steps`` training steps after ``warmup``, cycling over the batches in row order as
    the PyTorch peer does: median seconds per step. ``repeats`` full epochs (all rows
    in order, batch_size 128): median seconds per epoch. The same steps through
    ``NumpyDeepFM`` (no graph) on a copy of the starting model give the lower bound;
    its ratio to the step is the share of time NumPy needs anyway, the rest is the
    autograd layer's Python. Prints to ``out``; returns the figures.
    """
    import copy

    from .federated import split

    out = out or sys.stdout
    if steps < 1 or repeats < 1 or warmup < 0:
        raise ValueError("bench_deepfm: steps and repeats must be >= 1, warmup >= 0")
    alice, bob = deepfm_parties(ml, seed=seed)
    n = len(bob.X)
    num_batches = -(-n // batch_size)
    batch_list = split.batches(n, batch_size)

    # the lower bound computes the very gradients autograd does (checked on batch 0)
    ref_alice, ref_bob = copy.deepcopy((alice, bob))
    reference = NumpyDeepFM(ref_alice, ref_bob)
    _, auto_grads = autograd_gradients(alice, bob, batch_list[0])
    _, hand_grads = reference.gradients(batch_list[0])
    pairs = zip(alice.optimizer.parameters + bob.optimizer.parameters,
                ref_alice.optimizer.parameters + ref_bob.optimizer.parameters, strict=True)
    grad_diff = max(float(np.abs(auto_grads[p] - hand_grads[q]).max() /
                          max(float(np.abs(auto_grads[p]).max()), 1e-30)) for p, q in pairs)
    if grad_diff > 1e-3:
        raise AssertionError(f"the NumPy reference and autograd disagree on the gradients "
                             f"(max relative diff {grad_diff:.3g})")

    def timed_steps(step, count, skip):
        times = []
        for i in range(skip + count):
            rows = batch_list[i % num_batches]
            t0 = time.perf_counter()
            step(rows)
            times.append(time.perf_counter() - t0)
        return times[skip:]

    # interleave minigrad and the reference in chunks, so load changes hit both alike
    step_times, ref_times = [], []
    chunk = max(1, steps // 5)
    timed_steps(lambda r: split.train_step(alice, bob, r), warmup, 0)
    timed_steps(reference.step, warmup, 0)
    done = 0
    while done < steps:
        k = min(chunk, steps - done)
        step_times += timed_steps(lambda r: split.train_step(alice, bob, r), k, 0)
        ref_times += timed_steps(reference.step, k, 0)
        done += k
    step_s, ref_s = float(np.median(step_times)), float(np.median(ref_times))

    one_step = split.Channel()
    split.train_step(alice, bob, batch_list[0], one_step)
    epoch_times, channel = [], split.Channel()
    for _ in range(repeats):
        channel.reset()
        t0 = time.perf_counter()
        loss = split.train_epoch(alice, bob, batch_size=batch_size, channel=channel)
        epoch_times.append(time.perf_counter() - t0)
    epoch_s = float(np.median(epoch_times))
    t0 = time.perf_counter()
    train_metrics = split.evaluate(alice, bob)
    eval_s = time.perf_counter() - t0

    matmul_s, adam_s, num_layers = _matmul_and_adam_seconds(*copy.deepcopy((alice, bob)),
                                                            batch_size,
                                                            repeats=max(20, steps // 3))
    profile_batches = [batch_list[i % num_batches] for i in range(profile_steps)]
    profile, profile_total = _profile_summary(*copy.deepcopy((alice, bob)), profile_batches) \
        if profile_steps else ([], 0.0)

    numpy_fraction = min(ref_s / step_s, 1.0)
    figures = {
        "workload": "deepfm",
        "data": ml.name,
        "step_s": round(step_s, 6),
        "step_min_s": round(min(step_times), 6),
        "steps_timed": steps,
        "epoch_s": round(epoch_s, 4),
        "epoch_runs": repeats,
        "epoch_min_s": round(min(epoch_times), 4),
        "epoch_max_s": round(max(epoch_times), 4),
        "steps_per_epoch": num_batches,
        "numpy_step_s": round(ref_s, 6),
        "numpy_fraction": round(numpy_fraction, 3),
        "python_overhead_fraction": round(1.0 - numpy_fraction, 3),
        "matmul_fraction": round(matmul_s / step_s, 3),
        "adam_fraction": round(adam_s / step_s, 3),
        "matmul_s": round(matmul_s, 6),
        "adam_s": round(adam_s, 6),
        "max_rel_grad_diff_vs_numpy": grad_diff,
        "bytes_per_step": {"alice_to_bob": one_step.bytes_sent("alice", "bob"),
                           "bob_to_alice": one_step.bytes_sent("bob", "alice")},
        "bytes_per_epoch": {"alice_to_bob": channel.bytes_sent("alice", "bob"),
                            "bob_to_alice": channel.bytes_sent("bob", "alice")},
        "last_epoch_loss": round(loss, 4),
        "train_auc_after": round(train_metrics["auc"], 4),
        "eval_all_rows_s": round(eval_s, 4),
        "batch_size": batch_size,
        "rows": n,
        "num_parameters": sum(p.data.size for p in alice.optimizer.parameters
                              + bob.optimizer.parameters),
        "dtype": alice.dtype.name,
        "peers": DEEPFM_PEERS,
        "step_vs_pytorch_anchor": round(step_s / DEEPFM_PEERS["pytorch_step_s"], 3),
        "epoch_vs_pytorch_anchor": round(epoch_s / DEEPFM_PEERS["pytorch_epoch_s"], 3),
        "cpus": _cpus(),
        "blas_threads": blas_threads(),
    }

    print(_machine_line(), file=out)
    print(f"split DeepFM (SecretFlow's SplitRec sizes) on {ml.name}: {n:,} rows, alice: user "
          f"id, gender, age, occupation;\n  bob: movie id, genres (bag), label rating > 3; "
          f"{figures['num_parameters']:,} parameters, {figures['dtype']}, batch {batch_size}, "
          f"Adam 1e-3 per party, {bob.aggregation.mode} aggregation\n", file=out)
    print(f"  {'variant':<50}{'runs':>6}{'ms/step':>10}{'min ms':>9}{'s/epoch':>10}", file=out)
    table = [
        ("minigrad: split.train_step / train_epoch", f"{steps}/{repeats}", step_s,
         min(step_times), f"{epoch_s:.2f}"),
        ("plain NumPy, no graph (NumpyDeepFM): lower bound", steps, ref_s, min(ref_times),
         f"{ref_s * num_batches:.2f}*"),
        ("PyTorch eager anchor (not this run)", "-", DEEPFM_PEERS["pytorch_step_s"],
         float("nan"), f"{DEEPFM_PEERS['pytorch_epoch_s']:.2f}"),
    ]
    for label, runs, per_step, best, per_epoch in table:
        best_text = "-" if best != best else f"{best * 1e3:.3f}"
        print(f"  {label:<50}{runs!s:>6}{per_step * 1e3:>10.3f}{best_text:>9}{per_epoch:>10}",
              file=out)
    print(f"  * {num_batches} x its median step\n", file=out)
    print(f"  where a step's time goes (method: the NumPy lower bound computes the same "
          f"gradients by hand\n  -- max relative difference {grad_diff:.1e} -- and steps the "
          f"same Adam, so minigrad's time above it is\n  the autograd layer: graph records, "
          f"per-op Python dispatch, extra temporaries):", file=out)
    rest_s = max(ref_s - matmul_s - adam_s, 0.0)
    shares = [
        ("  NumPy work (lower bound / step)", ref_s, "of which:"),
        (f"    {num_layers} matmuls, forward + backward", matmul_s,
         f"({matmul_s * 1e3:.3f} ms, the same shapes timed alone)"),
        ("    Adam, both parties", adam_s, f"({adam_s * 1e3:.3f} ms)"),
        ("    the rest: embedding gathers and", rest_s, f"({rest_s * 1e3:.3f} ms)"),
        ("    scatter-adds, ReLU masks, FM, loss", None, ""),
        ("  autograd / Python overhead", step_s - ref_s, f"({(step_s - ref_s) * 1e3:.3f} ms)"),
    ]
    for label, seconds, note in shares:
        share = "" if seconds is None else f"{max(seconds, 0.0) / step_s:.1%}"
        print(f"  {label:<40}{share:>7}  {note}".rstrip(), file=out)
    if profile:
        print(f"\n  cProfile of {profile_steps} steps (own time; the profiler "
              f"inflates Python-level calls, total {profile_total:.2f} s):", file=out)
        for name, calls, seconds in profile:
            print(f"    {seconds / profile_total:>6.1%} {calls:>7} calls  {name}", file=out)
    print(f"\n  per step: alice -> bob {figures['bytes_per_step']['alice_to_bob']:,} bytes, "
          f"bob -> alice {figures['bytes_per_step']['bob_to_alice']:,} bytes (float32 cut "
          f"tensors)", file=out)
    print(f"  after {repeats} epoch(s) (+{warmup + steps + 1} steps): train loss "
          f"{loss:.4f}, train AUC {train_metrics['auc']:.4f}; evaluating all {n:,} rows at "
          f"once: {eval_s:.3f} s", file=out)
    print(f"  vs the PyTorch anchor (7.1 ms/step, 5.9 s/epoch, another run): step "
          f"x{figures['step_vs_pytorch_anchor']:.2f}, epoch x"
          f"{figures['epoch_vs_pytorch_anchor']:.2f}; run ../shared/peers/bench_torch_deepfm.py "
          f"beside this for a same-machine ratio", file=out)
    return figures


def _run_deepfm(args, out):
    ml = _or_refuse(_deepfm_data)
    steps = 60 * args.repeats  # 300 by default
    return bench_deepfm(ml, steps=steps, warmup=min(30, steps), repeats=args.repeats,
                        profile_steps=min(100, steps), out=out)


WORKLOADS["deepfm"] = _run_deepfm


# ---------------------------------------------------------------------------
# BLAS threads: on a loaded 2-core machine OpenBLAS's spinning threads can make every
# matmul many times slower; --blas-threads 1 gives stable, comparable step times
# ---------------------------------------------------------------------------
_BLAS_NAMES = ("scipy_openblas_{}_num_threads64_", "scipy_openblas_{}_num_threads_64_",
               "openblas_{}_num_threads64_", "openblas_{}_num_threads")


def blas_threads(n=None):
    """OpenBLAS's thread count, after setting it to ``n`` if given; None if not found.

    Finds the OpenBLAS that NumPy loaded (Linux: /proc/self/maps) and calls its
    ``*_set_num_threads`` / ``*_get_num_threads`` through ctypes. A benchmark helper:
    the package itself never changes threads.
    """
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()
                            and line.split()[-1].startswith("/")})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pattern in _BLAS_NAMES:
            try:
                setter, getter = (getattr(lib, pattern.format(w)) for w in ("set", "get"))
            except AttributeError:
                continue
            getter.restype = ctypes.c_int
            if n is not None:
                setter(ctypes.c_int(int(n)))
            return int(getter())
    return None


def _machine_line():
    """numpy version, cores, BLAS threads and load: the header of every table."""
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    threads = blas_threads()
    return (f"numpy {np.__version__}, python {platform.python_version()}, {_cpus()} cores, "
            f"BLAS threads {threads if threads is not None else 'unknown'}{load}")


# ---------------------------------------------------------------------------
# all: every workload, then the README's performance table
# ---------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = REPO_ROOT / "docs" / "performance"
README_MARKERS = ("<!-- perf-table:start -->", "<!-- perf-table:end -->")
ALL_ORDER = ("kernels", "data", "spam", "fedrecon", "deepfm")
"""The workloads ``all`` runs, in this order."""


def _ok(flag):
    return "ok" if flag else "**not met**"


def performance_table(results, machine=""):
    """The README's performance table (Markdown) from ``{workload: BENCH figures}`` of one run.

    Workloads absent from ``results`` get no row. Ratios are the ones measured in the
    same process; peer figures are the issue's anchors, measured in other runs.
    """
    rows = []
    spam = results.get("spam")
    if spam:
        rows.append((
            "spam, one epoch of the book's recipe (Enron, 62 batches of 500)",
            f"{spam['epoch_s']:.3f} s",
            f"book's algorithm (per-row loop): {spam['book_loop_epoch_s']:.1f} s*",
            f"{spam['speedup_vs_book']:.0f}x faster",
            "book's framework 26.6 s; PyTorch eager 0.48 s; plain NumPy 0.09-0.10 s",
            f"<= {SPAM_TARGETS['epoch_s']} s and >= {SPAM_TARGETS['speedup_vs_book']:g}x "
            f"the book: {_ok(spam['within_targets'])}"))
    fed = results.get("fedrecon")
    if fed:
        rows.append((
            "FedRecon, the TFF tutorial's 20 rounds (ml-100k)",
            f"{fed['tutorial_20_rounds_s']:.3f} s",
            f"per-client loop: {fed['reference_20_rounds_s']:.2f} s",
            f"{fed['speedup_vs_reference']:.0f}x faster",
            f"TFF 0.87 {FEDRECON_PEERS['tff_0.87_20_rounds_s']} s; PyTorch loop "
            f"{FEDRECON_PEERS['pytorch_loop_20_rounds_s']} s",
            f"<= {FEDRECON_TARGETS['tutorial_20_rounds_s']} s: "
            f"{_ok(fed['tutorial_20_rounds_s'] <= FEDRECON_TARGETS['tutorial_20_rounds_s'])}"))
    dfm = results.get("deepfm")
    if dfm:
        anchor = DEEPFM_PEERS["pytorch_step_s"]
        rows.append((
            "split DeepFM, one step (ml-100k, batch 128, Adam)",
            f"{dfm['step_s'] * 1e3:.2f} ms",
            f"plain NumPy, no graph: {dfm['numpy_step_s'] * 1e3:.2f} ms",
            f"{dfm['step_s'] / dfm['numpy_step_s']:.2f}x the lower bound "
            f"({dfm['numpy_fraction']:.0%} NumPy, {dfm['python_overhead_fraction']:.0%} Python)",
            f"PyTorch eager {anchor * 1e3:.1f} ms",
            f"<= {DEEPFM_TARGETS['step_vs_pytorch']:g}x PyTorch eager, measured beside it; "
            f"against the anchor (another run, another load): x{dfm['step_s'] / anchor:.2f}"))
        rows.append((
            f"split DeepFM, one epoch ({dfm['steps_per_epoch']} steps)",
            f"{dfm['epoch_s']:.2f} s", "-", "-",
            f"PyTorch eager {DEEPFM_PEERS['pytorch_epoch_s']} s", "-"))
    ker = results.get("kernels")
    if ker:
        for case in ker["cases"]:
            best = min(case["median_s"], key=case["median_s"].get)
            auto = case["auto"]
            rows.append((
                f"embedding backward (scatter-add), {case['case'].split(': ')[-1]}",
                f"{case['median_s'][auto] * 1e3:.2f} ms ({auto})",
                f"the book's per-row loop: {case['median_s']['loop'] * 1e3:.1f} ms",
                f"{case['speedup_vs_loop'][auto]:.0f}x faster",
                "-", f"- (fastest in this run: {best})"))
    data = results.get("data")
    if data:
        for key, label in (("ml100k_load_s", "load ml-100k"),
                           ("enron_load_s", f"load Enron-Spam ({data['enron_emails']:,} emails)"),
                           ("enron_tokenize_index_s", "tokenize and index Enron-Spam")):
            rows.append((label, f"{data[key]:.2f} s", "-", "-", "-",
                         f"< {DATA_TARGETS[key]:g} s: {_ok(data[key] < DATA_TARGETS[key])}"))
    header = ("| workload | minigrad | reference, same run | ratio | peers (other runs, same "
              "machine class) | goal |\n|---|---|---|---|---|---|\n")
    body = "".join("| " + " | ".join(row) + " |\n" for row in rows)
    notes = ["Medians of at least 5 runs (spam: epochs; FedRecon: 20-round runs; DeepFM: "
             "steps and epochs), measured by `python -m minigrad.bench all`; each ratio is "
             "against a reference timed in the same process."]
    if spam:
        notes.append(f"\\* extrapolated from {spam['book_loop_batches_timed']} timed batches.")
    if machine:
        notes.append(f"Machine: {machine}.")
    return header + body + "\n" + " ".join(notes) + "\n"


def update_readme(table, readme=None):
    """Put ``table`` between README_MARKERS in ``readme`` (default: the repo's README.md).

    Returns True if the file held both markers (and now holds the table between them),
    False if it holds no markers (the file is left as it is). Anything else raises.
    """
    path = Path(readme) if readme is not None else REPO_ROOT / "README.md"
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    start, end = README_MARKERS
    i, j = text.find(start), text.find(end)
    if i < 0 and j < 0:
        return False
    if i < 0 or j < 0 or j < i or text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{path}: expected one {start} before one {end}")
    new = text[:i + len(start)] + "\n" + table.rstrip("\n") + "\n" + text[j:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return True


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
    machine = _machine_line()
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


def _run_all(args, out):
    return bench_all(args, out, docs_dir=args.docs_dir,
                     readme=False if args.no_readme else None)


WORKLOADS["all"] = _run_all


# ---------------------------------------------------------------------------
# scaling: how each workload's time grows with its size, plotted
# ---------------------------------------------------------------------------
def _round_robin(runners, repeats):
    """Seconds lists per runner: ``repeats`` passes, each calling every runner once in turn.

    Interleaving spreads the load of a shared machine over every point of a sweep
    alike, so the curve's shape survives even when absolute times drift. Each
    runner returns a list of seconds (e.g. one per round).
    """
    times = [[] for _ in runners]
    for _ in range(repeats):
        for t, run in zip(times, runners, strict=True):
            t += run()
    return times


def _fedrecon_rounds(spec, config, data, rounds, seed):
    """A runner: ``rounds`` FedRecon rounds from a fresh model; returns seconds per round."""
    from .federated import reconstruction as fr

    count = [0]

    def run():
        count[0] += 1
        rng = np.random.default_rng(seed + count[0])
        state = fr.initialize(spec, config, rng)
        stamps = [time.perf_counter()]
        fr.train(spec, config, data, rounds, rng, state=state,
                 callback=lambda s, h: stamps.append(time.perf_counter()))
        return list(np.diff(stamps))

    return run


def scaling_fedrecon(ml, clients=(10, 25, 50, 100, 200, 400, None),
                     max_ratings=(10, 25, 50, 100, 200, 300, 500, None), rounds=10, repeats=3,
                     seed=0, out=None):
    """Seconds per FedRecon round against clients per round and against ratings per client.

    The tutorial's configuration and split (train users <= 300 ratings) for the first
    sweep, ``None`` meaning every training user; the second keeps 50 clients a round
    and caps each user at ``max_ratings`` (None: all their ratings). Every point runs
    ``rounds`` rounds per pass, one warm-up pass then ``repeats`` timed passes over
    all points in turn; the figure is the median round.
    """
    from dataclasses import replace

    from .federated import reconstruction as fr

    out = out or sys.stdout
    perm = np.random.RandomState(42).permutation(ml.num_users)
    train_ids = perm[:int(ml.num_users * 0.8)]
    spec = fr.MFSpec(num_items=ml.num_items, dim=50)
    config = fr.FedReconConfig()
    train = fr.client_datasets(ml, train_ids, max_examples_per_user=300)
    ks = [len(train) if k is None else min(k, len(train)) for k in clients]
    capped = [fr.client_datasets(ml, train_ids, max_examples_per_user=m) for m in max_ratings]
    runners = ([_fedrecon_rounds(spec, replace(config, clients_per_round=k), train, rounds,
                                 seed) for k in ks]
               + [_fedrecon_rounds(spec, config, data, rounds, seed) for data in capped])
    _round_robin(runners, 1)  # warm-up
    medians = [float(np.median(t)) for t in _round_robin(runners, repeats)]
    print(f"FedRecon on {ml.name}: seconds per round, median of {repeats} x {rounds} rounds "
          f"(points interleaved)", file=out)
    print(f"  {'clients/round':>14}{'ms/round':>10}{'us/client':>11}", file=out)
    by_clients = []
    for k, sec in zip(ks, medians[:len(ks)], strict=True):
        by_clients.append({"clients_per_round": k, "round_s": sec})
        print(f"  {k:>14}{sec * 1e3:>10.2f}{sec / k * 1e6:>11.1f}", file=out)
    print(f"\n  {'max ratings':>14}{'mean/client':>12}{'largest':>9}{'ms/round':>10}  (50 "
          f"clients a round)", file=out)
    by_ratings = []
    for m, data, sec in zip(max_ratings, capped, medians[len(ks):], strict=True):
        mean = float(np.mean(data.num_examples))
        largest = int(np.max(data.num_examples))
        by_ratings.append({"max_ratings": m, "mean_ratings": mean, "largest_client": largest,
                           "round_s": sec})
        print(f"  {'all' if m is None else m:>14}{mean:>12.1f}{largest:>9}{sec * 1e3:>10.2f}",
              file=out)
    return {"clients": by_clients, "ratings": by_ratings, "train_users": len(train)}


def _deepfm_steps(ml, chunk, batch_size=128, seed=0):
    """(runner, steps per epoch, alice, bob): the runner times ``chunk`` more steps of
    ``split.train_step`` over ``ml``'s batches in row order and returns their seconds."""
    from .federated import split

    alice, bob = deepfm_parties(ml, seed=seed)
    batch_list = split.batches(len(bob.X), batch_size)
    position = [0]

    def run():
        times = []
        for _ in range(chunk):
            rows = batch_list[position[0] % len(batch_list)]
            position[0] += 1
            t0 = time.perf_counter()
            split.train_step(alice, bob, rows)
            times.append(time.perf_counter() - t0)
        return times

    return run, len(batch_list), alice, bob


def scaling_deepfm(datasets, steps=200, warmup=20, batch_size=128, chunk=20, out=None):
    """Split-DeepFM seconds per step, and the epoch they add up to, on each ``(label, ml)``.

    Times ``steps`` steps of each dataset (median), in chunks of ``chunk`` that take
    turns between the datasets, and extrapolates to the epoch's number of steps; for
    the first dataset it also times one full epoch, to check the extrapolation.
    """
    from .federated import split

    out = out or sys.stdout
    chunk = max(1, min(chunk, steps))
    setups = [_deepfm_steps(ml, chunk, batch_size) for _, ml in datasets]
    runners = [setup[0] for setup in setups]
    for _ in range(-(-warmup // chunk)):
        _round_robin(runners, 1)
    times = _round_robin(runners, -(-steps // chunk))
    rows = []
    print(f"split DeepFM, batch {batch_size}: median of {len(times[0])} steps (after {warmup}, "
          f"datasets taking turns every {chunk} steps), extrapolated to an epoch", file=out)
    print(f"  {'data':<44}{'ratings':>10}{'users':>8}{'items':>8}{'ms/step':>9}"
          f"{'s/epoch':>9}", file=out)
    for (label, ml), (_, num_steps, _, _), t in zip(datasets, setups, times, strict=True):
        step_s = float(np.median(t))
        rows.append({"data": label, "ratings": len(ml.ratings), "users": int(ml.num_users),
                     "items": int(ml.num_items), "step_s": step_s, "steps_per_epoch": num_steps,
                     "epoch_s_extrapolated": step_s * num_steps})
        print(f"  {label:<44}{len(ml.ratings):>10,}{int(ml.num_users):>8,}"
              f"{int(ml.num_items):>8,}{step_s * 1e3:>9.2f}{step_s * num_steps:>9.1f}", file=out)
    _, _, alice, bob = setups[0]
    t0 = time.perf_counter()
    split.train_epoch(alice, bob, batch_size=batch_size)
    rows[0]["epoch_s_measured"] = time.perf_counter() - t0
    print(f"  {rows[0]['data']}: one epoch timed whole: {rows[0]['epoch_s_measured']:.1f} s",
          file=out)
    return rows


def _respread(X, vocab_size, new_size, padding_idx=0):
    """Word ids of ``X`` moved onto a table of ``new_size`` rows; padding stays padding.

    Smaller: ids fold onto 1 .. new_size-1 (words share rows, the work per batch is the
    same). Larger: id w -> w * (new_size // vocab_size), the same words spread thin.
    """
    X = np.asarray(X)
    if new_size < vocab_size:
        moved = (X - 1) % (new_size - 1) + 1
    else:
        moved = X * (new_size // vocab_size)
    return np.where(X == padding_idx, padding_idx, moved)


def scaling_spam(data, factors=(1 / 128, 1 / 32, 1 / 8, 1 / 2, 1, 4, 16, 64), repeats=3,
                 batch_size=500, out=None):
    """Seconds per epoch of the book's spam recipe against the vocabulary (table) size.

    One warm-up epoch of every size, then ``repeats`` passes that run one epoch of each
    size in turn; the figure is the median epoch.
    """
    from .recipes import spam

    out = out or sys.stdout
    X, y = data.X_train, data.y_train
    vocab = len(data.vocab)
    sizes = [vocab if f == 1 else (int(vocab * f) if f < 1 else vocab * int(f)) for f in factors]
    runners = []
    for size in sizes:
        Xs = X if size == vocab else _respread(X, vocab, size)
        model = spam.spam_model(size)
        runners.append(lambda model=model, Xs=Xs: _timings(
            lambda: spam.train_epoch(model, Xs, y, batch_size=batch_size), 1, 0))
    _round_robin(runners, 1)  # warm-up
    times = _round_robin(runners, repeats)
    rows = []
    print(f"spam, the book's recipe: seconds per epoch, median of {repeats} (sizes "
          f"interleaved, after a warm-up)", file=out)
    print(f"  {'vocabulary':>12}{'table MB':>10}{'s/epoch':>9}{'ms/batch':>10}", file=out)
    itemsize = np.dtype(np.float32).itemsize
    for size, t in zip(sizes, times, strict=True):
        sec = float(np.median(t))
        mb = size * itemsize / 1e6
        rows.append({"vocab_size": size, "table_mb": mb, "epoch_s": sec,
                     "real_vocabulary": size == vocab})
        print(f"  {size:>12,}{mb:>10.2f}{sec:>9.3f}{sec / (len(X) // batch_size) * 1e3:>10.2f}"
              f"{'  (the real vocabulary)' if size == vocab else ''}", file=out)
    return rows


DEEPFM_ML1M_PYTORCH_EPOCH_S = (49.0, 51.0)
"""PyTorch eager's split-DeepFM epoch on an ML-1M-shaped table (not this run)."""


def _plot_scaling(figures, docs_dir):
    """PNGs of the scaling figures into ``docs_dir``; returns their paths."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fed = figures.get("fedrecon")
    if fed:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        k = [r["clients_per_round"] for r in fed["clients"]]
        s = [r["round_s"] * 1e3 for r in fed["clients"]]
        axes[0].loglog(k, s, "o-", label="measured")
        axes[0].loglog(k, [s[0] * x / k[0] for x in k], ":", color="gray",
                       label="proportional to clients")
        axes[0].set(xlabel="clients per round", ylabel="ms per round",
                    title="FedRecon: round time vs clients per round")
        m = [r["largest_client"] for r in fed["ratings"]]
        s2 = [r["round_s"] * 1e3 for r in fed["ratings"]]
        axes[1].loglog(m, s2, "s-", color="C1", label="measured, 50 clients a round")
        axes[1].loglog(m, [s2[0] * x / m[0] for x in m], ":", color="gray",
                       label="proportional to the cap")
        axes[1].set(xlabel="ratings cap per client (the largest client's ratings)",
                    ylabel="ms per round", title="FedRecon: round time vs ratings per client")
        for ax in axes:
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        fig.tight_layout()
        paths.append(docs_dir / "fedrecon_scaling.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    dfm = figures.get("deepfm")
    if dfm:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
        x = np.arange(len(dfm))
        axes[0].bar(x, [r["epoch_s_extrapolated"] for r in dfm], color="C0",
                    label="minigrad (median step x steps per epoch)")
        peers = [(i, DEEPFM_PEERS["pytorch_epoch_s"], 0.0) for i, r in enumerate(dfm)
                 if r["ratings"] == 100_000 and "synthetic" not in r["data"]]
        lo, hi = DEEPFM_ML1M_PYTORCH_EPOCH_S
        peers += [(i, (lo + hi) / 2, (hi - lo) / 2) for i, r in enumerate(dfm)
                  if r["ratings"] > 900_000 and r["users"] < 10_000]
        if peers:
            px, py, pe = zip(*peers, strict=True)
            axes[0].errorbar(px, py, yerr=pe, fmt="x", ms=10, color="C3",
                             label="PyTorch eager (other runs)")
        axes[0].set(xticks=x, ylabel="seconds per epoch (batch 128)", yscale="log",
                    title="split DeepFM: one epoch")
        axes[0].set_xticklabels([r["data"].replace(", ", ",\n") for r in dfm], fontsize=8)
        axes[0].legend(fontsize=8)
        rows = [r["users"] + r["items"] for r in dfm]
        axes[1].semilogx(rows, [r["step_s"] * 1e3 for r in dfm], "o", color="C0")
        for i, (r, n) in enumerate(zip(dfm, rows, strict=True)):
            axes[1].annotate(f"{i + 1}", (n, r["step_s"] * 1e3), fontsize=9,
                             xytext=(5, 3), textcoords="offset points")
        axes[1].text(0.02, 0.02, "\n".join(f"{i + 1}: {r['data']}" for i, r in enumerate(dfm)),
                     transform=axes[1].transAxes, fontsize=7, va="bottom")
        axes[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes[1].set_xlim(min(rows) / 1.5, max(rows) * 1.5)
        axes[1].set(xlabel="embedding rows (users + movies)", ylabel="ms per step",
                    title="split DeepFM: time per step vs table size")
        axes[1].set_ylim(bottom=0)
        axes[1].grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        paths.append(docs_dir / "deepfm_scaling.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    sp = figures.get("spam")
    if sp:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        v = [r["vocab_size"] for r in sp]
        ax.loglog(v, [r["epoch_s"] for r in sp], "o-", label="minigrad, one epoch")
        real = [r for r in sp if r["real_vocabulary"]]
        if real:
            ax.loglog([real[0]["vocab_size"]], [real[0]["epoch_s"]], "*", ms=14, color="C1",
                      label="Enron's real vocabulary")
        ax.axhline(SPAM_TARGETS["epoch_s"], ls="--", color="gray", label="goal: 0.2 s")
        for mb, name in ((0.5, "L2 (512 KB/core)"), (32, "L3 (32 MB)")):
            if not min(v) / 2 <= mb * 1e6 / 4 <= max(v) * 2:
                continue
            ax.axvline(mb * 1e6 / 4, ls=":", color="C2")
            ax.text(mb * 1e6 / 4, ax.get_ylim()[0], f" float32 table = {name}", fontsize=7,
                    rotation=90, va="bottom", ha="right", color="C2")
        ax.set(xlabel="vocabulary size (rows of the Embedding table)",
               ylabel="seconds per epoch", title="spam: epoch time vs vocabulary size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
        ax.set_xlim(min(v) / 2, max(v) * 2)
        fig.tight_layout()
        paths.append(docs_dir / "spam_vocab_scaling.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def _scaling_markdown(figures, machine):
    lines = ["# Scaling (generated by `python -m minigrad.bench scaling`)", "",
             f"Machine: {machine}.", ""]
    fed = figures.get("fedrecon")
    if fed:
        lines += ["## FedRecon (TFF tutorial configuration, ml-100k)", "",
                  "![](fedrecon_scaling.png)", "", "| clients per round | ms per round |",
                  "|---|---|"]
        lines += [f"| {r['clients_per_round']} | {r['round_s'] * 1e3:.2f} |"
                  for r in fed["clients"]]
        lines += ["", "| ratings cap per client | mean ratings | largest client | ms per round "
                  "(50 clients) |", "|---|---|---|---|"]
        lines += [f"| {'all' if r['max_ratings'] is None else r['max_ratings']} | "
                  f"{r['mean_ratings']:.1f} | {r['largest_client']} | "
                  f"{r['round_s'] * 1e3:.2f} |" for r in fed["ratings"]]
        lines.append("")
    dfm = figures.get("deepfm")
    if dfm:
        lines += ["## Split DeepFM (batch 128, Adam)", "", "![](deepfm_scaling.png)", "",
                  "| data | ratings | users | items | ms per step | s per epoch (extrapolated) |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['data']} | {r['ratings']:,} | {r['users']:,} | {r['items']:,} | "
                  f"{r['step_s'] * 1e3:.2f} | {r['epoch_s_extrapolated']:.1f} |" for r in dfm]
        if "epoch_s_measured" in dfm[0]:
            lines.append(f"\nOne full epoch of {dfm[0]['data']} timed whole: "
                         f"{dfm[0]['epoch_s_measured']:.1f} s.")
        lines += ["", "Epochs are the median step times the steps per epoch (only a "
                  "fraction of an epoch is timed).", ""]
    sp = figures.get("spam")
    if sp:
        lines += ["## Spam (the book's recipe, Enron) against vocabulary size", "",
                  "![](spam_vocab_scaling.png)", "",
                  "| vocabulary | table MB (float32) | s per epoch |", "|---|---|---|"]
        lines += [f"| {r['vocab_size']:,}{' (real)' if r['real_vocabulary'] else ''} | "
                  f"{r['table_mb']:.2f} | {r['epoch_s']:.3f} |" for r in sp]
        lines += ["", "Smaller tables fold word ids onto fewer rows, larger ones spread "
                  "them out: every batch looks up and scatters the same number of ids.", ""]
    return "\n".join(lines)


def bench_scaling(out=None, docs_dir=None, which=("fedrecon", "deepfm", "spam"), quick=False):
    """Every scaling sweep in ``which`` on the real data, plotted into ``docs_dir``."""
    from .datasets import load_movielens, synthetic_movielens

    out = out or sys.stdout
    docs_dir = Path(docs_dir) if docs_dir is not None else DOCS_DIR
    docs_dir.mkdir(parents=True, exist_ok=True)
    machine = _machine_line()
    print(machine, file=out)
    figures = {}
    if "fedrecon" in which:
        ml = load_movielens("ml-100k", _real_root("scaling", "ml-100k", "ml-100k"))
        figures["fedrecon"] = scaling_fedrecon(ml, rounds=3 if quick else 10,
                                               repeats=1 if quick else 3, out=out)
        print(file=out)
    if "deepfm" in which:
        ml = load_movielens("ml-100k", _real_root("scaling", "ml-100k", "ml-100k"))
        datasets = [("ml-100k (real)", ml),
                    ("synthetic, ml-100k shape", synthetic_movielens("ml-100k")),
                    ("synthetic, ML-1M shape", synthetic_movielens("ml-1m")),
                    ("synthetic, 1M ratings, 10x the ML-1M tables",
                     synthetic_movielens("ml-1m", num_users=40_000, num_items=38_830,
                                         num_ratings=1_000_209))]
        figures["deepfm"] = scaling_deepfm(datasets, steps=30 if quick else 200,
                                           warmup=5 if quick else 20, out=out)
        print(file=out)
    if "spam" in which:
        figures["spam"] = scaling_spam(_book_spam_data(), repeats=1 if quick else 3,
                                       factors=(1 / 32, 1, 16) if quick else
                                       (1 / 128, 1 / 32, 1 / 8, 1 / 2, 1, 4, 16, 64), out=out)
    paths = _plot_scaling(figures, docs_dir)
    md = docs_dir / "scaling.md"
    md.write_text(_scaling_markdown(figures, machine), encoding="utf-8")
    print(f"\nwrote {md} and " + ", ".join(str(p) for p in paths), file=out)
    figures.update({"workload": "scaling", "machine": machine,
                    "plots": [str(p) for p in paths], "markdown": str(md)})
    return figures


def _run_scaling(args, out):
    return _or_refuse(bench_scaling, out=out, docs_dir=args.docs_dir)


WORKLOADS["scaling"] = _run_scaling

__all__ += ["blas_threads", "performance_table", "update_readme", "bench_all", "bench_scaling",
            "scaling_fedrecon", "scaling_deepfm", "scaling_spam", "README_MARKERS"]


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minigrad.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=list(WORKLOADS), help="what to measure")
    parser.add_argument("--repeats", type=_positive_int, default=5,
                        help="runs per timing (median)")
    parser.add_argument("--heavy-repeats", type=_positive_int, default=3,
                        help="runs of the multi-second timings (data: tokenization)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                        help="kernels: dtype of the rows")
    parser.add_argument("--blas-threads", type=_positive_int, default=None,
                        help="set OpenBLAS's threads first (1 is steadier on a loaded machine)")
    parser.add_argument("--docs-dir", type=Path, default=None,
                        help=f"all, scaling: where table.md and the plots go (default {DOCS_DIR})")
    parser.add_argument("--no-readme", action="store_true",
                        help="all: do not rewrite README.md's performance block")
    args = parser.parse_args(argv)
    if args.blas_threads is not None and blas_threads(args.blas_threads) is None:
        print("warning: OpenBLAS not found; --blas-threads ignored", file=sys.stderr)
    try:
        figures = WORKLOADS[args.workload](args, sys.stdout)
    except WorkloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("BENCH " + json.dumps(figures))
    return 1 if figures.get("skipped") else 0


if __name__ == "__main__":
    sys.exit(main())
