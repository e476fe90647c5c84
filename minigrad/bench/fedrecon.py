"""The ``fedrecon`` workload: the TFF tutorial's FedRecon on ml-100k against the per-client loop."""

import sys
import time

import numpy as np

from .realdata import ml100k, or_refuse
from .threads import blas_threads
from .timing import cpus, print_table, targets_line

FEDRECON_TARGETS = {"tutorial_20_rounds_s": 0.5, "speedup_vs_reference": 10.0}
"""The goals: the tutorial's 20 rounds in <= 0.5 s, >= 10x the per-client loop."""

FEDRECON_PEERS = {"tff_0.87_20_rounds_s": 43.7, "pytorch_loop_20_rounds_s": 5.8}
"""Peer anchors measured on this machine class (PyTorch and TFF scripts), not in this run."""


def fedrecon_data(root=None):
    """Real ml-100k; a DatasetError when it is absent or MINIGRAD_DATA is 'synthetic'."""
    return ml100k("fedrecon", root)


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
    from ..federated import reconstruction as fr

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
        "cpus": cpus(),
        "blas_threads": blas_threads(),
    }
    goals = [(f"20 rounds <= {FEDRECON_TARGETS['tutorial_20_rounds_s']} s",
              figures["tutorial_20_rounds_s"] <= FEDRECON_TARGETS["tutorial_20_rounds_s"]),
             (f">= {FEDRECON_TARGETS['speedup_vs_reference']:g}x the per-client loop",
              speedup >= FEDRECON_TARGETS["speedup_vs_reference"])]
    figures["within_targets"] = all(met for _, met in goals)

    rows = [
        ("minigrad: reconstruction.train (clients in lockstep)", repeats, rounds_s,
         per_round_s * 1e3, speedup),
        (f"per-client loop: train(reference=True){'*' if reference_rounds < num_rounds else ''}",
         reference_runs, reference_total_s, ref_round_s * 1e3, 1.0),
    ]
    columns = [("runs", 5, ""), (f"s/{num_rounds} rounds", 14, ".3f"), ("ms/round", 10, ".2f"),
               ("x loop", 8, ".1f")]
    heading = (f"FedRecon, the TFF tutorial's configuration on {ml.name}: {len(train)}/{len(val)}/"
               f"{len(test)} train/val/test users (np.random.seed(42) shuffle),\n  <= 300 ratings "
               f"each ({len(train.item):,} for training), dim 50, batch 5, 50 clients/round, SGD "
               f"server 1.0 / client 0.5 / recon 0.1, {spec.dtype.name}")
    print_table(out, heading, "variant", 52, columns, rows)
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
    print("\n" + targets_line(goals), file=out)
    return figures


def run(args, out):
    """The CLI's ``fedrecon``: bench_fedrecon on real ml-100k, a WorkloadError when absent."""
    ml = or_refuse(fedrecon_data)
    return bench_fedrecon(ml, repeats=args.repeats, reference_runs=args.heavy_repeats, out=out)
