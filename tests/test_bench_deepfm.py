"""The deepfm benchmark end to end on a tiny synthetic MovieLens: a table and a BENCH line.

Smoke tests only: nothing here asserts a timing.
"""

import copy
import io
import json

import numpy as np
import pytest
from benchcheck import assert_timing_figures

from minigrad import bench
from minigrad.datasets import synthetic_movielens
from minigrad.federated import split

BENCH_KEYS = {"step_s", "epoch_s", "numpy_step_s", "numpy_fraction", "python_overhead_fraction",
              "matmul_fraction", "adam_fraction", "steps_per_epoch", "bytes_per_step",
              "bytes_per_epoch", "max_rel_grad_diff_vs_numpy", "train_auc_after"}


@pytest.fixture(scope="module")
def tiny_movielens():
    """30 users x 40 items, 600 ratings: 5 batches of 128."""
    return synthetic_movielens(num_users=30, num_items=40, seed=0)


def bench_line(stdout):
    last = stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("BENCH "), last
    return json.loads(last[len("BENCH "):])


def test_deepfm_is_a_registered_workload():
    assert bench.WORKLOADS["deepfm"] is bench._run_deepfm


def test_deepfm_workload_prints_a_table_and_a_bench_line(tiny_movielens, monkeypatch, capsys):
    monkeypatch.setattr(bench, "_deepfm_data", lambda root=None: tiny_movielens)

    status = bench.main(["deepfm", "--repeats", "1"])

    out = capsys.readouterr().out
    figures = bench_line(out)
    assert status == 0
    assert BENCH_KEYS <= set(figures)
    assert figures["workload"] == "deepfm" and figures["rows"] == 600
    assert figures["steps_per_epoch"] == 5 and figures["epoch_runs"] == 1
    assert figures["steps_timed"] == 60
    assert_timing_figures(figures, "step_s", "epoch_s", "numpy_step_s", "numpy_fraction",
                          "python_overhead_fraction", "matmul_fraction", "adam_fraction")
    assert figures["max_rel_grad_diff_vs_numpy"] < 1e-3
    assert figures["bytes_per_step"] == {"alice_to_bob": 128 * 49 * 4,
                                         "bob_to_alice": 128 * 49 * 4}
    assert figures["num_parameters"] > 100_000 and figures["dtype"] == "float32"
    assert "lower bound" in out and "cProfile" in out and "Adam" in out


def test_numpy_lower_bound_computes_the_autograd_gradients_float64(tiny_movielens):
    # Arrange
    alice, bob = bench.deepfm_parties(tiny_movielens, dtype=np.float64)
    for rows in split.batches(3 * 128, 128):        # move off the initial weights first
        split.train_step(alice, bob, rows)
    ref_alice, ref_bob = copy.deepcopy((alice, bob))
    reference = bench.NumpyDeepFM(ref_alice, ref_bob)
    rows = slice(384, 600)
    # Act
    loss, grads = bench.autograd_gradients(alice, bob, rows)
    ref_loss, ref_grads = reference.gradients(rows)
    # Assert
    assert ref_loss == pytest.approx(loss, abs=1e-12)
    pairs = zip(alice.optimizer.parameters + bob.optimizer.parameters,
                ref_alice.optimizer.parameters + ref_bob.optimizer.parameters, strict=True)
    for p, q in pairs:
        np.testing.assert_allclose(ref_grads[q], grads[p], rtol=0, atol=1e-10)


def test_numpy_lower_bound_steps_like_train_step(tiny_movielens):
    alice, bob = bench.deepfm_parties(tiny_movielens, dtype=np.float64)
    ref_alice, ref_bob = copy.deepcopy((alice, bob))
    reference = bench.NumpyDeepFM(ref_alice, ref_bob)
    for rows in split.batches(2 * 128, 128):
        split.train_step(alice, bob, rows)
        reference.step(rows)
    for p, q in zip(alice.model.get_parameters(), ref_alice.model.get_parameters(), strict=True):
        np.testing.assert_allclose(q.data, p.data, rtol=0, atol=1e-10)


def test_bench_deepfm_small_run_returns_its_figures(tiny_movielens):
    out = io.StringIO()
    figures = bench.bench_deepfm(tiny_movielens, steps=5, warmup=1, repeats=1, profile_steps=0,
                                 out=out)
    assert figures["steps_timed"] == 5 and "cProfile" not in out.getvalue()
    with pytest.raises(ValueError, match="steps"):
        bench.bench_deepfm(tiny_movielens, steps=0, out=out)


def test_deepfm_refuses_synthetic_data_for_timing(monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")
    assert bench.main(["deepfm"]) == 1
