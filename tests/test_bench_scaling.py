"""minigrad.bench.scaling: the sweeps on small synthetic data return one record per point.

Smoke tests only: nothing here asserts a timing.
"""

import numpy as np
import pytest
from benchcheck import assert_timing_figures, use_small_deepfm

from minigrad import bench
from minigrad.bench import scaling
from minigrad.datasets import synthetic_movielens, synthetic_spam
from minigrad.recipes import spam


def test_scaling_is_a_registered_workload():
    assert bench.WORKLOADS["scaling"] is scaling.run


def test_respread_keeps_padding_and_the_number_of_lookups():
    X = np.array([[3, 1, 0], [5, 0, 0]])

    smaller = scaling.respread(X, vocab_size=6, new_size=3)
    larger = scaling.respread(X, vocab_size=6, new_size=24)

    assert smaller.tolist() == [[1, 1, 0], [1, 0, 0]]   # ids fold onto rows 1..2
    assert larger.tolist() == [[12, 4, 0], [20, 0, 0]]  # ids spread 4x apart


def test_round_robin_interleaves_the_runners():
    calls = []
    runners = [lambda i=i: calls.append(i) or [float(i)] for i in range(3)]

    times = scaling.round_robin(runners, repeats=2)

    assert calls == [0, 1, 2, 0, 1, 2]
    assert times == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]


def test_scaling_fedrecon_sweeps_clients_and_ratings(capsys):
    ml = synthetic_movielens(num_users=50, num_items=40, seed=0)  # 40 training users

    fed = bench.scaling_fedrecon(ml, clients=(5, None), max_ratings=(10, None), rounds=1,
                                 repeats=1)

    assert [r["clients_per_round"] for r in fed["clients"]] == [5, 40]  # None: every user
    assert fed["train_users"] == 40
    assert fed["ratings"][0]["mean_ratings"] == 10.0
    assert [r["max_ratings"] for r in fed["ratings"]] == [10, None]
    for record in fed["clients"] + fed["ratings"]:
        assert_timing_figures(record, "round_s")
    assert "ms/round" in capsys.readouterr().out


def test_scaling_deepfm_extrapolates_each_dataset_to_an_epoch(monkeypatch, capsys):
    use_small_deepfm(monkeypatch)
    ml = synthetic_movielens(num_users=30, num_items=40, seed=0)

    dfm = bench.scaling_deepfm([("tiny", ml), ("tiny again", ml)], steps=3, warmup=1)

    assert [r["data"] for r in dfm] == ["tiny", "tiny again"]
    assert all(r["steps_per_epoch"] == -(-len(ml.ratings) // 128) for r in dfm)
    for r in dfm:
        assert_timing_figures(r, "step_s", "epoch_s_extrapolated")
        assert r["epoch_s_extrapolated"] == pytest.approx(r["step_s"] * r["steps_per_epoch"])
    assert_timing_figures(dfm[0], "epoch_s_measured")
    assert "epoch_s_measured" not in dfm[1]  # only the first is timed whole
    assert "one epoch timed whole" in capsys.readouterr().out


def test_scaling_spam_runs_every_vocabulary_size():
    data = spam.book_recipe(synthetic_spam(600, seed=0), test_per_class=20)
    vocab = len(data.vocab)

    sp = bench.scaling_spam(data, factors=(1 / 4, 1, 2), repeats=1)

    assert [r["vocab_size"] for r in sp] == [vocab // 4, vocab, 2 * vocab]
    assert [r["real_vocabulary"] for r in sp] == [False, True, False]
    for r in sp:
        assert_timing_figures(r, "epoch_s", "table_mb")


def test_bench_scaling_quick_spam_writes_its_plot_and_markdown(monkeypatch, tmp_path, capsys):
    data = spam.book_recipe(synthetic_spam(600, seed=0), test_per_class=20)
    monkeypatch.setattr(scaling.spam_bench, "book_spam_data", lambda root=None: data)

    figures = bench.bench_scaling(docs_dir=tmp_path, which=("spam",), quick=True)

    assert figures["workload"] == "scaling" and set(figures) >= {"spam", "plots", "markdown"}
    assert [r["real_vocabulary"] for r in figures["spam"]] == [False, True, False]
    assert [p.rsplit("/", 1)[-1] for p in figures["plots"]] == ["spam_vocab_scaling.png"]
    assert (tmp_path / "scaling.md").read_text().startswith("# Scaling")
    assert "wrote " in capsys.readouterr().out


def test_scaling_workload_refuses_synthetic_data(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")

    assert bench.main(["scaling", "--docs-dir", str(tmp_path)]) == 1
    assert "MINIGRAD_DATA" in capsys.readouterr().err
