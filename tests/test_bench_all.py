"""``python -m minigrad.bench all`` and ``scaling`` on small synthetic data, the performance
table and README block they write. (The bit-for-bit tests of the optimisations they
justified live with their code: test_kernels, test_nn, test_tensor, test_optim.)

Smoke tests for the benchmarks: nothing here asserts a timing.
"""

import json

import numpy as np
import pytest
from benchcheck import assert_timing_figures

from minigrad import bench
from minigrad.datasets import synthetic_movielens, synthetic_spam
from minigrad.recipes import spam


@pytest.fixture(scope="module")
def small_spam():
    """The book recipe on 1,200 synthetic emails: 2 batches of 500."""
    return spam.book_recipe(synthetic_spam(1200, seed=0), test_per_class=20)


@pytest.fixture(scope="module")
def small_movielens():
    """150 users x 120 items: 120 training users after the tutorial's split."""
    return synthetic_movielens(num_users=150, num_items=120, seed=0)


def bench_lines(stdout):
    return [json.loads(line[len("BENCH "):]) for line in stdout.splitlines()
            if line.startswith("BENCH ")]


# --------------------------------------------------------------------------- all
def test_all_runs_every_workload_then_writes_the_table(small_spam, small_movielens,
                                                       monkeypatch, capsys, tmp_path):
    # Arrange: tiny data for every workload; the data workload cannot run here
    monkeypatch.setattr(bench, "_book_spam_data", lambda root=None: small_spam)
    monkeypatch.setattr(bench, "_fedrecon_data", lambda root=None: small_movielens)
    monkeypatch.setattr(bench, "_deepfm_data", lambda root=None: small_movielens)
    monkeypatch.setattr(bench, "KERNEL_CASES", [("tiny: 300 indices -> 50 x 1", 300, 50, 1)])

    def no_data(args, out):
        raise bench.WorkloadError("no real data here")

    monkeypatch.setitem(bench.WORKLOADS, "data", no_data)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\nrest\n")
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)

    # Act
    status = bench.main(["all", "--repeats", "1", "--heavy-repeats", "1",
                         "--docs-dir", str(tmp_path / "perf")])

    # Assert: one BENCH line per workload that ran, then the summary
    out = capsys.readouterr().out
    lines = bench_lines(out)
    assert [f["workload"] for f in lines] == ["kernels", "spam", "fedrecon", "deepfm", "all"]
    summary = lines[-1]
    assert status == 1  # a workload was skipped
    assert summary["skipped"] == {"data": "no real data here"}
    assert_timing_figures(summary["spam"], "epoch_s")
    assert_timing_figures(summary["fedrecon"], "tutorial_20_rounds_s")
    assert_timing_figures(summary["deepfm"], "step_s", "epoch_s", "numpy_fraction")
    table = (tmp_path / "perf" / "table.md").read_text()
    assert "spam, one epoch" in table and "FedRecon" in table and "split DeepFM" in table
    assert "load ml-100k" not in table  # no row for a workload that did not run
    assert summary["readme_updated"] is True
    text = readme.read_text()
    assert text.startswith("intro\n<!-- perf-table:start -->\n| workload |")
    assert text.endswith("<!-- perf-table:end -->\nrest\n") and "old" not in text


def test_all_leaves_the_readme_alone_with_no_readme(monkeypatch, capsys, tmp_path):
    for name in bench.ALL_ORDER:
        monkeypatch.setitem(bench.WORKLOADS, name, lambda args, out: {})
    readme = tmp_path / "README.md"
    readme.write_text("<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\n")
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)

    status = bench.main(["all", "--no-readme", "--docs-dir", str(tmp_path)])

    assert status == 0
    assert "old" in readme.read_text()
    assert bench_lines(capsys.readouterr().out)[-1]["readme_updated"] is False


# ------------------------------------------------------------------- the table
FIGURES = {
    "spam": {"epoch_s": 0.1, "book_loop_epoch_s": 33.4, "speedup_vs_book": 334.0,
             "within_targets": True, "book_loop_batches_timed": 3},
    "fedrecon": {"tutorial_20_rounds_s": 0.7, "reference_20_rounds_s": 2.5,
                 "speedup_vs_reference": 3.6},
    "deepfm": {"step_s": 0.004, "numpy_step_s": 0.0036, "numpy_fraction": 0.9,
               "python_overhead_fraction": 0.1, "epoch_s": 3.2, "steps_per_epoch": 782},
}


