"""The deepfm workload (minigrad.bench.deepfm) on a tiny synthetic MovieLens: table, BENCH line.

Smoke tests only: nothing here asserts a timing. The parties are SMALL_DEEPFM-sized
(the workload's code path is the same; SecretFlow's sizes would take half a minute).
"""

import io

import numpy as np
import pytest
from benchcheck import (
    SMALL_DEEPFM,
    assert_ratio_figures,
    assert_timing_figures,
    bench_line,
    use_small_deepfm,
)

from minigrad import bench
from minigrad.bench import deepfm
from minigrad.datasets import synthetic_movielens

BENCH_KEYS = {"step_s", "epoch_s", "numpy_step_s", "numpy_fraction", "python_overhead_fraction",
              "matmul_fraction", "adam_fraction", "steps_per_epoch", "bytes_per_step",
              "bytes_per_epoch", "max_rel_grad_diff_vs_numpy", "train_auc_after"}


@pytest.fixture(scope="module")
def tiny_movielens():
    """30 users x 40 items, 600 ratings: 5 batches of 128."""
    return synthetic_movielens(num_users=30, num_items=40, seed=0)


def test_deepfm_is_a_registered_workload():
    assert bench.WORKLOADS["deepfm"] is deepfm.run


def test_deepfm_workload_prints_a_table_and_a_bench_line(tiny_movielens, monkeypatch, capsys):
    use_small_deepfm(monkeypatch)
    monkeypatch.setattr(deepfm, "deepfm_data", lambda root=None: tiny_movielens)

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
    assert_ratio_figures(figures, "step_vs_pytorch_anchor")
    assert figures["numpy_fraction"] + figures["python_overhead_fraction"] == pytest.approx(1)
    assert figures["max_rel_grad_diff_vs_numpy"] < 1e-3
    cut = SMALL_DEEPFM["units"][-1] + SMALL_DEEPFM["dim"] + 1  # deep part, FM sum, FM linear
    assert figures["bytes_per_step"] == {"alice_to_bob": 128 * cut * 4,
                                         "bob_to_alice": 128 * cut * 4}
    assert figures["bytes_per_epoch"] == {"alice_to_bob": 600 * cut * 4,
                                          "bob_to_alice": 600 * cut * 4}
    assert figures["dtype"] == "float32"
    assert "lower bound" in out and "cProfile" in out and "Adam" in out


def test_deepfm_parties_default_to_secretflow_sizes(tiny_movielens):
    alice, bob = deepfm.deepfm_parties(tiny_movielens)
    small_alice, _ = deepfm.deepfm_parties(tiny_movielens, **SMALL_DEEPFM)

    assert alice.model.embedding.weight.data.shape[1] == 16
    assert small_alice.model.embedding.weight.data.shape[1] == SMALL_DEEPFM["dim"]
    assert len(bob.y) == 600  # every row, none held out


def test_bench_deepfm_small_run_returns_its_figures(tiny_movielens, monkeypatch):
    use_small_deepfm(monkeypatch)
    out = io.StringIO()

    figures = bench.bench_deepfm(tiny_movielens, steps=5, warmup=1, repeats=1, profile_steps=0,
                                 out=out)

    assert figures["steps_timed"] == 5 and "cProfile" not in out.getvalue()
    assert figures["num_parameters"] == sum(
        p.data.size for party in deepfm.deepfm_parties(tiny_movielens)
        for p in party.optimizer.parameters)
    with pytest.raises(ValueError, match="steps"):
        bench.bench_deepfm(tiny_movielens, steps=0, out=out)


def test_deepfm_refuses_synthetic_data_for_timing(monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")

    assert bench.main(["deepfm"]) == 1
    err = capsys.readouterr().err
    assert "synthetic" in err and "MINIGRAD_DATA" in err


def test_autograd_gradients_leave_no_grad_behind(tiny_movielens):
    alice, bob = deepfm.deepfm_parties(tiny_movielens, dtype=np.float64, **SMALL_DEEPFM)

    loss, grads = bench.autograd_gradients(alice, bob, slice(0, 128))

    params = alice.optimizer.parameters + bob.optimizer.parameters
    assert np.isfinite(loss) and set(grads) == set(params)
    assert all(p.grad is None for p in params)
