"""The fedrecon workload (minigrad.bench.fedrecon) on a small synthetic MovieLens: table, BENCH.

Smoke tests only: nothing here asserts a timing.
"""

import io

import pytest
from benchcheck import assert_ratio_figures, assert_timing_figures, bench_line

from minigrad import bench
from minigrad.bench import fedrecon
from minigrad.datasets import synthetic_movielens

BENCH_KEYS = {"tutorial_20_rounds_s", "per_round_s", "reference_20_rounds_s",
              "speedup_vs_reference", "test_loss", "test_rating_accuracy", "val_loss",
              "val_rating_accuracy", "initial_val_loss", "max_abs_diff_vs_reference",
              "reference_extrapolated", "reference_rounds", "clients"}


@pytest.fixture(scope="module")
def small_movielens():
    """150 users x 120 items: 120 / 15 / 15 users after the tutorial's split."""
    return synthetic_movielens(num_users=150, num_items=120, seed=0)


def test_fedrecon_is_a_registered_workload():
    assert bench.WORKLOADS["fedrecon"] is fedrecon.run


def test_fedrecon_workload_prints_a_table_and_a_bench_line(small_movielens, monkeypatch,
                                                             capsys):
    monkeypatch.setattr(fedrecon, "fedrecon_data", lambda root=None: small_movielens)

    status = bench.main(["fedrecon", "--repeats", "2", "--heavy-repeats", "1"])

    out = capsys.readouterr().out
    figures = bench_line(out)
    assert status == 0
    assert BENCH_KEYS <= set(figures)
    assert figures["workload"] == "fedrecon"
    assert figures["clients"] == [120, 15, 15]
    assert figures["rounds_runs"] == 2 and figures["reference_runs"] == 1
    assert figures["reference_extrapolated"] is False and figures["reference_rounds"] == 20
    assert figures["max_abs_diff_vs_reference"] < 1e-9
    assert_timing_figures(figures, "tutorial_20_rounds_s", "per_round_s",
                          "reference_20_rounds_s")
    assert_ratio_figures(figures, "speedup_vs_reference", "speedup_vs_tff")
    assert 0 <= figures["test_rating_accuracy"] <= 1 and figures["test_loss"] > 0
    assert figures["initial_val_loss"] > figures["val_loss"]     # 20 rounds taught something
    assert "per-client loop" in out and "initial val" in out


def test_bench_fedrecon_can_time_the_reference_on_fewer_rounds(small_movielens):
    out = io.StringIO()

    figures = bench.bench_fedrecon(small_movielens, repeats=1, reference_runs=1,
                                   num_rounds=4, reference_rounds=2, out=out)

    assert figures["reference_extrapolated"] is True
    assert figures["reference_rounds"] == 2 and figures["num_rounds"] == 4
    assert figures["max_abs_diff_vs_reference"] < 1e-9
    assert_timing_figures(figures, "tutorial_20_rounds_s", "rounds_s", "reference_20_rounds_s")
    assert "extrapolated to 4" in out.getvalue()


def test_bench_fedrecon_rejects_bad_round_counts(small_movielens):
    with pytest.raises(ValueError, match="reference_rounds"):
        bench.bench_fedrecon(small_movielens, num_rounds=3, reference_rounds=4)


def test_fedrecon_workload_without_the_data_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))

    status = bench.main(["fedrecon"])

    captured = capsys.readouterr()
    assert status == 1
    assert "ml-100k" in captured.err
    assert "BENCH" not in captured.out


def test_fedrecon_workload_refuses_the_synthetic_stand_in(monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")

    status = bench.main(["fedrecon"])

    captured = capsys.readouterr()
    assert status == 1
    assert "synthetic" in captured.err and "real ml-100k" in captured.err