def test_performance_table_has_a_row_per_figure_and_judges_the_goals():
    table = bench.performance_table(FIGURES, machine="2 cores")

    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 4  # header, spam, fedrecon, deepfm step and epoch
    assert "| 0.100 s |" in rows[1] and "334x faster" in rows[1] and rows[1].endswith("ok |")
    assert "| 0.700 s |" in rows[2] and rows[2].endswith("**not met** |")  # 0.7 > 0.5 s
    assert "| 4.00 ms |" in rows[3] and "1.11x the lower bound" in rows[3]
    assert rows[3].endswith("x0.56 |")  # 4.0 ms against PyTorch's 7.1 ms (another run)
    assert "Machine: 2 cores." in table


def test_performance_table_names_the_email_count_the_data_bench_loaded():
    figures = {"data": {"ml100k_load_s": 0.5, "enron_load_s": 0.6, "enron_tokenize_index_s": 2.0,
                        "enron_emails": 33715}}
    table = bench.performance_table(figures)
    assert "| load Enron-Spam (33,715 emails) | 0.60 s |" in table


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\nb\n")

    assert bench.update_readme("| new |\n", readme) is True

    assert readme.read_text() == ("a\n<!-- perf-table:start -->\n| new |\n"
                                  "<!-- perf-table:end -->\nb\n")


def test_update_readme_without_markers_changes_nothing(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")

    assert bench.update_readme("| new |\n", readme) is False
    assert readme.read_text() == "no markers\n"
    assert bench.update_readme("| new |\n", tmp_path / "absent.md") is False


def test_update_readme_refuses_markers_out_of_order(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- perf-table:end -->\n<!-- perf-table:start -->\n")

    with pytest.raises(ValueError, match="expected one"):
        bench.update_readme("| new |\n", readme)


def test_blas_threads_reads_and_sets_openblas():
    before = bench.blas_threads()
    if before is None:
        pytest.skip("this NumPy is not linked to an OpenBLAS that can be found")
    try:
        assert bench.blas_threads(1) == 1
    finally:
        bench.blas_threads(before)
    assert bench.blas_threads() == before


# --------------------------------------------------------------------- scaling
def test_respread_keeps_padding_and_the_number_of_lookups():
    X = np.array([[3, 1, 0], [5, 0, 0]])

    smaller = bench._respread(X, vocab_size=6, new_size=3)
    larger = bench._respread(X, vocab_size=6, new_size=24)

    assert smaller.tolist() == [[1, 1, 0], [1, 0, 0]]   # ids fold onto rows 1..2
    assert larger.tolist() == [[12, 4, 0], [20, 0, 0]]  # ids spread 4x apart


def test_scaling_sweeps_and_plots_on_small_data(small_spam, small_movielens, tmp_path, capsys):
    fed = bench.scaling_fedrecon(small_movielens, clients=(5, None), max_ratings=(10, None),
                                 rounds=2, repeats=1)
    dfm = bench.scaling_deepfm([("tiny", small_movielens)], steps=3, warmup=1)
    sp = bench.scaling_spam(small_spam, factors=(1 / 4, 1, 2), repeats=1)
    figures = {"fedrecon": fed, "deepfm": dfm, "spam": sp}

    paths = bench._plot_scaling(figures, tmp_path)
    md = bench._scaling_markdown(figures, "test machine")

    assert [r["clients_per_round"] for r in fed["clients"]] == [5, 120]  # None: every user
    assert fed["ratings"][0]["mean_ratings"] == 10.0
    for record in fed["clients"] + fed["ratings"]:
        assert_timing_figures(record, "round_s")
    assert dfm[0]["steps_per_epoch"] == -(-len(small_movielens.ratings) // 128)
    assert_timing_figures(dfm[0], "epoch_s_measured")
    vocab = len(small_spam.vocab)
    assert [r["vocab_size"] for r in sp] == [vocab // 4, vocab, 2 * vocab]
    assert [r["real_vocabulary"] for r in sp] == [False, True, False]
    assert sorted(p.name for p in paths) == ["deepfm_scaling.png", "fedrecon_scaling.png",
                                             "spam_vocab_scaling.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    assert "![](spam_vocab_scaling.png)" in md and "| 120 |" in md
    assert "ms/round" in capsys.readouterr().out
