"""The spam workload (minigrad.bench.spam) on a small synthetic corpus: a table, a BENCH line.

Smoke tests only: nothing here asserts a timing.
"""

import io

import pytest
from benchcheck import assert_ratio_figures, assert_timing_figures, bench_line

from minigrad import bench, kernels
from minigrad.bench import spam as spam_bench
from minigrad.datasets import synthetic_spam
from minigrad.recipes import spam

BENCH_KEYS = {"epoch_s", "book_loop_epoch_s", "speedup_vs_book", "book_loop_extrapolated",
              "book_loop_batches_timed", "num_batches", "ms_per_batch", "vocab_size"}


@pytest.fixture(scope="module")
def small_data():
    """The book recipe on 600 synthetic emails: about 560 training rows, one batch of 500."""
    return spam.book_recipe(synthetic_spam(600, seed=0), test_per_class=20)


def test_spam_is_a_registered_workload():
    assert bench.WORKLOADS["spam"] is spam_bench.run


def test_spam_workload_prints_a_table_and_a_bench_line(small_data, monkeypatch, capsys):
    monkeypatch.setattr(spam_bench, "book_spam_data", lambda root=None: small_data)
    auto = kernels.auto_method

    status = bench.main(["spam", "--repeats", "2"])

    out = capsys.readouterr().out
    figures = bench_line(out)
    num_batches = len(small_data.X_train) // 500
    assert status == 0
    assert BENCH_KEYS <= set(figures)
    assert figures["workload"] == "spam"
    assert figures["num_batches"] == num_batches
    assert figures["book_loop_extrapolated"] is True
    assert figures["book_loop_batches_timed"] == min(3, num_batches)
    assert_timing_figures(figures, "epoch_s", "ms_per_batch")
    assert_ratio_figures(figures, "speedup_vs_book", "speedup_same_batches")
    assert "extrapolated" in out and "per-row loop" in out
    assert kernels.auto_method is auto  # the book's loop was switched on for its block only


def test_bench_spam_figures_are_consistent(small_data):
    out = io.StringIO()

    figures = bench.bench_spam(small_data, repeats=1, loop_batches=3, batch_size=100, out=out)

    num_batches = len(small_data.X_train) // 100
    assert figures["num_batches"] == num_batches
    assert figures["skipped_rows"] == len(small_data.X_train) - num_batches * 100
    assert figures["book_loop_batches_timed"] == 3
    assert_timing_figures(figures, "book_loop_epoch_s", "book_loop_ms_per_batch")
    assert figures["max_abs_weight_diff"] < 1e-4  # the loop and the fast kernel agree
    assert figures["dtype"] == "float32"
    assert f"{num_batches} batches of 100" in out.getvalue()


def test_spam_workload_without_the_corpus_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))

    status = bench.main(["spam"])

    captured = capsys.readouterr()
    assert status == 1
    assert "enron-spam" in captured.err and "MINIGRAD_DATA" in captured.err
    assert "BENCH" not in captured.out


def test_spam_workload_refuses_the_synthetic_stand_in(monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")

    status = bench.main(["spam"])

    captured = capsys.readouterr()
    assert status == 1
    assert "synthetic" in captured.err and "real Enron-Spam" in captured.err
