"""The ``deepfm`` workload: split DeepFM on ml-100k, batch 128, vs a plain-NumPy lower bound."""

import os
import sys
import time

import numpy as np

from .numpy_deepfm import NumpyDeepFM
from .realdata import ml100k, or_refuse
from .threads import blas_threads
from .timing import cpus, median_time, print_table

DEEPFM_PEERS = {"pytorch_step_s": 0.0071, "pytorch_epoch_s": 5.9}
"""The anchor: PyTorch eager, the same split DeepFM on ml-100k at batch 128 (not this run)."""

DEEPFM_TARGETS = {"step_vs_pytorch": 1.0}
"""The goal: a step no slower than PyTorch eager's (measured beside it, same machine)."""


def deepfm_data(root=None):
    """Real ml-100k; a DatasetError when it is absent or MINIGRAD_DATA is 'synthetic'."""
    return ml100k("deepfm", root)


def deepfm_parties(ml, seed=0, dtype=np.float32, aggregation="concat", lr=1e-3, **sizes):
    """alice and bob of SecretFlow's split DeepFM on every row of ``ml`` (a MovieLens).

    vertical_split; alice: user id, gender, age group, occupation; bob: movie id,
    genres (a bag), label rating > 3. SecretFlow's sizes unless ``sizes`` (make_parties'
    dim, units, fuse_units) say otherwise; Adam(lr) per party. The builder is notebook
    04's (``recipes.deepfm.make_parties``), with no rows held out.
    """
    from ..recipes.deepfm import make_parties, prepare

    every_row = prepare(ml, test_fraction=0.0, val_fraction=0.0)
    return make_parties(every_row, seed=seed, dtype=dtype, aggregation=aggregation, lr=lr,
                        **sizes)


def autograd_gradients(alice, bob, rows):
    """(loss, {parameter Tensor: gradient}) of one batch through the split protocol, no step."""
    from ..federated.split import Message, batch_id

    hidden = alice.model.hidden(alice.X[rows])
    logits, parts = bob.logits(rows, [Message("alice", "bob", "hidden",
                                              {"values": hidden.data},
                                              batch=batch_id(rows, len(alice.X)))])
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

    from ..federated import split

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

    from ..federated import split

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
        "cpus": cpus(),
        "blas_threads": blas_threads(),
    }

    rows = [
        ("minigrad: split.train_step / train_epoch", f"{steps}/{repeats}", step_s * 1e3,
         f"{min(step_times) * 1e3:.3f}", f"{epoch_s:.2f}"),
        ("plain NumPy, no graph (NumpyDeepFM): lower bound", steps, ref_s * 1e3,
         f"{min(ref_times) * 1e3:.3f}", f"{ref_s * num_batches:.2f}*"),
        ("PyTorch eager anchor (not this run)", "-", DEEPFM_PEERS["pytorch_step_s"] * 1e3, "-",
         f"{DEEPFM_PEERS['pytorch_epoch_s']:.2f}"),
    ]
    columns = [("runs", 6, ""), ("ms/step", 10, ".3f"), ("min ms", 9, ""), ("s/epoch", 10, "")]
    heading = (f"split DeepFM (SecretFlow's SplitRec sizes) on {ml.name}: {n:,} rows, alice: user "
               f"id, gender, age, occupation;\n  bob: movie id, genres (bag), label rating > 3; "
               f"{figures['num_parameters']:,} parameters, {figures['dtype']}, batch {batch_size}, "
               f"Adam 1e-3 per party, {bob.aggregation.mode} aggregation")
    print_table(out, heading, "variant", 50, columns, rows)
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
          f"{figures['epoch_vs_pytorch_anchor']:.2f}; run the PyTorch peer script beside this "
          f"for a same-machine ratio", file=out)
    return figures


def run(args, out):
    """The CLI's ``deepfm``: bench_deepfm on real ml-100k, a WorkloadError when absent."""
    ml = or_refuse(deepfm_data)
    steps = 60 * args.repeats  # 300 by default
    return bench_deepfm(ml, steps=steps, warmup=min(30, steps), repeats=args.repeats,
                        profile_steps=min(100, steps), out=out)
