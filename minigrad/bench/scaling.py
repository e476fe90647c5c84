"""The ``scaling`` workload: how each workload's time grows with its size, plotted."""

import sys
import time
from pathlib import Path

import numpy as np

from . import deepfm as deepfm_bench
from . import spam as spam_bench
from .plots import plot_scaling, scaling_markdown
from .realdata import or_refuse, real_root
from .report import DOCS_DIR
from .timing import machine_line, timings


def round_robin(runners, repeats):
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
    from ..federated import reconstruction as fr

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

    from ..federated import reconstruction as fr

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
    round_robin(runners, 1)  # warm-up
    medians = [float(np.median(t)) for t in round_robin(runners, repeats)]
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
    from ..federated import split

    alice, bob = deepfm_bench.deepfm_parties(ml, seed=seed)
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
    from ..federated import split

    out = out or sys.stdout
    chunk = max(1, min(chunk, steps))
    setups = [_deepfm_steps(ml, chunk, batch_size) for _, ml in datasets]
    runners = [setup[0] for setup in setups]
    for _ in range(-(-warmup // chunk)):
        round_robin(runners, 1)
    times = round_robin(runners, -(-steps // chunk))
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


def respread(X, vocab_size, new_size, padding_idx=0):
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
    from ..recipes import spam

    out = out or sys.stdout
    X, y = data.X_train, data.y_train
    vocab = len(data.vocab)
    sizes = [vocab if f == 1 else (int(vocab * f) if f < 1 else vocab * int(f)) for f in factors]
    runners = []
    for size in sizes:
        Xs = X if size == vocab else respread(X, vocab, size)
        model = spam.spam_model(size)
        runners.append(lambda model=model, Xs=Xs: timings(
            lambda: spam.train_epoch(model, Xs, y, batch_size=batch_size), 1, 0))
    round_robin(runners, 1)  # warm-up
    times = round_robin(runners, repeats)
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


def bench_scaling(out=None, docs_dir=None, which=("fedrecon", "deepfm", "spam"), quick=False):
    """Every scaling sweep in ``which`` on the real data, plotted into ``docs_dir``."""
    from ..datasets import load_movielens, synthetic_movielens

    out = out or sys.stdout
    docs_dir = Path(docs_dir) if docs_dir is not None else DOCS_DIR
    docs_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_line()
    print(machine, file=out)
    figures = {}
    if "fedrecon" in which:
        ml = load_movielens("ml-100k", real_root("scaling", "ml-100k", "ml-100k"))
        figures["fedrecon"] = scaling_fedrecon(ml, rounds=3 if quick else 10,
                                               repeats=1 if quick else 3, out=out)
        print(file=out)
    if "deepfm" in which:
        ml = load_movielens("ml-100k", real_root("scaling", "ml-100k", "ml-100k"))
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
        figures["spam"] = scaling_spam(spam_bench.book_spam_data(), repeats=1 if quick else 3,
                                       factors=(1 / 32, 1, 16) if quick else
                                       (1 / 128, 1 / 32, 1 / 8, 1 / 2, 1, 4, 16, 64), out=out)
    paths = plot_scaling(figures, docs_dir)
    md = docs_dir / "scaling.md"
    md.write_text(scaling_markdown(figures, machine), encoding="utf-8")
    print(f"\nwrote {md} and " + ", ".join(str(p) for p in paths), file=out)
    figures.update({"workload": "scaling", "machine": machine,
                    "plots": [str(p) for p in paths], "markdown": str(md)})
    return figures


def run(args, out):
    """The CLI's ``scaling``: bench_scaling into ``--docs-dir``, a WorkloadError without data."""
    return or_refuse(bench_scaling, out=out, docs_dir=args.docs_dir)
